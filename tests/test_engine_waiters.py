"""Waiting on the descriptors themselves: one waiter at a time (the poller)
polls a process's pipes or pidfd and drains or reaps there, the other
waiters sleep on the condition; a stream stays muted in the reactor for a
short lease after the poller leaves.  No wake-up may be lost, no output
left undrained, no descriptor leaked."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from Core.ProcessManager import _engine as E
from engine_helpers import Spawner, eventually, open_fds, spawn  # noqa: F401

PY = sys.executable
# Liveness bounds: far above any normal latency, far below the waits' own timeouts.
PROMPT = 5.0
LONG_WAIT = 30.0


def waited(fn: object, *args: object) -> tuple[object, float]:
    start = time.monotonic()
    result = fn(*args)  # type: ignore[operator]
    return result, time.monotonic() - start


def test_exchange_writes_waits_and_reads_both_streams(spawn: Spawner) -> None:
    p = spawn(["cat"], stdin=E.PIPE)
    ok, out, o, err, e, eof = p.exchange(b"one\n", None, None, LONG_WAIT)
    assert (ok, out, o, err, e, eof) == (True, b"one\n", 4, b"", 0, False)
    ok, out, o, err, e, eof = p.exchange(b"two\n", o, e, LONG_WAIT)
    assert (ok, out, o) == (True, b"two\n", 8)
    # Offsets in the past give everything since them.
    assert p.exchange(None, 0, 0, 0)[1:3] == (b"one\ntwo\n", 8)
    p.close_stdin()
    ok, out, o, err, e, eof = p.exchange(None, o, e, LONG_WAIT)
    assert ok and eof and out == b""


def test_exchange_reads_stderr_and_times_out_without_output(spawn: Spawner) -> None:
    p = spawn(["sh", "-c", "while read l; do echo \"$l\" >&2; done"], stdin=E.PIPE)
    ok, out, o, err, e, eof = p.exchange(b"x\n", None, None, LONG_WAIT)
    assert ok and out == b"" and err == b"x\n" and e == 2
    (ok, out, o2, err, e2, eof), took = waited(p.exchange, None, o, e, 0.05)
    assert not ok and out == err == b"" and (o2, e2) == (o, e) and not eof
    assert took < PROMPT


def test_exchange_write_errors_raise_like_write(spawn: Spawner) -> None:
    no_stdin = spawn(["true"])
    with pytest.raises(ValueError):
        no_stdin.exchange(b"x", None, None, 1)
    dead = spawn(["true"], stdin=E.PIPE)
    assert dead.wait(LONG_WAIT)
    with pytest.raises(BrokenPipeError):
        dead.exchange(b"x", None, None, 1)


def test_converse_collects_until_a_line_then_stops(spawn: Spawner) -> None:
    # "go": the answer comes in two writes 0.2 s apart, the first without a
    # line.  "stall": half an answer, the rest only after the next input.
    p = spawn([PY, "-u", "-c", "import sys, time\nfor l in sys.stdin:\n"
               " print('half', end='', flush=True)\n"
               " if l == 'stall\\n': sys.stdin.readline()\n"
               " else: time.sleep(0.2)\n"
               " print(' whole', flush=True); print('late', file=sys.stderr, flush=True)"], stdin=E.PIPE)
    out, o, err, e, eof, timed_out = p.converse(b"go\n", LONG_WAIT)
    assert (out, o, eof, timed_out) == (b"half whole\n", 11, False, False)
    assert err in (b"", b"late\n") and e == len(err)
    assert p.wait_output(None, 0, LONG_WAIT)
    # A timeout before any line: what came so far, timed_out.
    out, o, err, e, eof, timed_out = p.converse(b"stall\n", 0.2)
    assert (out, o, err, eof, timed_out) == (b"half", 15, b"", False, True)
    out, o, err, e, eof, timed_out = p.converse(b"\n", LONG_WAIT)
    assert (out, o, eof, timed_out) == (b" whole\n", 22, False, False)
    assert p.wait_output(None, 5, LONG_WAIT)
    # Nothing to write and nothing coming: timeout 0 answers at once.
    (out, _o, _err, _e, eof, timed_out), took = waited(p.converse, None, 0)
    assert timed_out and out == b"" and took < PROMPT
    p.close_stdin()
    out, _o, _err, _e, eof, timed_out = p.converse(None, LONG_WAIT)
    assert eof and not timed_out and out == b""


def test_converse_checks_its_timeout_before_writing(spawn: Spawner) -> None:
    p = spawn(["cat"], stdin=E.PIPE)
    for bad in (-1, float("nan"), "soon", "1", True):
        with pytest.raises((ValueError, TypeError)):
            p.converse(b"never\n", bad)
        with pytest.raises((ValueError, TypeError)):
            p.exchange(b"never\n", None, None, bad)
    assert p.converse(b"x\n", LONG_WAIT)[0] == b"x\n", "nothing was written before"
    with pytest.raises(ValueError):
        spawn(["true"]).converse(b"x", 1)
    dead = spawn(["true"], stdin=E.PIPE)
    assert dead.wait(LONG_WAIT)
    with pytest.raises(BrokenPipeError):
        dead.converse(b"x", 1)


def test_every_waiter_wakes_while_one_polls(spawn: Spawner) -> None:
    p = spawn(["cat"], stdin=E.PIPE)
    woke: list[bool] = []
    threads = [threading.Thread(target=lambda: woke.append(p.wait_output(0, None, LONG_WAIT)))
               for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.1)  # all of them waiting: one polls, seven sleep on the condition
    p.write(b"go\n")
    for t in threads:
        t.join(LONG_WAIT)
    assert woke == [True] * 8


def test_close_pipes_wakes_a_waiter_polling_the_pipe(spawn: Spawner) -> None:
    p = spawn(["sleep", "30"])
    result: list[tuple[object, float]] = []
    t = threading.Thread(target=lambda: result.append(waited(p.wait_output, 0, 0, LONG_WAIT)))
    t.start()
    time.sleep(0.1)
    p.close_pipes()  # done by the reactor: the poller learns it through its eventfd
    t.join(LONG_WAIT)
    ok, took = result[0]
    assert ok is True and took < PROMPT


def test_exit_wakes_a_waiter_on_output_while_a_descendant_holds_the_pipe(spawn: Spawner) -> None:
    # The last output comes just before the exit, with a background child
    # keeping the pipe open: whoever drains it (the poller or the reactor
    # reaping), the waiter must wake.  Repeated to shake out the races.
    for _ in range(30):
        p = spawn(["sh", "-c", "sleep 30 <&- & echo $!; exit 0"])  # the sleep's pid, last
        try:
            (ok, took) = waited(p.wait_output, 0, None, LONG_WAIT)
            assert ok is True and took < PROMPT
            out = p.read(E.OUT)[0]
            while not out.endswith(b"\n"):
                assert p.wait_output(len(out), None, LONG_WAIT)
                out = p.read(E.OUT)[0]
            assert out.strip().isdigit()
            assert p.wait(LONG_WAIT)
        finally:
            # The shell is reaped: its group is no longer ours to signal, so
            # the sleep is ended by the pid it gave.
            out = p.read(E.OUT)[0]
            if out.strip().isdigit():
                os.kill(int(out), signal.SIGKILL)


def test_output_after_a_direct_wait_is_still_drained(spawn: Spawner) -> None:
    # After the exchange, the stream is muted for the lease; the child then
    # writes 4 MB (far more than a pipe holds) with nobody waiting: the
    # reactor must take the stream back, or the child would block forever.
    script = "import os, sys, time; sys.stdin.readline(); os.write(1, b'ok\\n'); " \
             "time.sleep(0.05); sys.stdout.write('z' * (4 << 20)); sys.stdout.flush()"
    p = spawn([PY, "-c", script], stdin=E.PIPE)
    ok, out, o, _err, _e, _eof = p.exchange(b"\n", None, None, LONG_WAIT)
    assert ok and out == b"ok\n"
    # Not waited for (a wait would poll, and drain, itself): only watched.
    assert eventually(lambda: p.stream_info(E.OUT)[0] == o + (4 << 20))
    assert eventually(lambda: p.exited) and p.returncode == 0


def test_channel_is_notified_when_the_waiter_drains(spawn: Spawner) -> None:
    ch = E.NoticeChannel()
    p = spawn(["cat"], stdin=E.PIPE)
    p.subscribe(ch, 7)
    assert ch.wait(LONG_WAIT) == [7]  # a subscription is notified at once
    assert p.exchange(b"x\n", None, None, LONG_WAIT)[1] == b"x\n"
    assert ch.wait(LONG_WAIT) == [7]
    p.unsubscribe(ch)


def test_direct_waits_leave_no_descriptor_behind(spawn: Spawner) -> None:
    before = open_fds()
    for _ in range(3):
        procs = [spawn(["cat"], stdin=E.PIPE) for _ in range(30)]
        for p in procs:
            assert p.exchange(b"x\n", None, None, LONG_WAIT)[1] == b"x\n"
            p.close_stdin()
            assert p.wait(LONG_WAIT) and p.wait_eof(LONG_WAIT)
        spawn.end_all()
        del procs, p
    assert eventually(lambda: open_fds() <= before)


def test_fork_while_another_thread_polls(spawn: Spawner) -> None:
    p = spawn(["cat"], stdin=E.PIPE)
    t = threading.Thread(target=p.wait_output, args=(0, None, LONG_WAIT))
    t.start()
    time.sleep(0.1)
    pid = os.fork()
    if pid == 0:  # the child: a fresh engine, which works
        code = 1
        try:
            q = E.spawn([b"cat"], stdin=E.PIPE)
            code = 0 if q.exchange(b"y\n", None, None, 10)[1] == b"y\n" else 2
            q.close_stdin()
            q.wait(10)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    p.write(b"x\n")
    t.join(LONG_WAIT)
    assert not t.is_alive() and p.read(E.OUT)[0] == b"x\n"


def test_exit_after_a_timed_out_wait_is_still_reaped_and_drained(spawn: Spawner) -> None:
    # A wait for the exit polls the pidfd and the pipes itself; when it gives
    # up, they stay muted for the lease, then the reactor takes them back:
    # the output is drained and the exit collected with nobody waiting.
    script = "import sys, time; time.sleep(0.2); sys.stdout.write('z' * (4 << 20)); sys.stdout.flush()"
    p = spawn([PY, "-c", script], growing=True)
    assert not p.wait(0.05)
    assert eventually(lambda: p.exited) and p.returncode == 0
    assert eventually(lambda: p.stream_info(E.OUT)[0] == 4 << 20)
    assert eventually(lambda: not p.pipes_open)


def test_a_waiter_for_the_exit_drains_the_pipes_itself(spawn: Spawner) -> None:
    # 8 MB through a pipe of 64 KB: the child finishes only if someone
    # drains while the caller waits for its exit.
    p = spawn([PY, "-c", "import sys; sys.stdout.write('y' * (8 << 20))"], growing=True)
    assert p.wait(LONG_WAIT) and p.returncode == 0
    assert p.wait_eof(LONG_WAIT) and p.stream_info(E.OUT)[0] == 8 << 20


def test_processes_reaped_by_a_waiter_are_let_go_of(spawn: Spawner) -> None:
    # The reactor lets go of them lazily (one timer for all, not a wake-up
    # each), but it does: nothing stays active, nothing stays allocated.
    # The baseline is taken once the earlier tests' processes are let go of.
    def settled() -> bool:
        before = E.stats()
        time.sleep(0.05)  # ten times the lazy kick's delay
        return E.stats() == before

    assert eventually(settled)
    base = E.stats()
    procs = [spawn(["true"]) for _ in range(50)]
    for p in procs:
        assert p.wait(LONG_WAIT) and p.wait_eof(LONG_WAIT)
    assert eventually(lambda: E.stats()["active"] == base["active"])
    spawn.end_all()
    del procs, p
    assert eventually(lambda: E.stats()["live"] == base["live"])


def test_a_waited_spawn_whose_waiter_never_comes_is_taken_over_by_the_reactor(spawn: Spawner) -> None:
    # waited=True starts the pipes and pidfd muted for a wait that is to
    # come at once.  Without one, the reactor takes them after the lease:
    # the child (which writes far more than a pipe holds) is drained and
    # reaped all the same.  exited and stream_info never poll themselves.
    size = 4 << 20
    p = spawn(["head", "-c", str(size), "/dev/zero"], growing=True, waited=True)
    assert eventually(lambda: p.exited and p.stream_info(E.OUT)[0] == size, within=LONG_WAIT)
    assert p.returncode == 0


def test_a_waited_spawn_gives_the_same_results(spawn: Spawner) -> None:
    for waited in (False, True):
        p = spawn(["sh", "-c", "echo out; echo err >&2; exit 3"], growing=True, waited=waited)
        assert p.wait(LONG_WAIT) and p.wait_eof(LONG_WAIT)
        assert (p.returncode, p.read(E.OUT, 0)[0], p.read(E.ERR, 0)[0]) == (3, b"out\n", b"err\n")


def test_a_waited_spawn_keeps_its_timeout(spawn: Spawner) -> None:
    p = spawn(["sleep", "30"], waited=True, timeout=0.2, grace=0.1)
    (ended, took) = waited(p.wait, LONG_WAIT)
    assert ended and p.timed_out and took < PROMPT
