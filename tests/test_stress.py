"""Faults, load and hostile input: the engine and the API keep working.

Marked `stress` (and `slow` where it takes more than a few seconds); the
whole file runs in about a minute here.  Every figure asserted is a count,
never a wall-clock time, except the documented timeout bounds.
"""

from __future__ import annotations

import gc
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

import psutil
import pytest

from Core.ProcessManager import _engine as E
from Core.ProcessManager import (
    ExecutionMode,
    cleanup_finished_processes,
    execute_command,
    terminate_managed_process,
)
from engine_helpers import Spawner, eventually, open_fds, spawn  # noqa: F401

pytestmark = pytest.mark.stress
PY = sys.executable


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def zombies() -> list[int]:
    return [c.pid for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]


@pytest.fixture
def many_fds() -> Iterator[None]:
    """Raise the soft descriptor limit to the hard one for this test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
def test_ten_thousand_spawns_grow_nothing(spawn: Spawner) -> None:
    def batch(n: int) -> None:
        for i in range(n):
            p = E.spawn([b"/bin/echo", b"%d" % i], stdin=E.PIPE)
            assert p.wait(10) and p.wait_eof(10) and p.read(E.OUT)[0] == b"%d\n" % i

    batch(500)  # warm up: allocator arenas, the reactor, lazy imports
    gc.collect()
    fds, threads, memory = open_fds(), threading.active_count(), rss()
    batch(10_000)
    gc.collect()
    assert eventually(lambda: E.stats()["active"] == 0)
    assert open_fds() == fds
    assert threading.active_count() == threads
    assert len(os.listdir(f"/proc/{os.getpid()}/task")) <= threads + 2  # ours + the reactor
    assert zombies() == []
    # Freed memory may stay in the allocator; what grows with spawns would show.
    assert rss() - memory < 8 * 1024 * 1024, (rss() - memory) // 1024


@pytest.mark.slow
def test_five_hundred_chatty_processes_every_byte_accounted_for(spawn: Spawner, many_fds: None) -> None:
    lines = 2000  # 2000 lines of 50 bytes = 100,000 bytes each, through a 4 KiB ring
    code = f"import sys\nfor i in range({lines}): sys.stdout.write('%049d\\n' % i)\n"
    procs = [spawn([PY, "-S", "-c", code], capacity=4096) for _ in range(500)]
    read_total = [0] * len(procs)
    missed_total = [0] * len(procs)
    offsets = [0] * len(procs)

    def read_each() -> None:
        for i, p in enumerate(procs):
            data, first, missed = p.read(E.OUT, offsets[i])
            read_total[i] += len(data)
            missed_total[i] += missed
            offsets[i] = first + len(data)

    # Read while they run, as an agent would: some bytes are overwritten first.
    while not all(p.exited and not p.pipes_open for p in procs):
        read_each()
        time.sleep(0.005)
    read_each()
    for i, p in enumerate(procs):
        end, dropped, nlines, eof = p.stream_info(E.OUT)
        assert p.returncode == 0 and eof
        assert end == 50 * lines and nlines == lines
        # Every byte written was read or reported missed; only dropped bytes were missed.
        assert read_total[i] + missed_total[i] == end
        assert missed_total[i] <= dropped


def test_child_that_ignores_sigterm_is_killed(spawn: Spawner) -> None:
    t0 = time.monotonic()
    r = execute_command(["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], timeout=0.3)
    assert r.timed_out and r.return_code == -signal.SIGKILL and not r.success
    assert time.monotonic() - t0 < 0.3 + 0.5


def test_child_that_closes_stdout_early(spawn: Spawner) -> None:
    r = execute_command(["sh", "-c", "echo before; exec 1>&-; sleep 0.3; echo after >&2; exit 3"])
    assert r.return_code == 3 and r.stdout == "before\n" and r.stderr == "after\n"


def test_binary_garbage_is_kept_exactly_and_decoded_without_error(spawn: Spawner) -> None:
    blob = os.urandom(1 << 20)
    p = spawn(["cat"], stdin=E.PIPE, growing=True)
    p.write(blob)
    p.close_stdin()
    assert p.wait(10) and p.wait_eof(10)
    assert p.read(E.OUT)[0] == blob
    r = execute_command(["head", "-c", "100000", "/dev/urandom"])
    assert r.success and isinstance(r.stdout, str) and len(r.stdout) > 0


def test_one_100_megabyte_line(spawn: Spawner) -> None:
    r = execute_command("head -c 100000000 /dev/zero | tr '\\0' a", timeout=60)
    assert r.success and len(r.stdout) == 100_000_000 and "\n" not in r.stdout


def test_output_without_newline_still_reaches_callbacks(spawn: Spawner) -> None:
    got: list[str] = []
    seen = threading.Event()

    def on_output(text: str) -> None:
        got.append(text)
        if "partial" in "".join(got):
            seen.set()

    r = execute_command(["sh", "-c", "printf partial; sleep 30"], mode=ExecutionMode.MONITORED,
                        on_output=on_output)
    try:
        assert seen.wait(10), got  # flushed after a short delay, not at exit
    finally:
        terminate_managed_process(r.pid, timeout=1)  # the shell and its sleep: the whole group


def test_a_setsid_daemon_escapes_the_group_as_documented(spawn: Spawner) -> None:
    # Documented limit: a descendant in its own session is not ended by a
    # timeout (it left the group); the call still returns on time.
    t0 = time.monotonic()
    r = execute_command(["sh", "-c", "setsid sleep 30 & echo $!; wait"], timeout=0.3)
    daemon = int(r.stdout.split()[0])
    try:
        assert r.timed_out and time.monotonic() - t0 < 0.3 + 0.5
        assert psutil.pid_exists(daemon) and psutil.Process(daemon).status() != psutil.STATUS_ZOMBIE
    finally:
        os.kill(daemon, signal.SIGKILL)  # the one we started, by its exact pid


def test_descriptor_limit_gives_a_clear_error_then_recovers(spawn: Spawner) -> None:
    assert execute_command(["true"]).success  # engine descriptors exist from here on
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(open_fds()) + 3, hard))
    hog: list[int] = []
    try:
        while True:
            try:
                hog.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                break
        r = execute_command(["echo", "x"])
        assert not r.success and "too many open files" in (r.error or "")
    finally:
        for fd in hog:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    r = execute_command(["echo", "recovered"])
    assert r.success and r.stdout == "recovered\n"


def test_beside_an_application_sigchld_handler_that_reaps_everything() -> None:
    # The handler steals exit statuses with waitpid(-1): nothing may hang,
    # and a lost status is said, not invented.
    code = (
        "import os, signal\n"
        "def reap_all(signum, frame):\n"
        "    try:\n"
        "        while os.waitpid(-1, os.WNOHANG)[0] > 0: pass\n"
        "    except ChildProcessError: pass\n"
        "signal.signal(signal.SIGCHLD, reap_all)\n"
        "from Core.ProcessManager import _engine as E\n"
        "lost = ok = 0\n"
        "for i in range(100):\n"
        "    p = E.spawn([b'sh', b'-c', b'exit 3'])\n"
        "    assert p.wait(10), 'hang'\n"
        "    if p.status_lost: lost += 1\n"
        "    elif p.returncode == 3: ok += 1\n"
        "print(ok + lost)\n"
    )
    r = subprocess.run([PY, "-c", code], capture_output=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"100\n"


def test_beside_asyncio_subprocesses() -> None:
    import asyncio

    async def main() -> tuple[int, bool]:
        proc = await asyncio.create_subprocess_exec("sh", "-c", "sleep 0.2; exit 4")
        ours = await asyncio.get_running_loop().run_in_executor(
            None, lambda: execute_command(["sh", "-c", "exit 5"]))
        return await proc.wait(), ours.return_code == 5

    assert asyncio.run(main()) == (4, True)


def test_fork_in_the_middle_of_activity(spawn: Spawner) -> None:
    busy = [spawn(["sh", "-c", "for i in $(seq 200); do echo $i; sleep 0.005; done"]) for _ in range(5)]
    pid = os.fork()
    if pid == 0:
        ok = 1
        try:
            r = execute_command(["echo", "child"])
            ok = 0 if r.success and r.stdout == "child\n" else 1
        finally:
            os._exit(ok)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for p in busy:
        assert p.wait(30) and p.wait_eof(10) and p.stream_info(E.OUT)[2] == 200


def test_interpreter_shutdown_with_processes_running() -> None:
    code = (
        "from Core.ProcessManager import execute_command, ExecutionMode\n"
        "a = execute_command(['sleep', '30'], mode=ExecutionMode.BACKGROUND)\n"
        "b = execute_command(['sh', '-c', 'trap \"\" TERM; sleep 30'], mode=ExecutionMode.BACKGROUND)\n"
        "c = execute_command(['sleep', '30'], mode=ExecutionMode.BACKGROUND, detach=True)\n"
        "print(a.pid, b.pid, c.pid, flush=True)\n"
    )
    r = subprocess.run([PY, "-c", code], capture_output=True, timeout=60, cwd="/")
    a, b, c = map(int, r.stdout.split())
    try:
        assert r.returncode == 0, r.stderr
        gone = lambda pid: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # noqa: E731
        assert eventually(lambda: gone(a) and gone(b))
        assert not gone(c)  # detach=True: left running, as asked
    finally:
        for pid in (a, b, c):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_cleanup_after_stress() -> None:
    cleanup_finished_processes()
    assert zombies() == []


def test_a_lost_exit_status_is_said_not_invented() -> None:
    code = (
        "import signal\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps every child\n"
        "from Core.ProcessManager import execute_command\n"
        "r = execute_command(['sh', '-c', 'exit 3'])\n"
        "print(r.success, r.return_code, r.error)\n"
    )
    r = subprocess.run([PY, "-c", code], capture_output=True, timeout=60, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"False None exit status lost"), r.stdout
