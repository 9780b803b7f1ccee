#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The kernels under Oclgrind, a second OpenCL implementation that simulates a device and
reports every out-of-bounds access and data race (`oclgrind --data-races`): short trainings of a
5-20-17-2 network (and of 5-520-2, whose 2 KB rows of weights the CPU kernels read in panels,
of 5-2000-2, whose full batch's output layer the CPU kernels run on several work-items,
and of 5-32-48-2, whose hidden layers the CPU kernels keep in strips, also in full batches of
several blocks, where each work-item of the CPU gradient walks 2 x 2 tiles and keeps their sums
in slots between blocks),
on every kernel path (the tiled CPU kernels with edge tiles everywhere, the
local-memory GPU kernels with single and double buffers, the simple kernels, the fused one), in
batches of 16 and full batch, with dropout and in double, must run to their end with nothing
reported. POCL never shows such faults: its work-items run one after another in a thread.

What it guards, for one: a hidden layer's deltas overwrite its activations in place, and an edge
tile that loaded a whole vector of activations read into the next row, which another work-item
was overwriting with deltas (a read-write race Oclgrind reported, harmless in the lanes POCL
dropped, undefined all the same).

Skips where Oclgrind is not installed (Debian: apt-get install oclgrind; tools/setup-debian
installs it), and in a sanitizer build: Oclgrind preloads its runtime, which ASan's must precede.

usage: test_oclgrind.py MLPCL_BINARY"""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish  # noqa: E402

FAULT = re.compile(r"data race|invalid (read|write)|out[- ]of[- ]bounds", re.I)
CPU = "path=tiled,local=0,tm=5,tnv=1"
GPU = "path=tiled,local=1,bm=12,bn=8,bk=5,wm=3,wn=2"
GPU2 = "path=tiled,local=1,bm=12,bn=8,bk=4,wm=3,wn=2,lb=2"
GPU4 = "path=tiled,local=1,bm=12,bn=8,bk=4,wm=4,wn=4,lb=2,lv=4"
RUNS = [(CPU, ["--batch", "16"]), (CPU, ["--batch", "0"]),
        (CPU, ["--batch", "16", "--dropout", "0.3"]),
        (CPU, ["--batch", "16", "--precision", "double", "--activation", "relu"]),
        (GPU, ["--batch", "16"]), (GPU, ["--batch", "0", "--dropout", "0.3"]),
        (GPU2, ["--batch", "16"]), (GPU4, ["--batch", "16"]), (GPU4, ["--batch", "0"]),
        (CPU, ["--batch", "16", "--layers", "5,520,2"]),  # 2 KB rows: the weights' panels
        # 40 x 2000 inputs to the output layer: output_layer on several work-items, the cost
        # kernel over their sums
        (CPU, ["--batch", "0", "--layers", "5,2000,2"]),
        # hidden layers in strips (multiples of the tiles' 16 floats, 8 doubles)
        (CPU, ["--batch", "16", "--layers", "5,32,48,2", "--dropout", "0.3"]),
        (CPU, ["--batch", "0", "--layers", "5,32,48,2"]),
        (CPU, ["--batch", "16", "--layers", "5,32,48,2", "--precision", "double"]),
        # 40 samples in blocks of 16: the gradient's walks, their slots (float and double)
        (CPU + ",mc=16,gx=2,gy=2", ["--batch", "0", "--layers", "5,32,48,2"]),
        (CPU + ",mc=16,gx=2,gy=2", ["--batch", "0", "--layers", "5,32,48,2", "--precision",
                                    "double", "--dropout", "0.3"]),
        ("path=simple", ["--batch", "16"]),
        ("path=fused", ["--batch", "0"])]


def write_data(path):
    rng = random.Random(1)
    with open(path, "w") as f:
        f.write("a,b,c,d,e,label\n")
        for _ in range(40):
            x = [rng.uniform(-1, 1) for _ in range(5)]
            f.write(",".join("%.4f" % v for v in x) + ",%s\n" % ("yes" if x[0] + x[1] > 0
                                                                 else "no"))


def main():
    binary = sys.argv[1]
    t0 = time.monotonic()
    if not shutil.which("oclgrind"):
        print("SKIP: oclgrind is not installed (apt-get install oclgrind)")
        return SKIP
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    if "libasan" in ldd:
        print("SKIP: a sanitizer build; Oclgrind's preloaded runtime and ASan's do not mix "
              "(the plain build runs this test)")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "small.csv")
        write_data(data)
        for tune, extra in RUNS:
            env = dict(os.environ, MLPCL_TUNE=tune)
            layers = [] if "--layers" in extra else ["--layers", "5,20,17,2"]
            cmd = ["oclgrind", "--data-races", binary, "train", "--device", "oclgrind", "--data",
                   data, "--label-column", "label", *layers, "--epochs", "2", *extra]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            what = "%s %s" % (tune, " ".join(extra))
            check(p.returncode == 0, "%s: exit %d: %s" % (what, p.returncode, p.stderr[-2000:]))
            check("Oclgrind" in p.stdout, "%s: not on Oclgrind's device: %s" % (what, p.stdout))
            m = FAULT.search(p.stderr)
            check(not m, "%s: Oclgrind reports: %s" % (
                what, p.stderr[max(0, m.start() - 200):m.start() + 1500] if m else ""))
            print("%s: %s" % (what, "clean" if p.returncode == 0 and not m else "FAULT"))
    return finish("test_oclgrind", t0)


if __name__ == "__main__":
    sys.exit(main())
