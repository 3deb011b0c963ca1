"""The reactor: draining, stdin, timeouts, descendants, many children, waiting."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from Core.ProcessManager import _engine as E
from engine_helpers import Spawner, eventually, open_fds, spawn  # noqa: F401

PY = sys.executable


def gone(pid: int, within: float = 5.0) -> bool:
    """True once pid no longer runs (reaped, or a zombie of init)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.01)
    return False


def kill_if_running(pid: int) -> None:
    """End a grandchild this test started (by its exact pid)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_output_readable_while_running_with_offsets(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "echo one; read x; echo two"], stdin=E.PIPE)
    assert p.wait_output(0, 0, 10)
    data, first, missed = p.read(E.OUT)
    assert (data, first, missed) == (b"one\n", 0, 0)
    assert not p.exited
    p.write(b"go\n")
    assert p.wait_output(4, 0, 10)
    assert p.read(E.OUT, 4) == (b"two\n", 4, 0)
    assert p.wait(10) and p.returncode == 0
    end, dropped, lines, eof = p.stream_info(E.OUT)
    assert (end, dropped, lines) == (8, 0, 2)


def test_fixed_ring_counts_what_it_dropped(spawn: Spawner) -> None:
    p = spawn(["head", "-c", "300000", "/dev/zero"], capacity=4096)
    assert p.wait(10) and p.wait_eof(10)
    end, dropped, _, eof = p.stream_info(E.OUT)
    assert end == 300_000 and dropped == 300_000 - 4096 and eof
    data, first, missed = p.read(E.OUT, 0)
    assert first == dropped and missed == dropped and len(data) == 4096
    assert len(p.read(E.OUT, 0, max_bytes=10)[0]) == 10


def test_growing_capture_keeps_everything(spawn: Spawner) -> None:
    p = spawn(["seq", "1", "200000"], growing=True)
    assert p.wait(20) and p.wait_eof(10)
    assert p.read(E.OUT)[0] == b"".join(b"%d\n" % i for i in range(1, 200001))
    assert p.stream_info(E.OUT)[2] == 200000


def test_large_stdin_written_without_blocking_the_caller(spawn: Spawner) -> None:
    payload = os.urandom(3 * 1024 * 1024)
    p = spawn(["cat"], stdin=E.PIPE, growing=True)
    t = time.monotonic()
    assert p.write(payload) == len(payload)  # queued: far more than a pipe holds
    assert time.monotonic() - t < 5
    p.close_stdin()
    assert p.wait(20) and p.wait_eof(10)
    assert p.read(E.OUT)[0] == payload and p.pending_stdin() == 0


def test_write_to_a_dead_child_is_an_error_not_a_signal(spawn: Spawner) -> None:
    p = spawn(["true"], stdin=E.PIPE)
    assert p.wait(10)
    with pytest.raises(BrokenPipeError):
        p.write(b"late\n")
    # A child that closed its stdin but runs on: EPIPE at once.
    p = spawn(["sh", "-c", "exec 0<&-; sleep 5"], stdin=E.PIPE)
    time.sleep(0.2)
    with pytest.raises(BrokenPipeError):
        p.write(b"x" * 10)
    with pytest.raises(BrokenPipeError):
        p.write(b"again")
    # Not a pipe at all: a clear ValueError.
    with pytest.raises(ValueError, match="not a pipe"):
        spawn(["true"]).write(b"x")


def test_no_sigpipe_in_the_parent_even_with_default_disposition() -> None:
    # In a fresh interpreter whose SIGPIPE is SIG_DFL: a write to a closed
    # stdin must raise, not kill the process.
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGPIPE, signal.SIG_DFL)\n"
        "from Core.ProcessManager import _engine as E\n"
        "p = E.spawn([b'sh', b'-c', b'exec 0<&-; sleep 2'], stdin=E.PIPE)\n"
        "time.sleep(0.2)\n"
        "try:\n"
        "    p.write(b'x')\n"
        "except BrokenPipeError:\n"
        "    print('EPIPE')\n"
        "p.terminate(0.1); p.wait(5)\n"
    )
    r = subprocess.run([PY, "-c", code], capture_output=True, timeout=30, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"EPIPE\n"


def test_timeout_ends_the_group_even_when_a_grandchild_holds_the_pipe(spawn: Spawner) -> None:
    t0 = time.monotonic()
    p = spawn(["sh", "-c", "sleep 30 & echo $!; wait"], timeout=0.5)
    assert p.wait_output(0, 0, 10)
    grandchild = int(p.read(E.OUT)[0])
    try:
        assert p.wait(10)
        elapsed = time.monotonic() - t0
        assert p.timed_out and p.returncode == -signal.SIGTERM
        assert elapsed < 0.5 + 0.5, elapsed
        assert gone(grandchild), "the grandchild survived the timeout"
        assert p.wait_eof(5)  # its end closed the pipe
    finally:
        kill_if_running(grandchild)


def test_timeout_escalates_to_sigkill(spawn: Spawner) -> None:
    t0 = time.monotonic()
    p = spawn(["sh", "-c", "trap '' TERM; sleep 30 & echo $!; wait; wait"], timeout=0.3, grace=0.2)
    assert p.wait_output(0, 0, 10)
    grandchild = int(p.read(E.OUT)[0])
    try:
        assert p.wait(10)
        assert p.timed_out and p.returncode == -signal.SIGKILL
        assert time.monotonic() - t0 < 0.3 + 0.2 + 0.5
        assert gone(grandchild)
    finally:
        kill_if_running(grandchild)


def test_exit_while_a_descendant_holds_the_pipe(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "sleep 2 & echo started $!"])
    t0 = time.monotonic()
    assert p.wait(10)
    assert time.monotonic() - t0 < 1.0  # not held back until the pipe closes
    out = p.read(E.OUT)[0]
    assert out.startswith(b"started ") and p.returncode == 0
    descendant = int(out.split()[1])
    try:
        assert p.pipes_open  # still drained: the descendant neither blocks nor gets EPIPE
        assert psutil.pid_exists(descendant)
        assert p.wait_eof(10)
        assert not p.pipes_open
    finally:
        kill_if_running(descendant)


def test_descendant_keeps_writing_after_the_child_exits(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "(sleep 0.3; echo late) & echo early"])
    assert p.wait(10)
    assert p.read(E.OUT)[0] == b"early\n"
    assert p.wait_eof(10)
    assert p.read(E.OUT)[0] == b"early\nlate\n"


def test_terminate_and_escalation(spawn: Spawner) -> None:
    p = spawn(["sleep", "30"])
    p.terminate(grace=1)
    assert p.wait(10) and p.returncode == -signal.SIGTERM and not p.timed_out
    p = spawn(["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"])
    assert p.wait_output(0, 0, 10)
    p.terminate(grace=0.2)
    assert p.wait(10) and p.returncode == -signal.SIGKILL
    # Signals after the exit reach nobody.
    assert p.send_signal(signal.SIGTERM) is False
    assert p.signal_group(signal.SIGTERM) is False
    p.terminate()  # no-op, no error


def test_close_pipes_stops_draining(spawn: Spawner) -> None:
    p = spawn(["yes"])
    assert p.wait_output(0, 0, 10)
    p.close_pipes()
    assert p.wait(10) and p.returncode == -signal.SIGPIPE
    assert not p.pipes_open and len(p.read(E.OUT)[0]) > 0


def test_set_timeout_later(spawn: Spawner) -> None:
    p = spawn(["sleep", "30"])
    assert not p.wait(0.1)
    p.set_timeout(0.2)
    assert p.wait(10) and p.timed_out


def test_many_threads_wait_at_once(spawn: Spawner) -> None:
    procs = [spawn(["sh", "-c", f"sleep 0.{i % 5}; exit {i % 7}"]) for i in range(20)]
    results: dict[int, int | None] = {}

    def waiter(i: int) -> None:
        p = procs[i % len(procs)]
        assert p.wait(20)
        results[i] = p.returncode

    threads = [threading.Thread(target=waiter, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(results[i] == (i % 20) % 7 for i in range(60))


def test_200_children_at_once(spawn: Spawner) -> None:
    before = open_fds()
    procs = [spawn(["sh", "-c", f"echo {i}; sleep 0.3; echo done {i} >&2"]) for i in range(200)]
    for i, p in enumerate(procs):
        assert p.wait(30) and p.wait_eof(10)
        assert p.returncode == 0
        assert p.read(E.OUT)[0] == b"%d\n" % i and p.read(E.ERR)[0] == b"done %d\n" % i
    assert open_fds() == before
    assert eventually(lambda: E.stats()["active"] == 0)


def test_thousand_spawns_leave_no_descriptor_and_no_zombie(spawn: Spawner) -> None:
    spawn(["true"]).wait(10)
    before = open_fds()
    live_before = E.stats()["live"]
    for _ in range(1000):
        p = E.spawn([b"/bin/echo", b"x"], stdin=E.PIPE)
        assert p.wait(10) and p.wait_eof(10)
        assert p.read(E.OUT)[0] == b"x\n"
        p.close_stdin()
    del p
    assert open_fds() == before
    assert eventually(lambda: E.stats()["live"] == live_before)
    zombies = [c for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]
    assert zombies == []


def test_wait_timeout_and_bad_values(spawn: Spawner) -> None:
    p = spawn(["sleep", "30"])
    t0 = time.monotonic()
    assert p.wait(0.2) is False
    assert 0.15 < time.monotonic() - t0 < 5
    with pytest.raises(ValueError):
        p.wait(-1)
    with pytest.raises(ValueError):
        p.wait(float("nan"))
    with pytest.raises(ValueError):
        p.read(3)


def test_concurrent_readers_see_consistent_bytes_while_the_ring_wraps(spawn: Spawner) -> None:
    # Byte at absolute offset i is i % 251: any torn or misplaced read shows.
    code = ("import sys\n"
            "block = bytes(i % 251 for i in range(251 * 64))\n"
            "for _ in range(400): sys.stdout.buffer.write(block)\n")
    p = spawn([PY, "-c", code], capacity=8192)
    errors: list[str] = []

    def reader() -> None:
        offset = 0
        while True:
            data, first, missed = p.read(E.OUT, offset)
            if first != offset + missed:
                errors.append(f"first {first} != {offset} + {missed}")
            if any(b != (first + j) % 251 for j, b in enumerate(data[:4096])):
                errors.append(f"wrong bytes at {first}")
            offset = first + len(data)
            if not p.wait_output(offset, None, 5) or p.stream_info(E.OUT)[3] and offset == p.stream_info(E.OUT)[0]:
                return

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert p.wait(10) and p.returncode == 0
    assert errors == []
    assert p.stream_info(E.OUT)[0] == 251 * 64 * 400


def test_waiting_releases_the_gil(spawn: Spawner) -> None:
    p = spawn(["sleep", "0.5"])
    counter = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        assert p.wait(10)
    finally:
        stop.set()
        t.join()
    assert counter[0] > 1000  # the other thread ran while we waited


def test_set_capacity_stops_growth_and_counts_drops(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "head -c 100000 /dev/zero; read x; head -c 50000 /dev/zero"],
              stdin=E.PIPE, growing=True)
    assert eventually(lambda: p.stream_info(E.OUT)[0] == 100_000)
    assert p.stream_info(E.OUT)[1] == 0
    p.set_capacity(4096)
    end, dropped, _, _ = p.stream_info(E.OUT)
    assert (end, dropped) == (100_000, 100_000 - 4096)
    assert len(p.read(E.OUT)[0]) == 4096
    p.write(b"go\n")
    assert p.wait(10) and p.wait_eof(10)
    assert p.stream_info(E.OUT)[:2] == (150_000, 150_000 - 4096)
    with pytest.raises(ValueError):
        p.set_capacity(-1)


def test_a_dropped_handle_stops_draining_after_exit() -> None:
    E.spawn([b"true"]).wait(10)  # the engine's own descriptors exist from here on
    before = open_fds()
    p = E.spawn([b"sh", b"-c", b"sleep 30 & echo $!"])
    assert p.wait(10)
    descendant = int(p.read(E.OUT)[0])
    try:
        assert p.pipes_open  # the descendant holds stdout
        del p  # nobody can read it any more: the engine lets go
        assert eventually(lambda: open_fds() == before and E.stats()["active"] == 0)
    finally:
        kill_if_running(descendant)


def test_waiting_on_one_stream_ends_at_its_eof(spawn: Spawner) -> None:
    # stdout closes early while stderr stays open: a wait on stdout alone
    # returns at its EOF, not at the deadline.
    p = spawn(["sh", "-c", "exec 1>&-; sleep 5"])
    t0 = time.monotonic()
    assert p.wait_output(0, None, 10)
    assert time.monotonic() - t0 < 5
    assert p.stream_info(E.OUT)[3] and not p.stream_info(E.ERR)[3]
    assert not p.wait_output(None, 0, 0.1)  # stderr is still open and silent


def test_ctrl_c_interrupts_a_wait_on_the_main_thread(spawn: Spawner) -> None:
    p = spawn(["sleep", "30"])
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        p.wait(30)
    assert time.monotonic() - t0 < 10
    timer.join()
