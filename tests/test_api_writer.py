"""write_to_process, communicate_with_process and signals."""

from __future__ import annotations

import signal
import sys

import pytest

from Core.ProcessManager import (ExecutionMode, communicate_with_process, execute_command, interrupt_process,
                                 kill_process, read_from_process, send_signal_to_process, terminate_process,
                                 wait_for_process, write_to_process)

ECHO_SERVER = ("import sys\nfor line in sys.stdin:\n"
               " line = line.strip()\n"
               " if line == 'two': print('first'); print('second')\n"
               " elif line == 'slow': import time; print('partial', end='', flush=True); time.sleep(0.2); print(' READY')\n"
               " else: print('pong:' + line)\n"
               " sys.stdout.flush()\n")


@pytest.fixture
def server_pid() -> int:
    r = execute_command([sys.executable, "-u", "-c", ECHO_SERVER], mode=ExecutionMode.INTERACTIVE)
    assert r.success and r.pid
    return r.pid


def test_write_str_and_bytes(server_pid: int) -> None:
    first = write_to_process(server_pid, "a\n")
    assert first["success"] and first["bytes_written"] == 2 and first["error"] is None
    assert write_to_process(server_pid, "é\n")["bytes_written"] == 3
    assert write_to_process(server_pid, b"b\n")["bytes_written"] == 2
    text = ""
    while text.count("\n") < 3:
        got = read_from_process(server_pid, timeout=10)
        assert got["success"] and not got["eof"]
        text += got["stdout"]
    assert text == "pong:a\npong:é\npong:b\n"


def test_write_never_blocks_on_a_full_pipe() -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.INTERACTIVE)
    big = b"x" * (4 << 20)  # far more than a pipe holds; sleep never reads
    out = write_to_process(r.pid, big)
    assert out["success"] and out["bytes_written"] == len(big) and out["pending"] > 0
    kill_process(r.pid, force=True)


def test_write_errors_name_the_cause(server_pid: int) -> None:
    bg = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    assert "not a pipe" in write_to_process(bg.pid, "x")["error"]
    assert "data must be" in write_to_process(server_pid, 12)["error"]
    assert write_to_process(server_pid, "", close_stdin=True)["success"]
    closed = write_to_process(server_pid, "late\n")
    assert not closed["success"] and "closed" in closed["error"] and closed["bytes_written"] == 0
    wait_for_process(server_pid, timeout=10)
    done = execute_command("true", mode=ExecutionMode.INTERACTIVE)
    wait_for_process(done.pid, timeout=10)
    exited = write_to_process(done.pid, "x")
    assert not exited["success"] and "closed" in exited["error"]
    unmanaged = write_to_process(1, "x")
    assert not unmanaged["success"] and "not started by this ProcessManager" in unmanaged["error"]
    kill_process(bg.pid)


def test_communicate_returns_the_response(server_pid: int) -> None:
    reply = communicate_with_process(server_pid, "ping\n", timeout=10)
    assert reply["success"] and reply["response"] == "pong:ping\n" and reply["bytes_written"] == 5
    assert read_from_process(server_pid)["stdout"] == "", "the response is not read twice"
    both = communicate_with_process(server_pid, "two\n", timeout=10)
    assert both["response"].startswith("first\n")


def test_communicate_until_pattern(server_pid: int) -> None:
    reply = communicate_with_process(server_pid, "slow\n", timeout=10, until=r"READY\n")
    assert reply["matched"] and reply["response"] == "partial READY\n"


def test_communicate_timeout_and_errors(server_pid: int) -> None:
    silent = communicate_with_process(server_pid, None, timeout=0.2)
    assert not silent["success"] and silent["timed_out"] and "no response" in silent["error"]
    missed = communicate_with_process(server_pid, "ping\n", timeout=0.5, until="NEVER")
    assert not missed["success"] and "NEVER" in missed["error"]
    assert not communicate_with_process(server_pid, "x\n", until="(")["success"]
    assert not communicate_with_process(1, "x\n")["success"]


@pytest.mark.parametrize("sig", ["SIGINT", "INT", "sigint", 2, signal.SIGINT])
def test_signals_by_name_or_number(sig: object) -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    sent = send_signal_to_process(r.pid, sig)  # type: ignore[arg-type]
    assert sent["success"] and sent["signal"] == "SIGINT"
    assert wait_for_process(r.pid, timeout=10)["return_code"] == -signal.SIGINT


def test_signal_errors() -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    assert "unknown signal name" in send_signal_to_process(r.pid, "SIGNOPE")["error"]
    assert not send_signal_to_process(r.pid, 999)["success"]
    assert not send_signal_to_process(r.pid, None)["success"]  # type: ignore[arg-type]
    kill_process(r.pid)
    assert "already exited" in send_signal_to_process(r.pid, "TERM")["error"]


def test_interrupt_and_terminate() -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    assert interrupt_process(r.pid)["success"]
    assert wait_for_process(r.pid, timeout=10)["return_code"] == -signal.SIGINT
    t = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    out = terminate_process(t.pid, force=False)
    assert out["success"] and out["return_code"] == -signal.SIGTERM


CONVERSE_SERVER = ("import sys, time\nfor line in sys.stdin:\n"
                   " line = line.strip()\n"
                   " if line == 'err': print('on stderr', file=sys.stderr, flush=True)\n"
                   " elif line == 'slow': print('partial', end='', flush=True); time.sleep(0.3); print(' READY', flush=True)\n"
                   " elif line == 'quit': import os; os.close(1); os.close(2); time.sleep(30)\n"
                   " elif line != 'mute': print('pong:' + line, flush=True)\n")


@pytest.mark.parametrize("style", ["str + float timeout", "bytes + int timeout"])
def test_communicate_paths_agree(style: str) -> None:
    """The usual call (str data, float timeout) takes a short cut to the
    compiled loop; any other goes the general way.  Both give the same
    results, case by case."""
    def talk(text: str, timeout: float) -> dict[str, object]:
        if style.startswith("str"):
            return communicate_with_process(pid, text, timeout=float(timeout))
        return communicate_with_process(pid, text.encode(), timeout=int(timeout) or timeout)

    r = execute_command([sys.executable, "-u", "-c", CONVERSE_SERVER], mode=ExecutionMode.INTERACTIVE)
    pid = r.pid
    assert r.success and pid
    try:
        reply = talk("ping\n", 10)
        assert (reply["success"], reply["response"], reply["stdout"], reply["stderr"]) == (True, "pong:ping\n", "pong:ping\n", "")
        assert (reply["bytes_written"], reply["timed_out"], reply["eof"], reply["matched"], reply["error"]) == (5, False, False, None, None)
        assert reply["state"] == "running" and reply["pid"] == pid
        assert read_from_process(pid)["stdout"] == "", "the cursor moved past the response"
        err = talk("err\n", 10)
        assert err["success"] and (err["stdout"], err["stderr"], err["response"]) == ("", "on stderr\n", "on stderr\n")
        slow = talk("slow\n", 10)  # no line in the first write: the wait goes on for the rest
        assert slow["success"] and slow["response"] == "partial READY\n" and not slow["timed_out"]
        cut = talk("slow\n", 0.1)  # the line comes after the timeout: what came so far
        assert cut["success"] and cut["response"] == "partial" and cut["timed_out"]
        assert read_from_process(pid, timeout=10)["stdout"] == " READY\n"
        silent = talk("mute\n", 0.1)
        assert not silent["success"] and silent["timed_out"] and silent["error"] == "no response within 0.1 s"
        gone = talk("quit\n", 10)
        assert not gone["success"] and gone["eof"] and not gone["timed_out"]
        assert gone["error"] == "the process closed its output without responding"
    finally:
        kill_process(pid, force=True)
    ended = talk("late\n", 10)
    assert not ended["success"] and ended["bytes_written"] == 0 and "closed" in ended["error"]


def test_a_character_cut_by_the_timeout_is_left_for_read_from_process() -> None:
    # "é" is two bytes in UTF-8; the reply stops between them until the next line of input.
    script = ("import sys, os\nsys.stdin.readline()\nos.write(1, b'x\\xc3')\n"
              "sys.stdin.readline()\nos.write(1, b'\\xa9\\n')\n")
    r = execute_command([sys.executable, "-c", script], mode=ExecutionMode.INTERACTIVE)
    try:
        cut = communicate_with_process(r.pid, "go\n", timeout=0.3)
        assert cut["timed_out"] and cut["response"] == "x"
        write_to_process(r.pid, "more\n")
        rest = ""
        while "\n" not in rest:
            got = read_from_process(r.pid, timeout=10)
            assert got["success"], got
            rest += got["stdout"]
        assert rest == "é\n"
    finally:
        kill_process(r.pid, force=True)
