"""Ring buffer properties (src/pm_ring.c), checked against a plain bytes model."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from Core.ProcessManager import _engine as E

chunks = st.lists(st.binary(min_size=0, max_size=40_000), max_size=30)
limits = st.sampled_from([0, 1, 7, 4096, 16 * 1024, 50_000, 100_000])


@settings(max_examples=200, deadline=None)
@given(chunks=chunks, limit=limits, offset=st.integers(min_value=0, max_value=1_500_000))
def test_ring_matches_model(chunks: list[bytes], limit: int, offset: int) -> None:
    ring = E.Ring(limit)
    written = b""
    for c in chunks:
        ring.append(c)
        written += c
        # Invariants after every append, not only at the end.
        assert ring.end == len(written)
        kept = len(written) if limit == 0 else min(len(written), limit)
        assert ring.start == len(written) - kept  # bytes dropped == oldest offset held
        assert ring.lines == written.count(b"\n")  # lines split across chunks count once
    data, first = ring.read(offset)
    assert first == min(max(offset, ring.start), ring.end)
    assert data == written[first:]
    # Reading from the oldest byte gives exactly what is held.
    held, first0 = ring.read(0)
    assert first0 == ring.start and held == written[ring.start:]
    if limit:
        assert ring.capacity <= max(limit, 16 * 1024)


def test_ring_wraps_many_times() -> None:
    ring = E.Ring(1000)
    written = b"".join(bytes([i % 251]) * (i % 333 + 1) for i in range(2000))
    for i in range(0, len(written), 97):
        ring.append(written[i:i + 97])
    assert ring.end == len(written) and ring.start == len(written) - 1000
    assert ring.read(0) == (written[-1000:], len(written) - 1000)
    assert ring.read(len(written) - 10) == (written[-10:], len(written) - 10)
    assert ring.read(len(written) + 5) == (b"", len(written))


def test_growing_ring_keeps_everything() -> None:
    ring = E.Ring(0)
    for i in range(300):
        ring.append(b"x" * 1000 + b"\n")
    assert ring.start == 0 and ring.end == 300_300 and ring.lines == 300
    assert ring.read(0)[0] == (b"x" * 1000 + b"\n") * 300
