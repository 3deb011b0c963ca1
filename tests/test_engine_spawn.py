"""Spawning through the engine: arguments, environment, cwd, streams, errors."""

from __future__ import annotations

import errno
import os
import resource
import stat
import sys
from pathlib import Path

import pytest

from Core.ProcessManager import _engine as E
from engine_helpers import Spawner, open_fds, spawn  # noqa: F401

PY = sys.executable


def output(p: E.Process, stream: int = E.OUT) -> bytes:
    assert p.wait(10)
    assert p.wait_eof(10)
    return p.read(stream)[0]


def test_argv_is_never_interpreted_by_a_shell(spawn: Spawner, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    p = spawn(["/bin/echo", f"$(touch {marker})", "a;b", "*"])
    assert output(p) == f"$(touch {marker}) a;b *\n".encode()
    assert not marker.exists()


def test_exit_status_and_signals(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "exit 7"])
    assert p.wait(10) and p.returncode == 7 and p.term_signal is None
    p = spawn(["sh", "-c", "kill -9 $$"])
    assert p.wait(10) and p.returncode == -9 and p.term_signal == 9


def test_separate_and_merged_streams(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "echo out; echo err >&2"])
    assert output(p, E.OUT) == b"out\n" and output(p, E.ERR) == b"err\n"
    p = spawn(["sh", "-c", "echo out; echo err >&2"], stderr=E.STDOUT)
    assert output(p, E.OUT) == b"out\nerr\n" and p.read(E.ERR)[0] == b""
    p = spawn(["sh", "-c", "echo out; echo err >&2"], stdout=E.DEVNULL, stderr=E.DEVNULL)
    assert p.wait(10) and p.returncode == 0 and p.stream_info(E.OUT)[3]


def test_stdin_from_devnull_pipe_and_descriptor(spawn: Spawner, tmp_path: Path) -> None:
    assert output(spawn(["cat"])) == b""  # /dev/null by default: never blocks
    p = spawn(["cat"], stdin=E.PIPE)
    p.write(b"piped\n")
    p.close_stdin()
    assert output(p) == b"piped\n"
    f = tmp_path / "in.txt"
    f.write_bytes(b"from a file\n")
    fd = os.open(f, os.O_RDONLY | os.O_CLOEXEC)
    try:
        assert output(spawn(["cat"], stdin=fd)) == b"from a file\n"
    finally:
        os.close(fd)


def test_explicit_environment_and_path_search(spawn: Spawner, tmp_path: Path) -> None:
    p = spawn(["/usr/bin/env"], env=[b"ONLY=this"])
    assert output(p) == b"ONLY=this\n"
    # The program is searched in the PATH of the child's environment.
    tool = tmp_path / "pm-engine-tool"
    tool.write_text("#!/bin/sh\necho found\n")
    tool.chmod(0o755)
    p = spawn(["pm-engine-tool"], env=[f"PATH={tmp_path}".encode()])
    assert output(p) == b"found\n"


def test_cwd(spawn: Spawner, tmp_path: Path) -> None:
    assert output(spawn(["pwd"], cwd=os.fsencode(tmp_path))) == os.fsencode(tmp_path) + b"\n"


def test_process_group_and_session(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "ps -o pgid= -o sid= -p $$"])
    pgid, sid = map(int, output(p).split())
    assert pgid == p.pid and sid == os.getsid(0)
    p = spawn(["sh", "-c", "ps -o pgid= -o sid= -p $$"], new_session=True)
    pgid, sid = map(int, output(p).split())
    assert pgid == p.pid and sid == p.pid


def test_signal_mask_and_dispositions_are_reset(spawn: Spawner) -> None:
    # CPython ignores SIGPIPE; the child must not inherit that.
    # grep reads its own status: exec'd straight by posix_spawn, no shell
    # in between to change the mask.
    p = spawn(["grep", "-E", "^(SigBlk|SigIgn)", "/proc/self/status"])
    fields = dict(line.split(":\t") for line in output(p).decode().splitlines())
    assert int(fields["SigBlk"], 16) == 0
    # glibc's posix_spawn leaves its two internal signals (32 and 33, below
    # SIGRTMIN, never available to programs) ignored; every other one is reset.
    internal = {32, 33}
    ignored = {n + 1 for n in range(64) if int(fields["SigIgn"], 16) >> n & 1}
    assert ignored - internal == set()


def test_child_holds_only_the_standard_descriptors(spawn: Spawner) -> None:
    # Inheritable descriptors of the parent, at high numbers, must not leak.
    r, w = os.pipe()
    high = [os.dup2(r, 60, inheritable=True), os.dup2(w, 61, inheritable=True)]
    try:
        code = ("import os\n"
                "fds = [f for f in os.listdir('/proc/self/fd') if os.path.exists('/proc/self/fd/' + f)]\n"
                "print(' '.join(sorted(fds)))")
        p = spawn([PY, "-S", "-c", code], stdin=E.PIPE)
        assert output(p).split() == [b"0", b"1", b"2"]
    finally:
        for fd in (r, w, *high):
            os.close(fd)


# ---- errors ------------------------------------------------------------------

def test_missing_program(spawn: Spawner) -> None:
    with pytest.raises(FileNotFoundError) as ei:
        spawn(["pm-no-such-program-xyz"])
    assert isinstance(ei.value, E.SpawnError)
    assert ei.value.errno == errno.ENOENT and ei.value.filename == "pm-no-such-program-xyz"
    assert "command not found" in str(ei.value)
    with pytest.raises(FileNotFoundError):
        spawn(["/nonexistent/prog"])


def test_not_executable(spawn: Spawner, tmp_path: Path) -> None:
    f = tmp_path / "data.txt"
    f.write_text("hello\n")
    with pytest.raises(PermissionError) as ei:
        spawn([str(f)])
    assert ei.value.errno == errno.EACCES and ei.value.filename == str(f)
    assert "permission denied" in str(ei.value)


def test_exec_format_error(spawn: Spawner, tmp_path: Path) -> None:
    f = tmp_path / "garbage"
    f.write_bytes(b"\x7fELF-not-really\x00\x01\x02")
    f.chmod(0o755)
    with pytest.raises(E.SpawnError) as ei:
        spawn([str(f)])
    assert ei.value.errno == errno.ENOEXEC and "exec format error" in str(ei.value)


def test_bad_cwd(spawn: Spawner, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as ei:
        spawn(["true"], cwd=os.fsencode(tmp_path / "missing"))
    assert ei.value.filename == str(tmp_path / "missing")
    assert "working directory does not exist" in str(ei.value)
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(NotADirectoryError) as ei2:
        spawn(["true"], cwd=os.fsencode(f))
    assert "not a directory" in str(ei2.value)


def test_spawn_failures_leave_no_descriptor(spawn: Spawner, tmp_path: Path) -> None:
    spawn(["true"]).wait(10)  # the engine's own descriptors exist from here on
    before = open_fds()
    for _ in range(50):
        with pytest.raises(OSError):
            spawn(["pm-no-such-program-xyz"])
        with pytest.raises(OSError):
            spawn(["true"], cwd=os.fsencode(tmp_path / "missing"))
    assert open_fds() == before


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="NUL"):
        E.spawn([b"echo", b"a\0b"])
    with pytest.raises(ValueError, match="program"):
        E.spawn([])
    with pytest.raises(TypeError):
        E.spawn(b"echo")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        E.spawn(["echo"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="timeout"):
        E.spawn([b"true"], timeout=-1)
    with pytest.raises(ValueError, match="NAME=value"):
        E.spawn([b"true"], env=[b"novalue"])
    with pytest.raises(ValueError):
        E.spawn([b"true"], stdout=E.STDOUT)
    with pytest.raises(ValueError):
        E.spawn([b"true"], stdin=-7)


def test_too_many_open_files_then_recovery(spawn: Spawner) -> None:
    spawn(["true"]).wait(10)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(open_fds()) + 4, hard))
    hog: list[int] = []
    try:
        while True:  # use up every descriptor left
            try:
                hog.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                break
        with pytest.raises(E.SpawnError) as ei:
            spawn(["true"], stdin=E.PIPE)
        assert ei.value.errno == errno.EMFILE
        assert "too many open files" in str(ei.value)
    finally:
        for fd in hog:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    p = spawn(["echo", "recovered"])
    assert output(p) == b"recovered\n"


def test_stdout_and_stderr_to_descriptors(spawn: Spawner, tmp_path: Path) -> None:
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    out_fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        p = spawn(["sh", "-c", "echo to-out; echo to-err >&2"], stdout=out_fd, stderr=err_fd)
        assert p.wait(10) and p.returncode == 0 and not p.pipes_open
    finally:
        os.close(out_fd)
        os.close(err_fd)
    assert out_path.read_bytes() == b"to-out\n" and err_path.read_bytes() == b"to-err\n"


def test_swapped_standard_descriptors_are_not_clobbered(spawn: Spawner) -> None:
    # stdout=2 and stderr=1: each dup2 must read its source before another
    # dup2 replaces it.  Checked through pipes standing in as 1 and 2.
    code = ("import os, sys\n"
            "r1, w1 = os.pipe(); r2, w2 = os.pipe()\n"
            "saved1, saved2 = os.dup(1), os.dup(2)\n"
            "os.dup2(w1, 1); os.dup2(w2, 2)\n"
            "from Core.ProcessManager import _engine as E\n"
            "p = E.spawn([b'sh', b'-c', b'echo O; echo E >&2'], stdout=2, stderr=1)\n"
            "p.wait(10)\n"
            "os.dup2(saved1, 1); os.dup2(saved2, 2); os.close(w1); os.close(w2)\n"
            "print(os.read(r1, 100), os.read(r2, 100))\n")
    import subprocess
    r = subprocess.run([PY, "-c", code], capture_output=True, timeout=30, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"b'E\\n' b'O\\n'\n"
