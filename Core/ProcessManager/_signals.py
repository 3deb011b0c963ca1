"""Signals given by name ("SIGINT", "INT", "sigint"), number or signal.Signals."""

from __future__ import annotations

import signal as _signal
from typing import Union

SignalLike = Union[int, str, _signal.Signals]


def parse_signal(value: object) -> int:
    """Return the signal number for ``value``; ValueError naming the cause."""
    if isinstance(value, bool):
        raise ValueError(f"invalid signal: {value!r}")
    if isinstance(value, _signal.Signals):
        return int(value)
    if isinstance(value, int):
        if value in _signal.valid_signals():
            return value
        raise ValueError(f"invalid signal number: {value}")
    if isinstance(value, str):
        name = value.strip().upper()
        if name.isdigit():
            return parse_signal(int(name))
        if not name.startswith("SIG"):
            name = "SIG" + name
        try:
            return int(_signal.Signals[name])
        except KeyError:
            raise ValueError(f"unknown signal name: {value!r}") from None
    raise ValueError(f"signal must be a name, a number or signal.Signals, not {type(value).__name__}")


def signal_name(number: int) -> str:
    """"SIGTERM" for 15; "signal 99" for a number without a name."""
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
