"""pid arguments of the pid-based functions: validation and record look-up."""

from __future__ import annotations

from typing import Any, Optional

import psutil

from . import _registry
from ._registry import ProcessRecord


# Linux never gives a pid above 2**22 (PID_MAX_LIMIT); larger ints would
# overflow the C calls below us.
PID_MAX = 1 << 22


def check_pid(pid: object) -> Optional[str]:
    """None when ``pid`` is a valid pid, else the error text."""
    if isinstance(pid, bool) or not isinstance(pid, int):
        return f"pid must be an int, not {type(pid).__name__}"
    if pid <= 0:
        return f"pid must be positive, got {pid}"
    if pid > PID_MAX:
        return f"pid {pid} is above the largest pid Linux can give ({PID_MAX})"
    return None


def failure(pid: object, error: str, **extra: Any) -> dict[str, Any]:
    """The dict every pid-based function returns on failure."""
    return {"success": False, "pid": pid, "error": error, **extra}


def managed(pid: object, action: str,
            registry: Optional[_registry.Registry] = None) -> tuple[Optional[ProcessRecord], Optional[dict[str, Any]]]:
    """(record, None) for a managed pid; (None, failure dict) otherwise,
    saying plainly why ``action`` cannot be done."""
    error = check_pid(pid)
    if error is not None:
        return None, failure(pid, error)
    assert isinstance(pid, int)
    record = _registry.find(pid, registry)
    if record is not None:
        return record, None
    if psutil.pid_exists(pid):
        return None, failure(pid, f"pid {pid} was not started by this ProcessManager: cannot {action}")
    return None, failure(pid, f"no process with pid {pid} (and none managed): cannot {action}")
