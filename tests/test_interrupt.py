#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Stopping and resuming `mlpcl train`, end to end: SIGINT and SIGTERM at a random moment
(exit 130, the state saved to --checkpoint or else --save, resuming ends bit for bit where an
uninterrupted run does, in the tutorial's mode and in epoch mode with momentum, mid-epoch);
kill -9 at several moments (the checkpoint file is always a whole, loadable model, and a run
killed over and over still ends bit for bit where an uninterrupted one does); divergence (exit
5, the message, the last good weights in --save and --checkpoint); resuming a finished run;
--checkpoint-every's usage errors.

The delays are random; the seed is printed, and MLPCL_TEST_SEED=N draws the same delays again
(where they land still depends on the machine's speed).
Timings vary with the machine, so every wait is for something the run wrote (a checkpoint, an
epoch line), never for a fixed time alone.

usage: test_interrupt.py MLPCL_BINARY"""
import os
import random
import re
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
RNG = None


def default_signals():
    # A harness may start us with SIGINT ignored (a shell's background job); the command must
    # meet the signals as a user's Ctrl-C or a service manager's stop would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run(args, code):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, p.stdout[-1500:], p.stderr[-1500:]))
    return p.stdout, p.stderr


class Job:
    """mlpcl running in the background, its output going to files (never a pipe: a full pipe
    would stall it)."""

    def __init__(self, args, tmp, name):
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        with open(self.out_path, "w") as o, open(self.err_path, "w") as e:
            self.p = subprocess.Popen([BIN, *args], stdout=o, stderr=e,
                                      preexec_fn=default_signals)
        self.args = args

    def out(self):
        with open(self.out_path) as f:
            return f.read()

    def err(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_for(self, cond, timeout=30.0):
        """Polls cond() until it holds; False when the run ended first or time ran out."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            if self.p.poll() is not None:
                return cond()
            time.sleep(0.01)
        return False

    def signal_after(self, sig, delay):
        """Sends sig after delay seconds; False (a failure noted) when the run had ended."""
        time.sleep(delay)
        if not check(self.p.poll() is None, "mlpcl %s ended (exit %s) before it could be sent "
                     "signal %d; output:\n%s%s" % (" ".join(self.args), self.p.returncode, sig,
                                                   self.out()[-500:], self.err())):
            return False
        self.p.send_signal(sig)
        return True

    def wait(self):
        try:
            return self.p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            check(False, "mlpcl %s did not stop" % " ".join(self.args))
            return None


def changed(path, since):
    """Whether path exists and differs (inode or time) from the stat result `since`."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return since is None or (st.st_ino, st.st_mtime_ns) != (since.st_ino, since.st_mtime_ns)


def stat_or_none(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def same_tensors(a, b, what):
    ma, ta = safetensors_numpy.load(a)
    mb, tb = safetensors_numpy.load(b)
    check(sorted(ta) == sorted(tb), "%s: tensors %s vs %s" % (what, sorted(ta), sorted(tb)))
    differ = [k for k in ta if k in tb and not np.array_equal(ta[k], tb[k])]
    check(not differ, "%s: tensors %s differ from the uninterrupted run's" % (what, differ))
    for key in ("epoch", "batch", "iteration"):
        check(ma.get(key) == mb.get(key), "%s: %s %s vs %s" % (what, key, ma.get(key),
                                                              mb.get(key)))


def whole_model(path, data_args, what):
    """path is a complete model: numpy parses it (header, every tensor within the file) and
    mlpcl's own loader accepts it (it validates everything)."""
    size = os.path.getsize(path)
    meta, tensors = safetensors_numpy.load(path)
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
    body = sum(int(t.nbytes) for t in tensors.values())
    check(size == 8 + n + body and "layers.1.weight" in tensors, "%s: %s is not whole (%d "
          "bytes)" % (what, path, size))
    run(["predict", "--model", path, *data_args], 0)
    return meta


def cost_lines(out):
    return [l for l in out.splitlines() if l.startswith(("start: ", "cost: "))]


# ---- The tutorial's mode -------------------------------------------------------------------

def test_tutorial(tmp):
    # Long enough (a few seconds) that the signal lands mid-run even at a couple of microseconds
    # an iteration, the tutorial's speed in bulk.
    n = 1000000
    args = ["train", "--lr", "0.002", "--momentum", "0.5", "--target", "0", "--max-iter",
            str(n), "--print-every", "9973"]
    ref = os.path.join(tmp, "t-ref.st")
    ref_out, _ = run(args + ["--save", ref], 4)
    ck, res = os.path.join(tmp, "t-ck.st"), os.path.join(tmp, "t-res.st")
    job = Job(args + ["--checkpoint", ck, "--checkpoint-every", "40000"], tmp, "t-int")
    if not check(job.wait_for(lambda: os.path.exists(ck)), "tutorial: no checkpoint appeared"):
        job.wait()
        return
    delay = RNG.uniform(0, 0.5)
    if not job.signal_after(signal.SIGINT, delay):
        job.wait()
        return
    rc, out, err = job.wait(), job.out(), job.err()
    check(rc == 130, "tutorial SIGINT: exit %s, expected 130\n%s" % (rc, err))
    m = re.search(r"interrupted by SIGINT: kept the weights after iteration (\d+), cost (\S+); "
                  r"saved to (.+?)\. To continue, run the same command with --resume", err)
    if not check(m, "tutorial SIGINT: message %r" % err):
        return
    k, cost = int(m.group(1)), m.group(2)
    print("tutorial: SIGINT %.2f s after the first checkpoint: kept iteration %d of %d"
          % (delay, k, n))
    check(m.group(3) == ck, "tutorial: saved to %s, not the checkpoint" % m.group(3))
    meta = whole_model(ck, ["--data", os.path.join(tmp, "X.csv")], "tutorial checkpoint")
    check(meta.get("iteration") == str(k), "tutorial: checkpoint iteration %s, message %d"
          % (meta.get("iteration"), k))
    check(0 < k < n, "tutorial: interrupted at iteration %d of %d" % (k, n))
    check("end:" not in out and "cnt:" not in out, "tutorial: an interrupted run printed its end")

    res_out, _ = run(args + ["--resume", ck, "--save", res], 4)
    check(res_out.startswith("resume: %s at iteration %d\n" % (cost, k)),
          "tutorial: the resumed run begins %r, not the kept cost %s at %d"
          % (res_out[:80], cost, k))
    check(cost_lines(out) + cost_lines(res_out) == cost_lines(ref_out),
          "tutorial: the costs printed before and after the interrupt are not the "
          "uninterrupted run's")
    tail = lambda s: [l for l in s.splitlines() if l.startswith(("end:", "cnt:"))]  # noqa: E731
    check(tail(res_out) == tail(ref_out) and "cnt: %d" % n in res_out,
          "tutorial: end and cnt %r vs %r" % (tail(res_out), tail(ref_out)))
    same_tensors(res, ref, "tutorial: interrupted by SIGINT and resumed")


# ---- Epoch mode ----------------------------------------------------------------------------

def make_csv(path, rows, seed):
    r = np.random.default_rng(seed)
    X = r.normal(size=(rows, 4))
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(int)
    with open(path, "w") as f:
        for x, c in zip(X, y):
            f.write(",".join("%r" % float(v) for v in x) + ",%d\n" % c)


def epoch_args(csv, epochs):
    return ["train", "--data", csv, "--label-column", "5", "--batch", "4", "--momentum", "0.9",
            "--lr", "0.05", "--epochs", str(epochs), "--seed", "3"]


NET = ["--layers", "4,16,2", "--loss", "ce", "--activation", "tanh"]
BATCHES = 250  # 1,000 samples in batches of 4


def saved_position(path):
    meta, _ = safetensors_numpy.load(path)
    return int(meta["epoch"]), int(meta["batch"]), int(meta["iteration"])


def test_epochs_signal(tmp, csv, epochs, ref):
    """SIGTERM to a checkpointing run, then SIGINT to one with only --save: each resumes to the
    uninterrupted run's weights. The first must stop mid-epoch (tried up to three times)."""
    base = epoch_args(csv, epochs)
    for attempt in range(3):
        ck = os.path.join(tmp, "e-ck%d.st" % attempt)
        job = Job(base + NET + ["--checkpoint", ck, "--checkpoint-every", "70b"], tmp,
                  "e-term%d" % attempt)
        if not check(job.wait_for(lambda: os.path.exists(ck)), "epochs: no checkpoint"):
            job.wait()
            return
        delay = RNG.uniform(0, 0.4)
        if not job.signal_after(signal.SIGTERM, delay):
            job.wait()
            return
        rc, err = job.wait(), job.err()
        check(rc == 130, "epochs SIGTERM: exit %s, expected 130\n%s" % (rc, err))
        check(re.search(r"interrupted by SIGTERM: kept the weights after (batch \d+ of %d in "
                        r"epoch \d+|epoch \d+) \(\d+ updates in all\), training loss [\d.]+"
                        % BATCHES, err), "epochs SIGTERM: message %r" % err)
        whole_model(ck, ["--data", csv, "--label-column", "5"], "epochs checkpoint")
        e, b, it = saved_position(ck)
        check(it == e * BATCHES + b, "epochs: saved epoch %d batch %d iteration %d" % (e, b, it))
        print("epochs: SIGTERM %.2f s after the first checkpoint: kept epoch %d, batch %d"
              % (delay, e, b))
        if b > 0:
            break
    check(b > 0, "epochs: three SIGTERMs all landed at an epoch's end; no mid-epoch resume "
          "was tested")
    res = os.path.join(tmp, "e-res.st")
    out, _ = run(base + ["--resume", ck, "--save", res], 0)
    check(b == 0 or "resuming epoch %d at batch %d of %d" % (e + 1, b + 1, BATCHES) in out,
          "epochs: no resuming line in %r" % out[:300])
    same_tensors(res, ref, "epochs: interrupted by SIGTERM mid-epoch and resumed")

    # Without --checkpoint the state goes to --save.
    sv = os.path.join(tmp, "e-save.st")
    job = Job(base + NET + ["--save", sv], tmp, "e-int")
    if not check(job.wait_for(lambda: "epoch 2/" in job.out()), "epochs: no progress"):
        job.wait()
        return
    if not job.signal_after(signal.SIGINT, RNG.uniform(0, 0.2)):
        job.wait()
        return
    rc, err = job.wait(), job.err()
    check(rc == 130 and "saved to %s" % sv in err, "epochs SIGINT with --save: exit %s, %r"
          % (rc, err))
    res2 = os.path.join(tmp, "e-res2.st")
    run(base + ["--resume", sv, "--save", res2], 0)
    same_tensors(res2, ref, "epochs: interrupted by SIGINT (saved with --save) and resumed")

    # With neither, nothing is saved, and the message says how to keep progress next time.
    job = Job(base + NET, tmp, "e-none")
    if job.wait_for(lambda: "epoch 1/" in job.out()) and job.signal_after(signal.SIGINT, 0):
        rc, err = job.wait(), job.err()
        check(rc == 130 and "Nothing was saved" in err and "--checkpoint FILE" in err,
              "epochs SIGINT, nothing to save to: exit %s, %r" % (rc, err))
    else:
        job.wait()
        check(False, "epochs: no progress before SIGINT")


def test_kill9(tmp, csv, epochs, ref):
    """kill -9 at random moments of a run that checkpoints often (so some land in a save); each
    time the checkpoint is a whole model, and the next run resumes from it. The last runs to
    the end: the weights are the uninterrupted run's."""
    ck = os.path.join(tmp, "k-ck.st")
    base = epoch_args(csv, epochs)
    last, moments = -1, []
    for i in range(5):
        before = stat_or_none(ck)
        args = base + (["--resume", ck] if before else NET) + ["--checkpoint", ck,
                                                              "--checkpoint-every", "25b"]
        job = Job(args, tmp, "k%d" % i)
        if not check(job.wait_for(lambda: changed(ck, before)), "kill -9: no new checkpoint"):
            job.wait()
            return
        delay = RNG.uniform(0, 0.3)
        if not job.signal_after(signal.SIGKILL, delay):
            job.wait()
            return
        check(job.wait() == -signal.SIGKILL, "kill -9: exit %s" % job.p.returncode)
        whole_model(ck, ["--data", csv, "--label-column", "5"], "checkpoint after kill -9")
        e, b, it = saved_position(ck)
        check(it == e * BATCHES + b and it > last, "kill -9: checkpoint at epoch %d batch %d "
              "iteration %d (the last was %d)" % (e, b, it, last))
        last = it
        moments.append("%.2f s: iteration %d" % (delay, it))
    left = [f for f in os.listdir(tmp) if f.startswith("k-ck.st.tmp.")]
    print("kill -9 after a new checkpoint at", "; ".join(moments),
          "(%d temporary file(s) left by kills during a save)" % len(left))
    fin = os.path.join(tmp, "k-final.st")
    run(base + ["--resume", ck, "--checkpoint", ck, "--save", fin], 0)
    same_tensors(fin, ref, "kill -9 five times, resumed each time")
    same_tensors(ck, ref, "kill -9: the last checkpoint")


def test_finished(tmp, csv, epochs, ref):
    out, _ = run(epoch_args(csv, epochs) + ["--resume", ref], 0)
    check("nothing left to do" in out, "resuming a finished run: %r" % out)
    _, err = run(epoch_args(csv, epochs - 1) + ["--resume", ref], 2)
    check("more than --epochs" in err, "resuming with fewer --epochs: %r" % err)


# ---- Divergence ----------------------------------------------------------------------------

def test_divergence(tmp, csv_small):
    sv, ck = os.path.join(tmp, "d-save.st"), os.path.join(tmp, "d-ck.st")
    # The tutorial's mode: relu and softmax outputs with a huge step overflow at once.
    out, err = run(["train", "--activation", "relu", "--loss", "ce", "--init", "uniform", "--lr",
                    "1000", "--print-every", "1", "--save", sv, "--checkpoint", ck], 5)
    m = re.search(r"diverged: the cost became NaN or infinite at iteration (\d+); the last "
                  r"finite cost was (\S+), at iteration (\d+); kept the weights of that "
                  r"iteration and saved them\. Try a smaller --lr \(now 1000\)", err)
    X, Y = os.path.join(tmp, "X.csv"), os.path.join(tmp, "Y.csv")
    if check(m, "divergence message: %r" % err):
        bad, last, kept = int(m.group(1)), m.group(2), int(m.group(3))
        check(kept == bad - 1, "divergence: kept iteration %d for a bad %d" % (kept, bad))
        lines = out.splitlines()
        check(len(lines) > bad and lines[kept].split(": ")[1] == last,
              "divergence: the last finite cost %s is not the one printed for iteration %d: %r"
              % (last, kept, lines[:bad + 1]))
        for path in (sv, ck):
            meta = whole_model(path, ["--data", X], "diverged model")
            check(meta.get("iteration") == str(kept), "divergence: %s has iteration %s, not %d"
                  % (path, meta.get("iteration"), kept))
        # Those weights give that cost (numpy, on the data `mlpcl gen` writes: the same).
        meta, tensors = safetensors_numpy.load(ck)
        P = safetensors_numpy.predict(meta, tensors, np.loadtxt(X, delimiter=","))
        c = -np.sum(np.loadtxt(Y, delimiter=",") * np.log(P)) / len(P)
        check(abs(c - float(last)) <= 1e-5 * max(1.0, abs(c)),
              "divergence: the kept weights' cost is %r, the message's %s" % (c, last))
    # Epoch mode.
    os.remove(ck)
    _, err = run(["train", "--data", csv_small, "--label-column", "5", "--layers", "4,16,2",
                  "--loss", "ce", "--activation", "relu", "--lr", "1000", "--batch", "8",
                  "--epochs", "20", "--checkpoint", ck], 5)
    m = re.search(r"diverged: the cost became NaN or infinite in epoch (\d+) at batch (\d+) of "
                  r"25; the last finite cost was [\d.]+; kept the weights after (\d+) updates "
                  r"in all \((\d+) batches into epoch \d+\) and saved them\. Try a smaller --lr",
                  err)
    if check(m, "epoch divergence message: %r" % err):
        e, b, it = saved_position(ck)
        check(it == int(m.group(3)) and e == int(m.group(1)) - 1 and b == int(m.group(4)),
              "epoch divergence: saved epoch %d batch %d iteration %d; message %r"
              % (e, b, it, m.groups()))


def test_usage(tmp):
    cases = [(["--checkpoint-every", "5"], "needs --checkpoint"),
             (["--checkpoint", "c.st", "--checkpoint-every", "5b"], "only epoch mode"),
             (["--checkpoint", "c.st", "--checkpoint-every", "0"], "expects N"),
             (["--checkpoint", "c.st", "--checkpoint-every", "b"], "expects N"),
             (["--checkpoint", "c.st", "--checkpoint-every", "5x"], "expects N"),
             (["--checkpoint", "c.st", "--checkpoint-every", "-3b", "--epochs", "2"], "expects N")]
    for args, pat in cases:
        _, err = run(["train", *args], 2)
        check(pat in err, "mlpcl train %s: %r lacks %r" % (" ".join(args), err, pat))


def main():
    global BIN, RNG
    BIN = sys.argv[1]
    if skip_without_device(BIN):
        return SKIP
    seed = int(os.environ.get("MLPCL_TEST_SEED", random.randrange(1 << 30)))
    print("MLPCL_TEST_SEED=%d" % seed)
    RNG = random.Random(seed)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        test_usage(tmp)
        run(["gen", "--x", os.path.join(tmp, "X.csv"), "--y", os.path.join(tmp, "Y.csv")], 0)
        csv, small = os.path.join(tmp, "d.csv"), os.path.join(tmp, "small.csv")
        make_csv(csv, 4 * BATCHES, 7)
        make_csv(small, 200, 7)
        epochs = 120  # long enough that five kill -9s land before the end
        ref = os.path.join(tmp, "e-ref.st")
        run(epoch_args(csv, epochs) + NET + ["--save", ref], 0)
        test_tutorial(tmp)
        test_epochs_signal(tmp, csv, epochs, ref)
        test_kill9(tmp, csv, epochs, ref)
        test_finished(tmp, csv, epochs, ref)
        test_divergence(tmp, small)
    return finish("test_interrupt", t0)


if __name__ == "__main__":
    sys.exit(main())
