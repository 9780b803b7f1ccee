#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tutorial's numbers: mlpcl against tests/tutorial_numpy.py (the tutorial's algorithm in
numpy) on the same CSV data, for several data sets (m = 1 … 100, one that starts below the
target, one with another step and target, one with a header row), and the default run against
the tutorial on `mlpcl gen`'s data.

Tolerances: in double, the iteration count is equal and every printed cost agrees to 1e-12
(numpy and mlpcl differ only in rounding order: ~1e-16 per step, ~3000 steps). In float, the
count within ±1 and the costs to 1e-5 (float rounds each of ~3000 updates at ~6e-8 relative;
the cost is of order 0.1 and moves ~1e-4 an iteration near the end, hence ±1 iteration).

usage: test_tutorial.py MLPCL_BINARY"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402
import tutorial_numpy  # noqa: E402



def mlpcl(binary, *args):
    p = subprocess.run([binary, "train", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def parse(out):
    """(printed costs as [(label, value)], end, cnt, device line) from mlpcl train's output."""
    costs, end, cnt, device = [], None, None, None
    for line in out.splitlines():
        label, _, value = line.partition(": ")
        if label in ("start", "cost"):
            costs.append((label, value))
        elif label == "end":
            end = value
        elif label == "cnt":
            cnt = int(value)
        elif label == "device":
            device = value
    return costs, end, cnt, device


def expected_lines(costs, cnt):
    """What the tutorial prints: the start, then the cost after updates 1, 101, 201, …"""
    lines = [("start", costs[0])]
    lines += [("cost", costs[k]) for k in range(1, cnt + 1) if (k - 1) % 100 == 0]
    return lines


def compare(name, binary, xpath, ypath, precision, lr=0.01, target=0.1, data_args=None):
    X = tutorial_numpy.read_csv(xpath)
    Y = tutorial_numpy.read_csv(ypath)
    costs, cnt = tutorial_numpy.train(X, Y, lr, target)
    args = data_args if data_args is not None else ["--x", xpath, "--y", ypath]
    rc, out, err = mlpcl(binary, *args, "--precision", precision, "--lr", repr(lr),
                         "--target", repr(target))
    what = "%s (%s, m=%d)" % (name, precision, X.shape[0])
    check(rc == 0, "%s: exit %d: %s" % (what, rc, err.strip()))
    printed, end, got_cnt, device = parse(out)
    check(device is not None and ("precision: " + precision) in device,
          "%s: no device line naming the precision: %r" % (what, device))
    if end is None or got_cnt is None:
        check(False, "%s: no end/cnt in output:\n%s" % (what, out))
        return
    want = expected_lines(costs, cnt)
    if precision == "double":
        check(got_cnt == cnt, "%s: cnt %d, tutorial %d" % (what, got_cnt, cnt))
        tol = 1e-12
        check(all(len(v.replace("-", "").replace(".", "").lstrip("0").split("e")[0]) <= 17
                  for _, v in printed), "%s: more than 17 significant digits" % what)
    else:
        check(abs(got_cnt - cnt) <= 1, "%s: cnt %d, tutorial %d (±1 allowed)" % (what, got_cnt,
                                                                                  cnt))
        tol = 1e-5
        # %.9g of a float reads back as the same float: the printed text is canonical.
        for _, v in printed + [("end", end)]:
            check("%.9g" % np.float32(float(v)) == v, "%s: %s does not round-trip" % (what, v))
    check(abs(float(end) - costs[cnt]) <= tol,
          "%s: end %s, tutorial %r (tolerance %g)" % (what, end, costs[cnt], tol))
    n = min(len(printed), len(want))
    check(len(printed) == len(want) or precision == "float",
          "%s: %d cost lines, tutorial %d" % (what, len(printed), len(want)))
    check([l for l, _ in printed[:n]] == [l for l, _ in want[:n]], "%s: labels differ" % what)
    worst = max(abs(float(v) - c) for (_, v), (_, c) in zip(printed[:n], want[:n]))
    check(worst <= tol, "%s: a printed cost differs by %.3g (tolerance %g)" % (what, worst, tol))
    print("%-34s cnt %5d (tutorial %5d)  end %-22s (tutorial %r)  worst cost error %.2g"
          % (what, got_cnt, cnt, end, costs[cnt], worst))


def write_csv(path, a, header=None):
    with open(path, "w") as f:
        if header:
            f.write(header + "\n")
        for row in a:
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def main():
    binary = sys.argv[1]
    if skip_without_device(binary):
        return SKIP
    p = subprocess.run([binary, "devices"], capture_output=True, text=True)
    fp64 = "no fp64" not in p.stdout.splitlines()[0] if p.returncode == 0 else False
    precisions = ["float", "double"] if fp64 else ["float"]
    with tempfile.TemporaryDirectory() as tmp:
        # The default run is the tutorial on `mlpcl gen`'s data.
        xp, yp = os.path.join(tmp, "X.csv"), os.path.join(tmp, "Y.csv")
        subprocess.run([binary, "gen", "--x", xp, "--y", yp], check=True)
        for prec in precisions:
            compare("default run", binary, xp, yp, prec, data_args=[])
        sets = [  # (name, m, seed, lr, target)
            ("m=10, seed 2", 10, 2, 0.01, 0.1),
            ("m=7, seed 1", 7, 1, 0.01, 0.1),
            ("m=25, seed 3", 25, 3, 0.01, 0.1),
            ("m=100, seed 1", 100, 1, 0.01, 0.1),
            ("m=1, below target at start", 1, 3, 0.01, 0.1),
            ("m=50, lr 0.05, target 0.095", 50, 2, 0.05, 0.095),
        ]
        for name, m, seed, lr, target in sets:
            r = np.random.default_rng(seed)
            X, Y = r.random((m, 2)), r.random((m, 2))
            write_csv(xp, X)
            write_csv(yp, Y)
            for prec in precisions:
                compare(name, binary, xp, yp, prec, lr, target)
        r = np.random.default_rng(9)
        write_csv(xp, r.random((12, 2)), header="x1,x2")
        write_csv(yp, r.random((12, 2)), header="y1,y2")
        for prec in precisions:
            compare("header rows, m=12", binary, xp, yp, prec)
    return finish("test_tutorial")


if __name__ == "__main__":
    sys.exit(main())
