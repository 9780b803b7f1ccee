#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Input files and predict, as an adversarial user meets them (issue 9, items 4's predict part,
6, 7, 8, 9, 11, 12 and the smaller input cases); all on --device host, small files.

- predict reads labels against the model: a test file with some of the classes, or in another
  order, keeps the model's classes in the confusion matrix; a class the model does not know is
  an error naming file and line; integer labels index the model's outputs.
- A UTF-8 BOM is stripped; "nan" on the first line is refused, not taken as a header.
- A value beyond float's range (1e39) is refused in a float run, naming file, line and column
  and suggesting --precision double; a double run takes it. (The host device computes in
  double only, but the data are checked against the run's precision before the trainer is
  made, so `--device host --precision float` shows the refusal without an OpenCL device.)
- 65,536 classes: per-class accuracy instead of a confusion matrix.
- A directory, a named pipe (without blocking) and /dev/zero are refused by what they are; a
  CSV file over the size cap (a sparse file) and a line over the line cap are refused with a
  message; an IMAGES,LABELS pair with a named pipe names it.
- A gzip IDX file whose header declares more than the process may have (RLIMIT_AS) is refused
  before its data are read; an IDX header that overflows exits 2.
- Control bytes of a CSV file are escaped in messages.
- predict > /dev/full and --output /dev/full exit non-zero with a message.

usage: test_reliability_input.py MLPCL_BINARY"""
import gzip
import os
import random
import re
import resource
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, finish, no_device  # noqa: E402

BIN = None
TMP = None


def run(*args, code=0, stdout=None, preexec=None, timeout=60):
    """Runs mlpcl; checks its exit status; returns (stdout, stderr)."""
    try:
        p = subprocess.run([BIN, *args], stdout=stdout or subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, preexec_fn=preexec,
                           timeout=timeout)
    except subprocess.TimeoutExpired:  # a hang (a blocked open) is a failure, not a crash
        check(False, "mlpcl %s: still running after %d s" % (" ".join(args), timeout))
        return "", ""
    out = p.stdout or ""
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, out[-2000:], p.stderr))
    return out, p.stderr


def path(name):
    return os.path.join(TMP, name)


def write(name, text, mode="w"):
    with open(path(name), mode) as f:
        f.write(text)
    return path(name)


def labelled(name, rows, header="a,b,label"):
    """A CSV of two features and a label column: rows of (k, name)."""
    lines = [header] if header else []
    for i, (k, label) in enumerate(rows):
        lines.append("%g,%g,%s" % (k + 0.01 * (i % 7), -k - 0.01 * (i % 5), label))
    return write(name, "\n".join(lines) + "\n")


def predict_cases():
    names = ["ant", "bee", "cat"]
    train = labelled("train.csv", [(i % 3, names[i % 3]) for i in range(300)])
    model = path("m.st")
    run("train", "--data", train, "--label-column", "label", "--epochs", "60", "--batch", "30",
        "--lr", "0.5", "--device", "host", "--save", model, "--print-every", "0")
    out, _ = run("predict", "--model", model, "--data", train, "--label-column", "label",
                 "--device", "host")
    m = re.search(r"^accuracy: ([\d.]+)%", out, re.M)
    full = float(m.group(1)) if m else -1
    check(full > 90, "predict on the training set: accuracy %s" % full)

    # Only bee and cat, in the file's order cat first: rows still mean the model's classes.
    sub = labelled("sub.csv", [(2 - i % 2, names[2 - i % 2]) for i in range(40)])
    out, _ = run("predict", "--model", model, "--data", sub, "--label-column", "label",
                 "--device", "host")
    m = re.search(r"^accuracy: ([\d.]+)%", out, re.M)
    check(m and float(m.group(1)) > 90, "predict on 2 of 3 classes: %s" % out)
    rows = {r.split()[0]: r.split()[1:] for r in out.splitlines() if re.match(r" +(ant|bee|cat) ", r)}
    check(sorted(rows) == names and rows["ant"] == ["0", "0", "0"]
          and int(rows["bee"][1]) + int(rows["cat"][2]) >= 36,
          "predict on 2 of 3 classes: the matrix keeps the model's classes:\n%s" % out)

    # One class more: an error naming the file, the line and the class.
    extra = labelled("extra.csv", [(i % 3, names[i % 3]) for i in range(9)] + [(1, "dog")])
    _, err = run("predict", "--model", model, "--data", extra, "--label-column", "label",
                 "--device", "host", code=2)
    check(re.search(r"extra\.csv:11:\d+: label 'dog' is not one of", err), "unknown class: " + err)

    # Integer labels index the model's outputs: a model of classes 0 … 3, a file with 1 and 3.
    itrain = labelled("itrain.csv", [(i % 4, i % 4) for i in range(200)])
    imodel = path("i.st")
    run("train", "--data", itrain, "--label-column", "3", "--epochs", "60", "--batch", "20",
        "--lr", "0.5", "--device", "host", "--save", imodel, "--print-every", "0")
    isub = labelled("isub.csv", [(1 + 2 * (i % 2), 1 + 2 * (i % 2)) for i in range(20)],
                    header=None)
    out, _ = run("predict", "--model", imodel, "--data", isub, "--label-column", "3",
                 "--device", "host")
    rows = [r.split() for r in out.splitlines() if re.match(r" +\d+( +\d+){4}$", r)]
    check(len(rows) == 4 and rows[0][1:] == ["0"] * 4 and rows[2][1:] == ["0"] * 4,
          "integer labels 1 and 3 of 4 classes: a 4 × 4 matrix:\n%s" % out)
    ibig = labelled("ibig.csv", [(1, 1), (4, 4)], header=None)
    _, err = run("predict", "--model", imodel, "--data", ibig, "--label-column", "3",
                 "--device", "host", code=2)
    check(re.search(r"ibig\.csv:2:\d+: label 4 is out of range", err), "label 4 of 4: " + err)

    # Write errors: stdout on a full device, and --output there.
    for extra_args, where in (([], "standard output"), (["--output", "/dev/full"], "/dev/full")):
        with open("/dev/full", "w") as full_dev:
            _, err = run("predict", "--model", model, "--data", sub, "--label-column", "label",
                         "--device", "host", *extra_args, code=2, stdout=full_dev)
        check(where + ": write error" in err, "predict to /dev/full: " + err)
    feats = write("feats.csv", "".join("%d,%d\n" % (i % 3, -(i % 3)) for i in range(50)))
    with open("/dev/full", "w") as full_dev:
        _, err = run("predict", "--model", model, "--data", feats, "--device", "host", code=2,
                     stdout=full_dev)
    check("write error" in err, "predictions to /dev/full: " + err)
    return model


def many_classes():
    """65,536 classes: per-class accuracy, no 65,536 × 65,536 matrix."""
    rows = [(0.0, 0), (1.0, 65535), (0.5, 7)]
    csv = write("many.csv", "".join("%g,%d\n" % r for r in rows))
    model = path("many.st")
    run("train", "--data", csv, "--label-column", "2", "--epochs", "1", "--batch", "3",
        "--device", "host", "--save", model, "--print-every", "0", timeout=300)
    out, err = run("predict", "--model", model, "--data", csv, "--label-column", "2",
                   "--device", "host", timeout=300)
    check(out.startswith("accuracy: ") and "per-class accuracy (65536 classes" in out
          and "confusion matrix" not in out and re.search(r"^ +65535 ", out, re.M)
          and "loss: " in out, "65536 classes: %s%s" % (out[:600], err))


def csv_cases(model):
    y = write("y.csv", "1\n2\n3\n")
    base = ["train", "--y", y, "--layers", "1,2,1", "--max-iter", "1", "--print-every", "0",
            "--device", "host"]
    # A BOM is stripped: 3 rows, as Y has.
    bom = write("bom.csv", b"\xef\xbb\xbf1.5\n2\n3\n", "wb")
    _, err = run(*base, "--x", bom, code=4)
    check("not converged" in err, "BOM: " + err)
    bomh = write("bomh.csv", b"\xef\xbb\xbfa,b,label\n1,2,x\n2,3,y\n", "wb")
    out, err = run("train", "--data", bomh, "--label-column", "label", "--epochs", "1",
                   "--device", "host", "--print-every", "0")
    check("no column named" not in err, "BOM before a header name: " + err)
    # "nan" first: refused as a value, not taken as a header.
    nan = write("nan.csv", "nan\n2\n3\n")
    _, err = run(*base, "--x", nan, code=2)
    check(re.search(r"nan\.csv:1:1: 'nan' is not a finite number", err), "nan first: " + err)
    # Beyond float: refused in float, naming file:line:col; fine in double.
    big = write("big.csv", "a\n1\n\n2\n1e39\n")
    ybig = write("ybig.csv", "1\n2\n3\n")
    fbase = ["train", "--y", ybig, "--layers", "1,2,1", "--max-iter", "1", "--print-every", "0"]
    _, err = run(*fbase, "--x", big, "--device", "host", "--precision", "float", code=2)
    check(re.search(r"big\.csv:5:1: 1e39 is beyond float's range.*--precision double", err),
          "1e39 in float: " + err)
    run(*fbase, "--x", big, "--device", "host", code=4)
    bigd = write("bigd.csv", "x,label\n1,a\n2,b\n -2e39,b\n")
    _, err = run("train", "--data", bigd, "--label-column", "label", "--epochs", "1",
                 "--device", "host", "--precision", "float", "--print-every", "0", code=2)
    check(re.search(r"bigd\.csv:4:2: -2e39 is beyond float's range", err), "data 1e39: " + err)
    # predict: the same in float.
    bigf = write("bigf.csv", "1,1\n2,3e38\n1,-5e38\n")
    _, err = run("predict", "--model", model, "--data", bigf, "--device", "host",
                 "--precision", "float", code=2)
    check(re.search(r"bigf\.csv:3:3: -5e38 is beyond float's range.*--precision double", err),
          "predict 5e38 in float: " + err)
    # Control bytes are escaped.
    esc = write("esc.csv", "1\n\x1b[31mr\red\r\n")
    _, err = run(*base, "--x", esc, code=2)
    check("\x1b" not in err and "\\x1b[31mr\\x0ded'" in err, "escaped: %r" % err)
    lab = write("lab.csv", "a,b,label\n1,2,\x1b]0;t\x07\n")
    _, err = run("predict", "--model", model, "--data", lab, "--label-column", "label",
                 "--device", "host", code=2)
    check("\x1b" not in err and "\x07" not in err, "escaped label: %r" % err)


def path_cases():
    y = write("y2.csv", "1\n2\n")
    base = ["train", "--y", y, "--layers", "1,2,1", "--max-iter", "1", "--print-every", "0",
            "--device", "host"]
    _, err = run(*base, "--x", TMP, code=2)
    check(err.strip().endswith(": is a directory"), "a directory: " + err)
    fifo = path("fifo")
    os.mkfifo(fifo)
    _, err = run(*base, "--x", fifo, code=2, timeout=30)
    check("is a named pipe" in err, "a FIFO: " + err)
    _, err = run("train", "--data", fifo, "--epochs", "1", "--device", "host", code=2,
                 timeout=30)
    check("is a named pipe" in err, "--data FIFO: " + err)
    _, err = run(*base, "--x", "/dev/zero", code=2, timeout=30)
    check("is a character device" in err, "/dev/zero: " + err)
    # A sparse file over the size cap: refused from its size, nothing read.
    sparse = path("sparse.csv")
    with open(sparse, "wb") as f:
        f.truncate((16 << 30) + 1)
    _, err = run(*base, "--x", sparse, code=2)
    check("more than the 16 GiB a CSV file may have" in err, "16 GiB + 1: " + err)
    os.unlink(sparse)
    longline = path("long.csv")
    with open(longline, "w") as f:
        f.write("1\n" + "1" * ((16 << 20) + 1) + "\n")
    _, err = run(*base, "--x", longline, code=2)
    check(re.search(r"long\.csv:2: a line of 16777217 bytes, more than the 16 MiB", err),
          "a long line: " + err)
    os.unlink(longline)
    # An IMAGES,LABELS pair whose labels are a FIFO.
    img = idx_file("p-img.idx", 0x08, [2, 2, 2], bytes(8))
    _, err = run("train", "--data", img + "," + fifo, "--epochs", "1", "--device", "host",
                 code=2, timeout=30)
    check("No such file" not in err and "fifo: is a named pipe" in err, "pair with FIFO: " + err)


def idx_file(name, dtype, dims, data, gz=False):
    head = struct.pack(">BBBB", 0, 0, dtype, len(dims)) + b"".join(
        struct.pack(">I", d) for d in dims)
    opener = gzip.open if gz else open
    with opener(path(name), "wb") as f:
        f.write(head + data)
    return path(name)


def idx_cases():
    # A gzip bomb (here: the header alone, declaring 46341 × 20 × 2317 bytes, 16 GiB as
    # doubles) under a 2 GiB address-space limit: refused before its data are read.
    bomb = idx_file("bomb.idx.gz", 0x08, [46341, 20, 2317], bytes(4096), gz=True)
    labels = idx_file("bomb-l.idx", 0x08, [46341], bytes(46341))

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    if address_limits_apply("gzip bomb under ulimit -v"):
        _, err = run("train", "--data", bomb + "," + labels, "--epochs", "1", "--device", "host",
                     code=2, preexec=limit)
        check(re.search(r"bomb\.idx\.gz: the header declares 46341 × 20 × 2317 values, which "
                        r"would take [\d.]+ GiB of memory, more than the [\d.]+ GiB this process "
                        r"can have \(the address-space limit", err), "gzip bomb: " + err)
    # A header that overflows a size is bad input: exit 2.
    over = idx_file("over.idx", 0x0E, [0xFFFFFFFF] * 3, b"")
    _, err = run("train", "--data", over + "," + labels, "--epochs", "1", "--device", "host",
                 code=2)
    check("declares an enormous size" in err, "overflowing header: " + err)
    # float64 images beyond float: refused in float, naming the byte offset.
    img = idx_file("f64.idx", 0x0E, [2, 2], struct.pack(">4d", 1, 2, 3, 1e39))
    lab = idx_file("f64-l.idx", 0x08, [2], bytes([0, 1]))
    _, err = run("train", "--data", img + "," + lab, "--epochs", "1", "--device", "host",
                 "--precision", "float", "--print-every", "0", code=2)
    check(re.search(r"f64\.idx: byte offset 36: 1e\+39 is beyond float's range", err),
          "float64 IDX 1e39: " + err)


def address_limits_apply(case):
    """Whether BIN can run under an address-space limit: AddressSanitizer reserves terabytes of
    shadow memory at start, so a sanitizer build cannot; there the case is left to the plain
    build's run of this test (CI runs both) and said so."""
    with open(BIN, "rb") as f:
        sanitized = b"__asan_init" in f.read()
    if sanitized:
        print("%s: not run in a sanitizer build (AddressSanitizer cannot start under "
              "ulimit -v); the plain build's run checks it" % case)
    return not sanitized


def memory_limit_cases():
    """A CPU device's buffers are this process's memory: under ulimit -v a training that needs
    more is refused up front with the limit named (POCL aborted with SIGABRT, exit 134)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3000000 << 10, 3000000 << 10))
    if not address_limits_apply("training under ulimit -v"):
        return
    if no_device(BIN, "cpu"):  # a GPU's memory is not the process's (nor is its driver's
        # address space small: NVIDIA's does not load under this limit)
        print("training under ulimit -v: not run, for want of an OpenCL CPU device")
        return
    _, err = run("train", "--samples", "30000000", "--max-iter", "1", "--device", "cpu", code=3,
                 preexec=limit, timeout=120)
    check("RLIMIT_AS" in err and "a CPU device whose memory is this process's" in err,
          "ulimit -v: %r" % err[-500:])


def main():
    global BIN, TMP
    BIN = os.path.abspath(sys.argv[1])
    random.seed(1)
    with tempfile.TemporaryDirectory(prefix="mlpcl-relinput-") as tmp:
        TMP = tmp
        model = predict_cases()
        csv_cases(model)
        path_cases()
        idx_cases()
        many_classes()
        memory_limit_cases()
    return finish("test_reliability_input")


if __name__ == "__main__":
    sys.exit(main())
