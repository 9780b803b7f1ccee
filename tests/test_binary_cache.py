#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The program binary cache (host/program_cache.c) through the command: the tutorial, in float
and double, run once to fill an empty cache and again from it, gives output identical byte for
byte (but the timing line); the second run loaded the entry (a build from the source would have
replaced the file: its inode would change). A truncated entry, one with flipped bytes and one
with a foreign header are rebuilt (replaced) with identical output; an unwritable cache folder
and a cache turned off (MLPCL_CACHE_DIR empty, MLPCL_NO_BINARY_CACHE=1, MLPCL_BINARY_CACHE=off)
write nothing and change nothing in the output.

The cache is off for POCL devices unless MLPCL_BINARY_CACHE=on (asking POCL for a binary makes
it compile every kernel for any launch shape first, 16-20 s on 2 cores): the runs above turn it
on, and a run on a POCL device without it writes nothing.

usage: test_binary_cache.py MLPCL_BINARY"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import SKIP, check, finish, skip_without_device  # noqa: E402


def train(binary, env, *args):
    p = subprocess.run([binary, "train", *args], capture_output=True, text=True, env=env)
    check(p.returncode == 0, "mlpcl train %s: exit %d: %s" % (args, p.returncode, p.stderr))
    # the device line holds wall times; everything else must be identical
    return "\n".join(l for l in p.stdout.splitlines() if not l.startswith("device:"))


def entries(folder):
    if not os.path.isdir(folder):
        return {}
    return {n: os.stat(os.path.join(folder, n)).st_ino
            for n in sorted(os.listdir(folder)) if n.endswith(".bin")}


def pocl_device(binary, env):
    """Whether the default device is POCL's (the device line of a run of no iterations)."""
    p = subprocess.run([binary, "train", "--max-iter", "0", "--print-every", "0"],
                       capture_output=True, text=True, env=env)
    return "Portable Computing Language" in p.stdout


def main():
    binary = sys.argv[1]
    if skip_without_device(binary):
        return SKIP
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="mlpcl-bincache-")
    base = dict(os.environ)
    base.pop("MLPCL_NO_BINARY_CACHE", None)
    base["MLPCL_BINARY_CACHE"] = "on"
    base["CUDA_CACHE_DISABLE"] = "1"  # NVIDIA's driver keeps its own cache under $HOME/.nv
    for prec in ("float", "double"):
        cache = os.path.join(tmp, prec, "cache")
        env = dict(base, MLPCL_CACHE_DIR=cache)
        args = ("--precision", prec)
        first = train(binary, env, *args)
        made = entries(cache)
        check(len(made) >= 1, "%s: the first run saved no binary in %s" % (prec, cache))
        check(os.path.isdir(cache) and not [n for n in os.listdir(cache) if ".tmp." in n],
              "%s: temporary files left in the cache" % prec)
        second = train(binary, env, *args)
        check(second == first, "%s: the run from the cache differs:\n%s\n---\n%s"
              % (prec, first, second))
        check(entries(cache) == made,
              "%s: the second run rebuilt instead of loading the cache: %s -> %s"
              % (prec, made, entries(cache)))

        # damaged entries: each is rebuilt from the source (the file replaced), same output
        damages = {
            "truncated": lambda b: b[: len(b) // 2],
            "header only": lambda b: b[:40],
            "flipped bytes": lambda b: b[:100] + bytes(x ^ 0xA5 for x in b[100:164]) + b[164:],
            "foreign header": lambda b: b"notmlpcl" + b[8:],
            "empty": lambda b: b"",
        }
        for what, damage in damages.items():
            for name in made:
                path = os.path.join(cache, name)
                with open(path, "rb") as f:
                    data = f.read()
                with open(path, "wb") as f:
                    f.write(damage(data))
            before = entries(cache)
            out = train(binary, env, *args)
            check(out == first, "%s, %s entry: the output differs:\n%s" % (prec, what, out))
            after = entries(cache)
            check(all(after.get(n) not in (None, before[n]) for n in made),
                  "%s, %s entry: not rebuilt and saved again (%s -> %s)"
                  % (prec, what, before, after))

        # a cache folder that cannot be created (under a plain file): runs, writes nothing
        blocker = os.path.join(tmp, prec, "a-file")
        with open(blocker, "w") as f:
            f.write("not a folder\n")
        out = train(binary, dict(base, MLPCL_CACHE_DIR=os.path.join(blocker, "cache")), *args)
        check(out == first, "%s, unwritable cache folder: the output differs:\n%s" % (prec, out))

        # off: MLPCL_CACHE_DIR empty, or MLPCL_NO_BINARY_CACHE=1 (with the default folder)
        home = os.path.join(tmp, prec, "home")
        os.makedirs(home)
        for off in ({"MLPCL_CACHE_DIR": ""}, {"MLPCL_NO_BINARY_CACHE": "1"},
                    {"MLPCL_BINARY_CACHE": "off"}):
            env = dict(base, HOME=home, XDG_CACHE_HOME=os.path.join(home, "xdg"))
            env.pop("MLPCL_CACHE_DIR", None)
            env.update(off)
            out = train(binary, env, *args)
            check(out == first, "%s, cache off (%s): the output differs" % (prec, off))
            written = [os.path.join(d, n) for d, _, ns in os.walk(home) for n in ns]
            check(not written, "%s, cache off (%s): files written: %s" % (prec, off, written))
        # the default folder: $XDG_CACHE_HOME/mlpcl
        env = dict(base, HOME=home, XDG_CACHE_HOME=os.path.join(home, "xdg"))
        env.pop("MLPCL_CACHE_DIR", None)
        train(binary, env, *args)
        check(entries(os.path.join(home, "xdg", "mlpcl")),
              "%s: nothing saved in $XDG_CACHE_HOME/mlpcl" % prec)
        # by default, off for POCL (the tests' devices are POCL's; skipped for another driver)
        if pocl_device(binary, base):
            env = dict(base, MLPCL_CACHE_DIR=os.path.join(tmp, prec, "auto"))
            env.pop("MLPCL_BINARY_CACHE")
            out = train(binary, env, *args)
            check(out == first, "%s, default on POCL: the output differs" % prec)
            check(not entries(env["MLPCL_CACHE_DIR"]),
                  "%s: a binary saved for a POCL device without MLPCL_BINARY_CACHE=on" % prec)
    subprocess.run(["rm", "-rf", tmp])
    return finish("test_binary_cache", t0)


if __name__ == "__main__":
    sys.exit(main())
