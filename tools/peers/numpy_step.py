#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""numpy's full-batch step of 784-H-10 as its own process, for its peak memory: loads the data
as tools/bench-peers does (float32), runs ITERATIONS steps and prints the process's peak
resident size (getrusage ru_maxrss) beside the time of a step.

    tools/peers/numpy_step.py [--hidden 1024] [--samples 60000] [--iterations 1] [--data DIR]

Compare with `/usr/bin/time -f %M mlpcl train --data DIR --layers 784,1024,10 --batch 0
--epochs 1 --loss ce` or `mlpcl bench --workloads 784-1024-10`'s peak."""
import argparse
import importlib.machinery
import importlib.util
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_loader = importlib.machinery.SourceFileLoader("bench_peers",
                                               os.path.join(os.path.dirname(HERE), "bench-peers"))
_spec = importlib.util.spec_from_loader("bench_peers", _loader)
peers = importlib.util.module_from_spec(_spec)
_loader.exec_module(peers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--data", default=peers.FASHION)
    a = ap.parse_args()
    X, Y, source = peers.load_data(a.samples, a.data)
    P = peers.numpy_params(a.hidden)
    t0 = time.perf_counter()
    for _ in range(a.iterations):
        peers.numpy_step(X, Y, *P, 0.01)
    t = (time.perf_counter() - t0) / a.iterations
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print("numpy 784-%d-10 full batch on %d samples of %s: %.3f s a step, peak %.1f MiB" % (
        a.hidden, a.samples, source, t, peak / 2**20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
