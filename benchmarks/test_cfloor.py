"""The C floor itself: it does what it claims, leaks nothing, and the
in-process (ctypes) floor is no slower than the same code in a small C
process.  These are checks, not benchmarks of ours."""

from __future__ import annotations

import errno
import json
import os
import signal
import statistics
import subprocess
import time

import pytest

import harness

floorlib = pytest.importorskip("floorlib", reason="Core.ProcessManager is not installed")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_run_true_and_false(cfloor: floorlib.Floor) -> None:
    assert cfloor.runner(["/bin/true"])() == 0
    assert cfloor.runner(["/bin/false"])() == 1
    assert cfloor.runner(["/bin/sh", "-c", "kill -TERM $$"])() == -signal.SIGTERM


def test_exec_failure_is_an_errno(cfloor: floorlib.Floor) -> None:
    with pytest.raises(OSError) as ei:
        cfloor.runner(["/nonexistent/program"])()
    assert ei.value.errno == errno.ENOENT


def test_child_sees_only_0_1_2(cfloor: floorlib.Floor, tmp_path) -> None:
    # The child lists its own descriptors into a file (its stdout is the pipe).
    out = tmp_path / "fds"
    keep = os.open("/dev/null", os.O_RDONLY)  # not O_CLOEXEC: closefrom(3) must drop it
    os.set_inheritable(keep, True)
    try:
        assert cfloor.runner(["/bin/sh", "-c", f"ls /proc/self/fd > {out}"])() == 0
    finally:
        os.close(keep)
    fds = sorted(int(x) for x in out.read_text().split())
    # ls itself opens one descriptor for the directory it lists; sh's
    # redirection is fd 1.
    assert fds[:3] == [0, 1, 2] and len(fds) <= 4, fds


def test_output_is_read_and_nothing_leaks(cfloor: floorlib.Floor) -> None:
    before = open_fds()
    run = cfloor.runner(["/usr/bin/head", "-c", "300000", "/dev/zero"])
    for _ in range(50):
        assert run() == 0
    assert cfloor._bytes.value == 300000
    assert open_fds() == before


def test_background_start_and_reap(cfloor: floorlib.Floor) -> None:
    start = cfloor.bg_starter(["/bin/sleep", "60"])
    cfloor.bg_reap(start())  # the first start opens the floor's epoll instance
    before = open_fds()
    children = [start() for _ in range(20)]
    for c in children:
        assert c.pid > 0
        os.kill(c.pid, 0)  # alive
    for c in children:
        assert cfloor.bg_reap(c, signal.SIGKILL) == -signal.SIGKILL
    assert open_fds() == before


def test_roundtrip_with_cat(cfloor: floorlib.Floor) -> None:
    echo = cfloor.open_echo(["/bin/cat"])
    try:
        rt = echo.roundtrip_fn(b"ping\n")
        for _ in range(100):
            assert rt() == b"ping\n"
    finally:
        assert echo.close() == 0


def test_drain_counts_every_byte(cfloor: floorlib.Floor) -> None:
    assert cfloor.drain(["/usr/bin/head", "-c", str(50 << 20), "/dev/zero"]) == 50 << 20


def test_in_process_floor_is_not_slower_than_a_c_process(cfloor: floorlib.Floor) -> None:
    """The floor timed through ctypes from this Python process against the
    same code timed by floor_cli, a small C process.  The two runs are
    alternated in blocks; the ratio is reported, and only a gross gap fails
    (it would mean the in-process floor pays for something the engine does
    not)."""
    run = cfloor.runner(["/bin/true"])
    n = harness.rounds(300)
    py, cli = [], []
    for block in range(4):
        for _ in range(n // 4):
            t0 = time.perf_counter_ns()
            run()
            py.append(time.perf_counter_ns() - t0)
        proc = subprocess.run([str(cfloor.cli_path), "run", str(n // 4), "/bin/true"],
                              capture_output=True, text=True, check=True)
        cli.append(json.loads(proc.stdout)["median_ns"])
    ratio = statistics.median(py) / statistics.median(cli)
    harness.REPORT.append(
        "C floor, spawn /bin/true + pipes + wait: in this Python process (ctypes) "
        f"{statistics.median(py) / 1e3:.1f} us, in a stand-alone C process "
        f"{statistics.median(cli) / 1e3:.1f} us: ratio {ratio:.3f}")
    assert ratio < 1.5, ratio
