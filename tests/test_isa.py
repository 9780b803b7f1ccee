#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The CPU kernels' shape follows the vector instructions the device's kernels are compiled for
(host/device.c's isa, host/tuning.c's derivation), and the shapes derived compute the right
numbers.

POCL (Debian's, built with a kernel library for each x86 level) compiles for the host's best ISA,
or for the one POCL_KERNELLIB_NAME names: "avx2" makes the device pthread-haswell, "sse41"
pthread-penryn, on any CPU that has those instructions. So one machine tries them all:

  - with no override, `mlpcl devices --json` gives the device the ISA /proc/cpuinfo's flags
    say is the CPU's best (AVX-512 where avx512f, else AVX2 where avx2);
  - under each override the CPU has, the device's isa is that level's, and a 784-256-10 step
    (`mlpcl bench --samples 256`) runs the tiles derived for it with no tuning cache: 12 × 2
    vectors for AVX-512 ("defaults", or "derived" where the L2 sets pw other than 2048), 6 × 1
    for AVX2 and 2 × 1 for SSE ("derived"), with the
    bench's own check against the host's double-precision trainer passing (two updates on 256
    samples, parameters within 2e-4 of their largest: float's rounding over two steps), and
    the kernels' build, from an empty POCL cache, printing no warning (below AVX-512 clang
    warns of the 64-byte vectors' ABI unless built with -w).

A level the CPU lacks is not tried (its code would not run), and the output says so.

usage: test_isa.py MLPCL_BINARY"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402

KERNELLIB = "/usr/share/pocl/kernel-x86_64-pc-linux-gnu-%s.bc"
# POCL_KERNELLIB_NAME, the cpuinfo flag it needs, the isa the device must report, the tiles
# (and the gradient's block of samples) and where they come from.
LEVELS = [("avx512", "avx512f", "AVX-512", "tm=12,tnv=2,mc=256", "defaults"),
          ("avx2", "avx2", "AVX2", "tm=6,tnv=1,mc=256", "derived"),
          ("sse41", "sse4_1", "SSE", "tm=2,tnv=1,mc=256", "derived")]


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def devices(binary, env):
    p = subprocess.run([binary, "devices", "--json"], capture_output=True, text=True, env=env)
    check(p.returncode == 0, "mlpcl devices --json: exit %d: %s" % (p.returncode, p.stderr))
    return json.loads(p.stdout) if p.returncode == 0 else []


def bench(binary, env, tmp):
    out = os.path.join(tmp, "bench.json")
    p = subprocess.run([binary, "bench", "--device", "0:0", "--workloads", "784-256-10",
                        "--samples", "256", "--repeat", "1", "--iterations", "1", "--json", out],
                       capture_output=True, text=True, env=env)
    check(p.returncode == 0, "mlpcl bench: exit %d: %s" % (p.returncode, p.stderr))
    # compiled cold (env's POCL cache is new): the compiler said nothing
    check("warning" not in p.stderr, "%s: the kernels' build warned: %s" % (
        env.get("POCL_KERNELLIB_NAME"), p.stderr))
    if p.returncode != 0:
        return None
    with open(out) as f:
        return [r for r in json.load(f)["results"] if r["device"] == "0:0"][0]


def cpuinfo_vendor():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    return ""


def main():
    binary = sys.argv[1]
    t0 = time.monotonic()
    if skip_without_device(binary):
        return SKIP
    env = dict(os.environ)
    for v in ("POCL_KERNELLIB_NAME", "MLPCL_TUNE", "MLPCL_DEVICE"):
        env.pop(v, None)
    first = devices(binary, env)[0]
    if "pthread" not in first["name"] or os.uname().machine != "x86_64":
        print("SKIP: the first device is not POCL's pthread device on x86-64: %s" % first["name"])
        return SKIP
    flags = cpu_flags()
    best = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    check(first["isa"] == best, "%s: isa %r, the CPU's best is %s" % (first["name"], first["isa"],
                                                                       best))
    with tempfile.TemporaryDirectory() as tmp:
        env["MLPCL_TUNE_CACHE"] = os.path.join(tmp, "no-tuning-cache")
        for lib, flag, isa, tiles, source in LEVELS:
            if flag not in flags or not os.path.exists(KERNELLIB % lib):
                print("not tried: %s (the CPU lacks %s, or POCL has no such kernel library)" % (
                    lib, flag))
                continue
            e = dict(env, POCL_KERNELLIB_NAME=lib, POCL_CACHE_DIR=os.path.join(tmp, lib))
            d = devices(binary, e)[0]
            check(d["isa"] == isa, "POCL_KERNELLIB_NAME=%s: device %s, isa %r, want %s" % (
                lib, d["name"], d["isa"], isa))
            r = bench(binary, e, tmp)
            if r is None:
                continue
            print("%s: %s, %s; check: %s" % (lib, d["name"], r["kernels"], r["check"]))
            check(r["isa"] == isa, "%s: bench isa %r, want %s" % (lib, r["isa"], isa))
            # pw follows the L2 and pf the CPU's vendor (host/tuning.c): where they are not the
            # defaults (2048, 0), AVX-512's tiles are derived too; pf is 8 for AVX-512 code on
            # Intel's CPUs
            intel = "GenuineIntel" in cpuinfo_vendor()
            pf = 8 if intel and isa == "AVX-512" else 0
            check((",pf=%d," % pf) in r["kernels"], "%s: kernels %r on a CPU %s Intel's, want pf=%d"
                  % (lib, r["kernels"], "of" if intel else "not of", pf))
            if ",pw=2048)" not in r["kernels"] or ",pf=0," not in r["kernels"]:
                source = "derived"
            check(("(%s," % tiles) in r["kernels"] and r["kernels"].endswith("from " + source),
                  "%s: kernels %r, want tiles %s from %s" % (lib, r["kernels"], tiles, source))
            check(r.get("check_ok") is True, "%s: the step's check: %s" % (lib, r.get("check")))
    return finish("test_isa", t0)


if __name__ == "__main__":
    sys.exit(main())
