#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Training on real data, end to end, as a user runs it: Fashion-MNIST (a 2,000-sample subset
written as gzip IDX files), a CSV data set with class names, saved models read back by numpy
alone (tests/safetensors_numpy.py), `mlpcl predict`, resuming, the JSON log and tools/plot.

Accuracy floor on the subset: 72% on 1,000 test images after 10 epochs of a 784-64-10 relu
network with softmax and cross-entropy. Chance is 10% and an untrained network stays near it;
the configuration reaches 77-82% over seeds 1-3 on this subset (measured while writing the
test), and losing any part of backpropagation loses far more than the margin.

Numpy comparisons: mlpcl computes in float, numpy in double from the same float32 weights, so
outputs agree to ~1e-6 (float's rounding over sums of 784 terms); we allow 1e-4. Predicted
classes may differ only where two outputs are that close: at most 0.5% of the rows.

usage: test_train_data.py MLPCL_BINARY"""
import gzip
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402
import safetensors_numpy  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = None


def run(*args, code=0):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, p.stdout[-2000:], p.stderr))
    return p.stdout, p.stderr


def read_idx_gz(path):
    with gzip.open(path) as f:
        data = f.read()
    nd = data[3]
    dims = struct.unpack(">%dI" % nd, data[4:4 + 4 * nd])
    return dims, data[4 + 4 * nd:]


def write_idx_gz(path, type_byte, dims, body):
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, type_byte, len(dims)]) + struct.pack(">%dI" % len(dims), *dims) + body)


def fashion_subset(folder, n_train, n_test):
    """The first n samples of each Fashion-MNIST file, as IDX files with the MNIST names."""
    os.makedirs(folder, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        dims, body = read_idx_gz(os.path.join(FASHION, prefix + "-images-idx3-ubyte.gz"))
        per = dims[1] * dims[2]
        write_idx_gz(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"), 8,
                     (n, dims[1], dims[2]), body[:n * per])
        _, labels = read_idx_gz(os.path.join(FASHION, prefix + "-labels-idx1-ubyte.gz"))
        write_idx_gz(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"), 8, (n,), labels[:n])
        X = np.frombuffer(body[:n * per], dtype=np.uint8).reshape(n, per) / 255.0
        out[prefix] = (X, np.frombuffer(labels[:n], dtype=np.uint8).astype(int))
    return out


def epoch_lines(out):
    return re.findall(r"^epoch (\d+)/(\d+): train loss ([\d.]+)(.*)$", out, re.M)


def test_fashion(tmp):
    if not os.path.isdir(FASHION):
        print("note: %s is absent (Debian's dataset-fashion-mnist); Fashion-MNIST part not run"
              % FASHION)
        return False
    folder = os.path.join(tmp, "fashion")
    data = fashion_subset(folder, 2000, 1000)
    model, log = os.path.join(tmp, "f.safetensors"), os.path.join(tmp, "f.jsonl")
    out, err = run("train", "--data", folder, "--layers", "784,64,10", "--activation", "relu",
                   "--loss", "ce", "--epochs", "10", "--batch", "32", "--lr", "0.05",
                   "--save", model, "--log", log)
    lines = epoch_lines(out)
    check(len(lines) == 10, "fashion: %d epoch lines" % len(lines))
    check("\r" not in out, "fashion: a progress bar was drawn into redirected output")
    if len(lines) != 10:
        return True
    acc = float(re.search(r"test loss [\d.]+ accuracy ([\d.]+)%", lines[-1][3]).group(1))
    check(acc >= 72.0, "fashion: test accuracy %.2f%% below the 72%% floor" % acc)
    check(float(lines[-1][2]) < 0.6 * float(lines[0][2]),
          "fashion: training loss %s → %s did not fall" % (lines[0][2], lines[-1][2]))
    check(re.search(r"[\d.]+ (?:µs|ms|s|min), \d+ samples/s$", lines[-1][3]), "fashion: no time or samples/s")
    print("fashion subset: test accuracy %.2f%% after 10 epochs" % acc)

    # The log: one JSON object an epoch; tools/plot draws it.
    with open(log) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    check(recs and "settings" in recs[0], "log: no settings record first")
    recs = [r for r in recs if "settings" not in r]
    check([r["epoch"] for r in recs] == list(range(1, 11)), "log: epochs %r" % recs[:2])
    check(abs(recs[-1]["test_accuracy"] * 100 - acc) < 0.006, "log: accuracy differs from output")
    png = os.path.join(tmp, "curves.png")
    p = subprocess.run([os.path.join(ROOT, "tools", "plot"), log, png], capture_output=True,
                       text=True)
    check(p.returncode == 0, "tools/plot: %s" % p.stderr)
    if p.returncode == 0:
        with open(png, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "tools/plot: not a PNG")

    # predict on the folder's test files: the same accuracy, and a confusion matrix.
    out, _ = run("predict", "--model", model, "--data", folder)
    m = re.search(r"^accuracy: ([\d.]+)% \((\d+) of 1000\)$", out, re.M)
    check(m and abs(float(m.group(1)) - acc) < 0.006, "predict: accuracy %r vs train's %.2f"
          % (m and m.group(1), acc))
    rows = re.findall(r"^ +(\d) +((?:\d+ +){9}\d+)$", out, re.M)
    check(len(rows) == 10 and sum(sum(map(int, r[1].split())) for r in rows) == 1000,
          "predict: confusion matrix rows %d" % len(rows))

    # numpy alone, from the file: the same predictions.
    meta, tensors = safetensors_numpy.load(model)
    check(meta.get("layers") == "784,64,10" and meta.get("loss") == "ce",
          "model metadata: %r" % meta)
    Xt, yt = data["t10k"]
    P = safetensors_numpy.predict(meta, tensors, Xt)
    np_acc = 100.0 * np.mean(P.argmax(axis=1) == yt)
    check(abs(np_acc - acc) <= 0.5, "numpy accuracy %.2f%% vs mlpcl %.2f%%" % (np_acc, acc))
    csv = os.path.join(tmp, "features.csv")
    np.savetxt(csv, Xt[:50], delimiter=",", fmt="%.17g")
    out, _ = run("predict", "--model", model, "--data", csv)
    got = np.loadtxt(out.splitlines()[1:], delimiter=",")
    check(got.shape == (50, 11), "predict CSV: shape %r" % (got.shape,))
    if got.shape == (50, 11):
        err = np.abs(got[:, 1:] - P[:50]).max()
        check(err < 1e-4, "predict vs numpy: outputs differ by %.3g" % err)
        check(np.mean(got[:, 0] == P[:50].argmax(axis=1)) >= 0.98, "predict: classes differ")
    return True


def test_csv_and_resume(tmp):
    # Three classes of points around three centres, names as labels, a header, features on
    # very different scales (so --normalize matters).
    r = np.random.default_rng(3)
    names = ["setosa", "versicolor", "virginica"]
    rows = []
    for i in range(300):
        c = i % 3
        x = r.normal([c, 2 * c, -c], 0.5) * [1, 100, 0.01]
        rows.append("%r,%r,%s,%r" % (float(x[0]), float(x[1]), names[c], float(x[2])))
    train = os.path.join(tmp, "flowers.csv")
    with open(train, "w") as f:
        f.write("a,b,species,c\n" + "\n".join(rows) + "\n")
    model = os.path.join(tmp, "flowers.safetensors")
    out, _ = run("train", "--data", train, "--label-column", "species", "--normalize",
                 "--validation", "0.2", "--layers", "3,8,3", "--activation", "tanh", "--loss",
                 "ce", "--epochs", "30", "--batch", "16", "--lr", "0.1", "--save", model)
    lines = epoch_lines(out)
    check(len(lines) == 30 and "validation loss" in lines[-1][3], "csv: epoch lines")
    va = re.search(r"validation loss [\d.]+ accuracy ([\d.]+)%", lines[-1][3]) if lines else None
    check(va and float(va.group(1)) >= 90, "csv: validation accuracy %s" % (va and va.group(1)))
    meta, tensors = safetensors_numpy.load(model)
    check(json.loads(meta.get("class_names", "[]")) == names, "csv: class names %r" % meta)
    check("norm.mean" in tensors and abs(tensors["norm.mean"][1] - 200.0) < 20,
          "csv: normalisation statistics %r" % tensors.get("norm.mean"))
    out, _ = run("predict", "--model", model, "--data", train, "--label-column", "species")
    check(re.search(r"^accuracy: (9\d|100)\.\d\d%", out, re.M), "csv predict: %s" % out[:200])
    check(re.search(r"^ +setosa +\d+", out, re.M), "csv predict: class names in the matrix")
    feats = os.path.join(tmp, "feats.csv")
    X = np.array([[float(v) for i, v in enumerate(l.split(",")) if i != 2] for l in rows[:20]])
    np.savetxt(feats, X, delimiter=",", fmt="%.17g")
    out, _ = run("predict", "--model", model, "--data", feats)
    head, *body = out.splitlines()
    check(head == "class," + ",".join(names), "csv predict header %r" % head)
    P = safetensors_numpy.predict(meta, tensors, X)
    got = np.array([[float(v) for v in l.split(",")[1:]] for l in body])
    check(got.shape == P.shape and np.abs(got - P).max() < 1e-4, "csv predict vs numpy")

    # Resume: 2 epochs, save, resume to 5, equals 5 straight (momentum and shuffles included).
    common = ["--data", train, "--label-column", "species", "--normalize", "--layers", "3,8,3",
              "--loss", "ce", "--batch", "16", "--lr", "0.1", "--momentum", "0.9"]
    straight, part, resumed = (os.path.join(tmp, n) for n in ("s.st", "p.st", "r.st"))
    run("train", *common, "--epochs", "5", "--save", straight)
    run("train", *common, "--epochs", "2", "--save", part)
    common_resume = [a for a in common if a not in ("--layers", "3,8,3", "--loss", "ce")]
    out, _ = run("train", *common_resume, "--epochs", "5", "--resume", part, "--save", resumed)
    check(len(epoch_lines(out)) == 3 and epoch_lines(out)[0][0] == "3",
          "resume: epochs printed %r" % epoch_lines(out))
    _, ta = safetensors_numpy.load(straight)
    mb, tb = safetensors_numpy.load(resumed)
    same = all(np.array_equal(ta[k], tb[k]) for k in ta if k.startswith(("layers", "train")))
    check(same and mb.get("epoch") == "5", "resume: weights differ from an uninterrupted run")
    # The same command again with --resume: network options that agree with the file are
    # accepted (issue 9); ones that do not are refused.
    run("train", *common, "--epochs", "3", "--resume", part)
    run("train", *[a if a != "3,8,3" else "3,9,3" for a in common], "--epochs", "3", "--resume",
        part, code=2)


def test_bad_usage(tmp):
    cases = [
        (["train", "--data", os.path.join(tmp, "nothing")], r"nothing"),
        (["train", "--data", "x.csv", "--targets", "1", "--label-column", "2"], r"either"),
        (["train", "--test", "t.csv"], r"go with --data"),
        (["train", "--activation", "relu,relu,relu"], r"--activation lists 3"),
        (["train", "--activation", "swish"], r"--activation expects sigmoid, tanh, relu or linear"),
        (["train", "--loss", "hinge"], r"--loss expects mse or ce"),
        (["train", "--momentum", "1"], r"--momentum expects a number in \[0"),
        (["train", "--validation", "1.5"], r"--validation expects"),
        (["predict", "--model", "m"], r"--model FILE and --data PATH are both needed"),
        (["predict", "--model", os.path.join(tmp, "none.st"), "--data", "x"], r"none\.st"),
    ]
    for args, pat in cases:
        _, err = run(*args, code=2)
        check(re.search(pat, err), "mlpcl %s: stderr lacks /%s/: %s" % (" ".join(args), pat, err))


def main():
    global BIN
    BIN = sys.argv[1]
    if skip_without_device(BIN):
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        test_bad_usage(tmp)
        test_csv_and_resume(tmp)
        test_fashion(tmp)
    return finish("test_train_data")


if __name__ == "__main__":
    sys.exit(main())
