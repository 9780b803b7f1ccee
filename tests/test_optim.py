#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The optimisers against their published update rules, written here in numpy: SGD with momentum,
Nesterov's momentum as PyTorch's SGD takes it (V = μV + G, step G + μV), L2 weight decay
(G += wd·W) for SGD and Adam, Adam with bias correction (Kingma & Ba, PyTorch's ε placement)
and AdamW's decoupled decay (W ·= 1 − lr·wd, Loshchilov & Hutter as PyTorch does it). A 3-5-2
network (tanh hidden, linear outputs; and one with sigmoid outputs) trains 7 full-batch
updates from seeded uniform weights; the weights mlpcl saves are compared with numpy's.

Tolerances, relative to the largest weight. Host (double) and device double: 1e-12. The
algebra is the same; only the rounding order differs (numpy's BLAS sums in another order,
the device may contract a·b + c into one fma): ~1e-16 relative per operation, a few hundred
operations per weight over 7 steps, and Adam's step m/(√v + ε) divides by √v but is of order
lr whatever v is, so errors stay relative (no gradient here vanishes structurally). Float:
1e-5 (float rounds at 6e-8; the gradients sum 40 samples and Adam divides two such sums).
Then Adam's resume: 4 epochs straight equal 2 epochs + --resume 2 more, bit for bit, on the
host and on the device.

usage: test_optim.py MLPCL_BINARY"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import DEVICE, SKIP, check, finish, no_device  # noqa: E402

STEPS = 7
LR = 0.02


def load_model(path):
    """(metadata, {name: array}) of a safetensors file, each layer's weight as the network holds
    it, [in, out] (files of format_version 2 store it as PyTorch does, [out, in])."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    meta = head.pop("__metadata__", {})
    out = {}
    for name, t in head.items():
        dt = np.float32 if t["dtype"] == "F32" else np.float64
        lo, hi = t["data_offsets"]
        out[name] = np.frombuffer(b[8 + n + lo:8 + n + hi], dtype=dt).astype(np.float64).reshape(
            t["shape"])
        if int(meta.get("format_version", "1")) >= 2 and name.endswith(".weight"):
            out[name] = out[name].T
    return meta, out


def flat(ts, L):
    """The parameters in the layout grad() uses, W [in, out] (as load_model gives it) then b,
    layer by layer."""
    return np.concatenate([np.concatenate([ts["layers.%d.weight" % l].ravel(),
                                           ts["layers.%d.bias" % l]]) for l in range(1, L + 1)])


ACT = {"tanh": (np.tanh, lambda a: 1 - a * a),
       "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: (1 - a) * a),
       "linear": (lambda z: z, lambda a: np.ones_like(a))}


def grad(P, widths, acts, X, Y):
    """The gradient of 1/(2m)·Σ(out − y)² by backpropagation (DESIGN.md §1's equations)."""
    m, L = X.shape[0], len(widths) - 1
    Ws, off = [], 0
    for l in range(L):
        n_in, n = widths[l], widths[l + 1]
        W = P[off:off + n_in * n].reshape(n_in, n)
        b = P[off + n_in * n:off + n_in * n + n]
        Ws.append((W, b))
        off += (n_in + 1) * n
    A = [X]
    for l in range(L):
        A.append(ACT[acts[l]][0](A[-1] @ Ws[l][0] + Ws[l][1]))
    D = (A[-1] - Y) / m * ACT[acts[-1]][1](A[-1])
    G = [None] * L
    for l in range(L - 1, -1, -1):
        G[l] = np.concatenate([(A[l].T @ D).ravel(), D.sum(axis=0)])
        if l:
            D = (D @ Ws[l][0].T) * ACT[acts[l - 1]][1](A[l])
    return np.concatenate(G)


def reference(P, widths, acts, X, Y, opt):
    """STEPS updates of the published rules (see the module's text)."""
    P = P.copy()
    V, S = np.zeros_like(P), np.zeros_like(P)
    kind, mu, nest, wd = opt["kind"], opt.get("mu", 0.0), opt.get("nesterov"), opt.get("wd", 0.0)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, STEPS + 1):
        g = grad(P, widths, acts, X, Y)
        if kind != "adamw":
            g = g + wd * P
        if kind == "sgd":
            if mu:
                V = mu * V + g
                g = g + mu * V if nest else V
            P = P - LR * g
            continue
        V = b1 * V + (1 - b1) * g
        S = b2 * S + (1 - b2) * g * g
        if kind == "adamw":
            P = P * (1 - LR * wd)
        P = P - LR / (1 - b1 ** t) * V / (np.sqrt(S) / np.sqrt(1 - b2 ** t) + eps)
    return P


OPTS = [
    {"kind": "sgd", "mu": 0.9},
    {"kind": "sgd", "mu": 0.9, "nesterov": True},
    {"kind": "sgd", "mu": 0.5, "wd": 0.05},
    {"kind": "adam"},
    {"kind": "adam", "wd": 0.05},
    {"kind": "adamw", "wd": 0.1},
]


def flags(opt):
    f = ["--optimizer", opt["kind"]]
    if opt.get("mu"):
        f += ["--momentum", str(opt["mu"])]
    if opt.get("nesterov"):
        f += ["--nesterov"]
    if opt.get("wd"):
        f += ["--weight-decay", str(opt["wd"])]
    return f


def run(binary, args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([binary, "train", *args], capture_output=True, text=True, env=e)


def regression(binary, tmp):
    """A smooth function with targets in about −6 … 5 learns with linear outputs: the held-out
    loss ends below 2% of predicting the targets' mean (whose loss is half their variance); the
    same network with sigmoid outputs cannot go below the share of targets beyond (0, 1), and
    mlpcl says so."""
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, (400, 2))
    y = 3 * np.sin(2 * X[:, 0]) + 2 * X[:, 1] ** 2 - 1.5 + X[:, 0] * X[:, 1]
    path = os.path.join(tmp, "reg.csv")
    np.savetxt(path, np.c_[X, y], delimiter=",", fmt="%.17g")
    base = 0.5 * np.var(y[300:])
    losses = {}
    for out in ("linear", "sigmoid"):
        p = run(binary, ["--data", path, "--targets", "1", "--layers", "2,32,1", "--activation",
                         "tanh", "--output", out, "--optimizer", "adam", "--lr", "0.01",
                         "--batch", "32", "--epochs", "200", "--validation", "0.25", "--device",
                         "host", "--precision", "double"])
        check(p.returncode == 0, "regression, %s outputs: exit %d: %s" % (out, p.returncode,
                                                                         p.stderr))
        lines = [ln for ln in p.stdout.splitlines() if "validation loss" in ln]
        losses[out] = float(lines[-1].split("validation loss ")[1].split(",")[0]) if lines else 1e9
        check(("sigmoid outputs stay within" in p.stderr) == (out == "sigmoid"),
              "regression, %s outputs: the note on targets: %r" % (out, p.stderr))
    print("regression: held-out loss %.4g linear, %.4g sigmoid, %.4g the mean's" %
          (losses["linear"], losses["sigmoid"], base))
    check(losses["linear"] < 0.02 * base, "regression: linear outputs' held-out loss %g is not "
          "below 2%% of the mean's %g" % (losses["linear"], base))
    check(losses["sigmoid"] > 0.3 * base, "regression: sigmoid outputs' held-out loss %g: "
          "they cannot reach the targets" % losses["sigmoid"])


def main():
    binary = sys.argv[1]
    have_device = no_device(binary) is None
    if not have_device:
        print("note: no OpenCL device; only the host trainer is checked")
    rng = np.random.default_rng(7)
    m, widths = 40, [3, 5, 2]
    X = rng.uniform(-1, 1, (m, 3))
    Y = np.c_[np.sin(2 * X[:, 0]) * 3 - X[:, 1], X[:, 2] * X[:, 0] * 4 + 0.5]  # beyond (0, 1)
    with tempfile.TemporaryDirectory() as tmp:
        xp, yp = os.path.join(tmp, "x.csv"), os.path.join(tmp, "y.csv")
        np.savetxt(xp, X, delimiter=",", fmt="%.17g")
        np.savetxt(yp, Y, delimiter=",", fmt="%.17g")
        for outs in ("linear", "sigmoid"):
            acts = ["tanh", outs]
            Ys = Y if outs == "linear" else 1 / (1 + np.exp(-Y))
            ysp = yp if outs == "linear" else os.path.join(tmp, "ys.csv")
            if outs == "sigmoid":
                np.savetxt(ysp, Ys, delimiter=",", fmt="%.17g")
            base = ["--x", xp, "--y", ysp, "--layers", "3,5,2", "--activation", "tanh",
                    "--output", outs, "--init", "uniform", "--seed", "3", "--lr", str(LR),
                    "--target", "0", "--print-every", "0"]
            init = os.path.join(tmp, "init.st")
            p = run(binary, base + ["--device", "host", "--precision", "double", "--max-iter",
                                    "0", "--save", init])
            check(p.returncode in (0, 4), "initial save: %s" % p.stderr)
            P0 = flat(load_model(init)[1], 2)
            runs = [("host", "double", {}, 1e-12)]
            if have_device:
                runs += [(DEVICE, "double", {}, 1e-12), (DEVICE, "float", {}, 1e-5)]
                if outs == "linear":  # the other paths: simple kernels, tiled products
                    runs += [(DEVICE, "double", {"MLPCL_TUNE": "path=simple"}, 1e-12),
                             (DEVICE, "double", {"MLPCL_TUNE": "path=tiled"}, 1e-12)]
            for opt in OPTS:
                want = reference(P0, widths, acts, X, Ys, opt)
                for dev, prec, env, tol in runs:
                    out = os.path.join(tmp, "out.st")
                    p = run(binary, base + flags(opt) + ["--device", dev, "--precision", prec,
                                                         "--max-iter", str(STEPS), "--save", out],
                            env)
                    what = "%s outputs, %s, %s %s %s" % (outs, flags(opt), dev, prec, env)
                    if not check(p.returncode == 4, "%s: exit %d: %s" % (what, p.returncode,
                                                                         p.stderr)):
                        continue
                    got = flat(load_model(out)[1], 2)
                    err = np.abs(got - want).max() / np.abs(want).max()
                    moved = np.abs(want - P0).max() / np.abs(want).max()
                    check(moved > 1e-3, "%s: the weights hardly moved (%g)" % (what, moved))
                    check(err <= tol, "%s: relative error %.3g > %g" % (what, err, tol))
                    print("%-70s error %.2e" % (what, err))
        regression(binary, tmp)
        # Adam's state across --resume, bit for bit
        devs = ["host"] + ([DEVICE] if have_device else [])
        for dev in devs:
            args = ["--x", xp, "--y", yp, "--layers", "3,5,2", "--activation", "tanh",
                    "--output", "linear", "--optimizer", "adam", "--lr", "0.01", "--batch", "7",
                    "--precision", "double", "--device", dev, "--init", "uniform"]
            full, half, res = (os.path.join(tmp, n + ".st") for n in ("full", "half", "res"))
            rcs = [run(binary, args + ["--epochs", "4", "--save", full]).returncode,
                   run(binary, args + ["--epochs", "2", "--save", half]).returncode,
                   run(binary, args + ["--epochs", "4", "--resume", half, "--save",
                                       res]).returncode]
            if not check(rcs == [0, 0, 0], "%s resume runs: exits %s" % (dev, rcs)):
                continue
            mf, tf = load_model(full)
            mr, tr = load_model(res)
            check(load_model(half)[0].get("train.adam_step") == "12",
                  "%s: 2 epochs of 6 batches saved Adam's step %s, not 12" %
                  (dev, load_model(half)[0].get("train.adam_step")))
            check(mf.get("train.adam_step") == mr.get("train.adam_step") == "24",
                  "%s: Adam's step %s and %s, not 24" % (dev, mf.get("train.adam_step"),
                                                         mr.get("train.adam_step")))
            for k in tf:
                check(np.array_equal(tf[k], tr[k]), "%s: %s differs after --resume" % (dev, k))
    return finish("test_optim")


if __name__ == "__main__":
    sys.exit(main())
