#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Dropout (--dropout P) end to end, against the host reference trainer:

- the device equals the host reference over 3 epochs of 13 batches (the last one short) with
  dropout 0.3 and momentum, a 3-40-24-2 relu/tanh network, on the simple and the tiled kernel
  paths: double to 1e-12 norm-wise (the same masks and the same maths in another summation
  order: measured ~3e-16), float to 1e-5 (float's rounding, ~6e-8, grown over 39 updates:
  measured 3.4e-7). A single unit masked differently moves the weights by ~lr · activation,
  orders of magnitude beyond either bound, so this is also the check that dropout.cl's Philox
  gives host/philox.c's numbers;
- --dropout 0 gives the same weights, bit for bit, as no --dropout (host and device);
- dropout changes the training (the weights differ from a run without it) and repeats exactly
  with the same seed;
- evaluation drops nothing: the last epoch's logged test loss equals, to 1e-12, numpy's loss of
  the saved weights without any mask (host, double);
- --dropout outside [0, 0.99] and in the tutorial's mode is refused with exit 2.

usage: test_dropout.py MLPCL_BINARY"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import DEVICE, check, finish, no_device  # noqa: E402
import safetensors_numpy  # noqa: E402

BIN = None


def run(*args, code=0, env=None):
    p = subprocess.run([BIN, *args], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, p.stdout[-2000:], p.stderr))
    return p.stdout, p.stderr


def weights(path):
    _, t = safetensors_numpy.load(path)
    return np.concatenate([t[k].astype(np.float64).ravel()
                           for k in sorted(t) if k.startswith("layers.")])


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def main():
    global BIN
    BIN = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(9)
        sets = []
        for name, n in [("d.csv", 200), ("t.csv", 100)]:
            X = rng.uniform(-1, 1, (n, 3))
            y = (np.sin(3 * X[:, 0]) * X[:, 1] + 0.3 * X[:, 2] > 0).astype(int)
            path = os.path.join(tmp, name)
            np.savetxt(path, np.c_[X, y], delimiter=",", fmt="%.6f")
            sets.append((path, np.loadtxt(path, delimiter=",")[:, :3], np.eye(2)[y]))
        (data, _, _), (test, Xt, Yt) = sets
        base = ["train", "--data", data, "--label-column", "4", "--test", test, "--layers",
                "3,40,24,2", "--activation", "relu,tanh", "--loss", "ce", "--init", "uniform",
                "--epochs", "3", "--batch", "16", "--lr", "0.3", "--momentum", "0.5"]

        def model(name, *extra, device="host", env=None):
            path = os.path.join(tmp, name + ".st")
            log = os.path.join(tmp, name + ".json")
            run(*base, "--device", device, *extra, "--save", path, "--log", log, env=env)
            with open(log) as f:
                last = [json.loads(line) for line in f if line.strip()][-1]
            return weights(path), path, last

        host, host_path, host_last = model("host", "--dropout", "0.3")
        plain, _, _ = model("plain")
        zero, _, _ = model("zero", "--dropout", "0")
        again, _, _ = model("again", "--dropout", "0.3")
        other, _, _ = model("other", "--dropout", "0.3", "--seed", "2")
        check(np.array_equal(plain, zero), "host: --dropout 0 differs from no --dropout")
        check(not np.array_equal(host, plain), "host: --dropout 0.3 changed nothing")
        check(np.array_equal(host, again), "host: the same run twice differs")
        check(not np.array_equal(host, other), "host: another seed gave the same weights")

        meta, tensors = safetensors_numpy.load(host_path)
        P = safetensors_numpy.predict(meta, tensors, Xt)
        loss = -np.sum(Yt * np.log(P)) / len(Xt)
        check(abs(loss - host_last["test_loss"]) <= 1e-12 * loss,
              "evaluation: logged test loss %.17g, numpy's without dropout %.17g"
              % (host_last["test_loss"], loss))

        if no_device(BIN):
            print("no OpenCL device: the device's part is not run")
        else:
            for path in ["simple", "tiled"]:
                env = {"MLPCL_TUNE": "path=" + path}
                for precision, tol in [("double", 1e-12), ("float", 1e-5)]:
                    w, _, _ = model("dev", "--dropout", "0.3", "--precision", precision,
                                    device=DEVICE, env=env)
                    e = rel(w, host)
                    check(e <= tol, "%s %s: the device's weights differ from the host's by %.3g "
                          "(norm-wise), more than %g" % (path, precision, e, tol))
                    print("%s %s: %.3g" % (path, precision, e))
            dz, _, _ = model("dz", "--dropout", "0", device=DEVICE)
            dp, _, _ = model("dp", device=DEVICE)
            check(np.array_equal(dz, dp), "device: --dropout 0 differs from no --dropout")

        for bad in ["1", "-0.1", "0.995", "x"]:
            _, err = run(*base, "--device", "host", "--dropout", bad, code=2)
            check("--dropout" in err, "--dropout %s: %s" % (bad, err))
        _, err = run("train", "--dropout", "0.3", code=2)
        check("epoch mode" in err, "tutorial mode: " + err)
    return finish("test_dropout")


if __name__ == "__main__":
    sys.exit(main())
