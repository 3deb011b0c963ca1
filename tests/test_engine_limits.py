"""Resource limits, in force from the program's first instruction."""

from __future__ import annotations

import errno
import resource
import signal
import sys
from pathlib import Path

import pytest

from Core.ProcessManager import _engine as E
from engine_helpers import Spawner, open_fds, spawn  # noqa: F401

PY = sys.executable


def output(p: E.Process) -> bytes:
    assert p.wait(30) and p.wait_eof(10)
    return p.read(E.OUT)[0]


def test_limits_are_in_force_from_the_first_instruction(spawn: Spawner) -> None:
    # The program reads its own limits from /proc: no window where it ran unlimited.
    p = spawn(["grep", "-E", "^Max (cpu time|open files|address space|processes) ", "/proc/self/limits"],
              limits={"cpu": 5, "open_files": 64, "memory": 512 << 20, "processes": (100, 200)})
    fields = {" ".join(line.split()[:-3]): line.split()[-3:-1] for line in output(p).decode().splitlines()}
    assert fields["Max cpu time"] == ["5", "5"]
    assert fields["Max open files"] == ["64", "64"]
    assert fields["Max address space"] == [str(512 << 20)] * 2
    assert fields["Max processes"] == ["100", "200"]
    assert p.returncode == 0


def test_the_parent_is_not_limited(spawn: Spawner) -> None:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert output(spawn(["true"], limits={"open_files": 16})) == b""
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before


def test_cpu_and_memory_limits_bite(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "while :; do :; done"], limits={"cpu": 1})
    assert p.wait(30) and p.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
    p = spawn([PY, "-c", "x = bytearray(400 << 20)"], limits={"memory": 300 << 20})
    assert p.wait(30) and p.returncode == 1
    assert b"MemoryError" in p.read(E.ERR)[0]


def test_unlimited_values(spawn: Spawner) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    p = spawn(["sh", "-c", "ulimit -c"], limits={"core": (0, hard)})
    assert output(p) == b"0\n"
    p = spawn(["sh", "-c", "ulimit -H -t"], limits={"cpu": (10, None)})
    assert output(p) == b"unlimited\n"


def test_limit_errors_are_clear(spawn: Spawner, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown limit 'nope'"):
        spawn(["true"], limits={"nope": 1})
    with pytest.raises(ValueError, match="above hard"):
        spawn(["true"], limits={"cpu": (5, 1)})
    with pytest.raises(ValueError, match="non-negative"):
        spawn(["true"], limits={"cpu": "5"})
    with pytest.raises(TypeError):
        spawn(["true"], limits=["cpu"])
    # Above the system's maximum, even for root: refused, and said so.
    with pytest.raises(E.SpawnError) as ei:
        spawn(["true"], limits={"open_files": (16, 1 << 40)})
    assert ei.value.errno == errno.EPERM and "open_files limit" in str(ei.value)
    # Exec errors still come back as errno, through the helper.
    script = tmp_path / "no-shebang"
    script.write_text("echo hi\n")
    script.chmod(0o755)
    with pytest.raises(E.SpawnError) as ei:
        spawn([str(script)], limits={"cpu": 5})
    assert ei.value.errno == errno.ENOEXEC and ei.value.filename == str(script)
    with pytest.raises(FileNotFoundError):
        spawn(["pm-no-such-program-xyz"], limits={"cpu": 5})


def test_limited_spawns_leak_nothing(spawn: Spawner) -> None:
    spawn(["true"]).wait(10)
    before = open_fds()
    for _ in range(50):
        p = E.spawn([b"sh", b"-c", b"ls /proc/self/fd"], limits={"cpu": 5})
        assert p.wait(10) and p.wait_eof(10)
        # The helper's report descriptor does not reach the program.
        assert sorted(p.read(E.OUT)[0].split()) == [b"0", b"1", b"2", b"3"]  # 3: ls's own listing
        with pytest.raises(E.SpawnError):
            E.spawn([b"true"], limits={"open_files": (16, 1 << 40)})
    assert open_fds() == before
