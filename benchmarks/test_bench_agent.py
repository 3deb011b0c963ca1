"""Agent workloads (issue 6): expect on a REPL against pexpect, and 1,000
concurrent awaits against asyncio's subprocesses.

Both are timed with harness.interleave (contenders in the same rounds,
rotating order) and only ratios are asserted:

    measure                                   enforced
    REPL round trip (1+1 -> 2), expect()      <= 1/20 x pexpect (defaults)
                                              <  1 x pexpect (delaybeforesend=None)
    1,000 concurrent execute_command_async    reported: wall time and parent CPU
    of `true` vs create_subprocess_exec       against asyncio (and under uvloop)
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import threading
from typing import Any, Callable

import pytest

import harness
from harness import Contender

PY = sys.executable
REPL_LIMITS = {"pexpect (defaults)": 1 / 20, "pexpect delaybeforesend=None": 1.0}


def test_repl_roundtrip_vs_pexpect(benchmark, pm) -> None:  # type: ignore[no-untyped-def]
    """``1+1`` typed into a Python REPL on a pseudo-terminal and its answer
    up to the next prompt: write_to_process + expect(pid, ">>> ") against
    pexpect's sendline + expect(">>> ") with its defaults (it sleeps
    delaybeforesend = 50 ms before each send) and with
    delaybeforesend=None.  Each contender has its own REPL, started with
    the same argv and environment; timed in batches of 5 round trips."""
    pexpect = pytest.importorskip("pexpect")
    argv = [PY, "-i", "-q"]
    env = dict(os.environ, TERM="dumb", PYTHONSTARTUP="")
    started = pm.execute_command(argv, mode=pm.ExecutionMode.INTERACTIVE, pty=True, env=env)
    assert started.success, started
    pid = started.pid
    write, expect = pm.write_to_process, pm.expect
    default = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=10)
    fast = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=10)
    fast.delaybeforesend = None
    try:
        assert expect(pid, ">>> ", timeout=10).success
        default.expect(">>> ")
        fast.expect(">>> ")

        def ours() -> Any:
            write(pid, "1+1\n")
            return expect(pid, ">>> ", timeout=10)

        def pexp_default() -> None:
            default.sendline("1+1")
            default.expect(">>> ")

        def pexp_fast() -> None:
            fast.sendline("1+1")
            fast.expect(">>> ")

        first = ours()
        assert first.success and first.before.endswith("2\r\n"), first
        pexp_fast()
        assert fast.before.endswith("2\r\n"), fast.before

        res = harness.interleave(
            benchmark, "REPL round trip on a pty: write_to_process(pid, '1+1\\n') + expect(pid, '>>> ')",
            Contender("ours", ours),
            [Contender("pexpect (defaults)", pexp_default),
             Contender("pexpect delaybeforesend=None", pexp_fast)],
            rounds=harness.rounds(30), warmup=3, batch=5)
        last = ours()
        assert last.success and last.before.endswith("2\r\n"), "still in step after all the rounds"
    finally:
        default.close(force=True)
        fast.close(force=True)
        pm.kill_process(pid, force=True)
        pm.cleanup_finished_processes()
    r = harness.record(benchmark, res, "ours", list(REPL_LIMITS))
    verdicts = []
    for peer, limit in REPL_LIMITS.items():
        ratio = r[f"ratio:{peer}"]
        ok = ratio <= limit if limit < 1 else ratio < limit
        verdicts.append((peer, ratio, limit, ok))
        harness.note(f"ours / {peer}: {ratio:.4f} x ({1 / ratio:.1f} times faster); "
                     f"limit {'<=' if limit < 1 else '<'} {limit:.3f}: {'met' if ok else 'MISSED'}")
    benchmark.extra_info["limits"] = {p: lim for p, lim in REPL_LIMITS.items()}
    for peer, ratio, limit, ok in verdicts:
        assert ok, f"REPL round trip: ours / {peer} = {ratio:.4f}, limit {limit:.3f}"


# -- 1,000 concurrent awaits ------------------------------------------------------

N_AWAITS = int(os.environ.get("PM_BENCH_AWAITS", "1000"))


class CpuProbe:
    """Parent CPU time (user + system, all threads) and peak thread count
    (sampled every 2 ms by a thread that does not count itself) per call."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}
        self.threads: dict[str, list[int]] = {}

    def wrap(self, name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        self.cpu[name], self.threads[name] = [], []

        def run() -> Any:
            stop = threading.Event()
            peak = [0]

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], threading.active_count() - 1)
                    stop.wait(0.002)

            t = threading.Thread(target=sample, daemon=True)
            t.start()
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            try:
                return fn()
            finally:
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                stop.set()
                t.join()
                self.cpu[name].append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
                self.threads[name].append(peak[0])

        return run

    def median_cpu(self, name: str) -> float:
        xs = sorted(self.cpu[name])
        return xs[len(xs) // 2]


@pytest.mark.slow
def test_1000_concurrent_awaits_vs_asyncio(benchmark, pm) -> None:  # type: ignore[no-untyped-def]
    """N_AWAITS (1,000) ``true`` processes awaited at once, output captured:
    asyncio.gather of execute_command_async(["true"]) against
    asyncio.create_subprocess_exec("true", stdout=PIPE, stderr=PIPE) +
    communicate(), each on a fresh asyncio loop, and both again on a uvloop
    loop when uvloop is installed.  Wall time (interleaved rounds), parent
    CPU time and peak Python thread count per contender."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = N_AWAITS * 8 + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need} descriptors needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    n = N_AWAITS
    argv = ["true"]

    async def ours_main() -> None:
        results = await asyncio.gather(*(pm.execute_command_async(argv) for _ in range(n)))
        assert all(r.success for r in results)

    async def one() -> int:
        p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
        await p.communicate()
        return p.returncode  # type: ignore[return-value]

    async def aio_main() -> None:
        codes = await asyncio.gather(*(one() for _ in range(n)))
        assert codes == [0] * n

    def on_asyncio(main: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            asyncio.run(main())
            pm.cleanup_finished_processes()
        return run

    probe = CpuProbe()
    ours = Contender("ours", probe.wrap("ours", on_asyncio(ours_main)))
    peers = [Contender("asyncio", probe.wrap("asyncio", on_asyncio(aio_main)))]
    try:
        import uvloop
    except ImportError:
        uvloop = None
    if uvloop is not None:
        def on_uvloop(main: Callable[[], Any]) -> Callable[[], None]:
            def run() -> None:
                loop = uvloop.new_event_loop()
                try:
                    loop.run_until_complete(main())
                finally:
                    loop.close()
                pm.cleanup_finished_processes()
            return run
        peers += [Contender("ours on uvloop", probe.wrap("ours on uvloop", on_uvloop(ours_main))),
                  Contender("asyncio on uvloop", probe.wrap("asyncio on uvloop", on_uvloop(aio_main)))]
    res = harness.interleave(
        benchmark, f"{n} concurrent awaits of `true`: execute_command_async vs create_subprocess_exec",
        ours, peers, rounds=max(3, int(os.environ.get("PM_BENCH_HEAVY_ROUNDS", "5"))), warmup=1)
    names = [c.name for c in peers]
    r = harness.record(benchmark, res, "ours", names)
    for name in ["ours", *names]:
        cpu = probe.median_cpu(name)
        thr = max(probe.threads[name])
        benchmark.extra_info[f"parent_cpu_s:{name}"] = cpu
        benchmark.extra_info[f"peak_threads:{name}"] = thr
        harness.note(f"{name:<28} parent CPU {cpu:.3f} s   peak threads {thr}")
    harness.note(f"wall ours / asyncio: {r['ratio:asyncio']:.3f} x; parent CPU ours / asyncio: "
                 f"{probe.median_cpu('ours') / probe.median_cpu('asyncio'):.3f} x")
    if uvloop is not None:
        harness.note(f"under uvloop: wall {res.ratio('ours on uvloop', 'asyncio on uvloop'):.3f} x, parent CPU "
                     f"{probe.median_cpu('ours on uvloop') / probe.median_cpu('asyncio on uvloop'):.3f} x "
                     "(ours / uvloop's own subprocesses)")
