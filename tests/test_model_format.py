#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The model file as docs/model-format.md describes it, read by tools/mlpcl-model (numpy; torch
where installed) and checked against `mlpcl predict` on the same inputs, for a sigmoid/mse
network (the tutorial's) and a relu/ce classifier with named classes and --normalize. Also: the
layout (weights [out, in], data 8-byte aligned, F64 tensors on 8-byte boundaries), the metadata
(format_version, output, class_names), and a file rewritten in the older layout (version 1:
weights [in, out], no format_version) that `mlpcl predict` and `--resume` read to the same
results. Everything runs on the reference trainer (--device host) in double, so no OpenCL device
is needed.

usage: test_model_format.py MLPCL_BINARY"""
import importlib.machinery
import importlib.util
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from testlib import check, finish  # noqa: E402

BIN = None
SCRIPT = os.path.join(ROOT, "tools", "mlpcl-model")
# Both sides compute in double from the same stored doubles; they differ only in the order of
# the sums (numpy's matmul vs the reference's loops) and in exp's last bit: a few ulps per layer
# on outputs in [0, 1]. 1e-12 is a thousand times that and far below any layout mistake (a
# transposed or unstandardised network is off by more than 1e-3, checked below).
TOL = 1e-12


def load_script():
    loader = importlib.machinery.SourceFileLoader("mlpcl_model", SCRIPT)
    spec = importlib.util.spec_from_loader("mlpcl_model", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d: %s"
          % (" ".join(args), p.returncode, code, p.stderr.strip()))
    return p.stdout


def mlpcl_predict(model, csv):
    """`mlpcl predict`'s outputs (the class column dropped for classifiers) and its header."""
    out = run("predict", "--model", model, "--data", csv, "--device", "host")
    head, *rows = out.splitlines()
    skip = 1 if head.startswith("class,") else 0  # the predicted class's name
    return head, np.array([[float(v) for v in r.split(",")[skip:]] for r in rows])


def raw(path):
    """(header dict, data offset, raw bytes)."""
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    return json.loads(b[8:8 + n]), 8 + n, b


def check_layout(path, widths):
    h, start, b = raw(path)
    meta = h.pop("__metadata__")
    check(meta.get("format_version") == "2", "%s: format_version %r" % (path, meta))
    check(start % 8 == 0, "%s: data section at byte %d, not 8-byte aligned" % (path, start))
    for name, t in h.items():
        size = 8 if t["dtype"] == "F64" else 4
        check((start + t["data_offsets"][0]) % size == 0, "%s: %s at byte %d" %
              (path, name, start + t["data_offsets"][0]))
        if t["dtype"] == "F64":
            check((start + t["data_offsets"][0]) % 8 == 0, "%s: %s not 8-aligned" % (path, name))
    for l in range(1, len(widths)):
        shape = h["layers.%d.weight" % l]["shape"]
        check(shape == [widths[l], widths[l - 1]], "layers.%d.weight shape %r, expected [out, "
              "in] = %r" % (l, shape, [widths[l], widths[l - 1]]))
    return meta


def to_version1(src, dst):
    """Rewrites a version-2 file as mlpcl wrote it before: no format_version or output, each
    weight (and its part of train.velocity) [in, out], tensors in name order of slots."""
    h, start, b = raw(src)
    meta = h.pop("__metadata__")
    widths = [int(w) for w in meta["layers"].split(",")]
    dt = {"F32": "<f4", "F64": "<f8"}
    arrays = {n: np.frombuffer(b[start + t["data_offsets"][0]:start + t["data_offsets"][1]],
                               dtype=dt[t["dtype"]]).reshape(t["shape"]) for n, t in h.items()}
    for l in range(1, len(widths)):
        arrays["layers.%d.weight" % l] = arrays["layers.%d.weight" % l].T
    if "train.velocity" in arrays:
        v, parts, at = arrays["train.velocity"], [], 0
        for l in range(1, len(widths)):
            nin, nout = widths[l - 1], widths[l]
            parts += [v[at:at + nin * nout].reshape(nout, nin).T.ravel(),
                      v[at + nin * nout:at + nin * nout + nout]]
            at += nin * nout + nout
        arrays["train.velocity"] = np.concatenate(parts)
    del meta["format_version"], meta["output"]
    order = []
    for l in range(1, len(widths)):
        order += ["layers.%d.weight" % l, "layers.%d.bias" % l]
    order += [n for n in ("norm.mean", "norm.std", "train.velocity") if n in arrays]
    header, body, at = {"__metadata__": meta}, b"", 0
    for n in order:
        a = np.ascontiguousarray(arrays[n], dtype=dt[h[n]["dtype"]])
        header[n] = {"dtype": h[n]["dtype"], "shape": list(a.shape),
                     "data_offsets": [at, at + a.nbytes]}
        body += a.tobytes()
        at += a.nbytes
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + body)


def test_tutorial(tmp, mm):
    model = os.path.join(tmp, "tutorial.safetensors")
    run("train", "--device", "host", "--precision", "double", "--print-every", "0",
        "--save", model)
    meta = check_layout(model, [2, 3, 2])
    check(meta.get("output") == "sigmoid", "tutorial: output %r" % meta.get("output"))
    X = np.random.default_rng(5).uniform(-2, 3, (40, 2))
    csv = os.path.join(tmp, "x.csv")
    np.savetxt(csv, X, delimiter=",", fmt="%.17g")
    _, P = mlpcl_predict(model, csv)
    m = mm.load(model)
    Q = mm.predict(m, X)
    check(P.shape == Q.shape == (40, 2), "tutorial: shapes %r %r" % (P.shape, Q.shape))
    if P.shape == Q.shape:
        err = np.abs(P - Q).max()
        check(err < TOL, "tutorial: mlpcl-model vs mlpcl predict differ by %.3g" % err)
    # The script as a command gives the same numbers.
    p = subprocess.run([sys.executable, SCRIPT, model, "--predict", csv], capture_output=True,
                       text=True)
    got = np.array([[float(v) for v in r.split(",")] for r in p.stdout.split()])
    check(p.returncode == 0 and got.shape == P.shape and np.abs(got - P).max() < TOL,
          "mlpcl-model --predict: %s" % p.stderr)

    # The older layout: the same predictions, bit for bit, and resuming from it works.
    old = os.path.join(tmp, "tutorial-v1.safetensors")
    to_version1(model, old)
    h, _, _ = raw(old)
    check("format_version" not in h["__metadata__"] and h["layers.1.weight"]["shape"] == [2, 3],
          "the rewritten file is not in the old layout")
    head_new = run("predict", "--model", model, "--data", csv, "--device", "host")
    head_old = run("predict", "--model", old, "--data", csv, "--device", "host")
    check(head_new == head_old and head_new, "version-1 file: predictions differ from version 2")
    Qo = mm.predict(mm.load(old), X)
    check(np.array_equal(Qo, Q), "mlpcl-model: version 1 and 2 differ")
    # A committed file written by an earlier mlpcl (fuzz corpus): loads and predicts as numpy
    # reading it in its own layout says.
    fixture = os.path.join(ROOT, "fuzz", "corpus", "model", "tutorial-f64.safetensors")
    fh, _, _ = raw(fixture)
    if check("format_version" not in fh["__metadata__"], "fixture is not a version-1 file"):
        _, Pf = mlpcl_predict(fixture, csv)
        Qf = mm.predict(mm.load(fixture), X)
        check(Pf.shape == Qf.shape and np.abs(Pf - Qf).max() < TOL,
              "version-1 fixture: mlpcl predict vs numpy")
    # Resuming from each layout continues to the same weights (velocity rearranged too).
    for src, dst in ((model, "r2.safetensors"), (old, "r1.safetensors")):
        run("train", "--device", "host", "--precision", "double", "--print-every", "0",
            "--target", "0.099", "--resume", src, "--save", os.path.join(tmp, dst))
    a, b = mm.load(os.path.join(tmp, "r2.safetensors")), mm.load(os.path.join(tmp, "r1.safetensors"))
    check(all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases)),
          "resumed from version 1 and 2: the weights differ")
    return m, X


def test_classifier(tmp, mm):
    r = np.random.default_rng(11)
    names = ["north", "south", "east"]
    rows = []
    for i in range(240):
        c = i % 3
        x = r.normal([c, -c, 2 * c], 0.6) * [1, 50, 0.02] + [0, 300, 1]
        rows.append("%r,%r,%r,%s" % (float(x[0]), float(x[1]), float(x[2]), names[c]))
    data = os.path.join(tmp, "points.csv")
    with open(data, "w") as f:
        f.write("a,b,c,where\n" + "\n".join(rows) + "\n")
    model = os.path.join(tmp, "points.safetensors")
    run("train", "--device", "host", "--precision", "double", "--data", data, "--label-column",
        "where", "--normalize", "--layers", "3,8,6,3", "--activation", "relu", "--loss", "ce",
        "--epochs", "4", "--batch", "16", "--lr", "0.1", "--momentum", "0.9", "--save", model)
    meta = check_layout(model, [3, 8, 6, 3])
    check(meta.get("output") == "softmax", "classifier: output %r" % meta.get("output"))
    m = mm.load(model)
    check(m.classes == sorted(names), "classifier: class names %r" % m.classes)
    check(m.mean is not None and abs(m.mean[1] - 250) < 20, "classifier: norm.mean %r" % m.mean)
    X = np.array([[float(v) for v in l.split(",")[:3]] for l in rows[:60]])
    csv = os.path.join(tmp, "feats.csv")
    np.savetxt(csv, X, delimiter=",", fmt="%.17g")
    head, P = mlpcl_predict(model, csv)
    check(head == "class," + ",".join(sorted(names)), "classifier: predict header %r" % head)
    Q = mm.predict(m, X)
    if check(P.shape == Q.shape == (60, 3), "classifier: shapes %r %r" % (P.shape, Q.shape)):
        err = np.abs(P - Q).max()
        check(err < TOL, "classifier: mlpcl-model vs mlpcl predict differ by %.3g" % err)
        # Without the file's standardisation the outputs are far off: it is applied.
        mean, std = m.mean, m.std
        m.mean = None
        check(np.abs(mm.predict(m, X) - P).max() > 1e-3,
              "classifier: predictions do not depend on norm.mean/std")
        m.mean, m.std = mean, std
    # Checkpoints hold the velocity in the same [out, in] layout: an old-layout rewrite of a
    # momentum checkpoint resumes to the same weights as the file itself.
    old = os.path.join(tmp, "points-v1.safetensors")
    to_version1(model, old)
    outs = []
    for i, src in enumerate((model, old)):
        dst = os.path.join(tmp, "more%d.safetensors" % i)
        run("train", "--device", "host", "--precision", "double", "--data", data,
            "--label-column", "where", "--epochs", "6", "--resume", src, "--save", dst)
        outs.append(mm.load(dst))
    a, b = outs
    check(all(np.array_equal(x, y) for x, y in zip(a.weights + a.biases, b.weights + b.biases)),
          "classifier resumed from version 1 and 2: the weights differ")
    return m, X, P


def test_torch(tmp, mm, cases):
    try:
        import torch  # noqa: F401
    except ImportError:
        print("note: torch is not installed: the torch.nn.Sequential check did not run")
        return
    for m, X, P in cases:
        net = mm.to_torch(m)
        with torch.no_grad():
            T = net(torch.from_numpy(X)).numpy()
        err = np.abs(T - P).max()
        check(err < TOL, "torch.nn.Sequential vs mlpcl predict differ by %.3g" % err)


def main():
    global BIN
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    BIN = os.path.abspath(sys.argv[1])
    mm = load_script()
    with tempfile.TemporaryDirectory() as tmp:
        m1, X1 = test_tutorial(tmp, mm)
        _, P1 = mlpcl_predict(os.path.join(tmp, "tutorial.safetensors"), os.path.join(tmp, "x.csv"))
        m2, X2, P2 = test_classifier(tmp, mm)
        test_torch(tmp, mm, [(m1, X1, P1), (m2, X2, P2)])
    return finish("test_model_format")


if __name__ == "__main__":
    sys.exit(main())
