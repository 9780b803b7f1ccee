#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""`mpirun -np 2 mlpcl train`, end to end, against one device: the tutorial in double (the same
iteration count, the final cost within 1e-12) and in float (count within 1, cost within 1e-5,
as test_iteration.c); reruns bit for bit; two ranks on two POCL devices give bit for bit what
one process gives on both (and two ranks of two devices each what one process gives on four),
the sum being the same left-to-right sum in the same order; a lookahead (each layer's gradient
summed while the next is computed, the next step queued early) gives every cost and the count
bit for bit as lookahead 0 (one sum of the whole step); `mlpcl bench` under mpirun prints the
step's split into compute and all-reduce once (rank 0); epoch mode on CSV with uneven
shares equals one device within 1e-12 (double), with SGD's momentum and with AdamW and
dropout (Adam's moments and step count too); only rank 0 prints, logs and saves; SIGTERM to
mpirun saves rank 0's checkpoint, from which one process resumes; a rank given a bad data file
ends both ranks with its message and a non-zero exit, under a timeout that catches a hang.

A sanitizer build (AddressSanitizer, several times slower) waits up to 10 minutes before
calling a run hung and runs the cases through the MPI sum (the tutorial, two devices, the bad
rank; the default lookahead takes the pipelined step); --lookahead 0 against 4, bench, epoch
mode and SIGTERM are left to the plain build.

Skipped (SKIP) when the build has no MPI (then it checks the refusal under a launcher's
environment instead) or mpirun is missing.

usage: test_mpi.py MLPCL_BINARY"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402
import safetensors_numpy  # noqa: E402

BIN = None
ENV = None
HANG = 120  # seconds: any mpirun taking longer has hung (a run here takes a few)


def built_with_mpi():
    cache = os.path.join(os.path.dirname(BIN), "CMakeCache.txt")
    try:
        with open(cache) as f:
            return any(l.startswith("MLPCL_MPI:BOOL=ON") for l in f)
    except OSError:
        return False


def mpirun(ranks, args=None, env=None, code=0):
    """mpirun -np ranks mlpcl ARGS; ranks may be a list of argument lists (one per rank)."""
    cmd = ["mpirun", "--oversubscribe", "--mca", "btl", "self,vader"]
    if isinstance(ranks, int):
        cmd += ["-np", str(ranks), BIN, *args]
    else:
        for i, a in enumerate(ranks):
            cmd += ([":"] if i else []) + ["-np", "1", BIN, *a]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=HANG)
    except subprocess.TimeoutExpired:
        check(False, "%s: no end within %d s (a hang)" % (" ".join(cmd), HANG))
        return None
    p.seconds = time.monotonic() - t0
    if code is not None:
        check(p.returncode == code, "%s: exit %d, expected %d\n%s%s"
              % (" ".join(cmd), p.returncode, code, p.stdout[-1500:], p.stderr[-1500:]))
    return p


def single(args, env=None, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env or ENV, timeout=HANG)
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s" % (" ".join(args),
          p.returncode, code, p.stderr[-1500:]))
    return p


def numbers(out):
    """The tutorial's output lines but the device's (times differ)."""
    return [l for l in out.splitlines() if l.startswith(("start: ", "cost: ", "end: ", "cnt: "))]


def end_cnt(out):
    lines = dict(l.split(": ", 1) for l in numbers(out) if l.startswith(("end", "cnt")))
    return float(lines["end"]), int(lines["cnt"])


def test_tutorial():
    for prec, tol, dcnt in (("double", 1e-12, 0), ("float", 1e-5, 1)):
        one = single(["train", "--precision", prec, "--device", "cpu"])
        two = mpirun(2, ["train", "--precision", prec, "--device", "cpu"])
        if not two:
            continue
        c1, n1 = end_cnt(one.stdout)
        c2, n2 = end_cnt(two.stdout)
        check(abs(n1 - n2) <= dcnt, "%s: %d iterations on 2 ranks, %d on one device"
              % (prec, n2, n1))
        check(abs(c1 - c2) <= tol, "%s: final cost %r on 2 ranks, %r on one device"
              % (prec, c2, c1))
        # only rank 0 prints: one start, one end, one device line
        for word in ("start: ", "end: ", "cnt: ", "device: "):
            n = sum(l.startswith(word) for l in two.stdout.splitlines())
            check(n == 1, "%s: %d '%s' lines on 2 ranks' stdout, expected rank 0's alone"
                  % (prec, n, word.strip()))
        again = mpirun(2, ["train", "--precision", prec, "--device", "cpu"])
        check(again and numbers(again.stdout) == numbers(two.stdout),
              "%s: a rerun on 2 ranks differs" % prec)


def test_two_devices(sanitized):
    """Ranks against devices in one process: the same workers, the same sums. A sanitizer build
    runs double with one device a rank (four POCL devices over two ranks took over 10 minutes
    with AddressSanitizer on 2 busy cores)."""
    env = dict(ENV, POCL_DEVICES="pthread pthread")
    for prec in ("double",) if sanitized else ("double", "float"):
        base = ["train", "--precision", prec, "--print-every", "50"]
        group = single(base + ["--device", "0:0,0:1"], env=env)
        ranks = mpirun(2, base + ["--device", "cpu"], env=env)  # local rank picks 0:0, 0:1
        check(ranks and numbers(ranks.stdout) == numbers(group.stdout),
              "%s: 2 ranks differ from 2 devices in one process" % prec)
        if sanitized:
            continue
        four = single(base + ["--device", "0:0,0:1,0:0,0:1"], env=env)
        both = mpirun(2, base + ["--device", "0:0,0:1"], env=env)
        check(both and numbers(both.stdout) == numbers(four.stdout),
              "%s: 2 ranks of 2 devices differ from 4 devices in one process" % prec)


def test_lookahead():
    """The pipelined step against the plain one on 2 ranks: every cost, the count, the end."""
    for prec in ("double", "float"):
        base = ["train", "--precision", prec, "--print-every", "1", "--device", "cpu"]
        plain = mpirun(2, base + ["--lookahead", "0"])
        ahead = mpirun(2, base + ["--lookahead", "4"])
        if not plain or not ahead:
            continue
        n = len(numbers(plain.stdout))
        check(n > 3000, "%s: %d cost lines with --print-every 1" % (prec, n))
        check(numbers(ahead.stdout) == numbers(plain.stdout),
              "%s: lookahead 4 on 2 ranks differs from lookahead 0" % prec)


def test_bench():
    """bench under mpirun: data-parallel trainers, the split printed by rank 0 alone."""
    p = mpirun(2, ["bench", "--workloads", "tutorial", "--repeat", "1", "--device", "cpu"])
    if not p:
        return
    lines = [l for l in p.stdout.splitlines() if "data-parallel, a step: compute" in l]
    check(len(lines) == 1, "bench on 2 ranks: %d split lines, expected rank 0's one\n%s"
          % (len(lines), p.stdout[-1500:]))
    check("data-parallel over 2 devices in 2 MPI ranks" in p.stdout,
          "bench on 2 ranks does not say it trains data-parallel\n%s" % p.stdout[-1500:])


def make_csv(path, rows, seed):
    r = np.random.default_rng(seed)
    X = r.normal(size=(rows, 4))
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int)
    with open(path, "w") as f:
        for x, c in zip(X, y):
            f.write(",".join("%r" % float(v) for v in x) + ",%d\n" % c)


def test_epochs(tmp, optim):
    """Epochs on 2 ranks as on one device, with SGD's momentum or AdamW and dropout (each
    rank's workers step with the summed gradient and keep their own copies of Adam's state, and
    mask each row by its place in the epoch)."""
    csv = os.path.join(tmp, "d.csv")
    make_csv(csv, 61, 5)  # batches of 7 (4 + 3 a rank), the last of 5 (3 + 2)
    args = ["train", "--data", csv, "--label-column", "5", "--batch", "7", "--epochs", "3",
            "--layers", "4,9,2", "--loss", "ce", "--activation", "tanh", *optim,
            "--seed", "3", "--precision", "double", "--device", "cpu"]
    name = optim[1]
    m1, m2 = os.path.join(tmp, name + "-one.mlpcl"), os.path.join(tmp, name + "-two.mlpcl")
    log = os.path.join(tmp, name + "-two.log")
    single(args + ["--save", m1])
    p = mpirun(2, args + ["--save", m2, "--log", log])
    if not p:
        return
    meta1, t1 = safetensors_numpy.load(m1)
    meta2, t2 = safetensors_numpy.load(m2)
    check(sorted(t1) == sorted(t2), "epochs (%s): tensors %s vs %s" % (name, sorted(t1), sorted(t2)))
    for k in t1:
        if k in t2 and t1[k].dtype.kind == "f":
            err = float(np.max(np.abs(t1[k] - t2[k]))) if t1[k].size else 0.0
            check(err <= 1e-12, "epochs (%s): %s differs by %g between 2 ranks and one device"
                  % (name, k, err))
    if "adam" in name:
        check("train.adam_s" in t1 and meta1.get("train.adam_step") == meta2.get("train.adam_step")
              and int(meta1.get("train.adam_step", 0)) == 27,
              "epochs (%s): Adam's step count %s on 2 ranks, %s on one device, expected 27"
              % (name, meta2.get("train.adam_step"), meta1.get("train.adam_step")))
    with open(log) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith('{"settings"')]
    check(len(lines) == 3, "epochs: the log has %d epoch lines, expected 3 (rank 0's alone)"
          % len(lines))
    n = sum(l.startswith("epoch %d/3:" % (e + 1)) for l in p.stdout.splitlines() for e in range(3))
    check(n == 3, "epochs: %d epoch lines on 2 ranks' stdout, expected 3" % n)


def test_bad_rank(tmp):
    x, y, bad = (os.path.join(tmp, n) for n in ("x.csv", "y.csv", "bad.csv"))
    single(["gen", "--x", x, "--y", y])
    with open(x) as f:
        rows = f.read().splitlines()
    rows[2] = "1,abc"
    with open(bad, "w") as f:
        f.write("\n".join(rows) + "\n")
    for order in ((x, bad), (bad, x)):
        p = mpirun([["train", "--x", v, "--y", y, "--device", "cpu"] for v in order], code=None)
        if not p:
            continue
        check(p.returncode != 0, "a rank with bad data: exit 0")
        check("bad.csv:3:3" in p.stderr and "ending every rank" in p.stderr,
              "a rank with bad data: its message is missing:\n%s" % p.stderr[-1500:])


def test_sigterm(tmp):
    ck = os.path.join(tmp, "ck.mlpcl")
    cmd = ["mpirun", "--oversubscribe", "--mca", "btl", "self,vader", "-np", "2", BIN, "train",
           "--target", "1e-9", "--max-iter", "100000000", "--checkpoint", ck,
           "--checkpoint-every", "2000", "--print-every", "0", "--device", "cpu"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    t0 = time.monotonic()
    while not os.path.exists(ck) and p.poll() is None and time.monotonic() - t0 < HANG:
        time.sleep(0.05)
    first = safetensors_numpy.load(ck)[0].get("iteration") if os.path.exists(ck) else None
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        p.kill()
        check(False, "SIGTERM to mpirun: no end within %d s" % HANG)
        return
    check(p.returncode != 0, "SIGTERM to mpirun: exit 0")
    check("saved to" in err and err.count("saved to") == 1,
          "SIGTERM to mpirun: rank 0 alone says it saved:\n%s" % err[-1500:])
    meta = safetensors_numpy.load(ck)[0]
    check(first is not None and int(meta.get("iteration")) > int(first),
          "SIGTERM to mpirun: the checkpoint (iteration %s) is not the stopped run's (after %s)"
          % (meta.get("iteration"), first))
    # one process resumes it: the checkpoint is a whole model of the run
    r = single(["train", "--resume", ck, "--target", "0.09", "--print-every", "0",
                "--device", "cpu"])
    check("cnt: " in r.stdout, "resuming the 2 ranks' checkpoint in one process failed")


def main():
    global BIN, ENV
    BIN = os.path.abspath(sys.argv[1])
    ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_vader_single_copy_mechanism="none", OMPI_MCA_rmaps_base_oversubscribe="1",
               POCL_SIGFPE_HANDLER="0",
               # keep Open MPI's plugins loaded to the end, so that LeakSanitizer can name
               # them (and tests/lsan.supp hide their process-lifetime allocations)
               OMPI_MCA_mca_base_component_disable_dlclose="1",
               PMIX_MCA_mca_base_component_disable_dlclose="1")
    global HANG
    with open(BIN, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    if sanitized:
        HANG = 600
        # Open MPI's libraries have no frame pointers: LeakSanitizer's fast unwinder stops in
        # them at an unnamed frame that tests/lsan.supp cannot match; the slow one names them
        ENV["LSAN_OPTIONS"] = ENV.get("LSAN_OPTIONS", "") + ":fast_unwind_on_malloc=0"
    t0 = time.monotonic()
    if not built_with_mpi():
        # The refusal: a build without MPI started as one of several ranks.
        env = dict(ENV, OMPI_COMM_WORLD_SIZE="2")
        p = subprocess.run([BIN, "train"], capture_output=True, text=True, env=env, timeout=HANG)
        check(p.returncode != 0 and "built without MPI" in p.stderr,
              "a build without MPI under a launcher: exit %d, %s" % (p.returncode, p.stderr))
        print("SKIP: this build has no MPI (cmake -DMLPCL_MPI=ON with libopenmpi-dev installed);"
              " checked its refusal under a launcher's environment only")
        return 1 if finish("test_mpi", t0) else SKIP
    if not shutil.which("mpirun"):
        print("SKIP: mpirun not found (Debian: apt-get install openmpi-bin)")
        return SKIP
    # every run here names the CPU devices (two of them through POCL_DEVICES), whatever
    # $MLPCL_DEVICE says: a machine without one (a GPU's, say) skips
    if skip_without_device(BIN, "cpu"):
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        # every rank shares one kernel cache, warmed by the first one-device run (POCL writes
        # its entries by rename, so concurrent readers see whole files)
        ENV["POCL_CACHE_DIR"] = os.path.join(tmp, "pocl")
        test_tutorial()
        test_two_devices(sanitized)
        if not sanitized:  # the default lookahead runs the pipelined step in the others
            test_lookahead()
        if not sanitized:
            test_bench()
            test_epochs(tmp, ["--momentum", "0.9", "--lr", "0.05"])
            test_epochs(tmp, ["--optimizer", "adamw", "--weight-decay", "0.01", "--lr", "0.01",
                              "--dropout", "0.2"])
        test_bad_rank(tmp)
        if sanitized:
            print("sanitizer build: epoch mode and SIGTERM are left to the plain build")
        else:
            test_sigterm(tmp)
    return finish("test_mpi", t0)


if __name__ == "__main__":
    sys.exit(main())
