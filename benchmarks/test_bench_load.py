"""Heavier measures of issue 4: pipe throughput with peak RSS, 1,000
processes at once, and spawn cost against the parent's size.  All interleaved
with their peers as in test_bench_api.py; these report figures and ratios
(issue 4 sets no limit on them), and fail only when a result is wrong.

Sizes can be scaled down for a quick look:
  PM_BENCH_THROUGHPUT_BYTES (default 1 GiB), PM_BENCH_SCALE_PROCS (1000),
  PM_BENCH_HEAVY_ROUNDS (3).
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import harness
from harness import Contender

floorlib = pytest.importorskip("floorlib", reason="Core.ProcessManager is not installed")

MiB = 1 << 20
GiB = 1 << 30
THROUGHPUT_BYTES = int(os.environ.get("PM_BENCH_THROUGHPUT_BYTES", GiB))
SCALE_PROCS = int(os.environ.get("PM_BENCH_SCALE_PROCS", 1000))
HEAVY_ROUNDS = int(os.environ.get("PM_BENCH_HEAVY_ROUNDS", 3))
HEAD = shutil.which("head") or "/usr/bin/head"
SEQ = shutil.which("seq") or "/usr/bin/seq"


def mb_s(nbytes: int, seconds: float) -> str:
    return f"{nbytes / seconds / 1e6:,.0f} MB/s"


# -- throughput -----------------------------------------------------------------

def _drain_popen(argv: list[str]) -> int:
    """Python's plain way to consume a stream without keeping it."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    fd, n = p.stdout.fileno(), 0  # type: ignore[union-attr]
    while True:
        chunk = os.read(fd, MiB)
        if not chunk:
            break
        n += len(chunk)
    p.communicate()
    return n


@pytest.mark.slow
@pytest.mark.parametrize("capture", ["ring", "full"])
def test_throughput(benchmark, pm, cfloor: floorlib.Floor, capture: str) -> None:
    """`head -c 1G /dev/zero` captured by ours: in the background into the
    fixed ring (ring: started BACKGROUND, done when its output is at EOF and
    it has exited), or whole (full: BLOCKING, the result's stdout holds it
    all).  Peers: the C floor's drain of the same pipe; for ring, a Popen
    whose pipe Python reads and drops; for full, subprocess.run(capture_output
    =True).  MB/s from the medians, and the parent's peak RSS above its RSS
    before each call."""
    n = THROUGHPUT_BYTES
    argv = [HEAD, "-c", str(n), "/dev/zero"]
    execute_command, info = pm.execute_command, pm.get_process_output_info

    if capture == "ring":
        def ours() -> int:
            r = execute_command(argv, mode=pm.ExecutionMode.BACKGROUND)
            assert r.success, r
            while True:
                i = info(r.pid)
                if i["eof"] and not i["running"]:
                    break
                time.sleep(0.001)
            assert i["stdout_size"] == n, i
            pm.cleanup_finished_processes()
            return i["stdout_size"]

        peer = Contender("Popen + os.read, dropped", lambda: _drain_popen(argv))
    else:
        def ours() -> int:
            r = execute_command(argv, mode=pm.ExecutionMode.BLOCKING)
            assert r.success and len(r.stdout) == n, (r.success, r.error, len(r.stdout))
            pm.cleanup_finished_processes()
            return len(r.stdout)

        peer = Contender("subprocess.run", lambda: len(subprocess.run(argv, capture_output=True).stdout))

    res = harness.interleave(
        benchmark, f"throughput, {capture}: {n / GiB:g} GiB from head -c /dev/zero",
        Contender("ours", ours),
        [Contender("C floor", lambda: cfloor.drain(argv)), peer],
        rounds=HEAVY_ROUNDS, warmup=0, track_rss=True)
    r = harness.record(benchmark, res, "ours", ["C floor", peer.name])
    for name in ("ours", "C floor", peer.name):
        benchmark.extra_info[f"MB_s:{name}"] = n / res.median(name) / 1e6
        benchmark.extra_info[f"peak_rss:{name}"] = res.peak_rss(name)
        harness.note(f"{name:<28} {mb_s(n, res.median(name)):>12}   peak RSS +{res.peak_rss(name) / MiB:,.0f} MiB")
    harness.note(f"throughput ours / C floor: {res.median('C floor') / res.median('ours'):.2f} "
                 f"(ratio of time {r['ratio:C floor']:.2f} x)")


# -- scale: 1,000 processes at once ---------------------------------------------

class Probe:
    """Parent CPU time (user + system, all threads) and the peak number of
    threads of this process while a contender runs, sampled every 2 ms by
    a thread that does not count itself."""

    def __init__(self) -> None:
        self.cpu: dict[str, list[float]] = {}
        self.threads: dict[str, list[int]] = {}

    def wrap(self, name: str, fn):  # type: ignore[no-untyped-def]
        self.cpu[name], self.threads[name] = [], []

        def run() -> Any:
            stop = threading.Event()
            peak = [0]

            def sample() -> None:
                while not stop.is_set():
                    with open("/proc/self/status") as f:
                        for line in f:
                            if line.startswith("Threads:"):
                                peak[0] = max(peak[0], int(line.split()[1]) - 1)
                                break
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


@pytest.mark.slow
def test_scale_1000_processes(benchmark, pm, cfloor: floorlib.Floor) -> None:
    """SCALE_PROCS children at once, each printing 100 lines (seq 100), all
    waited for with their output: ours (execute_command_async BLOCKING,
    gathered), asyncio.create_subprocess_exec + communicate (gathered),
    subprocess.run in a thread pool of SCALE_PROCS workers, and the C floor
    (start them all, then drain and reap each).  Wall time, parent CPU time
    and peak thread count."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = SCALE_PROCS * 4 + 256
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need} descriptors needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    n = SCALE_PROCS
    argv = [SEQ, "100"]
    probe = Probe()

    def ours() -> None:
        async def main() -> list:
            return await asyncio.gather(*(pm.execute_command_async(argv, mode=pm.ExecutionMode.BLOCKING)
                                          for _ in range(n)))
        results = asyncio.run(main())
        assert all(r.success and r.stdout.count("\n") == 100 for r in results)
        pm.cleanup_finished_processes()

    def aio() -> None:
        async def one() -> bytes:
            p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE)
            out, _ = await p.communicate()
            return out

        async def main() -> list:
            return await asyncio.gather(*(one() for _ in range(n)))
        assert all(o.count(b"\n") == 100 for o in asyncio.run(main()))

    def pool() -> None:
        with ThreadPoolExecutor(max_workers=n) as ex:
            outs = list(ex.map(lambda _: subprocess.run(argv, capture_output=True).stdout, range(n)))
        assert all(o.count(b"\n") == 100 for o in outs)

    spawn = cfloor.spawner(argv)

    def floor() -> None:
        children = [spawn() for _ in range(n)]
        for c in children:
            assert cfloor.finish(c) == 0 and c.out_bytes == 292

    names = ["ours", "C floor", "asyncio", "subprocess + ThreadPool"]
    res = harness.interleave(
        benchmark, f"scale: {n} processes at once, 100 lines each, all waited for",
        Contender("ours", probe.wrap("ours", ours)),
        [Contender("C floor", probe.wrap("C floor", floor)),
         Contender("asyncio", probe.wrap("asyncio", aio)),
         Contender("subprocess + ThreadPool", probe.wrap("subprocess + ThreadPool", pool))],
        rounds=HEAVY_ROUNDS, warmup=1)
    harness.record(benchmark, res, "ours", names[1:])
    for name in names:
        cpu = sorted(probe.cpu[name][1:])[len(probe.cpu[name][1:]) // 2]  # median, warm-up dropped
        thr = max(probe.threads[name])
        benchmark.extra_info[f"parent_cpu_s:{name}"] = cpu
        benchmark.extra_info[f"peak_threads:{name}"] = thr
        harness.note(f"{name:<28} parent CPU {cpu:.3f} s   peak threads {thr}")


# -- spawn cost against the parent's size ---------------------------------------

def _ballast(size: int) -> bytearray:
    """size bytes, every page touched (resident)."""
    b = bytearray(size)
    b[::4096] = b"\1" * len(range(0, size, 4096))
    return b


@pytest.mark.parametrize("parent_mb", [100, pytest.param(4096, marks=pytest.mark.slow)])
def test_spawn_cost_vs_parent_size(benchmark, pm, cfloor: floorlib.Floor, parent_mb: int) -> None:
    """A blocking /bin/true from a parent holding parent_mb more MiB of
    touched memory: ours, the C floor, subprocess.run and pexpect (which
    forks: its cost grows with the parent)."""
    pexpect = pytest.importorskip("pexpect")
    ballast = _ballast(parent_mb * MiB)
    try:
        rss = harness._status_kb("VmRSS") * 1024
        assert rss >= parent_mb * MiB
        execute_command, BLOCKING = pm.execute_command, pm.ExecutionMode.BLOCKING

        def ours() -> Any:
            return execute_command(["/bin/true"], mode=BLOCKING)

        def sub() -> int:
            return subprocess.run(["/bin/true"], capture_output=True).returncode

        def pexp() -> None:
            c = pexpect.spawn("/bin/true")
            # pexpect (and ptyprocess under it) sleep 0.1 s in close() by
            # default; those documented delays are turned off so that the
            # spawn is what is measured.
            c.delayafterclose = c.ptyproc.delayafterclose = 0
            c.delayafterterminate = c.ptyproc.delayafterterminate = 0
            c.expect(pexpect.EOF)
            c.close()

        res = harness.interleave(
            benchmark, f"spawn cost, parent at {rss / MiB:,.0f} MiB RSS: blocking /bin/true",
            Contender("ours", ours),
            [Contender("C floor", cfloor.runner(["/bin/true"])), Contender("subprocess.run", sub),
             Contender("pexpect", pexp)],
            rounds=harness.rounds(300 if parent_mb < 1024 else 60), warmup=5)
        pm.cleanup_finished_processes()
    finally:
        del ballast
    benchmark.extra_info["parent_rss"] = rss
    harness.record(benchmark, res, "ours", ["C floor", "subprocess.run", "pexpect"])
