#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What `mlpcl train` tells as it goes, with standard error on a pseudo-terminal and standard
output in a file: the progress (the epoch bar with its ETA and samples/s; the tutorial's line
with iteration, cost and iterations/s when --print-every is 0) appears on stderr only, and
stdout is the same as a run without a terminal (times aside); the JSON-lines log opens with the
run's settings and ends with the final iteration (the `cnt:` line's) or the last epoch. Runs on
the reference trainer (--device host), so no OpenCL device is needed; where one is, also that
"compiling kernels for DEVICE…" shows on a terminal's stderr while the kernels build (train and
predict), is erased before anything else is drawn, and never shows on a pipe.

usage: test_progress.py MLPCL_BINARY"""
import json
import os
import re
import select
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, finish, no_device  # noqa: E402

BIN = None
# Times differ from run to run: the closing line and each epoch's time and speed.
TIMES = re.compile(r"^device: .*$|, [\d.]+ (?:µs|ms|s|min), \d+ samples/s", re.M)


def run(args, tmp, tty):
    """(exit status, stdout, stderr) of mlpcl ARGS, stderr on a pseudo-terminal when tty."""
    out_path = os.path.join(tmp, "stdout.txt")
    with open(out_path, "wb") as out:
        if not tty:
            p = subprocess.run([BIN, *args], stdout=out, stderr=subprocess.PIPE, cwd=tmp)
            err = p.stderr
            rc = p.returncode
        else:
            master, slave = os.openpty()
            p = subprocess.Popen([BIN, *args], stdout=out, stderr=slave, cwd=tmp)
            os.close(slave)
            chunks = []
            while True:  # drain the terminal, or a full one would block the program
                r, _, _ = select.select([master], [], [], 1.0)
                if r:
                    try:
                        b = os.read(master, 65536)
                    except OSError:  # EIO: the program closed its end
                        b = b""
                    if not b:
                        break
                    chunks.append(b)
                elif p.poll() is not None:
                    break
            rc = p.wait()
            os.close(master)
            err = b"".join(chunks)
    with open(out_path, "rb") as f:
        return rc, f.read().decode(), err.decode(errors="replace")


def records(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def test_tutorial(tmp):
    log = os.path.join(tmp, "tut.jsonl")
    # About a second of iterations on the reference trainer: several redraws of the line.
    args = ["train", "--device", "host", "--target", "0.07", "--print-every", "0",
            "--log", log]
    rc, out, err = run(args, tmp, True)
    check(rc == 0, "tutorial on a terminal: exit %d: %s" % (rc, err[-300:]))
    check(re.search(r"iteration \d+ cost [\d.e-]+ · \d+ iterations/s", err),
          "tutorial: no progress line on the terminal: %r" % err[-300:])
    check(re.search(r"iterations/s · [\d.]+ (µs|ms|s)", err), "tutorial: no elapsed time")
    check("\r" not in out and "\033" not in out and "iterations/s" not in out,
          "tutorial: progress on stdout")
    cnt = re.search(r"^cnt: (\d+)$", out, re.M)
    recs = records(log)
    check(recs and recs[0].get("settings", {}).get("mode") == "tutorial"
          and recs[0]["settings"].get("target") == 0.07,
          "tutorial log: first record %r" % (recs[:1],))
    end = re.search(r"^end: (\S+)$", out, re.M)
    check(cnt and recs and recs[-1].get("iteration") == int(cnt.group(1)),
          "tutorial log: last record %r, cnt %s" % (recs[-1:], cnt and cnt.group(1)))
    check(end and recs and recs[-1].get("cost") == float(end.group(1)),
          "tutorial log: last cost %r, end %s" % (recs[-1:], end and end.group(1)))
    check(re.search(r"time: [\d.]+ (µs|ms|s|min) training \([\d.]+ (µs|ms)/iteration\), "
                    r"[\d.]+ (µs|ms|s) setup, (no|[\d.]+ (µs|ms|s|min)) kernel builds, "
                    r"[\d.]+ (µs|ms|s) data loading$", out, re.M),
          "tutorial: device line %r" % out.splitlines()[-1:])
    rc2, out2, err2 = run(args, tmp, False)
    check(rc2 == rc and TIMES.sub("", out2) == TIMES.sub("", out),
          "tutorial: stdout differs with stderr on a terminal")
    check("iterations/s" not in err2, "tutorial: progress drawn without a terminal")
    # The default print-every (100) prints more than once a second: no line over them, and the
    # log's last record is still the final iteration (3001 was the last printed).
    rc, out, err = run(["train", "--device", "host", "--log", log], tmp, True)
    recs = records(log)
    check("iterations/s" not in err, "tutorial printing every 100: progress line drawn")
    check(rc == 0 and recs[-1] == {"iteration": 3036, "cost": recs[-1]["cost"]}
          and recs[-2]["iteration"] == 3001, "tutorial log: ends %r" % recs[-2:])


def test_epochs(tmp):
    r = np.random.default_rng(2)
    X = r.normal(size=(3000, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    data = os.path.join(tmp, "d.csv")
    with open(data, "w") as f:
        for x, c in zip(X, y):
            f.write(",".join("%r" % float(v) for v in x) + ",%d\n" % c)
    log = os.path.join(tmp, "ep.jsonl")
    args = ["train", "--device", "host", "--data", data, "--label-column", "7", "--layers",
            "6,64,3", "--loss", "ce", "--batch", "10", "--epochs", "3", "--lr", "0.05",
            "--log", log]
    rc, out, err = run(args, tmp, True)
    check(rc == 0, "epochs on a terminal: exit %d: %s" % (rc, err[-300:]))
    bar = re.search(r"epoch 1/3 \[=*\s*\] +\d+% \d+/300 loss \S+ · [\d.]+ (µs|ms|s), "
                    r"ETA [\d.]+ (µs|ms|s|min), \d+ samples/s", err)
    check(bar, "epochs: no bar with ETA and samples/s on the terminal: %r" % err[:300])
    check(err.rstrip(" \n").endswith("\r\033[K") or "\033[K" in err[-10:],
          "epochs: the bar is not cleared at the end: %r" % err[-80:])
    check("\r" not in out and "ETA" not in out, "epochs: the bar on stdout")
    recs = records(log)
    s = recs[0].get("settings", {}) if recs else {}
    check(s.get("mode") == "epochs" and s.get("batch") == 10 and s.get("epochs") == 3
          and s.get("layers") == "6,64,3" and s.get("samples") == 3000
          and s.get("loss") == "ce" and s.get("activations") == "sigmoid,softmax",
          "epochs log: settings %r" % s)
    check(recs and recs[-1].get("epoch") == 3, "epochs log: last record %r" % recs[-1:])
    rc2, out2, err2 = run(args, tmp, False)
    check(rc2 == rc and TIMES.sub("", out2) == TIMES.sub("", out),
          "epochs: stdout differs with stderr on a terminal:\n%s\n%s" % (out, out2))
    check("ETA" not in err2, "epochs: bar drawn without a terminal")


NOTICE = re.compile(r"\rcompiling kernels for (.+?)…\033\[K")


def notice_erased(err, what):
    """Checks the notice is on the terminal, and that each is erased (a "\\r\\033[K") or drawn
    over (a progress line, from "\\r") before anything else: nothing after it on its line."""
    found = list(NOTICE.finditer(err))
    check(found and found[0].group(1).strip(),
          "%s: no build notice on the terminal: %r" % (what, err[:200]))
    for m in found:
        rest = err[m.end():]
        check(rest.startswith("\r"),
              "%s: the build notice is not erased: %r" % (what, err[m.start():m.start() + 120]))


def test_notice(tmp):
    why = no_device(BIN)
    if why:
        print("no OpenCL device (%s): the build notice is not tested" % why)
        return
    # The tutorial on the device: 5 iterations, its start and cost lines on stdout.
    args = ["train", "--max-iter", "5", "--print-every", "1"]
    rc, out, err = run(args, tmp, True)
    check(rc == 4, "notice, tutorial: exit %d (4: not converged): %s" % (rc, err[-300:]))
    notice_erased(err, "tutorial")
    check("compiling" not in out, "tutorial: the build notice on stdout")
    rc2, out2, err2 = run(args, tmp, False)
    check(rc2 == rc and TIMES.sub("", out2) == TIMES.sub("", out),
          "tutorial: stdout differs with the notice on a terminal")
    check("compiling" not in err2, "tutorial: the build notice on a pipe: %r" % err2[:200])
    # Epochs on the device, then predicting with the saved model.
    r = np.random.default_rng(3)
    X = r.normal(size=(200, 4))
    data = os.path.join(tmp, "n.csv")
    with open(data, "w") as f:
        for x in X:
            f.write(",".join("%r" % float(v) for v in x) + ",%d\n" % (x[0] > 0))
    model = os.path.join(tmp, "n.safetensors")
    args = ["train", "--data", data, "--label-column", "5", "--layers", "4,8,2", "--loss",
            "ce", "--batch", "20", "--epochs", "1", "--save", model]
    rc, out, err = run(args, tmp, True)
    check(rc == 0, "notice, epochs: exit %d: %s" % (rc, err[-300:]))
    notice_erased(err, "epochs")
    rc2, out2, err2 = run(args, tmp, False)
    check(rc2 == 0 and "compiling" not in err2, "epochs: the build notice on a pipe: %r" % err2)
    check(TIMES.sub("", out2) == TIMES.sub("", out), "epochs: stdout differs with the notice")
    args = ["predict", "--model", model, "--data", data, "--label-column", "5"]
    rc, out, err = run(args, tmp, True)
    check(rc == 0, "notice, predict: exit %d: %s" % (rc, err[-300:]))
    notice_erased(err, "predict")
    rc2, out2, err2 = run(args, tmp, False)
    check(rc2 == 0 and "compiling" not in err2, "predict: the build notice on a pipe: %r" % err2)
    check(out2 == out, "predict: stdout differs with the notice on a terminal")


def main():
    global BIN
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    BIN = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        test_tutorial(tmp)
        test_epochs(tmp)
        test_notice(tmp)
    return finish("test_progress")


if __name__ == "__main__":
    sys.exit(main())
