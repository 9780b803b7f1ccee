#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The command line's habits: unique prefixes of long options, short forms, --name=VALUE, values
that begin with '-', the nearest option or command suggested for a typo, `mlpcl help COMMAND`
printing what `mlpcl COMMAND --help` prints, --version in every command, `mlpcl devices --json`
against the plain listing, and the bash completion (sourced in bash, its COMPREPLY checked).
Training runs use the host trainer, so no OpenCL device is needed.

usage: test_cli_habits.py MLPCL_BINARY"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, finish  # noqa: E402

BIN = None
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = ["train", "predict", "devices", "bench", "tune", "gen"]


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def expect_error(args, pattern, absent=None):
    rc, out, err = run(*args)
    what = "mlpcl " + " ".join(args)
    check(rc == 2, "%s: exit %d, expected 2 (%s)" % (what, rc, err.strip()))
    check(re.search(pattern, err), "%s: stderr lacks /%s/: %s" % (what, pattern, err.strip()))
    if absent:
        check(not re.search(absent, err), "%s: stderr has /%s/: %s" % (what, absent, err.strip()))


def without_timing(text):
    """The costs and losses a run printed, without its times."""
    return re.findall(r"^(?:start|cost|end|cnt): \S+|^epoch \d+/\d+: train loss [\d.]+", text,
                      re.M)


def same_run(a, b, code):
    """The two command lines train the same way: same exit status, same printed costs."""
    ra, oa, ea = run(*a)
    rb, ob, eb = run(*b)
    check(ra == code and rb == code, "%s / %s: exit %d and %d, expected %d\n%s\n%s"
          % (a, b, ra, rb, code, ea, eb))
    check(without_timing(oa) == without_timing(ob) and len(without_timing(oa)) >= 2,
          "%s and %s print different runs:\n%s\n---\n%s" % (a, b, oa, ob))


def test_option_forms():
    long_form = ["train", "--device", "host", "--max-iter", "40", "--print-every", "10",
                 "--layers", "2,4,2", "--lr", "0.5"]
    # Unique prefixes, --name=VALUE, and short forms all read the same options.
    same_run(long_form, ["train", "--dev=host", "--max-i", "40", "--print=10", "--lay", "2,4,2",
                         "--lr=0.5"], 4)
    same_run(long_form, ["train", "-d", "host", "--max-iter=40", "--print-every", "10", "-l2,4,2",
                         "--lr", "0.5"], 4)
    # Epoch mode: -e epochs, -b batch.
    same_run(["train", "--device", "host", "--epochs", "2", "--batch", "4", "--layers", "2,3,2"],
             ["train", "-d", "host", "-e", "2", "-b4", "-l", "2,3,2"], 0)
    # A value that begins with '-' is still a value, in either form. A target of -1 is never
    # reached: exit 4 at --max-iter, the target named in the message.
    for args in (["--target", "-1"], ["--target=-1"]):
        rc, out, err = run("train", "-d", "host", "--max-iter", "3", *args)
        check(rc == 4 and "target -1" in err, "train %s: exit %d, %s" % (args, rc, err.strip()))
    expect_error(["train", "--lr", "-1"], r"--lr expects a finite positive number, not '-1'")
    # Exact names win over longer ones they begin (--target, --targets; --x).
    rc, out, err = run("train", "-d", "host", "--target", "1")
    check(rc == 0, "train --target 1: exit %d: %s" % (rc, err))


def test_messages():
    expect_error(["train", "--layres", "2,3,2"], r"unknown option '--layres' — did you mean "
                                                 r"--layers\?")
    expect_error(["train", "--lerning-rate"], r"unknown option '--lerning-rate' \(see mlpcl "
                                              r"train --help\)", r"did you mean")
    expect_error(["train", "--bogus"], r"unknown option '--bogus'", r"did you mean")
    expect_error(["train", "--momentun", "0.5"], r"did you mean --momentum\?")
    expect_error(["predict", "--modle", "m"], r"did you mean --model\?")
    expect_error(["bench", "--workload", "x", "--repat", "2"], r"did you mean --repeat\?")
    expect_error(["tune", "--dryrun"], r"did you mean --dry-run\?")
    expect_error(["devices", "--jsn"], r"did you mean --json\?")
    expect_error(["gen", "--sed", "3"], r"did you mean --seed\?")
    expect_error(["trian"], r"unknown command 'trian' — did you mean train\?")
    expect_error(["prdict"], r"did you mean predict\?")
    expect_error(["zzz"], r"unknown command 'zzz' \(see mlpcl --help\)", r"did you mean")
    expect_error(["help", "trian"], r"did you mean train\?")
    # Ambiguous prefixes name every candidate.
    expect_error(["train", "--lo", "x"], r"option '--lo' is ambiguous; it could be --loss, "
                                         r"--lookahead or --log")
    expect_error(["train", "--tar", "1"], r"'--tar' is ambiguous; it could be --targets or "
                                          r"--target")
    expect_error(["train", "--checkp", "f"], r"could be --checkpoint or --checkpoint-every")
    # Values missing, or given to an option that takes none; a short form is named by its
    # long name; words that are no option.
    expect_error(["train", "-l"], r"train: option --layers needs a value")
    expect_error(["train", "--lr"], r"train: option --lr needs a value")
    expect_error(["train", "--normalize=1"], r"option --normalize takes no value")
    expect_error(["train", "-z"], r"unknown option '-z'")
    expect_error(["train", "layers"], r"unknown option 'layers'")
    expect_error(["predict", "-m"], r"predict: option --model needs a value")


def header_version():
    with open(os.path.join(ROOT, "include", "mlpcl.h")) as f:
        return re.search(r'^#define MLPCL_VERSION "([^"]+)"', f.read(), re.M).group(1)


def test_help_and_version():
    version = "mlpcl %s\n" % header_version()
    for args in (["--version"], ["-V"]):
        rc, out, _ = run(*args)
        check(rc == 0 and out == version, "mlpcl %s: %d %r" % (args, rc, out))
    rc, main_help, _ = run("--help")
    check(rc == 0 and "--version" in main_help, "mlpcl --help does not mention --version")
    for args in (["help"], ["-h"], ["help", "help"]):
        rc, out, _ = run(*args)
        check(rc == 0 and out == main_help, "mlpcl %s differs from mlpcl --help" % args)
    shorts = {"train": ["-d, --device", "-l, --layers", "-e, --epochs", "-b, --batch",
                        "-x, --x", "-y, --y"],
              "predict": ["-d, --device", "-o, --output", "-m, --model", "-b, --batch"],
              "bench": ["-d, --device"], "tune": ["-d, --device", "-n, --dry-run"],
              "devices": ["-v, --verbose", "--json"], "gen": ["-x, --x", "-y, --y"]}
    for cmd in COMMANDS:
        rc, text, err = run(cmd, "--help")
        check(rc == 0 and text.startswith("Usage: mlpcl %s" % cmd),
              "mlpcl %s --help: %d %s" % (cmd, rc, err))
        for args in (["help", cmd], [cmd, "-h"], [cmd, "--he"]):
            rc, out, _ = run(*args)
            check(rc == 0 and out == text, "mlpcl %s differs from mlpcl %s --help" % (args, cmd))
        for opt in ["-h, --help", "-V, --version"] + shorts[cmd]:
            check(opt in text, "mlpcl %s --help does not list %s" % (cmd, opt))
        for args in ([cmd, "--version"], [cmd, "-V"], [cmd, "--vers"]):
            rc, out, _ = run(*args)
            check(rc == 0 and out == version, "mlpcl %s: %d %r" % (args, rc, out))
    expect_error(["help", "train", "predict"], r"one command at most")


def selected(sel, env_device=None):
    """The selectors `mlpcl devices --device sel --json` lists, with $MLPCL_DEVICE as given."""
    env = {k: v for k, v in os.environ.items() if k != "MLPCL_DEVICE"}
    if env_device is not None:
        env["MLPCL_DEVICE"] = env_device
    p = subprocess.run([BIN, "devices", "--device", sel, "--json"], capture_output=True,
                       text=True, env=env)
    try:
        return p.returncode, [d["selector"] for d in json.loads(p.stdout)], p.stderr
    except (ValueError, KeyError, TypeError):
        return p.returncode, None, p.stderr


def check_selected(devs):
    """--device SEL lists the one device SEL selects: each selector itself, a type its first
    device, "" the first GPU else the first CPU, or $MLPCL_DEVICE's."""
    for d in devs:
        rc, sels, err = selected(d["selector"])
        check(rc == 0 and sels == [d["selector"]], "devices --device %s: %d %s %s" % (
            d["selector"], rc, sels, err))
    first = {t: next((d["selector"] for d in devs if d["type"] == t), None) for t in ("gpu", "cpu")}
    for sel, want in (("cpu", first["cpu"]), ("gpu", first["gpu"]),
                      ("", first["gpu"] or first["cpu"])):
        if want:
            rc, sels, err = selected(sel)
            check(rc == 0 and sels == [want], "devices --device %r: %d %s, expected %s: %s" % (
                sel, rc, sels, want, err))
    rc, sels, err = selected("", env_device="host")
    check(rc == 0 and sels == ["host"], "MLPCL_DEVICE=host devices --device '': %s %s" % (
        sels, err))
    rc, sels, err = selected("no-such-device")
    check(rc == 3 and 'no OpenCL device matches "no-such-device"' in err,
          "devices --device no-such-device: exit %d: %s" % (rc, err))


def test_devices():
    rc, text, err = run("devices")
    check(rc == 0, "mlpcl devices: exit %d: %s" % (rc, err))
    rc, out, err = run("devices", "--json")
    check(rc == 0, "mlpcl devices --json: exit %d: %s" % (rc, err))
    try:
        devs = json.loads(out)
    except ValueError as e:
        check(False, "mlpcl devices --json is not JSON: %s\n%s" % (e, out))
        return
    lines = text.splitlines()
    check(isinstance(devs, list) and len(devs) == len(lines),
          "devices --json has %d entries, the listing %d lines" % (len(devs), len(lines)))
    keys = ["selector", "platform", "device", "type", "name", "vendor", "platform_name",
            "platform_version", "version", "opencl_c_version", "driver_version", "compute_units",
            "max_clock_mhz", "max_work_group_size", "local_mem_bytes", "global_mem_bytes",
            "max_alloc_bytes", "fp64", "extensions"]
    for d, line in zip(devs, lines):
        missing = [k for k in keys if k not in d]
        check(not missing, "devices --json entry %s lacks %s" % (d.get("selector"), missing))
        if missing:
            continue
        sel = line.split()[0]
        check(d["selector"] == sel, "JSON selector %s, listing %s" % (d["selector"], sel))
        if sel == "host":
            check(d["type"] == "host" and d["platform"] is None and d["fp64"] is True,
                  "the host entry: %s" % d)
            continue
        check("%s:%s" % (d["platform"], d["device"]) == sel, "indices of %s" % sel)
        check(line.split()[1] == d["type"] and d["name"] in line and d["version"] in line
              and d["driver_version"] in line and d["platform_name"] in line,
              "JSON %s disagrees with the listing: %s" % (d, line))
        cus = re.search(r"(\d+) CUs, ([\d.]+) GiB", line)
        check(cus and int(cus.group(1)) == d["compute_units"]
              and abs(float(cus.group(2)) - d["global_mem_bytes"] / 2**30) <= 0.05,
              "compute units or memory of %s: %s" % (sel, line))
        check(("no fp64" not in line) == d["fp64"], "fp64 of %s" % sel)
        check(d["local_mem_bytes"] > 0 and d["max_work_group_size"] > 0
              and d["max_alloc_bytes"] <= d["global_mem_bytes"],
              "sizes of %s: %s" % (sel, d))
        check(all(re.fullmatch(r"\w+", e) for e in d["extensions"])
              and ("cl_khr_fp64" in d["extensions"]) <= d["fp64"],
              "extensions of %s: %s" % (sel, d["extensions"]))
    rc, verbose, err = run("devices", "--verbose")
    check(rc == 0, "mlpcl devices --verbose: exit %d: %s" % (rc, err))
    for d in devs:
        check(d["name"] in verbose, "devices --verbose lacks %s" % d["name"])
        if d["selector"] != "host":
            for item in ["Vendor", "OpenCL C version", "Max work-group size", "Local memory",
                         "Extensions", d["vendor"], "%d bytes" % d["local_mem_bytes"]]:
                check(item in verbose, "devices --verbose lacks %r" % item)
            for e in d["extensions"]:
                check(re.search(r"^ +(Extensions +)?%s$" % re.escape(e), verbose, re.M),
                      "devices --verbose lacks the extension %s" % e)
    check_selected(devs)
    return [d["selector"] for d in devs]


def complete(line):
    """COMPREPLY after sourcing the completion and completing line (cursor at its end)."""
    script = os.path.join(ROOT, "tools", "completion", "mlpcl.bash")
    prog = ('source "$1"; COMP_LINE="$2"; COMP_POINT=${#2}; COMPREPLY=(); _mlpcl; '
            'printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog, "bash", script,
                        BIN + " " + line], capture_output=True, text=True)
    check(p.returncode == 0 and not p.stderr, "completing %r: %s" % (line, p.stderr))
    return [w for w in p.stdout.splitlines() if w]


def test_completion(selectors):
    if not shutil.which("bash"):
        print("note: no bash, completion not checked")
        return
    cases = [
        ("tr", ["train"]),
        ("", ["train", "predict", "devices", "bench", "tune", "gen", "help"]),
        ("help pr", ["predict"]),
        ("train --lay", ["--layers"]),
        ("train --che", ["--checkpoint", "--checkpoint-every"]),
        ("predict --mo", ["--model"]),
        ("devices --j", ["--json"]),
        ("train --loss ", ["mse", "ce"]),
        ("train --init=", ["ones", "uniform"]),
        ("train -p d", ["double"]),
        ("train --lr ", []),
        ("train --x " + os.path.join(ROOT, "tools", "completion", "mlpcl.b"),
         [os.path.join(ROOT, "tools", "completion", "mlpcl.bash")]),
    ]
    for line, want in cases:
        got = complete(line)
        check(got == want, "completing %r: %s, expected %s" % (line, got, want))
    # Every long option train --help lists is offered after "train --".
    _, text, _ = run("train", "--help")
    listed = set(re.findall(r"^ {2,6}(?:-\w, )?(--[\w-]+)", text, re.M))
    got = set(complete("train --"))
    check(listed <= got and "--layers" in listed and "--version" in got,
          "train -- completes %s; the help lists %s" % (sorted(got), sorted(listed)))
    # Device selectors: those `mlpcl devices` lists, and the types.
    got = complete("train --device ")
    check(set(selectors) | {"gpu", "cpu"} <= set(got), "--device completes %s" % got)
    # After --device=, bash replaces only what follows the '=' (a word break).
    check(complete("train --device=ho") == ["host"], "--device=ho")


def main():
    global BIN
    BIN = sys.argv[1]
    test_option_forms()
    test_messages()
    test_help_and_version()
    selectors = test_devices()
    test_completion(selectors or [])
    return finish("test_cli_habits")


if __name__ == "__main__":
    sys.exit(main())
