#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Nothing lost (issue 9): what `mlpcl train` and `mlpcl gen` do when the output cannot be
written or the run is cut off, and what --resume checks.

- A closed pipe on stdout (tutorial and epoch mode) and a full one (/dev/full) stop training as
  SIGTERM does: exit 130, the checkpoint saved, the reason on stderr; found only at the end:
  exit 2. A --log on /dev/full likewise.
- SIGHUP is handled like SIGTERM: exit 130, --save written.
- An unusable --save or --checkpoint (missing folder, a folder, "") is refused before training;
  a checkpoint that fails when stopping leaves the work in --save.
- --resume of a double checkpoint stays double and ends bit for bit where an uninterrupted run
  does; a resume with other settings is refused listing them, --force goes on; --layers,
  --activation, --loss and --init that agree with the file are accepted; a file without the
  records (an older one) resumes with nothing compared.
- Model files get 0666 less the umask.
- A second run on the same --checkpoint is refused while the first holds it.
- `mlpcl devices` without an OpenCL platform lists host and exits 0; a network whose size
  overflows exits 2; `mlpcl gen` on a full disk leaves no file.

Every wait for a running command is for a line it wrote, never for a time alone. Runs that do
not need OpenCL use --device host; those that do are skipped without a device.

usage: test_reliability_save.py MLPCL_BINARY"""
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, finish, no_device  # noqa: E402

BIN = None
LONG = ["--max-iter", "100000000", "--target", "0", "--print-every", "1"]
# Long enough to fill stdio's buffer many times over, short enough to end on a build that
# ignores write errors (one that stops goes no further than the first failed flush).
BOUNDED = ["--max-iter", "300000", "--target", "0", "--print-every", "1"]


def default_signals():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_DFL)


def run(args, code, cwd, **kw):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, cwd=cwd,
                       preexec_fn=kw.pop("preexec_fn", default_signals), **kw)
    check(p.returncode == code, "mlpcl %s: exit %d, expected %d\n%s%s"
          % (" ".join(args), p.returncode, code, p.stdout[-1500:], p.stderr[-1500:]))
    return p.stdout, p.stderr


def meta(path):
    """A model file's __metadata__."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))["__metadata__"]


def header(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        h = json.loads(f.read(n))
        return h, f.read()


def write_header(path, h, body):
    text = json.dumps(h, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + body)


def wait_line(stream_path, pattern, p, timeout=60.0):
    """Waits until the file at stream_path holds pattern (or the run ended)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with open(stream_path) as f:
            if pattern in f.read():
                return True
        if p.poll() is not None:
            break
        time.sleep(0.01)
    with open(stream_path) as f:
        return pattern in f.read()


def background(args, tmp, name):
    out, err = os.path.join(tmp, name + ".out"), os.path.join(tmp, name + ".err")
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen([BIN, *args], stdout=o, stderr=e, cwd=tmp,
                             preexec_fn=default_signals)
    return p, out, err


def finish_job(p):
    try:
        return p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        check(False, "a background mlpcl did not stop")
        return None


def read(path):
    with open(path) as f:
        return f.read()


def closed_pipe(tmp, what, args, first):
    """Reads stdout until `first` is seen, closes the pipe; the run must save and exit 130."""
    p = subprocess.Popen([BIN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
                         preexec_fn=default_signals)
    line = p.stdout.readline().decode()
    check(line.startswith(first), "%s: first line %r" % (what, line))
    p.stdout.close()  # the reader goes away, as `| head -1` does
    try:
        err = p.stderr.read().decode()
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        check(False, "%s: did not stop after its stdout was closed" % what)
        return
    check(rc == 130, "%s: exit %d, expected 130 (not 141, SIGPIPE)\n%s" % (what, rc, err))
    check("write error on standard output" in err and "saved to" in err,
          "%s: stderr %r" % (what, err))


def test_closed_pipe(tmp):
    for f in ("cp.st", "cp-save.st"):
        if os.path.exists(os.path.join(tmp, f)):
            os.remove(os.path.join(tmp, f))
    closed_pipe(tmp, "tutorial | head -1",
                ["train", "--device", "host", *LONG, "--save", "cp-save.st", "--checkpoint",
                 "cp.st"], "start:")
    if not check(os.path.exists(os.path.join(tmp, "cp.st")), "tutorial | head -1: no checkpoint"):
        return
    check(meta(os.path.join(tmp, "cp.st"))["iteration"] != "0",
          "tutorial | head -1: the checkpoint holds no progress")
    # What a closed pipe saved resumes.
    run(["train", "--device", "host", "--max-iter", str(
        int(meta(os.path.join(tmp, "cp.st"))["iteration"]) + 5), "--resume", "cp.st"], 4, tmp)


def test_closed_pipe_epochs(tmp):
    closed_pipe(tmp, "epochs | head -1",
                ["train", "--device", "host", "--x", "X.csv", "--y", "Y.csv", "--epochs",
                 "100000000", "--batch", "3", "--checkpoint", "ep.st"], "training ")
    check(os.path.exists(os.path.join(tmp, "ep.st")), "epochs | head -1: no checkpoint")


def test_full(tmp):
    with open("/dev/full", "w") as full:
        p = subprocess.run([BIN, "train", "--device", "host", *BOUNDED, "--checkpoint",
                            "full.st"],
                           stdout=full, stderr=subprocess.PIPE, text=True, cwd=tmp,
                           preexec_fn=default_signals)
    check(p.returncode == 130 and "standard output" in p.stderr and
          os.path.exists(os.path.join(tmp, "full.st")),
          "stdout on /dev/full: exit %d, expected 130 and a checkpoint\n%s"
          % (p.returncode, p.stderr))
    # Little output, held in the buffer to the end: found at the close, exit 2.
    with open("/dev/full", "w") as full:
        p = subprocess.run([BIN, "train", "--device", "host", "--target", "1"], stdout=full,
                           stderr=subprocess.PIPE, text=True, cwd=tmp)
    check(p.returncode == 2 and "cannot write standard output" in p.stderr,
          "a converged run with stdout on /dev/full: exit %d, expected 2\n%s"
          % (p.returncode, p.stderr))
    _, err = run(["train", "--device", "host", *BOUNDED, "--log", "/dev/full", "--checkpoint",
                  "log.st"], 130, tmp)
    check("the log /dev/full" in err and os.path.exists(os.path.join(tmp, "log.st")),
          "--log /dev/full: %r" % err)
    _, err = run(["train", "--device", "host", "--target", "1", "--print-every", "0",
                  "--log", "/dev/full"], 2, tmp)
    check("/dev/full" in err, "--log /dev/full, nothing logged until the end: %r" % err)


def test_sighup(tmp):
    p, out, err = background(["train", "--device", "host", *LONG, "--save", "hup.st"], tmp,
                             "hup")
    if not check(wait_line(out, "cost:", p), "SIGHUP: no cost line\n" + read(err)):
        p.kill()
        p.wait()
        return
    p.send_signal(signal.SIGHUP)
    rc = finish_job(p)
    check(rc == 130 and "SIGHUP" in read(err) and os.path.exists(os.path.join(tmp, "hup.st")),
          "SIGHUP: exit %s, expected 130 and hup.st saved\n%s" % (rc, read(err)))


def test_paths(tmp):
    os.makedirs(os.path.join(tmp, "adir"), exist_ok=True)
    for args, pat in [(["--save", "missing/m.st"], "missing/m.st cannot be written"),
                      (["--checkpoint", "missing/c.st"], "missing/c.st cannot be written"),
                      (["--save", "adir"], "is a folder"),
                      (["--save", ""], "needs a file name"),
                      (["--checkpoint", ""], "needs a file name")]:
        out, err = run(["train", "--device", "host", "--max-iter", "50", *args], 2, tmp)
        check(pat in err and "start:" not in out and "mlpcl_model_save" not in err,
              "train %s: trained first, or said %r" % (args, err))
    # A checkpoint that cannot be written when stopping: the work goes to --save. (No periodic
    # checkpoint: one falling between the folder's removal and the signal would end the run.)
    d = os.path.join(tmp, "gone")
    os.makedirs(d, exist_ok=True)
    p, out, err = background(["train", "--device", "host", *LONG, "--checkpoint", "gone/c.st",
                              "--checkpoint-every", "1000000000", "--save", "kept.st"], tmp,
                             "gone")
    if not check(wait_line(out, "cost:", p), "no cost line\n" + read(err)):
        p.kill()
        p.wait()
        return
    for name in os.listdir(d):
        os.remove(os.path.join(d, name))
    os.rmdir(d)
    p.send_signal(signal.SIGINT)
    rc = finish_job(p)
    check(rc == 130 and "saved to kept.st" in read(err) and
          os.path.exists(os.path.join(tmp, "kept.st")),
          "a failing checkpoint at a stop: exit %s, expected 130 and kept.st\n%s"
          % (rc, read(err)))


def test_umask(tmp):
    for mask, mode in ((0o027, 0o640), (0o002, 0o664)):
        path = os.path.join(tmp, "u%o.st" % mask)

        def pre(mask=mask):
            default_signals()
            os.umask(mask)
        run(["train", "--device", "host", "--target", "1", "--save", path], 0, tmp,
            preexec_fn=pre)
        got = stat.S_IMODE(os.stat(path).st_mode)
        check(got == mode, "umask %03o: model mode %03o, expected %03o" % (mask, got, mode))


def test_lock(tmp):
    p, out, err = background(["train", "--device", "host", *LONG, "--checkpoint", "lk.st"],
                             tmp, "lock")
    if not check(wait_line(out, "cost:", p), "lock: no cost line\n" + read(err)):
        p.kill()
        p.wait()
        return
    _, err2 = run(["train", "--device", "host", "--max-iter", "5", "--checkpoint", "lk.st"], 2,
                  tmp)
    check("another run is using --checkpoint lk.st" in err2, "second run: %r" % err2)
    p.send_signal(signal.SIGINT)
    check(finish_job(p) == 130, "lock: the first run did not stop with 130\n" + read(err))
    check(not os.path.exists(os.path.join(tmp, "lk.st.lock")), "lk.st.lock left behind")
    # Free again: a later run takes it.
    run(["train", "--device", "host", "--target", "1", "--checkpoint", "lk.st"], 0, tmp)


def test_resume_settings(tmp):
    """On the host trainer: what a resume compares, and --force."""
    base = ["train", "--device", "host", "--print-every", "0"]
    run(base + ["--max-iter", "40", "--momentum", "0.5", "--lr", "0.05", "--save", "h40.st"], 4,
        tmp)
    m = meta(os.path.join(tmp, "h40.st"))
    check(m.get("run.mode") == "tutorial" and m.get("run.device_kind") == "host" and
          m.get("run.lr") == "0.050000000000000003" and m.get("run.momentum") == "0.5" and
          len(m.get("run.data_digest", "")) == 16, "run record: %r" % m)
    # Not given: the file's lr and momentum. The same end as one run of 80.
    out_ref, _ = run(base + ["--max-iter", "80", "--momentum", "0.5", "--lr", "0.05"], 4, tmp)
    out, _ = run(base + ["--max-iter", "80", "--resume", "h40.st"], 4, tmp)
    end = [ln for ln in out.splitlines() if ln.startswith("end:")]
    check(end and end == [ln for ln in out_ref.splitlines() if ln.startswith("end:")],
          "resumed without repeating --lr/--momentum: %r vs %r" % (out, out_ref))
    # The command repeated whole, network options included, is accepted.
    run(base + ["--max-iter", "80", "--momentum", "0.5", "--lr", "0.05", "--layers", "2,3,2",
                "--activation", "sigmoid", "--loss", "mse", "--init", "ones", "--resume",
                "h40.st"], 4, tmp)
    _, err = run(base + ["--max-iter", "80", "--lr", "0.1", "--seed", "7", "--samples", "12",
                         "--resume", "h40.st"], 2, tmp)
    for what in ("lr 0.050000000000000003 in the file, 0.10000000000000001 now", "seed 1",
                 "training data digest"):
        check(what in err, "a differing resume: %r lacks %r" % (err, what))
    _, err = run(base + ["--max-iter", "80", "--lr", "0.1", "--resume", "h40.st", "--force"], 4,
                 tmp)
    check("--force" in err and "warning" in err, "--force: %r" % err)
    for args, pat in ((["--layers", "2,4,2"], "whose layers are 2,3,2"),
                      (["--activation", "tanh"], "whose activations are sigmoid,sigmoid"),
                      (["--loss", "ce"], "whose loss is mse"),
                      (["--init", "uniform"], "init ones in the file, uniform now")):
        _, err = run(base + ["--max-iter", "80", "--resume", "h40.st", *args], 2, tmp)
        check(pat in err, "resume with %s: %r" % (args, err))
    # A file without the records (as written before them): nothing to compare, it loads.
    h, body = header(os.path.join(tmp, "h40.st"))
    h["__metadata__"] = {k: v for k, v in h["__metadata__"].items() if not k.startswith("run.")}
    write_header(os.path.join(tmp, "old.st"), h, body)
    run(base + ["--max-iter", "80", "--lr", "0.2", "--resume", "old.st"], 4, tmp)


def test_resume_double(tmp):
    """On OpenCL: a double checkpoint resumed without --precision stays double, bit for bit."""
    base = ["train", "--print-every", "0", "--precision", "double"]
    out_ref, _ = run(base + ["--max-iter", "300", "--save", "d-ref.st"], 4, tmp)
    run(base + ["--max-iter", "150", "--checkpoint", "d.st"], 4, tmp)
    out, _ = run(["train", "--print-every", "0", "--max-iter", "300", "--resume", "d.st",
                  "--checkpoint", "d.st"], 4, tmp)
    end = [ln for ln in out.splitlines() if ln.startswith("end:")]
    check(end and end == [ln for ln in out_ref.splitlines() if ln.startswith("end:")] and
          "precision: double" in out, "double resume: %r vs %r" % (out, out_ref))
    h, _ = header(os.path.join(tmp, "d.st"))
    check(h["layers.1.weight"]["dtype"] == "F64", "the resumed checkpoint is %s, not F64"
          % h["layers.1.weight"]["dtype"])
    _, err = run(["train", "--max-iter", "300", "--resume", "d.st", "--precision", "float"], 2,
                 tmp)
    check("precision double in the file, float now" in err, "float resume: %r" % err)


def test_misc(tmp):
    empty = os.path.join(tmp, "no-vendors")
    os.makedirs(empty, exist_ok=True)
    env = dict(os.environ, OCL_ICD_VENDORS=empty)
    out, err = run(["devices"], 0, tmp, env=env)
    check(out.startswith("host") and "no OpenCL platform" in err, "devices: %r %r" % (out, err))
    _, err = run(["train", "--device", "host", "--layers", "2,100000,100000,2", "--max-iter",
                  "1"], 2, tmp)
    check("parameters" in err, "--layers 2,100000,100000,2: %r" % err)
    # gen: both files or neither; a full disk leaves no file claimed written.
    x = os.path.join(tmp, "gx.csv")
    p = subprocess.run([BIN, "gen", "--x", x, "--y", "/dev/full"], capture_output=True,
                       text=True)
    check(p.returncode != 0 and not os.path.exists(x),
          "gen --y /dev/full: exit %d, %s left" % (p.returncode, x))
    check(not [f for f in os.listdir(tmp) if f.startswith("gx.csv.tmp.")],
          "gen left a temporary file")
    p = subprocess.run([BIN, "gen", "--x", "/dev/full", "--y", x], capture_output=True,
                       text=True)
    check(p.returncode != 0 and not os.path.exists(x), "gen --x /dev/full: exit %d"
          % p.returncode)
    run(["gen", "--x", x, "--y", os.path.join(tmp, "gy.csv")], 0, tmp)
    check(os.path.getsize(x) > 0, "gen wrote an empty file")


def main():
    global BIN
    BIN = os.path.abspath(sys.argv[1])
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        run(["gen", "--x", "X.csv", "--y", "Y.csv", "--samples", "12"], 0, tmp)
        tests = [test_closed_pipe, test_closed_pipe_epochs, test_full, test_sighup, test_paths, test_umask, test_lock,
                 test_resume_settings, test_misc]
        reason = no_device(BIN)
        if reason:
            print("SKIP (OpenCL part): no OpenCL device:", reason)
        else:
            tests.append(test_resume_double)
        for t in tests:
            # Each case on its own: one that breaks (a file missing) does not hide the others.
            try:
                t(tmp)
            except Exception as e:  # noqa: BLE001
                check(False, "%s: %s: %s" % (t.__name__, type(e).__name__, e))
    return finish("test_reliability_save", t0)


if __name__ == "__main__":
    sys.exit(main())
