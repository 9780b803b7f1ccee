#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every OpenCL call that fails is survived: mlpcl runs under the fault layer
(tests/faultlayer, an OpenCL layer loaded through OPENCL_LAYERS), which makes the N-th call of
one kind fail, and each run must exit 3 with a message naming the failed call, the error by
name and the device; must not crash (no signal, no sanitizer report); must release every
OpenCL object it created (the layer follows them and exits 99 when one is left); and must
leave a model file named by --save either untouched or replaced by a complete, valid model.

Scenarios: a full-batch run (train --samples 10 --max-iter 30 --save), a mini-batch run
(train --samples 40 --batch 8 --epochs 2 --save), mini-batches of a CSV data set with a
validation set evaluated every epoch and the device 3 steps ahead of the host (--lookahead 3),
resuming from the model file that the run saves over (--resume F --save F), and predict
--output on a saved model. Each first runs once without a fault, counting the calls of each
kind (the layer's kinds: platform and device listing, info queries, context, queue, buffer,
program, build, kernel, kernel argument, kernel launch, read, write, finish, wait, flush).

Then each kind is walked over N = 1 … its count. Walking every N (about 2,100 runs) takes
~130 s on this project's 2-core machine and ~4.5 minutes with the sanitizer build, so by
default a kind with at most 20 calls is walked entirely and a longer one at its first 8 calls
(set-up and the whole first iteration), its last 4 (the last iterations, the download of the
weights and the save) and 8 evenly spaced between (later iterations, at varying positions in
an iteration's launch order): about 710 runs, ~50 s (~90 s with sanitizers), two at a time.
MLPCL_FAULT_WALK=all walks every N. A few runs return other error codes, to check that each
is named.

A fault may fall in a call whose failure cannot change the outcome: the clFinish of
mlpcl_trainer_free, which waits for the queue before releasing (release is safe regardless).
Such a run must then give its normal exit status, output and model, and is counted as
absorbed.

usage: test_faults.py MLPCL_BINARY   (MLPCL_FAULTLAYER=PATH overrides where the layer is)"""
import concurrent.futures
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, failed  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = None
JOBS = 2  # runs at a time: each POCL process is mostly waiting on its own small kernels

# Fault kinds (as the layer names them) and the calls each covers, as the message names them.
CALLS = {
    "platform": r"clGet(PlatformIDs|DeviceIDs)",
    "info": r"clGet(Platform|Device|KernelWorkGroup|ProgramBuild)Info",
    "context": r"clCreateContext(FromType)?",
    "queue": r"clCreateCommandQueue(WithProperties)?",
    "buffer": r"clCreateBuffer(WithProperties)?",
    "program": r"clCreateProgramWithSource",
    "build": r"clBuildProgram",
    "kernel": r"clCreateKernel",
    "arg": r"clSetKernelArg",
    "enqueue": r"clEnqueueNDRangeKernel",
    "read": r"clEnqueueReadBuffer",
    "write": r"clEnqueueWriteBuffer",
    "finish": r"clFinish",
    "wait": r"clWaitForEvents",
    "flush": r"clFlush",
}
ERRORS = {-4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES",
          -6: "CL_OUT_OF_HOST_MEMORY", -11: "CL_BUILD_PROGRAM_FAILURE",
          -36: "CL_INVALID_COMMAND_QUEUE", -54: "CL_INVALID_WORK_GROUP_SIZE"}
# (kind, N, code): other error codes, each at the first call of a kind.
OTHER_CODES = [("platform", 1, -6), ("buffer", 1, -4), ("build", 1, -11), ("enqueue", 1, -54),
               ("read", 1, -36), ("context", 1, -6)]
CRASH = re.compile(r"Sanitizer|runtime error:|Segmentation|Aborted|Traceback|core dumped")
LAYER_TROUBLE = re.compile(r"^faultlayer: (leaked|released)", re.M)


def base_env():
    e = dict(os.environ)
    e.setdefault("POCL_SIGFPE_HANDLER", "0")
    e.setdefault("LSAN_OPTIONS", "suppressions=%s:print_suppressions=0"
                 % os.path.join(HERE, "lsan.supp"))
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for k in ("MLPCL_FAULT_CALL", "MLPCL_FAULT_N", "MLPCL_FAULT_ERROR", "MLPCL_FAULT_COUNT",
              "MLPCL_DEVICE"):
        e.pop(k, None)
    # Every run builds its programs from source, so each run makes the same OpenCL calls: with
    # mlpcl's binary cache a later run would load a binary instead and never reach the faults
    # walked in clCreateProgramWithSource and clBuildProgram (test_binary_cache tests the cache)
    e["MLPCL_NO_BINARY_CACHE"] = "1"
    return e


ENV = None


def run(cmd, cwd, layer=None, **fault):
    """Runs cmd in cwd, under the layer when given, with MLPCL_FAULT_* = fault."""
    e = dict(ENV)
    if layer:
        e["OPENCL_LAYERS"] = layer
        e["MLPCL_FAULT_LEAKS_EXIT"] = "1"
        for k, v in fault.items():
            e["MLPCL_FAULT_" + k.upper()] = str(v)
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=e, timeout=300)
    return p.returncode, p.stdout, p.stderr


# ---- Model files ---------------------------------------------------------------------------

SIZES = {"F32": 4, "F64": 8}


def model_problem(path):
    """None when path holds a complete safetensors model as mlpcl writes it, else why not."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        return "cannot read: %s" % e
    if len(raw) < 8:
        return "%d bytes: truncated" % len(raw)
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        return "header of %d bytes in a file of %d" % (n, len(raw))
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except ValueError as e:
        return "header is not JSON: %s" % e
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != "mlpcl" or "layers" not in meta:
        return "no mlpcl metadata"
    end = 0
    try:
        widths = [int(w) for w in meta["layers"].split(",")]
        for i in range(1, len(widths)):
            for name in ("layers.%d.weight" % i, "layers.%d.bias" % i):
                if name not in header:
                    return "no tensor %s" % name
        for name, t in header.items():
            count = 1
            for d in t["shape"]:
                count *= d
            b, e = t["data_offsets"]
            if t["dtype"] not in SIZES or e - b != count * SIZES[t["dtype"]] or b < 0:
                return "tensor %s: dtype %s, shape %s, offsets %s disagree" % (
                    name, t["dtype"], t["shape"], t["data_offsets"])
            end = max(end, e)
    except (KeyError, TypeError, ValueError) as e:
        return "malformed header: %r" % e
    if 8 + n + end != len(raw):
        return "data ends at %d but the file has %d bytes" % (8 + n + end, len(raw))
    return None


# ---- Scenarios -----------------------------------------------------------------------------

def strip_timing(out):
    """Output without what varies from run to run: the device line's times, epochs' speeds."""
    out = "\n".join(line for line in out.splitlines() if not line.startswith("device: "))
    return re.sub(r", [\d.]+ (?:µs|ms|s|min), [\d.]+ samples/s", "", out)


class Scenario:
    def __init__(self, name, args, code, saves):
        self.name, self.args, self.code, self.saves = name, args, code, saves
        self.counts = {}
        self.out = None
        self.model = None  # the model a run without faults writes

    def cmd(self, d):
        return [BIN] + [a.replace("@", d + "/") for a in self.args]


def prepare(d, inputs):
    """A fresh folder with the inputs and the files a run may change, in their known state."""
    os.makedirs(d)
    for name, src in inputs.items():
        shutil.copyfile(src, os.path.join(d, name))


def leftovers(d, names):
    return sorted(set(os.listdir(d)) - set(names))


def baseline(sc, tmp, layer, inputs):
    d = os.path.join(tmp, sc.name, "baseline")
    prepare(d, inputs)
    count = os.path.join(tmp, sc.name + ".count")
    rc, out, err = run(sc.cmd(d), d, layer, count=count)
    if not check(rc == sc.code and not LAYER_TROUBLE.search(err),
                 "%s without a fault: exit %d, expected %d\n%s" % (sc.name, rc, sc.code, err)):
        return False
    sc.out = strip_timing(out)
    if sc.saves:
        with open(os.path.join(d, "out.st"), "rb") as f:
            sc.model = f.read()
    with open(count) as f:
        for line in f:
            kind, n = line.split()
            sc.counts[kind] = int(n)
    check(set(sc.counts) == set(CALLS), "%s: the layer counted kinds %s" % (sc.name, sc.counts))
    return True


def walk(count, full):
    if full or count <= 20:
        return list(range(1, count + 1))
    head, tail, middle = list(range(1, 9)), list(range(count - 3, count + 1)), []
    for i in range(1, 9):
        middle.append(8 + round(i * (count - 12) / 9))
    return sorted(set(head + middle + tail))


def one_fault(sc, tmp, layer, inputs, device, kind, n, code):
    """Runs sc with call n of kind failing with code; returns (outcome, problems)."""
    d = os.path.join(tmp, sc.name, "%s-%d%s" % (kind, n, "" if code == -5 else "-e%d" % -code))
    prepare(d, inputs)
    cmd = sc.cmd(d)
    rc, out, err = run(cmd, d, layer, call=kind, n=n, error=code)
    what = "%s, %s call %d failing with %d" % (sc.name, kind, n, code)
    problems = []

    def bad(msg):
        problems.append("%s: %s\n  exit %d; stderr:\n%s" % (what, msg, rc, err.rstrip()))

    if rc < 0 or CRASH.search(err):
        bad("crashed")
    if rc == 99 or LAYER_TROUBLE.search(err):
        bad("OpenCL objects leaked or released wrongly")
    if not re.search(r"^faultlayer: .* fails with", err, re.M):
        bad("the fault was never reached (the layer reported none)")
    outcome = "failed"
    if rc == 3:
        # Listing platforms and devices, no device is known yet; reading a device's name, it is
        # known by its index.
        where = {"platform": r" \[", "info": r' on device "(%s|\d+:\d+)"' % re.escape(device)}
        pat = r'^mlpcl: %s(\([^)\n]*\))? failed: %s \(%d\)%s' % (
            CALLS[kind], ERRORS[code], code,
            where.get(kind, r' on device "%s"' % re.escape(device)))
        if not re.search(pat, err, re.M):
            bad("no message naming the call, the error and the device (/%s/)" % pat)
    elif rc == sc.code:
        outcome = "absorbed"
        if strip_timing(out) != sc.out:
            bad("exit %d as without a fault, but the output differs:\n%s" % (rc, out))
    elif rc >= 0 and rc != 99:
        bad("exit %d, expected 3" % rc)
    # Files: the model named by --save, the predictions named by --output, the inputs.
    for name, src in inputs.items():
        path = os.path.join(d, name)
        if not os.path.exists(path):
            bad("%s was removed" % name)
            continue
        with open(path, "rb") as f:
            now = f.read()
        with open(src, "rb") as f:
            before = f.read()
        if now == before:
            if name == "out.st" and sc.saves and outcome == "absorbed":
                bad("exit %d as without a fault, but the model was not saved" % rc)
            continue
        if name == "out.st" and sc.saves:
            why = model_problem(path)
            if why:
                bad("the model file was damaged: %s" % why)
            elif outcome == "absorbed" and now != sc.model:
                bad("the model differs from the one a run without faults saves")
        elif name == "pred.csv" and outcome == "absorbed":
            pass
        else:
            bad("%s was changed" % name)
    extra = leftovers(d, inputs)
    if extra:
        bad("files left behind: %s" % extra)
    if not problems:
        shutil.rmtree(d)
    return outcome, problems


def check_layer(tmp, layer):
    """The layer itself: a clean program passes, a leaking one is caught, a fault is injected."""
    probe = os.path.join(os.path.dirname(layer), "faultlayer_probe")
    if not check(os.access(probe, os.X_OK), "no probe program at %s" % probe):
        return False
    rc, _, err = run([probe], tmp, layer)
    if rc == SKIP:
        return None
    ok = check(rc == 0 and not LAYER_TROUBLE.search(err), "probe: exit %d\n%s" % (rc, err))
    rc, _, err = run([probe, "leak"], tmp, layer)
    ok &= check(rc == 99 and "faultlayer: leaked 1 cl_mem" in err and
                "faultlayer: leaked 1 cl_event" in err,
                "probe leak: the layer did not catch a leaked buffer and event (exit %d)\n%s"
                % (rc, err))
    rc, _, err = run([probe], tmp, layer, call="write", n=1)
    ok &= check(rc == 3 and "clEnqueueWriteBuffer failed: -5" in err and
                not LAYER_TROUBLE.search(err),
                "probe with a failing write: exit %d\n%s" % (rc, err))
    return ok


def main():
    global BIN, ENV
    BIN = os.path.abspath(sys.argv[1])
    full = os.environ.get("MLPCL_FAULT_WALK") == "all"
    layer = os.environ.get("MLPCL_FAULTLAYER") or os.path.join(
        os.path.dirname(BIN), "tests", "faultlayer", "libmlpcl_faultlayer.so")
    if not os.path.exists(layer):
        print("FAIL: no fault layer at %s (build the target mlpcl_faultlayer)" % layer)
        return 1
    ENV = base_env()
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        ENV.setdefault("POCL_CACHE_DIR", os.path.join(tmp, "pocl-cache"))
        ok = check_layer(tmp, layer)
        if ok is None:
            print("SKIP: no OpenCL device")
            return SKIP
        if not ok:
            return 1
        # Known-good files to start every run from: a model (another seed, so a run that saves
        # replaces it with different bytes), predictions, and data to predict on.
        good = os.path.join(tmp, "good.st")
        rc, out, err = run([BIN, "train", "--samples", "10", "--max-iter", "5", "--seed", "7",
                            "--print-every", "0", "--save", good], tmp)
        if not check(rc == 4 and model_problem(good) is None, "known-good model: exit %d\n%s"
                     % (rc, err)):
            return 1
        m = re.search(r"^device: (.+?) \(\d+:\d+, ", out, re.M)
        if not check(m, "no device line in\n%s" % out):
            return 1
        device = m.group(1)
        old_pred = os.path.join(tmp, "old-pred.csv")
        with open(old_pred, "w") as f:
            f.write("predictions of an earlier run\n")
        xcsv, dcsv = os.path.join(tmp, "x.csv"), os.path.join(tmp, "d.csv")
        with open(xcsv, "w") as f:
            for i in range(25):
                f.write("%.3f,%.3f\n" % (i / 25, 1 - i / 50))
        with open(dcsv, "w") as f:
            for i in range(40):
                x, y = i % 7 / 7, i % 5 / 5
                f.write("%.3f,%.3f,%.3f,%.3f\n" % (x, y, x * y, (x + y) / 2))
        scenarios = [
            (Scenario("full-batch", ["train", "--samples", "10", "--max-iter", "30",
                                     "--save", "@out.st"], 4, True), {"out.st": good}),
            (Scenario("mini-batch", ["train", "--samples", "40", "--batch", "8", "--epochs", "2",
                                     "--save", "@out.st"], 0, True), {"out.st": good}),
            (Scenario("held-out", ["train", "--data", "@d.csv", "--targets", "2",
                                   "--validation", "0.25", "--batch", "8", "--epochs", "2",
                                   "--lookahead", "3", "--save", "@out.st"], 0, True),
             {"out.st": good, "d.csv": dcsv}),
            # --force: the known-good model is from another run (tutorial mode, 10 samples),
            # which a resume now refuses to continue unless told (issue 9).
            (Scenario("resume", ["train", "--samples", "40", "--batch", "8", "--epochs", "2",
                                 "--resume", "@out.st", "--save", "@out.st", "--force"], 0,
                      True),
             {"out.st": good}),
            (Scenario("predict", ["predict", "--model", "@model.st", "--data", "@x.csv",
                                  "--output", "@pred.csv"], 0, False),
             {"model.st": good, "x.csv": xcsv, "pred.csv": old_pred}),
        ]
        jobs = []
        for sc, inputs in scenarios:
            if not baseline(sc, tmp, layer, inputs):
                continue
            for kind in CALLS:
                for n in walk(sc.counts[kind], full):
                    jobs.append((sc, inputs, kind, n, -5))
            for kind, n, code in OTHER_CODES:
                if sc.counts[kind] >= n:
                    jobs.append((sc, inputs, kind, n, code))
        tally = {}  # (scenario, kind) -> [runs, absorbed]
        with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
            futures = [(job, pool.submit(one_fault, job[0], tmp, layer, job[1], device, *job[2:]))
                       for job in jobs]
            for (sc, _, kind, n, code), fut in futures:
                outcome, problems = fut.result()
                for p in problems:
                    check(False, p)
                t = tally.setdefault((sc.name, kind), [0, 0, sc.counts[kind]])
                t[0] += 1
                t[1] += outcome == "absorbed"
        print("faults injected (runs, of which absorbed; calls of the kind in a run without "
              "faults):")
        total = absorbed = 0
        for sc, _ in scenarios:
            row = []
            for kind in CALLS:
                if (sc.name, kind) in tally:
                    runs, ab, count = tally[(sc.name, kind)]
                    total += runs
                    absorbed += ab
                    row.append("%s %d%s/%d" % (kind, runs, " (%d absorbed)" % ab if ab else "",
                                              count))
            print("  %-10s %s" % (sc.name, ", ".join(row)))
        print("total: %d faults in %d kinds, %d absorbed, %d failed checks, %.1f s"
              % (total, len(CALLS), absorbed, failed(), time.time() - t0))
    return 1 if failed() else 0


if __name__ == "__main__":
    sys.exit(main())
