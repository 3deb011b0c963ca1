"""Interleaved timing: ours and its peers, round after round, in one loop.

This machine is shared and noisy, so nothing here compares a figure with a
fixed number of milliseconds.  Each benchmark times every contender once per
round, in the same loop, so that a burst of noise hits all of them; it
reports medians and the ratios of medians, and asserts only ratios (or, for
the seed's "overhead" targets, a difference against the C floor timed in the
same rounds).

pytest-benchmark drives the loop: ``benchmark.pedantic(target=ours,
setup=peers)``.  Its setup hook runs the peers (timed here) before each timed
call of ours, so pytest-benchmark's own statistics, saved and compared by
``--benchmark-save`` / ``--benchmark-compare``, are those of ours, and the
peers' medians and every ratio go into ``benchmark.extra_info``.  The order of
the peers rotates from one round to the next.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from Core.ProcessManager._bench import one_cpu  # noqa: F401  (re-exported)

# Every result line of the session, printed in the terminal summary by
# conftest.py (pytest captures the tests' own output).
REPORT: list[str] = []

Fn = Callable[[], Any]
Cleanup = Optional[Callable[[Any], None]]


@dataclass
class Contender:
    name: str
    fn: Fn
    cleanup: Cleanup = None  # called with fn's result, outside the timing
    batched: bool = False    # fn itself does the whole batch (see interleave)


@dataclass
class Result:
    title: str
    samples: dict[str, list[int]] = field(default_factory=dict)  # ns per call
    # With track_rss: the parent's peak RSS during each call minus its RSS
    # just before (bytes).
    rss: dict[str, list[int]] = field(default_factory=dict)

    batch: int = 1  # operations per timed call

    def peak_rss(self, name: str) -> int:
        return max(self.rss[name])

    def median(self, name: str) -> float:
        """Median in seconds, per operation."""
        return statistics.median(self.samples[name]) / 1e9 / self.batch

    def ratio(self, name: str, peer: str) -> float:
        return self.median(name) / self.median(peer)

    def paired_ratio(self, name: str, peer: str) -> float:
        """Median of the per-round ratios (each round's two calls were made
        within a millisecond or so of each other)."""
        a, b = self.samples[name], self.samples[peer]
        return statistics.median(x / y for x, y in zip(a, b))

    def overhead(self, name: str, peer: str) -> float:
        """Median difference in seconds."""
        return self.median(name) - self.median(peer)


def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark of this process (VmHWM, through
    /proc/self/clear_refs) and return the current RSS in bytes."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kb("VmRSS") * 1024


def peak_rss() -> int:
    """Peak RSS in bytes since the last reset_peak_rss()."""
    return _status_kb("VmHWM") * 1024


def _timed(c: Contender, sink: Optional[list[int]], rss_sink: Optional[list[int]] = None,
           defer: Optional[list[Any]] = None) -> None:
    """One timed call of c.fn; its cleanup runs now, or later when defer
    (a list to append the result to) is given."""
    if rss_sink is not None:
        base = reset_peak_rss()
    t0 = time.perf_counter_ns()
    r = c.fn()
    t1 = time.perf_counter_ns()
    if sink is not None:
        sink.append(t1 - t0)
        if rss_sink is not None:
            rss_sink.append(peak_rss() - base)
    if c.cleanup is not None:
        if defer is not None:
            defer.append(r)
        else:
            c.cleanup(r)


def interleave(
    benchmark: Any,
    title: str,
    ours: Contender,
    peers: list[Contender],
    rounds: int,
    warmup: int = 10,
    track_rss: bool = False,
    batch: int = 1,
) -> Result:
    """Run ``rounds`` rounds of (peers in rotating order, then ours).
    The garbage collector is off during the rounds (for every contender
    alike) and runs between warm-up and measurement.

    batch > 1: each timed call runs the contender's fn batch times in a row
    (for operations of a few microseconds whose cost depends on the
    scheduler's recent history: a round trip with a child that has just
    run is several times cheaper than with one that has slept); samples
    are then per operation, and pytest-benchmark's figures are per batch."""
    if batch > 1:
        def batched(c: Contender) -> Contender:
            if c.batched:
                return c
            f = c.fn

            def run() -> Any:
                for _ in range(batch - 1):
                    f()
                return f()
            return Contender(c.name, run, c.cleanup)
        ours, peers = batched(ours), [batched(p) for p in peers]
    res = Result(title, {c.name: [] for c in [ours, *peers]})
    res.batch = batch
    if track_rss:
        res.rss = {c.name: [] for c in [ours, *peers]}
    measuring = False
    counter = 0

    def setup() -> None:
        nonlocal counter
        k = counter % len(peers)
        seq = peers[k:] + peers[:k]  # each peer takes each place in turn
        counter += 1
        for c in seq:
            _timed(c, res.samples[c.name] if measuring else None, res.rss.get(c.name))

    # ours' cleanup runs in pedantic's teardown, outside pytest-benchmark's
    # timing of target().
    pending: list[Any] = []

    def target() -> None:
        _timed(ours, res.samples[ours.name] if measuring else None, res.rss.get(ours.name), pending)

    def teardown() -> None:
        while pending:
            ours.cleanup(pending.pop())  # type: ignore[misc]

    for _ in range(warmup):
        setup()
        target()
        teardown()
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    measuring = True
    try:
        if getattr(benchmark, "disabled", False):
            # --benchmark-disable: pedantic would run one round only; the
            # ratios still need all of them.
            for _ in range(rounds):
                setup()
                target()
                teardown()
        else:
            benchmark.pedantic(target, setup=setup, teardown=teardown, rounds=rounds, iterations=1,
                               warmup_rounds=0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return res


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def record(benchmark: Any, res: Result, ours: str, peers: list[str], floor: Optional[str] = None) -> dict[str, float]:
    """Medians and ratios into benchmark.extra_info and the session report;
    returns {"ratio:<peer>": ..., "paired:<peer>": ..., "overhead:<peer>": ...}."""
    out: dict[str, float] = {}
    info = benchmark.extra_info
    info["title"] = res.title
    info["rounds"] = len(res.samples[ours])
    info["batch"] = res.batch
    for name in [ours, *peers]:
        info[f"median_s:{name}"] = res.median(name)
    lines = [f"{res.title}  ({len(res.samples[ours])} interleaved rounds"
             + (f" of {res.batch} operations, figures per operation)" if res.batch > 1 else ")")]
    lines.append(f"    {ours:<28} median {fmt_time(res.median(ours)):>12}")
    for p in peers:
        r, pr, ov = res.ratio(ours, p), res.paired_ratio(ours, p), res.overhead(ours, p)
        out[f"ratio:{p}"], out[f"paired:{p}"], out[f"overhead:{p}"] = r, pr, ov
        info[f"ratio:{ours}/{p}"] = r
        info[f"paired_ratio:{ours}/{p}"] = pr
        info[f"overhead_s:{ours}-{p}"] = ov
        lines.append(
            f"    {p:<28} median {fmt_time(res.median(p)):>12}   ours/{p} = {r:.3f}"
            f" (paired {pr:.3f}, ours - {p} = {fmt_time(ov)})"
        )
    REPORT.append("\n".join(lines))
    return out


def note(line: str) -> None:
    """An extra line for the session report (limits, verdicts)."""
    if REPORT:
        REPORT[-1] += "\n    " + line
    else:
        REPORT.append(line)


def rounds(default: int) -> int:
    """Rounds for a benchmark, scaled by PM_BENCH_SCALE (0.2 for a quick
    look, 3 for a quieter figure)."""
    scale = float(os.environ.get("PM_BENCH_SCALE", "1"))
    return max(20, int(default * scale))

