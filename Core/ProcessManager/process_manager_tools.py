"""Watching and talking to processes: active list, status of any pid,
request/response on stdin/stdout, waiting, terminating and cleanup."""

from __future__ import annotations

import math
import re
import threading
import time
from typing import Any, Optional, Pattern, Union

import psutil

from ._agent import EXIT_DRAIN, wait_result, wait_target
from ._command import BadArgument, check_timeout, time_left
from ._dispatch import dispatcher
from ._lookup import check_pid, failure, managed
from ._procstat import read_status
from ._registry import ProcessRecord, Registry, default_registry, find, find_default
from ._text import decode_prefix
from .process_writer import encode_input, stdin_failure

__all__ = [
    "get_active_processes", "get_process_status", "communicate_with_process",
    "terminate_managed_process", "cleanup_finished_processes", "wait_for_process",
]

# communicate_with_process: once a complete line has arrived, more output is
# awaited this long before the response is taken as complete.  0: what the
# reactor has already buffered is all "immediately available" means (a
# child answering in several writes is read on by the next call).
SETTLE = 0.0

# psutil.Process objects kept between get_process_status calls, so that
# cpu_percent measures since the previous call.
_STATUS_CACHE_MAX = 1024
_status_cache: dict[int, psutil.Process] = {}
_status_lock = threading.Lock()


def get_active_processes(*, _registry: Optional[Registry] = None) -> dict[int, dict[str, Any]]:
    """{pid: info} of the running managed processes (info: ``command``,
    ``mode``, ``state``, ``start_time``, ``running_time``...)."""
    registry = _registry if _registry is not None else default_registry
    return {r.pid: r.info() for r in registry.running()}


def cleanup_finished_processes(*, _registry: Optional[Registry] = None) -> int:
    """Forget the managed processes that have finished; return how many."""
    registry = _registry if _registry is not None else default_registry
    return registry.cleanup()


def _psutil_process(pid: int) -> psutil.Process:
    """A cached psutil.Process for pid (a new one if the pid was reused)."""
    with _status_lock:
        cached = _status_cache.get(pid)
    if cached is not None and cached.is_running():
        return cached
    proc = psutil.Process(pid)
    with _status_lock:
        if len(_status_cache) >= _STATUS_CACHE_MAX:
            _status_cache.clear()
        _status_cache[pid] = proc
    return proc


def _cpu_percent(proc: psutil.Process, first: bool) -> float:
    """cpu_percent since the previous call; on the first call, the average
    over the process's lifetime (psutil alone would say 0.0)."""
    percent = proc.cpu_percent(None)
    if not first:
        return percent
    times = proc.cpu_times()
    elapsed = time.time() - proc.create_time()
    return 100.0 * (times.user + times.system) / elapsed if elapsed > 0 else 0.0


def _record_status(record: ProcessRecord) -> dict[str, Any]:
    info = record.info()
    info.update({"success": True, "managed": True, "os_status": None, "name": None,
                 "cmdline": None, "cpu_percent": 0.0, "memory_info": None, "num_threads": 0,
                 "create_time": record.start_time, "error": None})
    return info


def get_process_status(pid: int, *, _registry: Optional[Registry] = None) -> Optional[dict[str, Any]]:
    """Status of any pid; None when there is no such process.  A running
    managed process is read from /proc directly (see _procstat), any other
    through psutil, in the same shape.

    ``status`` is "running" while the process is alive (whatever the
    scheduler says: ``os_status`` holds that), else a finished state
    ("exited", "killed", "timed_out").  Also ``cpu_percent``,
    ``memory_info`` (psutil's named tuple: ``.rss``), ``name``,
    ``cmdline``, ``num_threads``, ``create_time``, ``managed``.
    """
    error = check_pid(pid)
    if error is not None:
        return failure(pid, error, status=None)
    record = find(pid, _registry)
    if record is not None:
        if not record.running:
            return _record_status(record)  # the pid may already be someone else's
        try:
            live = read_status(pid, record)
        except OSError:
            live = None  # gone meanwhile, or denied: psutil below says which
        if live is not None:
            if not record.running:  # reaped while we read: the figures may be another's
                return _record_status(record)
            os_status, name, cmdline, memory, threads, ppid, cpu, created, running_time = live
            return {"success": True, "pid": pid, "status": "running", "os_status": os_status,
                    "name": name, "cmdline": cmdline, "memory_info": memory, "num_threads": threads,
                    "ppid": ppid, "cpu_percent": cpu, "create_time": created,
                    "running_time": running_time, "managed": True, "error": None,
                    "command": record.command, "mode": record.mode.value, "state": "running",
                    "return_code": None, "start_time": record.start_time}
    try:
        with _status_lock:
            first = pid not in _status_cache
        proc = _psutil_process(pid)
        with proc.oneshot():
            os_status = proc.status()
            create_time = proc.create_time()
            status: dict[str, Any] = {
                "success": True,
                "pid": pid,
                "status": "exited" if os_status == psutil.STATUS_ZOMBIE else "running",
                "os_status": os_status,
                "create_time": create_time,
                "running_time": max(0.0, time.time() - create_time),
                "managed": record is not None,
                "error": None,
            }
            # Each of these may be denied, and a zombie has none of them.
            for key, getter in (("name", proc.name), ("cmdline", proc.cmdline),
                                ("memory_info", proc.memory_info), ("num_threads", proc.num_threads),
                                ("ppid", proc.ppid)):
                try:
                    status[key] = getter()
                except (psutil.AccessDenied, psutil.ZombieProcess):
                    status[key] = None
            try:
                status["cpu_percent"] = _cpu_percent(proc, first)
            except (psutil.AccessDenied, psutil.ZombieProcess):
                status["cpu_percent"] = 0.0
    except psutil.NoSuchProcess:
        if record is not None:
            return _record_status(record)
        return None
    except psutil.AccessDenied as exc:
        return failure(pid, f"permission denied to inspect pid {pid}: {exc}", status="running")
    if record is not None:
        info = record.info()
        status.update(command=info["command"], mode=info["mode"], state=info["state"],
                      return_code=info["return_code"], start_time=info["start_time"])
    else:
        status["command"] = " ".join(status.get("cmdline") or []) or status.get("name") or ""
    return status


def communicate_with_process(pid: int, data: Any = None, timeout: float = 5.0,
                             until: Union[str, Pattern[str], None] = None,
                             settle: float = SETTLE, *,
                             _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Write ``data`` to a managed process, then return the output produced
    in response: as soon as a complete line has arrived and nothing more is
    already buffered (``settle`` > 0: nothing more arrives within that many
    seconds either), or when ``until`` (a regex) matches the response, or
    at ``timeout``.  The read cursor moves past the response, so
    read_from_process does not return it again.  Returns ``response``
    (stdout then stderr), ``stdout``, ``stderr``, ``bytes_written``,
    ``matched``, ``timed_out``, ``success`` and ``error``."""
    # The usual call (a str to a process of the default registry, a float
    # timeout, no until or settle) goes straight to the compiled loop: this
    # is the cost of every message of a conversation.
    if (until is None and settle is SETTLE and _registry is None and type(data) is str
            and type(timeout) is float and 0.0 <= timeout < math.inf and type(pid) is int):
        record = find_default(pid)
        if record is not None and record.stdin_piped:
            payload = data.encode(record.encoding)
            try:
                reply = record.process.converse(payload, timeout)
            except (BrokenPipeError, ValueError) as exc:
                return stdin_failure(record, exc)
            return _response(record, len(payload), timeout, None, False, reply)
    record, error = managed(pid, "communicate with it", _registry)
    if record is None:
        assert error is not None
        return error
    try:
        seconds = check_timeout(timeout)
        settle_s = 0.0 if settle is SETTLE else check_timeout(settle, "settle") or 0.0
        pattern = None if until is None else re.compile(until) if isinstance(until, str) else until
        if pattern is not None and not isinstance(pattern, re.Pattern):
            raise BadArgument(f"until must be a regex str or pattern, not {type(until).__name__}")
        payload = b"" if data is None else encode_input(record, data)
    except re.error as exc:
        return failure(pid, f"invalid until pattern: {exc}")
    except BadArgument as exc:
        return failure(pid, str(exc))
    if data is not None and not record.stdin_piped:
        return stdin_failure(record)
    try:
        if pattern is None and not settle_s:
            matched, reply = False, record.process.converse(payload, seconds)
        else:
            matched, reply = _converse_until(record, payload, seconds, pattern, settle_s)
    except (BrokenPipeError, ValueError) as exc:
        return stdin_failure(record, exc)
    return _response(record, len(payload), seconds, pattern, matched, reply)


def _converse_until(record: ProcessRecord, payload: bytes, seconds: Optional[float],
                    pattern: Optional[Pattern[str]], settle_s: float
                    ) -> tuple[bool, tuple[bytes, int, bytes, int, bool, bool]]:
    """Process.converse with an ``until`` pattern or a settle time:
    (matched, converse's tuple)."""
    proc = record.process
    encoding = record.encoding
    out = err = b""
    # None: the response is what comes after the end of each stream before the write.
    out_at: Optional[int] = None
    err_at: Optional[int] = None
    deadline = None if seconds is None else time.monotonic() + seconds
    left = seconds
    has_line = False
    while True:
        _ok, chunk_out, out_at, chunk_err, err_at, eof = proc.exchange(payload, out_at, err_at, left)
        payload = b""
        out += chunk_out
        err += chunk_err
        has_line = has_line or b"\n" in chunk_out or b"\n" in chunk_err
        if pattern is not None:
            if pattern.search(decode_prefix(out, encoding, eof)[0] + decode_prefix(err, encoding, eof)[0]):
                return True, (out, out_at, err, err_at, eof, False)
        elif has_line and not proc.wait_output(out_at, err_at, settle_s):
            break  # a complete line, and nothing more within settle
        if eof:
            break
        left = time_left(deadline)
        if left is not None and left <= 0:
            return False, (out, out_at, err, err_at, eof, True)
    return False, (out, out_at, err, err_at, eof, False)


def _response(record: ProcessRecord, written: int, seconds: Optional[float],
              pattern: Optional[Pattern[str]], matched: bool,
              reply: tuple[bytes, int, bytes, int, bool, bool]) -> dict[str, Any]:
    """communicate_with_process's result from converse's ``reply``; moves
    the read cursors past the response."""
    out, out_at, err, err_at, eof, timed_out = reply
    encoding = record.encoding
    try:  # strict decoding succeeds when the text is whole, the usual case
        stdout = out.decode(encoding)
        stderr = err.decode(encoding)
    except UnicodeDecodeError:
        # A character cut at the end stays for read_from_process to complete.
        stdout, used = decode_prefix(out, encoding, eof)
        out_at -= len(out) - used
        stderr, used = decode_prefix(err, encoding, eof)
        err_at -= len(err) - used
    with record.lock:
        if out_at > record.out_cursor:
            record.out_cursor = out_at
        if err_at > record.err_cursor:
            record.err_cursor = err_at
    if pattern is not None and not matched:
        error: Optional[str] = f"pattern {pattern.pattern!r} not seen" + (
            f" within {seconds:g} s" if timed_out and seconds is not None else " before end of output")
    elif stdout or stderr:
        error = None
    elif timed_out and seconds is not None:
        error = f"no response within {seconds:g} s"
    elif eof:
        error = "the process closed its output without responding"
    else:
        error = None
    return {
        "success": error is None,
        "pid": record.pid,
        "bytes_written": written,
        "response": stdout + stderr,
        "stdout": stdout,
        "stderr": stderr,
        "matched": matched if pattern is not None else None,
        "timed_out": timed_out,
        "eof": eof,
        "state": record.state,
        "error": error,
    }


def wait_for_process(pid: int, timeout: Optional[float] = None, *,
                     _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Wait up to ``timeout`` seconds (None: no limit) for a managed process
    to exit, never ending it: a soft timeout.  Once it has exited:
    ``finished=True``, ``return_code``, ``stdout``/``stderr``/``output``
    (all it wrote) and ``result`` (its final ExecutionResult).  Still
    running at the timeout: ``finished=False``, ``running=True``,
    ``status="still running"``, the output so far, and it keeps running
    (wait again, read it, or kill it).  ``success`` says the wait itself
    was done (False only for an unmanaged pid or a bad argument);
    ``timed_out`` is the process's own timeout, as in ExecutionResult."""
    target = wait_target(pid, timeout, _registry)
    if isinstance(target, dict):
        return target
    record, seconds = target
    proc = record.process
    deadline = None if seconds is None else time.monotonic() + seconds
    exited = proc.wait(seconds)
    if exited:
        proc.wait_eof(EXIT_DRAIN)  # output still in flight
        # Its callbacks have seen all of it (and on_complete has run) on return.
        dispatcher.settle(proc, time_left(deadline))
    return wait_result(record, exited)


def terminate_managed_process(pid: int, timeout: float = 5.0, *,
                              _registry: Optional[Registry] = None) -> dict[str, Any]:
    """End a managed process and its process group: SIGTERM, SIGKILL after
    ``timeout`` seconds; returns once it has exited."""
    record, error_dict = managed(pid, "terminate it as a managed process", _registry)
    if record is None:
        assert error_dict is not None
        return error_dict
    try:
        seconds = check_timeout(timeout)
    except BadArgument as exc:
        return failure(pid, str(exc))
    grace = 5.0 if seconds is None else seconds
    proc = record.process
    was_running = not proc.exited
    if was_running:
        proc.terminate(grace, True)
        if not proc.wait(grace + 5.0):
            return failure(pid, f"pid {pid} is still alive after SIGKILL")
    return {"success": True, "pid": pid, "was_running": was_running,
            "return_code": proc.returncode, "state": record.state, "error": None}
