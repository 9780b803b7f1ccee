#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Early stopping (--early-stop N), on the host reference trainer (double) and on an OpenCL
device (float, skipped without one): a run of 300 epochs on a small, noisy classification set
with a wide network overfits within a few dozen epochs and must end early, after N epochs
without a lower held-out loss than the best one logged; the message names that best epoch; the
saved model records it as its epoch and its weights give, recomputed by numpy alone, the
logged held-out loss of that epoch:
- host: to 1e-12 relative (the same double maths in another summation order: ~1e-15);
- device: to 1e-5 relative (the logged loss comes from float outputs, numpy recomputes in
  double from the float weights: float's ~6e-8 rounding over a few sums of 64 terms).
Without held-out data, --early-stop is refused with exit 2.

usage: test_early_stop.py MLPCL_BINARY"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import DEVICE, check, finish, no_device  # noqa: E402
import safetensors_numpy  # noqa: E402

BIN = None
PATIENCE = 5


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, p.stdout[-2000:], p.stderr))
    return p.stdout, p.stderr


def write_set(path, rng, n):
    X = rng.uniform(-1, 1, (n, 3))
    y = (np.sin(3 * X[:, 0]) * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int)
    flip = rng.uniform(size=n) < 0.15  # label noise, so that a wide network overfits
    y = np.where(flip, 1 - y, y)
    np.savetxt(path, np.c_[X, y], delimiter=",", fmt="%.6f")
    X = np.loadtxt(path, delimiter=",")[:, :3]  # as mlpcl reads it: 6 decimals
    return X, np.eye(2)[y]


def one(tmp, data, test, Xt, Yt, device, precision, tol):
    log = os.path.join(tmp, "e.json")
    model = os.path.join(tmp, "best.st")
    out, _ = run("train", "--device", device, "--precision", precision, "--data", data,
                 "--label-column", "4", "--test", test, "--layers", "3,64,2", "--activation",
                 "relu", "--loss", "ce", "--init", "uniform", "--epochs", "300", "--batch", "8",
                 "--lr", "0.5", "--early-stop", str(PATIENCE), "--save", model, "--log", log)
    with open(log) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    lines = [r for r in lines if "settings" not in r]  # the log opens with the run's settings
    losses = [line["test_loss"] for line in lines]
    best = int(np.argmin(losses))  # the first of equal ones, as a strict "lower" keeps
    check(len(lines) < 300, "%s: ran all 300 epochs" % device)
    check(len(lines) == best + 1 + PATIENCE,
          "%s: stopped after %d epochs; the best was epoch %d, patience %d"
          % (device, len(lines), best + 1, PATIENCE))
    m = re.search(r"restored the weights of epoch (\d+)", out)
    check(m and int(m.group(1)) == best + 1,
          "%s: the message names no epoch %d:\n%s" % (device, best + 1, out[-600:]))
    meta, tensors = safetensors_numpy.load(model)
    check(int(meta["epoch"]) == best + 1, "%s: the model says epoch %s, the best was %d"
          % (device, meta["epoch"], best + 1))
    P = safetensors_numpy.predict(meta, tensors, Xt)
    loss = -np.sum(Yt * np.log(P)) / len(Xt)
    check(abs(loss - losses[best]) <= tol * losses[best],
          "%s: the saved model's test loss %.17g, the best epoch's logged %.17g"
          % (device, loss, losses[best]))


def main():
    global BIN
    BIN = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(5)
        data, test = os.path.join(tmp, "d.csv"), os.path.join(tmp, "t.csv")
        write_set(data, rng, 120)
        Xt, Yt = write_set(test, rng, 200)
        one(tmp, data, test, Xt, Yt, "host", "double", 1e-12)
        if no_device(BIN):
            print("no OpenCL device: the device's part is not run")
        else:
            one(tmp, data, test, Xt, Yt, DEVICE, "float", 1e-5)
        _, err = run("train", "--device", "host", "--data", data, "--label-column", "4",
                     "--early-stop", "3", code=2)
        check("--early-stop watches the held-out loss" in err, "no held-out data: " + err)
        _, err = run("train", "--early-stop", "3", code=2)
        check("epoch mode" in err, "tutorial mode: " + err)
    return finish("test_early_stop")


if __name__ == "__main__":
    sys.exit(main())
