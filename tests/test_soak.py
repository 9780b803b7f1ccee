#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Soak: long runs of `mlpcl train` whose memory must stay flat and whose result must stay
right.

1. The tutorial's network for 1,000,000 iterations (--target 0: it never converges), its
   resident memory (VmRSS in /proc/PID/status) sampled every 0.05 s. After a warm-up (the first
   quarter of the run: context, kernel builds, the first iterations), RSS may grow by less than
   2 MiB. Why that bound: the loop allocates nothing per iteration, so RSS is flat to the page
   once warm (measured: not one page of growth in 1,000,000 iterations); a leak of even one
   small allocation an iteration (≥ 24 bytes with malloc's overhead) would add > 16 MiB over
   the 750,000 iterations after the warm-up, 8 times the bound, and 2 MiB still leaves room
   for a lazily touched page of a library or a stdio buffer. The final cost must equal the host
   trainer's (double precision, the same iterations) within 1e-5: float rounding over 1e6
   steps measured 2.4e-6. Since the fused kernel runs 64 iterations a launch, 1,000,000
   iterations are only 15,625 launches, too few to show a small leak per launch; so the same
   network runs again with --lookahead 0 (one launch and one cost read an iteration, the
   loop's every host-side step taken each iteration) for 200,000 iterations: a leak of 24
   bytes a launch adds 3.6 MiB over the 150,000 after the warm-up, past the bound.
2. A small network for many epochs (a 2,000-sample CSV, 4-8-3, batches of 50, a validation
   split evaluated every epoch, a JSON log, a checkpoint every 50 epochs): the same RSS bound,
   and training must have learnt (validation accuracy ≥ 90%).

Sizes: MLPCL_SOAK=quick: 200,000 iterations (50,000 a launch each) and 1,000 epochs (for
development); unset (CI): 1,000,000 (200,000) and 3,000; MLPCL_SOAK=full: 1,000,000 in float and again in double (which must
equal the host's within 1e-12), and 20,000 epochs. A sanitizer build (AddressSanitizer keeps
freed memory in quarantine and shadows every allocation, so RSS says nothing there) runs
100,000 iterations (20,000 a launch each) and 300 epochs, checks the results, reports RSS
without judging it, and leaves leaks to LeakSanitizer at exit.

RSS is sampled every 0.01 s; a judged run needs at least 20 samples (a run too short to watch
fails rather than passes). Each watched run comes after a short one of the same command (100
iterations; one epoch), which leaves the kernels compiled in POCL's cache: with an empty cache,
POCL's compiler (LLVM) ran past the warm-up of the epochs' run on a busy machine, its memory
moving RSS by 13 MiB down and up again (a CI run: "growth" +2.5 MiB, no leak), which is not what
this test watches.

usage: test_soak.py MLPCL_BINARY"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402

BIN = None
BOUND_KIB = 2048
WARMUP = 0.25  # share of the run's samples before the baseline


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def watched(args, tmp, name):
    """Runs mlpcl (output to files, never a pipe), sampling its RSS; returns (exit status,
    stdout, stderr, wall seconds, [(seconds, KiB)])."""
    out_path, err_path = os.path.join(tmp, name + ".out"), os.path.join(tmp, name + ".err")
    samples = []
    t0 = time.monotonic()
    with open(out_path, "w") as o, open(err_path, "w") as e:
        p = subprocess.Popen([BIN, *args], stdout=o, stderr=e)
        while p.poll() is None:
            r = rss_kib(p.pid)
            if r:
                samples.append((time.monotonic() - t0, r))
            time.sleep(0.01)
    wall = time.monotonic() - t0
    with open(out_path) as f, open(err_path) as g:
        return p.returncode, f.read(), g.read(), wall, samples


def judge_rss(what, samples, sanitized):
    """Growth after the warm-up; a failure past the bound (not in a sanitizer build)."""
    if len(samples) < 20:
        if sanitized:
            print("%s: %d RSS samples (sanitizer build: not judged)" % (what, len(samples)))
        else:
            check(False, "%s: only %d RSS samples, too few to judge" % (what, len(samples)))
        return
    base_i = int(len(samples) * WARMUP)
    base = samples[base_i][1]
    after = [r for _, r in samples[base_i:]]
    growth = max(after) - base
    print("%s: RSS %d KiB at %.1f s (after warm-up), %d..%d KiB over the %d samples after it, "
          "growth %+d KiB%s" % (what, base, samples[base_i][0], min(after), max(after),
                                len(after), growth,
                                " (sanitizer build: not judged)" if sanitized else ""))
    if not sanitized:
        check(growth < BOUND_KIB, "%s: RSS grew by %d KiB after the warm-up (bound %d KiB): a "
              "leak?" % (what, growth, BOUND_KIB))


def end_cost(out):
    for line in out.splitlines():
        if line.startswith("end: "):
            return float(line.split()[1])
    return None


def soak_tutorial(tmp, n, precision, tol, sanitized, lookahead=None):
    args = ["train", "--target", "0", "--max-iter", str(n), "--print-every", "0"]
    if lookahead is not None:
        args += ["--lookahead", str(lookahead)]
    args += ["--precision", precision]
    name = "tutorial-%s-%s" % (precision, "auto" if lookahead is None else lookahead)
    subprocess.run([BIN, *args[:4], "100", *args[5:]], capture_output=True)  # kernels compiled
    rc, out, err, wall, samples = watched(args, tmp, name)
    what = "tutorial %s, %d iterations%s" % (precision, n, "" if lookahead is None else
                                              ", --lookahead %d" % lookahead)
    check(rc == 4 and "cnt: %d" % n in out, "%s: exit %d\n%s%s" % (what, rc, out[-500:], err))
    host = subprocess.run([BIN, *args[:-2], "--device", "host"], capture_output=True, text=True)
    dev_cost, host_cost = end_cost(out), end_cost(host.stdout)
    if check(dev_cost is not None and host_cost is not None, "%s: no end line" % what):
        diff = abs(dev_cost - host_cost)
        print("%s: %.1f s (%.1f us/iteration), end %r, host %r, difference %.3g (bound %g)"
              % (what, wall, 1e6 * wall / n, dev_cost, host_cost, diff, tol))
        check(diff <= tol, "%s: the final cost %r differs from the host's %r by %.3g > %g"
              % (what, dev_cost, host_cost, diff, tol))
    judge_rss(what, samples, sanitized)


def soak_epochs(tmp, epochs, sanitized):
    r = np.random.default_rng(11)
    X = r.normal(size=(2000, 4))
    y = np.argmax(X[:, :3] + 0.3 * X[:, 3:4], axis=1)
    csv = os.path.join(tmp, "soak.csv")
    with open(csv, "w") as f:
        for x, c in zip(X, y):
            f.write(",".join("%r" % float(v) for v in x) + ",%d\n" % c)
    def args_for(n, name):
        log, ck = os.path.join(tmp, name + ".jsonl"), os.path.join(tmp, name + "-ck.st")
        return log, ["train", "--data", csv, "--label-column", "5", "--layers", "4,8,3", "--loss",
                     "ce", "--batch", "50", "--validation", "0.2", "--lr", "0.1", "--epochs",
                     str(n), "--log", log, "--checkpoint", ck, "--checkpoint-every", "50"]

    subprocess.run([BIN, *args_for(1, "warm")[1]], capture_output=True)  # kernels compiled
    log, args = args_for(epochs, "soak")
    rc, out, err, wall, samples = watched(args, tmp, "epochs")
    what = "%d epochs of 32 batches" % epochs
    check(rc == 0, "%s: exit %d\n%s%s" % (what, rc, out[-500:], err))
    with open(log) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    recs = [r for r in recs if "settings" not in r]  # the log opens with the run's settings
    check(len(recs) == epochs, "%s: %d log lines" % (what, len(recs)))
    if recs:
        acc = recs[-1]["validation_accuracy"]
        print("%s: %.1f s, validation accuracy %.1f%% at the end" % (what, wall, 100 * acc))
        check(acc >= 0.9, "%s: validation accuracy %.3f < 0.9" % (what, acc))
    judge_rss(what, samples, sanitized)


def main():
    global BIN
    BIN = sys.argv[1]
    if skip_without_device(BIN):
        return SKIP
    if not os.path.exists("/proc/self/status"):
        print("SKIP: no /proc to read RSS from")
        return SKIP
    with open(BIN, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    mode = os.environ.get("MLPCL_SOAK", "")
    iters, single, epochs = {"quick": (200000, 50000, 1000),
                             "full": (1000000, 200000, 20000)}.get(mode, (1000000, 200000, 3000))
    if sanitized:
        iters, single, epochs = 100000, 20000, 300
    print("soak: %d iterations, %d epochs%s%s" % (iters, epochs, " (MLPCL_SOAK=%s)" % mode
                                                 if mode else "",
                                                 ", sanitizer build" if sanitized else ""))
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        soak_tutorial(tmp, iters, "float", 1e-5, sanitized)
        soak_tutorial(tmp, single, "float", 1e-5, sanitized, lookahead=0)
        if mode == "full":
            fp64 = subprocess.run([BIN, "train", "--precision", "double", "--max-iter", "0"],
                                  capture_output=True, text=True).returncode == 4
            if fp64:
                soak_tutorial(tmp, iters, "double", 1e-12, sanitized)
            else:
                print("note: the device has no double precision; the double soak is not run")
        soak_epochs(tmp, epochs, sanitized)
    return finish("test_soak", t0)


if __name__ == "__main__":
    sys.exit(main())
