#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The optimiser's state across early stopping and --resume, on the host reference (double)
and on an OpenCL device (float; skipped without one). Runs are deterministic, so every
comparison is bit for bit:
- --early-stop with Adam: the model saved is the best epoch's whole state (weights, Adam's
  first and second moments, step count, progress), equal to that of a run of just that many
  epochs; and resuming it for 2 more epochs equals a straight run of those epochs.
- the run's optimiser, schedule and dropout are recorded (run.optimizer, run.lr_schedule, …);
  --resume with another --optimizer, --lr-schedule, --warmup, --weight-decay, --beta2 or
  --dropout, or a cosine schedule over another --epochs, is refused (exit 2, naming it), with
  the same ones it continues bit for bit; with --force onto another optimiser the state starts afresh (Adam's
  step count counts only the resumed epochs' updates); a file without these keys (written
  before they were recorded) still resumes.

usage: test_optim_state.py MLPCL_BINARY"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import DEVICE, check, finish, no_device  # noqa: E402

BIN = None


def run(args, code=0):
    p = subprocess.run([BIN, "train", *args], capture_output=True, text=True)
    check(p.returncode == code, "mlpcl train %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, p.stdout[-1500:], p.stderr))
    return p


def load(path):
    """(metadata, {name: raw bytes}) of a safetensors file."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    meta = head.pop("__metadata__", {})
    return meta, {k: b[8 + n + t["data_offsets"][0]:8 + n + t["data_offsets"][1]]
                  for k, t in head.items()}


def same_state(what, a, b):
    """The two files hold the same training state, bit for bit."""
    ma, ta = load(a)
    mb, tb = load(b)
    check(sorted(ta) == sorted(tb), "%s: tensors %s and %s" % (what, sorted(ta), sorted(tb)))
    for k in ta:
        check(ta.get(k) == tb.get(k), "%s: %s differs" % (what, k))
    for k in ("epoch", "batch", "iteration", "train.adam_step"):
        check(ma.get(k) == mb.get(k), "%s: %s %s and %s" % (what, k, ma.get(k), mb.get(k)))


def strip_keys(src, dst, prefix_keys):
    """A copy of src without the given metadata keys, as a file from before them."""
    b = open(src, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    head = json.loads(b[8:8 + n])
    for k in prefix_keys:
        head["__metadata__"].pop(k, None)
    h = json.dumps(head, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(h)) + h + b[8 + n:])


def early_stop(tmp, base, dev):
    """--early-stop with Adam: the best epoch's full state is saved, and resumes exactly."""
    es, short, res, longer = (os.path.join(tmp, "%s-%s.st" % (dev, n))
                              for n in ("es", "short", "res", "long"))
    p = run(base + ["--epochs", "300", "--early-stop", "5", "--save", es])
    m = re.search(r"restored the weights of epoch (\d+)", p.stdout)
    if not check(m, "%s: the run did not stop early with an earlier best epoch:\n%s"
                 % (dev, p.stdout[-600:])):
        return
    best = int(m.group(1))
    check(load(es)[0].get("epoch") == str(best), "%s: saved epoch %s, best %d"
          % (dev, load(es)[0].get("epoch"), best))
    run(base + ["--epochs", str(best), "--save", short])
    same_state("%s: early-stopped at epoch %d against %d epochs" % (dev, best, best), es, short)
    run(base + ["--epochs", str(best + 2), "--resume", es, "--save", res])
    run(base + ["--epochs", str(best + 2), "--save", longer])
    same_state("%s: resumed from the early stop against %d epochs straight" % (dev, best + 2),
               res, longer)
    print("%s: early stop at epoch %d, its state saved and resumed bit for bit" % (dev, best))


def resume_checks(tmp, base, dev):
    ck, res, full = (os.path.join(tmp, "%s-%s.st" % (dev, n)) for n in ("ck", "res", "full"))
    sets = ["--lr-schedule", "step:1:0.5", "--warmup", "1", "--dropout", "0.1",
            "--weight-decay", "0.01"]
    run(base + sets + ["--epochs", "2", "--save", ck])
    meta = load(ck)[0]
    check(meta.get("run.optimizer") == "adam" and meta.get("run.nesterov") == "0"
          and meta.get("run.lr_schedule") == "step:1:0.5+warmup:1"
          and meta.get("run.dropout") == "0.10000000000000001"
          and meta.get("run.weight_decay") == "0.01"
          and meta.get("run.beta1") == "0.90000000000000002",
          "%s: the run record: %s" % (dev, {k: v for k, v in meta.items() if k.startswith("run.")}))
    run(base + sets + ["--epochs", "4", "--resume", ck, "--save", res])  # the same continue
    run(base + sets + ["--epochs", "4", "--save", full])
    same_state("%s: 2 epochs + --resume 2 against 4 straight" % dev, res, full)
    for what, swap in (("optimizer", ["--optimizer", "adamw"]),
                       ("lr schedule", ["--lr-schedule", "constant"]),
                       ("lr schedule", ["--warmup", "0"]),
                       ("dropout", ["--dropout", "0.2"]),
                       ("weight decay", ["--weight-decay", "0"]),
                       ("beta2", ["--beta2", "0.99"])):
        p = run(base + sets + ["--epochs", "4", "--resume", ck] + swap, code=2)
        check(what + " " in p.stderr and "--force" in p.stderr,
              "%s: resuming with %s: %s" % (dev, swap, p.stderr))
    # A cosine's rates depend on the run's length: 2 epochs of a 2-epoch cosine do not start a
    # 4-epoch one.
    cos = os.path.join(tmp, "%s-cos.st" % dev)
    run(base + ["--epochs", "2", "--lr-schedule", "cosine", "--save", cos])
    check(load(cos)[0].get("run.lr_schedule") == "cosine:2", "%s: cosine recorded as %s"
          % (dev, load(cos)[0].get("run.lr_schedule")))
    p = run(base + ["--epochs", "4", "--lr-schedule", "cosine", "--resume", cos], code=2)
    check("lr schedule cosine:2 in the file, cosine:4 now" in p.stderr,
          "%s: a cosine resumed over another length: %s" % (dev, p.stderr))
    # Forced onto SGD then back: a fresh optimiser state, Adam's step counting only the resumed
    # epochs' updates (5 batches an epoch: 40 training rows, batch 8).
    sgd_ck, forced = os.path.join(tmp, "%s-sgd.st" % dev), os.path.join(tmp, "%s-f.st" % dev)
    sgd = [a for a in base if a not in ("--optimizer", "adam")] + ["--optimizer", "sgd",
                                                                    "--momentum", "0.9"]
    run(sgd + ["--epochs", "2", "--save", sgd_ck])
    p = run(base + ["--epochs", "3", "--resume", sgd_ck, "--force",
                    "--save", forced])
    check("starts afresh" in p.stderr, "%s: forced onto Adam: %s" % (dev, p.stderr))
    check(load(forced)[0].get("train.adam_step") == "5",
          "%s: forced onto Adam after 2 SGD epochs: Adam's step %s, not 5"
          % (dev, load(forced)[0].get("train.adam_step")))
    # A file from before the optimiser was recorded resumes, with whatever optimiser is given.
    old = os.path.join(tmp, "%s-old.st" % dev)
    strip_keys(ck, old, [k for k in meta if k.startswith("run.") and k not in (
        "run.mode", "run.device_kind", "run.init", "run.data_digest", "run.lr", "run.momentum",
        "run.batch")])
    run(base + ["--epochs", "4", "--resume", old, "--save", os.path.join(tmp, "o.st")])


def main():
    global BIN
    BIN = sys.argv[1]
    devs = [("host", "double")]
    if no_device(BIN) is None:
        devs.append((DEVICE, "float"))
    else:
        print("note: no OpenCL device; only the host trainer is checked")
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (80, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] + rng.normal(0, 0.5, 80)  # noisy: a wide net overfits
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "noisy.csv")
        np.savetxt(csv, np.c_[X, y], delimiter=",", fmt="%.17g")
        for dev, prec in devs:
            base = ["--data", csv, "--targets", "1", "--layers", "2,64,64,1", "--activation",
                    "tanh", "--output", "linear", "--optimizer", "adam", "--lr", "0.02",
                    "--batch", "8", "--validation", "0.5", "--device", dev, "--precision", prec]
            early_stop(tmp, base, dev)
            resume_checks(tmp, base, dev)
    return finish("test_optim_state")


if __name__ == "__main__":
    sys.exit(main())
