#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mlpcl's regression training against an independent implementation of the same training
(tests/regression_numpy.py: the same network, initial weights, sample order, optimiser, step,
batch and epochs, written in numpy from the published rules), and against PyTorch where torch
can be imported (skipped otherwise, and said). This stands in for "a held-out loss near
PyTorch's": the numpy program follows torch.optim.Adam's and CosineAnnealingLR's documented
rules, and where torch is present the test checks the two agree as well.

The data: y = 3·sin(2x₁) + 2x₂² − 1.5 + x₁x₂ for x uniform in [−1, 1]² (targets in about
−6 … 5), 400 rows, the last quarter held out; 2-32-1, tanh hidden, linear output, least
squares, Adam lr 0.01, batch 32, 20 epochs (and a cosine schedule over 12 epochs).

Tolerances on the held-out loss of every epoch, relative:
- host reference, double: 1e-9. Both compute the same expressions in double; only the order
  of the sums differs (numpy's BLAS against mlpcl's loops), ~1e-16 relative an operation. 200
  Adam updates do not amplify that much: each step is of order lr whatever the gradient's
  scale, so a relative perturbation of the gradient moves the weights by about as much
  relatively; measured: ~3e-16. 1e-9 leaves room for other BLAS builds and still catches any
  difference of rule (a wrong bias correction moves the first epoch's loss by percents).
- the OpenCL device, double: the same 1e-9 (it may contract a·b + c into fma; same argument).
- the OpenCL device, float: 1e-4. Float rounds at 6e-8; the batch gradients sum 32 terms, and
  Adam divides m by √v, where rounding in a small, noisy gradient is not scaled away; over 200
  updates the float run's held-out loss drifts from the double one by ~1e-6 relative (measured
  on POCL's CPU device). 1e-4 leaves a hundredfold margin for other devices' rounding (fma,
  other sum orders) and is still far below what a wrong rule or a lost update gives (~1e-2).
- PyTorch (float64): 1e-9, as the host.

usage: test_regression.py MLPCL_BINARY"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regression_numpy  # noqa: E402
from testlib import DEVICE, check, finish, no_device  # noqa: E402

CASES = [
    {"name": "adam", "epochs": 20, "schedule": "constant"},
    {"name": "adam+cosine", "epochs": 12, "schedule": "cosine"},
]


def mlpcl_losses(binary, csv, case, dev, prec, log):
    args = [binary, "train", "--data", csv, "--targets", "1", "--layers", "2,32,1",
            "--activation", "tanh", "--output", "linear", "--optimizer", "adam", "--lr", "0.01",
            "--batch", "32", "--epochs", str(case["epochs"]), "--validation", "0.25",
            "--lr-schedule", case["schedule"], "--device", dev, "--precision", prec,
            "--log", log]
    p = subprocess.run(args, capture_output=True, text=True)
    if not check(p.returncode == 0, "%s on %s %s: exit %d: %s" % (case["name"], dev, prec,
                                                                  p.returncode, p.stderr)):
        return None
    recs = [json.loads(ln) for ln in open(log)]
    return np.array([r["validation_loss"] for r in recs if "epoch" in r])


def compare(what, got, want, tol):
    if got is None:
        return
    if not check(got.shape == want.shape, "%s: %d epochs, want %d" % (what, got.size, want.size)):
        return
    err = np.max(np.abs(got - want) / np.abs(want))
    print("%-36s held-out loss %.6f (reference %.6f), largest relative difference over the "
          "epochs %.2e (tolerance %g)" % (what, got[-1], want[-1], err, tol))
    check(err <= tol, "%s: relative difference %.3g > %g" % (what, err, tol))


def main():
    binary = sys.argv[1]
    have_device = no_device(binary) is None
    if not have_device:
        print("note: no OpenCL device; only the host trainer is compared")
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("note: torch cannot be imported here; the PyTorch comparison is skipped (the "
              "numpy implementation of its rules stands in)")
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, (400, 2))
    y = 3 * np.sin(2 * X[:, 0]) + 2 * X[:, 1] ** 2 - 1.5 + X[:, 0] * X[:, 1]
    data = np.c_[X, y]
    base = 0.5 * np.var(y[300:])
    with tempfile.TemporaryDirectory() as tmp:
        csv, log = os.path.join(tmp, "reg.csv"), os.path.join(tmp, "log.jsonl")
        np.savetxt(csv, data, delimiter=",", fmt="%.17g")
        data = np.loadtxt(csv, delimiter=",")  # what mlpcl reads, to the bit
        for case in CASES:
            args = regression_numpy.parse([csv, "--epochs", str(case["epochs"]), "--lr-schedule",
                                           case["schedule"]])
            want = np.array([r[2] for r in regression_numpy.train_numpy(args, data)])
            # The reference itself learns: well below the mean's loss, and lower each few epochs.
            check(want[-1] < 0.2 * base and want[-1] < 0.5 * want[0],
                  "%s: the numpy reference did not learn (%g, mean's %g)" % (case["name"],
                                                                            want[-1], base))
            runs = [("host", "double", 1e-9)]
            if have_device:
                runs += [(DEVICE, "double", 1e-9), (DEVICE, "float", 1e-4)]
            for dev, prec, tol in runs:
                compare("%s, mlpcl %s %s" % (case["name"], dev, prec),
                        mlpcl_losses(binary, csv, case, dev, prec, log), want, tol)
            if have_torch:
                got = np.array([r[2] for r in regression_numpy.train_torch(args, data)])
                compare("%s, PyTorch float64" % case["name"], got, want, 1e-9)
    return finish("test_regression")


if __name__ == "__main__":
    sys.exit(main())
