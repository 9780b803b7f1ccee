#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The mlpcl command end to end: the default run and its output, help, every exit status
(0 converged, 2 bad usage or input, 3 OpenCL or device error, 4 not converged), each kind of
bad CSV with its message (file, line, column, what was wrong), device selection, two runs
giving the same output bit for bit, and on POCL the compiler's start while the data loads.

usage: test_cli.py MLPCL_BINARY"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402

BIN = None


def run(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=e)
    return p.returncode, p.stdout, p.stderr


def expect(args, code, err_patterns=(), out_patterns=(), env=None):
    """Runs mlpcl with args; checks the exit status and that stderr/stdout match patterns."""
    rc, out, err = run(*args, env=env)
    what = "mlpcl " + " ".join(args)
    check(rc == code, "%s: exit %d, expected %d\nstderr: %s" % (what, rc, code, err.strip()))
    for pat in err_patterns:
        check(re.search(pat, err, re.M), "%s: stderr lacks /%s/:\n%s" % (what, pat, err.strip()))
    for pat in out_patterns:
        check(re.search(pat, out, re.M), "%s: stdout lacks /%s/:\n%s" % (what, pat, out.strip()))
    if code in (2, 3):
        check("Traceback" not in err and "Sanitizer" not in err and "runtime error" not in err,
              "%s: crashed: %s" % (what, err))
        check(re.search(r"^mlpcl: ", err, re.M), "%s: no mlpcl: message on stderr" % what)
    return rc, out, err


def without_timing(out):
    return "\n".join(l for l in out.splitlines() if not l.startswith("device: "))


def test_default_run():
    rc, out, err = expect([], 2, [r"^mlpcl: no command given", r"Usage: mlpcl COMMAND"])
    rc, out, err = expect(["train"], 0)
    lines = out.splitlines()
    check(lines[0].startswith("start: "), "default run: first line %r" % lines[0])
    cnt = int(re.search(r"^cnt: (\d+)$", out, re.M).group(1))
    n_cost = len(re.findall(r"^cost: ", out, re.M))
    check(n_cost == (cnt - 1) // 100 + 1, "default run: %d cost lines for cnt %d" % (n_cost, cnt))
    check(re.search(r"^end: 0\.09\d+$", out, re.M), "default run: no end line below 0.1")
    check(re.search(r"^device: .+, precision: float, time: [\d.]+ (?:µs|ms|s|min) training", lines[-1]),
          "default run: last line %r" % lines[-1])
    check(lines[-3].startswith("end: ") and lines[-2].startswith("cnt: "),
          "default run: end and cnt are not the last lines before the device line")
    # Silent printing keeps start, end and cnt.
    rc, out2, _ = expect(["train", "--print-every", "0"], 0)
    check("cost:" not in out2 and "start:" in out2 and "cnt: %d" % cnt in out2,
          "--print-every 0: %s" % out2)
    rc, out3, _ = expect(["train", "--print-every", "1000"], 0)
    check(len(re.findall(r"^cost: ", out3, re.M)) == (cnt - 1) // 1000 + 1,
          "--print-every 1000: wrong number of cost lines")
    # Deterministic: the same output twice, and the same again with the stalling loop.
    rc, again, _ = expect(["train"], 0)
    check(without_timing(out) == without_timing(again), "two default runs differ")
    rc, stall, _ = expect(["train", "--lookahead", "0"], 0)
    check(without_timing(out) == without_timing(stall), "--lookahead 0 changes the output")
    rc, a, _ = expect(["train", "--samples", "300", "--layers", "2,17,9,2", "--init", "uniform",
                       "--seed", "5", "--lr", "0.5", "--target", "0", "--max-iter", "400",
                       "--print-every", "1"],
                      4)
    rc, b, _ = expect(["train", "--samples", "300", "--layers", "2,17,9,2", "--init", "uniform",
                       "--seed", "5", "--lr", "0.5", "--target", "0", "--max-iter", "400",
                       "--print-every", "1"],
                      4)
    check(without_timing(a) == without_timing(b) and a.count("cost:") == 400,
          "two runs of a 2-17-9-2 net differ")
    # The host trainer, in double.
    expect(["train", "--device", "host"], 0, out_patterns=[r"precision: double",
                                                           r"device: host", r"cnt: %d" % cnt])


def test_help():
    rc, out, _ = expect(["--help"], 0, out_patterns=["train", "devices", "gen", "exit status"])
    rc, out, _ = expect(["train", "--help"], 0)
    for opt in ["--device", "--x", "--y", "--layers", "--lr", "--target", "--max-iter",
                "--precision", "--print-every", "--init", "--seed", "--samples", "--lookahead"]:
        check(opt in out, "train --help does not document %s" % opt)
    expect(["devices", "--help"], 0, out_patterns=["Usage: mlpcl devices"])
    expect(["gen", "--help"], 0, out_patterns=["Usage: mlpcl gen"])


def test_usage_errors():
    cases = [
        (["bogus"], r"unknown command 'bogus'"),
        (["train", "--bogus"], r"unknown option '--bogus'"),
        (["train", "--lr"], r"--lr needs a value"),
        (["train", "--lr", "abc"], r"--lr expects a finite positive number, not 'abc'"),
        (["train", "--lr", "-1"], r"--lr expects a finite positive number"),
        (["train", "--lr", "nan"], r"--lr expects a finite positive number"),
        (["train", "--target", "1x"], r"--target expects a finite number"),
        (["train", "--max-iter", "-5"], r"--max-iter expects a whole number"),
        (["train", "--max-iter", "1.5"], r"--max-iter expects a whole number"),
        (["train", "--samples", "0"], r"--samples expects a whole number from 1"),
        (["train", "--precision", "half"], r"--precision expects float or double"),
        (["train", "--init", "zeros"], r"--init expects ones or uniform"),
        (["train", "--layers", "2,0,2"], r"--layers expects"),
        (["train", "--layers", "2"], r"--layers needs at least"),
        (["train", "--layers", "2,,2"], r"--layers expects"),
        (["train", "--layers", "3,3,2"], r"--layers 3,3,2 starts with 3 inputs but the "
                                         r"generated X has 2 columns"),
        (["train", "--layers", "2,3,4"], r"ends with 4 outputs but the generated Y has 2"),
        (["train", "--x", "X.csv"], r"--x and --y go together"),
        (["train", "--device", "host", "--precision", "float"], r"double precision only"),
        (["devices", "--bogus"], r"unknown option"),
        (["gen", "--x", "a.csv"], r"--x FILE and --y FILE are both needed"),
    ]
    for args, pat in cases:
        expect(args, 2, [pat])


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def test_bad_csv(tmp):
    good_x = os.path.join(tmp, "good_x.csv")
    good_y = os.path.join(tmp, "good_y.csv")
    write(good_x, "0.1,0.2\n0.3,0.4\n0.5,0.6\n")
    write(good_y, "1,0\n0,1\n1,1\n")
    expect(["train", "--x", good_x, "--y", good_y, "--target", "1"], 0)
    cases = [  # (name, X text, message pattern)
        ("word", "0.1,0.2\n0.3,abc\n", r"bad\.csv:2:5: expected a number, found 'abc'"),
        ("nan", "0.1,0.2\nnan,0.4\n", r"bad\.csv:2:1: 'nan' is not a finite number"),
        ("inf", "0.1,0.2\n0.3,-inf\n", r"bad\.csv:2:5: '-inf' is not a finite number"),
        ("overflow", "0.1,1e999\n", r"bad\.csv:1:5: '1e999' is not a finite number"),
        ("empty field", "0.1,0.2\n0.3,\n", r"bad\.csv:2:5: expected a number, found an empty"),
        ("columns", "0.1,0.2\n0.3,0.4,0.5\n", r"bad\.csv:2: expected 2 columns .* found 3"),
        ("columns after header", "a,b\n0.3\n", r"bad\.csv:2: expected 2 columns \(as in the "
                                               r"header on line 1\), found 1"),
        ("empty", "", r"bad\.csv: no data rows \(the file is empty\)"),
        ("blank lines only", "\n \n\n", r"bad\.csv: no data rows"),
        ("header only", "x1,x2\n", r"bad\.csv: no data rows \(only a header\)"),
        ("trailing junk", "0.1,0.2x\n", r"bad\.csv:1:5: expected a number, found '0\.2x'"),
    ]
    bad = os.path.join(tmp, "bad.csv")
    for name, text, pat in cases:
        write(bad, text)
        expect(["train", "--x", bad, "--y", good_y], 2, [pat])
        expect(["train", "--x", good_x, "--y", bad], 2, [pat])
    write(bad, "1,0\n0,1\n")
    expect(["train", "--x", good_x, "--y", bad], 2,
           [r"good_x\.csv has 3 data rows but .*bad\.csv has 2"])
    expect(["train", "--x", os.path.join(tmp, "missing.csv"), "--y", good_y], 2,
           [r"missing\.csv: cannot open: No such file or directory"])
    expect(["train", "--x", good_x, "--y", good_y, "--layers", "3,4,2"], 2,
           [r"--layers 3,4,2 starts with 3 inputs but .*good_x\.csv has 2 columns"])
    # Blank lines, spaces, CRLF and a header are all accepted.
    write(bad, "x1, x2\r\n\r\n 0.1 , 0.2\r\n0.3,0.4\n\n0.5,0.6\n")
    expect(["train", "--x", bad, "--y", good_y, "--target", "1"], 0)


def test_device_errors(tmp):
    rc, out, err = expect(["devices"], 0, out_patterns=[r"^host  host", r"\d+:\d+ +(cpu|gpu)"])
    expect(["train", "--device", "no-such-device"], 3,
           [r"no OpenCL device matches \"no-such-device\"; the devices are:", r"\n  host"])
    expect(["train", "--device", "9:9"], 3, [r"no OpenCL device matches \"9:9\""])
    empty = os.path.join(tmp, "no-vendors")
    os.makedirs(empty, exist_ok=True)
    # Training fails without OpenCL; listing devices still lists the host trainer (issue 9).
    for args, code in ((["train"], 3), (["devices"], 0)):
        expect(args, code, [r"clGetPlatformIDs failed: CL_PLATFORM_NOT_FOUND_KHR \(-1001\)",
                            r"OCL_ICD_VENDORS", r"--device host"],
               out_patterns=[r"^host  host"] if code == 0 else (),
               env={"OCL_ICD_VENDORS": empty})
    expect(["train", "--device", "host", "--print-every", "0"], 0,
           env={"OCL_ICD_VENDORS": empty})
    # A kernel that does not compile: the call, the error, the device, the options, the log.
    kdir = os.path.join(tmp, "kernels")
    os.makedirs(kdir, exist_ok=True)
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kernels")
    for name in os.listdir(src):
        with open(os.path.join(src, name)) as f:
            text = f.read()
        if name == "fused.cl":  # in every program, the tutorial's fused.cl-only one too
            text += "\nint broken(void) { return 1 }\n"  # a missing semicolon
        write(os.path.join(kdir, name), text)
    expect(["train"], 3, [r"clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE \(-11\) on device",
                          r"build options: -cl-std=CL1\.2 -DPRECISION=32", r"build log:",
                          # the log names the file (POCL: fused.cl:LINE:COLUMN), or at least the error
                          r"(?s)build log:.*(fused\.cl|expected ';'|error)"],
           env={"MLPCL_KERNEL_DIR": kdir, "POCL_CACHE_DIR": os.path.join(tmp, "cache")})
    # The device's own limits: a data set larger than the device's memory is refused before
    # anything is allocated, with the sizes.
    # Enough hidden layers of 2,000,000 × 1000 (8 GB each, as float) to exceed the device.
    mem = re.search(r"^\d+:\d+ .* ([\d.]+) GiB \(", out, re.M) or re.search(r"([\d.]+) GiB", out)
    layers = int(float(mem.group(1)) / 14.9) + 2 if mem else 2
    expect(["train", "--samples", "2000000", "--layers", "2," + "1000," * layers + "2",
            "--max-iter", "0"], 3,
           [r"training needs [\d.]+ MiB on the device .* but \".*\" has [\d.]+ MiB"])


def test_not_converged():
    rc, out, err = expect(["train", "--max-iter", "10"], 4,
                          [r"not converged: the cost is 0\.35\d+ after 10 iterations"])
    check("cnt: 10" in out and "end: " in out, "--max-iter 10: %s" % out)
    expect(["train", "--max-iter", "0", "--print-every", "0"], 4, [r"after 0 iterations"])


def test_gen(tmp):
    x, y = os.path.join(tmp, "gx.csv"), os.path.join(tmp, "gy.csv")
    expect(["gen", "--x", x, "--y", y, "--samples", "13", "--seed", "4"], 0)
    with open(x) as f:
        rows = f.read().splitlines()
    check(len(rows) == 13 and all(len(r.split(",")) == 2 for r in rows), "gen: %r" % rows[:3])
    rc, a, _ = expect(["train", "--x", x, "--y", y], 0)
    rc, b, _ = expect(["train", "--samples", "13", "--seed", "4"], 0)
    check(without_timing(a) == without_timing(b), "gen's data trains differently from --seed's")
    expect(["gen", "--x", os.path.join(tmp, "no", "dir.csv"), "--y", y], 3,
           [r"dir\.csv: cannot create"])


def test_warm_up(tmp):
    """On POCL the device opens before the data is read, and its compiler starts then
    (host/warmup.c: a one-line program built with -cl-std=CL1.2 alone), so that POCL loads its
    kernel library while the data loads: a run whose data file is missing still shows that
    build, and a run's real build finds the library loaded before it began (POCL_DEBUG=llvm
    tells each build's options and the library's load)."""
    def pocl_log(args, cache):
        return run(*args, env={"POCL_DEBUG": "llvm", "POCL_CACHE_DIR": os.path.join(tmp, cache)})

    builds = re.compile(r"building program with options (.*?)\s*$", re.M)
    rc, out, err = pocl_log(["train", "--samples", "10", "--max-iter", "5"], "warm-1")
    if "POCL:" not in err:
        print("note: the default device is not POCL's; the compiler's warm-up is not checked")
        return
    found = [(m.start(), m.group(1)) for m in builds.finditer(err)]
    lib = [m.start() for m in re.finditer(r"as the built-in lib", err)]
    real = [at for at, options in found if "-DPRECISION=" in options]
    check(rc == 4 and found and found[0][1] == "-cl-std=CL1.2" and len(lib) == 1 and real and
          lib[0] < real[0],
          "the warm-up ran first and loaded the library once, before the real build: exit %d, "
          "builds %s, library loads at %s, real builds at %s" % (rc, found, lib, real))
    missing = os.path.join(tmp, "missing.csv")
    rc, out, err = pocl_log(["train", "--x", missing, "--y", missing], "warm-2")
    check(rc == 2 and "missing.csv: cannot open" in err,
          "train with a missing file: exit %d\n%s" % (rc, err[-2000:]))
    check(builds.findall(err) == ["-cl-std=CL1.2"],
          "a missing data file: builds %s, expected the warm-up's alone" % builds.findall(err))


def main():
    global BIN
    BIN = sys.argv[1]
    if skip_without_device(BIN):
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        test_help()
        test_usage_errors()
        test_default_run()
        test_bad_csv(tmp)
        test_device_errors(tmp)
        test_not_converged()
        test_gen(tmp)
        test_warm_up(tmp)
    return finish("test_cli")


if __name__ == "__main__":
    sys.exit(main())
