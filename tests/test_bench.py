#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mlpcl bench and mlpcl tune as a user runs them, on small sizes: the table, CSV and JSON, the
correctness check against the host reference, --compare, tools/plot's bar chart, and a tuning
search whose winner lands in the cache and is then used; and tools/bench-peers fitting
OpenBLAS's kernels to the vector instructions of mlpcl's code, and its ratios over rounds.

usage: test_bench.py MLPCL_BINARY"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def run(args, env=None, code=0):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(args, capture_output=True, text=True, env=e)
    check(p.returncode == code, "%s: exit %d, expected %d\n%s%s" % (" ".join(args), p.returncode,
                                                                 code, p.stdout[-3000:],
                                                                 p.stderr[-3000:]))
    return p.stdout, p.stderr


def load_peers():
    """tools/bench-peers as a module, and its path."""
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader
    path = os.path.join(ROOT, "tools", "bench-peers")
    loader = SourceFileLoader("bench_peers", path)
    peers = module_from_spec(spec_from_loader("bench_peers", loader))
    loader.exec_module(peers)
    return peers, path


def peers_rounds():
    """bench-peers --rounds: each ratio is the median of the rounds' own ratios (here 1.2, of
    1.2, 1.5 and 1.1; the ratio of the medians would be 1.5), with their range; a workload
    missing from a round, or without a time in one, is left out; --rounds 0 is refused. Each
    round runs every workload once in each, a workload's two runs one right after the other (its
    ratio's times seconds apart), mlpcl's first in even rounds, numpy's in odd ones; each mlpcl
    run from an empty POCL cache of its own, its cold start the median over the rounds."""
    peers, path = load_peers()
    for r in range(4):
        order = peers.turns(r)
        first = "mlpcl" if r % 2 == 0 else "numpy"
        pairs = [order[i:i + 2] for i in range(0, len(order), 2)]
        check(len(order) == 2 * len(peers.WORKLOADS)
              and [p[0][1] for p in pairs] == list(peers.WORKLOADS)
              and all(p[0] == (first, p[0][1]) and p[1][1] == p[0][1] and p[1][0] != first
                      for p in pairs), "bench-peers: round %d runs %r" % (r, order))
    got = peers.round_ratios([{"epoch": (1.0, 1.2), "a": (1.0, 3.0), "b": (1.0, 2.0)},
                              {"epoch": (2.0, 3.0), "b": (1.0, 2.0)},
                              {"epoch": (4.0, 4.4), "a": (1.0, 3.0), "b": (1.0, None)}])
    check(set(got) == {"epoch"}, "bench-peers: round_ratios kept %s" % sorted(got))
    want = (2.0, 3.0, 1.2, 1.1, 1.5)
    check(all(abs(g - w) < 1e-12 for g, w in zip(got.get("epoch", ()), want))
          and len(got.get("epoch", ())) == 5, "bench-peers: round_ratios %r, expected %r" % (
              got.get("epoch"), want))
    # every mlpcl run from an empty POCL cache of its own (unless --warm-cache), and each
    # workload's start the median of its rounds' (build + first run's extra), with the range
    dirs = [peers.pocl_cache("/t", r, w, False) for r in range(3) for w in peers.WORKLOADS]
    check(len(set(dirs)) == len(dirs) and all(d and d.startswith("/t/") for d in dirs)
          and peers.pocl_cache("/t", 0, "epoch", True) is None,
          "bench-peers: POCL caches %r (and %r warm)" % (
              dirs, peers.pocl_cache("/t", 0, "epoch", True)))
    got = peers.cold_starts({"epoch": [{"build_s": 1.0, "first_run_s": 2.5},
                                       {"build_s": 1.5, "first_run_s": 1.0},
                                       {"build_s": 2.0, "first_run_s": 3.0}],
                             "tutorial": [{"build_s": 1.0, "first_run_s": None}]})
    check(got == {"epoch": (3.5, 2.5, 5.0)}, "bench-peers: cold_starts %r, expected "
          "{'epoch': (3.5, 2.5, 5.0)}" % got)
    p = subprocess.run([sys.executable, path, "--rounds", "0"], capture_output=True, text=True)
    check(p.returncode != 0 and "--rounds" in p.stderr, "bench-peers --rounds 0: exit %d, %s"
          % (p.returncode, p.stderr.strip()))


def peers_blas(binary):
    """tools/bench-peers fits OpenBLAS's kernels to the vector instructions of mlpcl's code: its
    choice for the cases met (Debian 12's OpenBLAS took an Emerald Rapids Xeon with AVX-512 for
    a Prescott; this project's shared machines set OPENBLAS_CORETYPE=Haswell on AVX-512 CPUs;
    POCL_KERNELLIB_NAME=avx2 runs AVX2 code on an AVX-512 CPU), and where numpy here uses
    OpenBLAS, the kernels bench-peers then reports use the vectors mlpcl's device uses, whether
    OPENBLAS_CORETYPE is unset or names SSE kernels; --blas-as-set keeps what it names."""
    peers, path = load_peers()
    for core, isa, want in (("Prescott", "AVX-512", "SkylakeX"), ("Zen", "AVX-512", "SkylakeX"),
                            ("Haswell", "AVX-512", "SkylakeX"),
                            ("Prescott", "AVX2", "Haswell"), ("Sandybridge", "AVX2", "Haswell"),
                            ("Cooperlake", "AVX2", "Haswell"), ("SkylakeX", "AVX2", "Haswell"),
                            ("SkylakeX", "AVX-512", None), ("Cooperlake", "AVX-512", None),
                            ("Haswell", "AVX2", None), ("Zen", "AVX2", None),
                            ("Prescott", "SSE", None), ("Nehalem", "", None)):
        got = peers.openblas_override(core, isa)
        check(got == want, "bench-peers: OpenBLAS runs %s for %s code: forces %r, expected %r"
              % (core, isa or "unknown", got, want))
    out, _ = run([binary, "devices", "--device", os.environ.get("MLPCL_DEVICE", ""), "--json"])
    dev = json.loads(out)[0]
    isa = dev["isa"] if dev["type"] == "cpu" and dev["isa"] else peers.cpu_isa()[0]
    base = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    for given, as_set in ((None, False), ("Prescott", False), ("Prescott", True)):
        env = dict(base, **({"OPENBLAS_CORETYPE": given} if given else {}))
        args = [sys.executable, path, "--mlpcl", binary, "--blas"] + ["--blas-as-set"] * as_set
        p = subprocess.run(args, capture_output=True, text=True, env=env)
        what = "%sbench-peers --blas%s" % ("OPENBLAS_CORETYPE=%s " % given if given else "",
                                          " --blas-as-set" * as_set)
        check(p.returncode == 0, "%s: exit %d\n%s" % (what, p.returncode, p.stderr))
        m = re.search(r"with OpenBLAS \(its (\w+) kernels", p.stdout)
        if not m:
            print("note: numpy here does not use OpenBLAS (%s): the kernels it picks are not "
                  "checked" % p.stdout.strip())
            return
        core = m.group(1)
        if as_set:
            check(core == given, "%s: runs %s's kernels, not the ones set" % (what, core))
        elif isa in peers.OPENBLAS_FOR:
            check(peers.OPENBLAS_ISA.get(core, "SSE") == isa,
                  "%s: OpenBLAS's %s kernels for mlpcl's %s code:\n%s%s" % (
                      what, core, isa, p.stdout, p.stderr))
        elif given:  # no kernels for isa to fit: what is set stays
            check(core == given, "%s: runs %s's kernels for %s code" % (what, core, isa))


def main():
    binary = sys.argv[1]
    if skip_without_device(binary):
        return SKIP
    peers_blas(binary)
    peers_rounds()
    with tempfile.TemporaryDirectory() as tmp:
        cache = {"MLPCL_TUNE_CACHE": os.path.join(tmp, "tuning")}
        js, cs = os.path.join(tmp, "b.json"), os.path.join(tmp, "b.csv")
        # The default device and the host; small sizes (the large workloads on 128 samples).
        out, _ = run([binary, "bench", "--workloads", "tutorial,784-256-10", "--samples", "128",
                      "--repeat", "2", "--iterations", "1", "--json", js, "--csv", cs], cache)
        check(re.search(r"^tutorial +\d+:\d+ .* ok$", out, re.M), "bench: no checked tutorial "
              "row on the device:\n" + out)
        check(re.search(r"^784-256-10 +host ", out, re.M), "bench: no host row")
        check(re.search(r"kernels: .*%", out), "bench: no kernel shares")
        with open(js) as f:
            doc = json.load(f)
        rs = doc["results"]
        check(len(rs) == 4 and {r["workload"] for r in rs} == {"tutorial", "784-256-10"},
              "bench JSON: %d results" % len(rs))
        for r in rs:
            check(r["median_s"] > 0 and r["min_s"] <= r["median_s"] <= r["max_s"],
                  "bench JSON: times of %s on %s" % (r["workload"], r["device"]))
            if r["device"] != "host":
                check(r.get("check_ok") is True, "bench: %s on the device failed its check: %s"
                      % (r["workload"], r.get("check")))
                check(r["kernel_seconds"], "bench JSON: no profile of %s" % r["workload"])
        # The peak memory: at least the 784-256-10 data in double on the host (128 × 794 × 8
        # bytes, far below a process's size) and the runtime; below 64 GiB, which none of these
        # small runs comes near. Not a measurement of mlpcl's memory, a check that the field is
        # the process's resident size in MiB and not, say, KiB or bytes.
        for r in rs:
            peak = r.get("peak_rss_mib")
            check(isinstance(peak, (int, float)) and 1 < peak < 65536,
                  "bench JSON: peak_rss_mib of %s on %s: %r" % (r["workload"], r["device"], peak))
            check(r.get("peak_rss_scope") in ("workload", "process"), "bench JSON: peak scope")
            check("isa" in r, "bench JSON: no isa")
            if r["device"] == "host":
                check(r["isa"] in ("AVX-512", "AVX2", "SSE", ""), "bench JSON: isa %r" % r["isa"])
        check(re.search(r"peak memory \d+ MiB", out), "bench: no peak memory in the table")
        check(doc["gflops_formula"].startswith("6 * batch"), "bench JSON: the formula")
        with open(cs) as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == 4 and all(float(r["median_s"]) > 0 for r in rows), "bench CSV")
        out, _ = run([binary, "bench", "--workloads", "tutorial", "--device", "host",
                      "--repeat", "1", "--compare", js], cache)
        check(re.search(r"tutorial +host .* -> .* s: x[\d.]+", out), "--compare:\n" + out)
        png = os.path.join(tmp, "b.png")
        if not shutil.which("gnuplot"):  # tools/setup-debian installs it; CI has it
            print("note: gnuplot is not installed here: tools/plot's bar chart not checked")
        else:
            p = subprocess.run([os.path.join(ROOT, "tools", "plot"), js, png],
                               capture_output=True, text=True)
            if check(p.returncode == 0, "tools/plot: " + p.stderr):
                with open(png, "rb") as f:
                    check(f.read(8) == b"\x89PNG\r\n\x1a\n", "tools/plot: not a PNG")
        run([binary, "bench", "--workloads", "nope"], cache, code=2)
        run([binary, "bench", "--device", "no-such-device", "--workloads", "tutorial"], cache,
            code=3)

        # A small tuning search, from small tiles so that it compiles quickly; the winner is
        # saved for this device and bench then shows the tiled kernels built with it.
        gpu = any("local=1" in r["kernels"] for r in rs)  # tiles in local memory: a GPU
        small = ["--from", "bm=32,bn=32,wm=4,wn=4", "--params", "bk"] if gpu else \
            ["--from", "tm=4,tnv=1", "--params", "tnv"]
        out, _ = run([binary, "tune"] + small + ["--samples", "64", "--hidden", "32",
                                                  "--iterations", "1"], cache)
        m = re.search(r"^best: path=tiled,(\S+), ", out, re.M)
        # A best other than the start is timed again against it, alternating, and kept only
        # where its median wins; else the start is the best.
        again = re.search(r"^checked again, 3 rounds alternating with the default: [\d.]+ ms "
                          r"against [\d.]+ ms \(medians\): (kept|the default stays)$", out, re.M)
        begin = re.search(r"; default path=tiled,(\S+)$", out, re.M)
        if m and begin:
            check(again and again.group(1) == "kept" or m.group(1) == begin.group(1),
                  "tune: a best other than the start, not checked again:\n" + out)
        if check(m, "tune: no best line:\n" + out) and check(os.path.exists(cache[
                "MLPCL_TUNE_CACHE"]), "tune: nothing saved"):
            with open(cache["MLPCL_TUNE_CACHE"]) as f:
                line = f.read()
            check(line.rstrip("\n").endswith("\t" + m.group(1)) and "\tfloat\t" in line,
                  "tune cache: %r, best %s" % (line, m.group(1)))
            out, _ = run([binary, "bench", "--workloads", "784-256-10", "--device", "",
                          "--samples", "64", "--repeat", "1", "--iterations", "1"], cache)
            best = m.group(1).replace("local=0,", "")
            check("tiled (%s)" % best in out or "local=1" in best,
                  "bench does not use the tuned %s:\n%s" % (best, out))
        # With no --from the search starts from what runs use without a cache (on CPUs derived
        # from the device): the tunables bench showed above, from an empty cache.
        out, _ = run([binary, "tune", "--dry-run", "--budget", "0.001", "--samples", "64",
                      "--hidden", "32", "--iterations", "1"], cache)
        m = re.search(r"; default path=\w+,(?:local=\d,)?(\S+)$", out, re.M)
        shown = [re.search(r"^tiled \((?:local=\d,)?([^)]*)\)", r["kernels"]) for r in rs
                 if r["device"] != "host"]
        shown = [x.group(1) for x in shown if x]
        if check(m and shown, "tune's starting point, or bench's tiled kernels:\n%s\n%s" % (
                out, [r["kernels"] for r in rs])):
            check(m.group(1) == shown[0], "tune starts from %s, runs use %s" % (m.group(1),
                                                                              shown[0]))
        run([binary, "tune", "--from", "bogus=1"], cache, code=2)
        # A budget: the search starts no candidate once it is spent (here at once, after the
        # starting point's), and still reports the best so far, which is that point.
        out, _ = run([binary, "tune", "--dry-run", "--budget", "0.001"] + small +
                     ["--samples", "64", "--hidden", "32", "--iterations", "1"], cache)
        check(re.search(r"^the budget of 0\.001 s is spent, after 1 candidates", out, re.M) and
              re.search(r"^best: .*\(the default [\d.]+ ms: x1\.00\)$", out, re.M),
              "tune --budget 0.001:\n" + out)
        if not gpu:
            run([binary, "tune", "--exhaustive"], cache, code=2)
    return finish("test_bench")


if __name__ == "__main__":
    sys.exit(main())
