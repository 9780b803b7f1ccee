#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Learning-rate schedules (--lr-schedule, --warmup), on the host reference trainer (double):

- the rate logged for each epoch equals the schedule's formula written here independently
  (PyTorch's StepLR and CosineAnnealingLR with T_max = epochs, eta_min = 0, in closed form,
  times (e + 1)/N during N warm-up epochs); compared to 1e-15 relative (both sides are a
  handful of double operations on the same inputs, so they agree to an ulp or two);
- the rate reaches the trainer: a scheduled run's weights equal, bit for bit, those of a chain
  of one-epoch runs, each resumed (--force) with --lr set to that epoch's rate by this script;
- a run stopped after some epochs and resumed continues the schedule: the same rates logged
  and the same weights, bit for bit, as the run that was not stopped;
- the tutorial's mode and bad schedule texts are refused with a message and exit 2.

usage: test_schedule.py MLPCL_BINARY"""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, finish  # noqa: E402
import safetensors_numpy  # noqa: E402

BIN = None
EPOCHS = 7
LR = 0.4


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, p.stdout[-2000:], p.stderr))
    return p.stdout, p.stderr


def expected_rate(kind, e, epochs, warmup):
    """The schedule's rate of epoch e (from 0), from its published definition."""
    if kind == "constant":
        r = LR
    elif kind.startswith("step:"):
        _, n, g = kind.split(":")
        r = LR * float(g) ** (e // int(n))
    else:  # cosine annealing to 0 over `epochs` epochs
        r = 0.5 * LR * (1 + math.cos(math.pi * e / epochs))
    if e < warmup:
        r = r * (e + 1) / warmup
    return r


def logged_rates(path):
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return [r["lr"] for r in recs if "settings" not in r]  # after the settings record


def weights(path):
    _, t = safetensors_numpy.load(path)
    return np.concatenate([t[k].ravel() for k in sorted(t) if k.startswith("layers.")])


def main():
    global BIN
    BIN = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(3)
        X = rng.uniform(-1, 1, (60, 3))
        y = (X[:, 0] * X[:, 1] + 0.5 * X[:, 2] > 0).astype(int)
        data = os.path.join(tmp, "d.csv")
        np.savetxt(data, np.c_[X, y], delimiter=",", fmt="%.6f")
        base = ["train", "--device", "host", "--data", data, "--label-column", "4", "--layers",
                "3,5,2", "--activation", "tanh", "--loss", "ce", "--init", "uniform",
                "--batch", "16", "--lr", str(LR), "--momentum", "0.5"]

        for kind, warmup in [("constant", 0), ("step:3:0.5", 0), ("cosine", 0), ("cosine", 3),
                             ("step:2:0.1", 2), ("constant", 4)]:
            log = os.path.join(tmp, "l.json")
            model = os.path.join(tmp, "s.st")
            out, _ = run(*base, "--epochs", str(EPOCHS), "--lr-schedule", kind, "--warmup",
                         str(warmup), "--log", log, "--save", model)
            got = logged_rates(log)
            want = [expected_rate(kind, e, EPOCHS, warmup) for e in range(EPOCHS)]
            check(len(got) == EPOCHS and all(abs(g - w) <= 1e-15 * w for g, w in zip(got, want)),
                  "%s warmup %d: rates %s, expected %s" % (kind, warmup, got, want))
            if kind != "constant" or warmup:
                check("lr %.6g" % want[1] in out, "%s: the epoch line shows no rate:\n%s"
                      % (kind, out))

            if kind == "cosine" and warmup == 3:
                # The same rates given one epoch at a time, by resuming with --lr.
                chain = os.path.join(tmp, "c.st")
                run(*base[:-4], "--lr", repr(want[0]), "--momentum", "0.5", "--epochs", "1",
                    "--save", chain)
                for e in range(1, EPOCHS):
                    run("train", "--device", "host", "--data", data, "--label-column", "4",
                        "--resume", chain, "--force", "--lr", repr(want[e]), "--epochs",
                        str(e + 1), "--save", chain)
                a, b = weights(model), weights(chain)
                check(np.array_equal(a, b), "cosine+warmup: the scheduled run's weights differ "
                      "from the chain of resumed runs by %g" % np.abs(a - b).max())

            if kind == "step:2:0.1" and warmup == 2:
                # Stopped after 3 epochs and resumed to the end: the schedule goes on where it
                # was (step and warm-up depend on the epoch alone, not on --epochs).
                ck = os.path.join(tmp, "k.st")
                klog = os.path.join(tmp, "k.json")
                run(*base, "--epochs", "3", "--lr-schedule", kind, "--warmup", "2",
                    "--save", ck, "--log", klog)
                run("train", "--device", "host", "--data", data, "--label-column", "4",
                    "--resume", ck, "--epochs", str(EPOCHS), "--lr-schedule", kind,
                    "--warmup", "2", "--save", ck, "--log", klog)
                rates = logged_rates(klog)
                check(rates == got, "resumed: rates %s, expected %s" % (rates, got))
                a, b = weights(model), weights(ck)
                check(np.array_equal(a, b), "resumed: the weights differ from the run that was "
                      "not stopped by %g" % np.abs(a - b).max())

        out, err = run("train", "--lr-schedule", "cosine", code=2)
        check("epoch mode" in err, "tutorial mode + --lr-schedule: " + err)
        for bad in ["step:0:0.5", "step:3", "step:3:1.5", "step:3:0", "linear", "step:x:0.5"]:
            out, err = run("train", "--epochs", "2", "--lr-schedule", bad, code=2)
            check("--lr-schedule expects" in err, "--lr-schedule %s: %s" % (bad, err))
        out, err = run("train", "--epochs", "2", "--warmup", "-1", code=2)
        check("--warmup" in err, "--warmup -1: " + err)
    return finish("test_schedule")


if __name__ == "__main__":
    sys.exit(main())
