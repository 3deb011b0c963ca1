"""Pseudo-terminals started through posix_spawn (no fork)."""

from __future__ import annotations

import sys

import pytest

from Core.ProcessManager import _engine as E
from engine_helpers import Spawner, spawn  # noqa: F401

PY = sys.executable


def expect(p: E.Process, needle: bytes, offset: int = 0, timeout: float = 10) -> int:
    """Offset just past the first needle after offset."""
    while True:
        data, first, _ = p.read(E.OUT, offset)
        if needle in data:
            return first + data.index(needle) + len(needle)
        if not p.wait_output(first + len(data), None, timeout) or p.stream_info(E.OUT)[3] and \
                first + len(data) == p.stream_info(E.OUT)[0]:
            raise AssertionError(f"{needle!r} not seen in {p.read(E.OUT, offset)[0]!r}")


def test_child_sees_a_terminal_of_the_asked_size(spawn: Spawner) -> None:
    code = "import sys, os; print(sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty(), tuple(os.get_terminal_size()))"
    p = spawn([PY, "-c", code], pty=True, rows=30, cols=100)
    assert p.wait(10) and p.wait_eof(10) and p.returncode == 0
    assert p.read(E.OUT)[0] == b"True True True (100, 30)\r\n"


def test_controlling_terminal_and_session(spawn: Spawner) -> None:
    code = "import os; fd = os.open('/dev/tty', os.O_RDWR); print(os.getsid(0) == os.getpid(), os.tcgetpgrp(fd) == os.getpgrp())"
    p = spawn([PY, "-c", code], pty=True)
    assert p.wait(10) and p.wait_eof(10)
    assert p.read(E.OUT)[0] == b"True True\r\n"


def test_python_repl_round_trip_and_resize(spawn: Spawner) -> None:
    p = spawn([PY, "-i", "-q"], pty=True)
    off = expect(p, b">>> ")
    p.write(b"1+1\n")
    off = expect(p, b"2\r\n", off)
    off = expect(p, b">>> ", off)  # at the prompt again before typing on
    p.set_winsize(50, 120)
    p.write(b"import os; tuple(os.get_terminal_size())\n")
    off = expect(p, b"(120, 50)", off)
    p.write(b"exit()\n")
    assert p.wait(10) and p.returncode == 0
    assert p.wait_eof(10)


def test_interactive_bash_has_job_control(spawn: Spawner) -> None:
    p = spawn(["bash", "--norc", "--noprofile", "-i"], pty=True,
              env=[b"PS1=PM$ ", b"TERM=dumb", b"PATH=/usr/bin:/bin"])
    off = expect(p, b"PM$ ")
    p.write(b"echo $((6*7)); set -o | grep -w monitor\n")
    off = expect(p, b"42\r\n", off)
    expect(p, b"on", off)
    p.write(b"exit\n")
    assert p.wait(10) and p.returncode == 0
    assert b"no job control" not in p.read(E.OUT)[0]


def test_line_buffering_on_a_terminal(spawn: Spawner) -> None:
    # Python's stdout is line-buffered only on a terminal: on a pipe this
    # answer would wait in its buffer until exit.
    p = spawn([PY, "-c", "import sys\nfor line in sys.stdin: print(line.strip().upper())"], pty=True)
    p.write(b"first\n")
    off = expect(p, b"FIRST\r\n")
    p.write(b"second\n")
    expect(p, b"SECOND\r\n", off)
    assert not p.exited
    p.write(b"\x04")  # end of input on a terminal
    assert p.wait(10) and p.returncode == 0


def test_winsize_errors(spawn: Spawner) -> None:
    p = spawn(["true"])
    with pytest.raises(ValueError, match="no pseudo-terminal"):
        p.set_winsize(10, 10)
    with pytest.raises(ValueError):
        E.spawn([b"true"], pty=True, rows=0)
