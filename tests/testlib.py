# SPDX-License-Identifier: MIT
"""What the Python tests share: a check that counts failures and keeps going, the count, and
whether an OpenCL device is there (a test that needs one and finds none exits SKIP, which CTest
reports as skipped), and which one the tests use."""
import os
import subprocess
import time

SKIP = 77
# The OpenCL device of the tests that name one: $MLPCL_DEVICE (mlpcl's own default), else the
# CPU (POCL), so that `MLPCL_DEVICE=gpu ctest` checks a GPU throughout.
DEVICE = os.environ.get("MLPCL_DEVICE") or "cpu"
_failures = 0


def check(cond, msg):
    """Counts and prints a failure when cond is false; returns cond."""
    global _failures
    if not cond:
        _failures += 1
        print("FAIL:", msg)
    return cond


def failed():
    """How many checks have failed so far."""
    return _failures


def no_device(binary, device=None):
    """Why mlpcl cannot reach an OpenCL device (the default one, or this selector's; its
    message), or None when it can."""
    sel = ["--device", device] if device else []
    p = subprocess.run([binary, "train", "--max-iter", "0", "--print-every", "0"] + sel,
                       capture_output=True, text=True)
    if p.returncode == 3 and ("platform" in p.stderr or "no OpenCL device" in p.stderr):
        return p.stderr.strip()
    return None


def skip_without_device(binary, device=None):
    """True, having said why, when mlpcl reaches no OpenCL device (the default one, or this
    selector's): the test then returns SKIP."""
    reason = no_device(binary, device)
    if reason:
        print("SKIP: no OpenCL device:", reason)
    return reason is not None


def finish(name, t0=None):
    """Prints the test's verdict (with the seconds since t0, a time.monotonic() reading, when
    given) and returns its exit status."""
    verdict = "%d check(s) failed" % _failures if _failures else "all checks passed"
    if t0 is not None:
        verdict += " (%.1f s)" % (time.monotonic() - t0)
    print("%s: %s" % (name, verdict))
    return 1 if _failures else 0
