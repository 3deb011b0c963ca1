"""The engine itself (Core.ProcessManager._engine), issue 2's measure:
spawn /bin/true with pipes and wait for it, against the C floor doing the
same work and subprocess.run(capture_output=True), interleaved in one loop.

Limits (issue 4, item 2): at most 1.10 times the C floor; the target is
1.05 (reported, not enforced).  The seed's "< 10 ms overhead" for a blocking
call is checked as the median difference to the C floor of the same run.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

import harness
from harness import Contender

floorlib = pytest.importorskip("floorlib", reason="Core.ProcessManager is not installed")

LIMIT = 1.10
TARGET = 1.05
SEED_OVERHEAD_S = 0.010


def verdict(name: str, ratio: float, limit: float, target: float) -> str:
    return (f"{name}: {ratio:.3f} x; limit {limit:.2f} "
            f"{'met' if ratio <= limit else 'MISSED'}, target {target:.2f} "
            f"{'met' if ratio <= target else f'missed by {(ratio / target - 1) * 100:.1f}%'}")


def test_engine_spawn_wait_true(benchmark, engine, cfloor: floorlib.Floor) -> None:
    spawn, OUT, ERR = engine.spawn, engine.OUT, engine.ERR
    argv = [b"/bin/true"]

    def ours() -> int:
        p = spawn(argv)
        p.wait()
        p.wait_eof()
        p.read(OUT)
        p.read(ERR)
        return p.returncode

    def sub() -> int:
        return subprocess.run(["/bin/true"], capture_output=True).returncode

    floor = cfloor.runner(["/bin/true"])
    assert ours() == 0 and floor() == 0 and sub() == 0

    res = harness.interleave(
        benchmark, "engine: spawn /bin/true + pipes + wait",
        Contender("engine", ours),
        [Contender("C floor", floor), Contender("subprocess.run", sub)],
        rounds=harness.rounds(1500), warmup=50)
    r = harness.record(benchmark, res, "engine", ["C floor", "subprocess.run"])
    harness.note(verdict("engine / C floor", r["ratio:C floor"], LIMIT, TARGET))
    harness.note(f"subprocess.run / C floor: {res.ratio('subprocess.run', 'C floor'):.3f} x")
    benchmark.extra_info["limit"] = LIMIT
    benchmark.extra_info["target"] = TARGET
    assert r["overhead:C floor"] < SEED_OVERHEAD_S, "seed target: < 10 ms overhead for a blocking call"
    assert r["ratio:C floor"] <= LIMIT, verdict("engine / C floor", r["ratio:C floor"], LIMIT, TARGET)


def test_engine_background_start(benchmark, engine, cfloor: floorlib.Floor) -> None:
    """Start only (the child is killed and reaped outside the timing): the
    engine's spawn() returning, the floor's start (spawn + epoll
    registration), subprocess.Popen with pipes.  Reported; the enforced
    background limit is on the documented API (test_bench_api.py)."""
    argv = [b"/bin/sleep", b"60"]

    def ours():
        return engine.spawn(argv)

    def ours_done(p) -> None:
        p.send_signal(signal.SIGKILL)
        p.wait()

    def popen():
        return subprocess.Popen(["/bin/sleep", "60"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def popen_done(p) -> None:
        p.kill()
        p.communicate()

    start = cfloor.bg_starter(["/bin/sleep", "60"])
    res = harness.interleave(
        benchmark, "engine: background start of /bin/sleep (pipes)",
        Contender("engine", ours, ours_done),
        [Contender("C floor", start, cfloor.bg_reap), Contender("subprocess.Popen", popen, popen_done)],
        rounds=harness.rounds(600), warmup=20)
    r = harness.record(benchmark, res, "engine", ["C floor", "subprocess.Popen"])
    harness.note(verdict("engine / C floor", r["ratio:C floor"], LIMIT, TARGET) + " (reported only)")

