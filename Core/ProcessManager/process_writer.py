"""Writing to managed processes and signalling processes.

Writes are queued to the engine, which feeds the child's stdin from its
reactor: the caller never blocks on a full pipe.
"""

from __future__ import annotations

import signal as _signal_module
from typing import Any, Optional

import psutil

from ._agent import pty_eof
from ._command import BadArgument, check_timeout
from ._lookup import check_pid, failure, managed
from ._registry import ProcessRecord, Registry, find
from ._signals import SignalLike, parse_signal, signal_name
from .process_killer import kill_process

__all__ = ["write_to_process", "send_signal_to_process", "interrupt_process", "terminate_process"]


def encode_input(record: ProcessRecord, data: object) -> bytes:
    if isinstance(data, str):
        return data.encode(record.encoding)
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise BadArgument(f"data must be str or bytes, not {type(data).__name__}")


def stdin_failure(record: ProcessRecord, exc: Optional[Exception] = None) -> dict[str, Any]:
    """The failure dict saying why the stdin of ``record`` cannot be
    written: not a pipe (exc None), or the engine's write raised ``exc``."""
    pid = record.pid
    if exc is None:
        return failure(pid, f"stdin of pid {pid} is not a pipe: start it with "
                            "ExecutionMode.INTERACTIVE (or input_data) to write to it", bytes_written=0)
    if isinstance(exc, BrokenPipeError):
        why = "the process has exited" if record.process.exited else "the process closed its input"
        return failure(pid, f"stdin of pid {pid} is closed: {why}", bytes_written=0)
    return failure(pid, f"stdin of pid {pid} was closed (close_stdin)", bytes_written=0)


def write_record(record: ProcessRecord, payload: bytes, close: bool = False) -> dict[str, Any]:
    """Queue ``payload`` for the stdin of ``record``; the failure dict names
    why it cannot be written."""
    proc = record.process
    pid = record.pid
    if not record.stdin_piped:
        return stdin_failure(record)
    try:
        written = proc.write(payload) if payload else 0
    except (BrokenPipeError, ValueError) as exc:
        return stdin_failure(record, exc)
    if close:
        if record.pty:  # a terminal's input is closed by typing ^D
            try:
                proc.write(pty_eof(payload))
            except (BrokenPipeError, ValueError):
                pass  # it has exited: its input is closed anyway
        else:
            proc.close_stdin()
    return {"success": True, "pid": pid, "bytes_written": written,
            "pending": proc.pending_stdin(), "error": None}


def write_to_process(pid: int, data: Any, close_stdin: bool = False, *,
                     _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Queue ``data`` (str, encoded like the process's output, or bytes) for
    the stdin of a managed process without blocking; ``close_stdin=True``
    closes it once written.  Returns ``success``, ``bytes_written``,
    ``pending`` (bytes queued and not yet taken by the child) and ``error``.
    For a process started with ``pty=True`` the data is typed into its
    terminal, and ``close_stdin=True`` types the terminal's EOF character
    (^D, b"\\x04"; twice after a partial line) instead of closing it."""
    record, error = managed(pid, "write to its stdin", _registry)
    if record is None:
        assert error is not None
        error["bytes_written"] = 0
        return error
    try:
        payload = encode_input(record, data)
    except BadArgument as exc:
        return failure(pid, str(exc), bytes_written=0)
    return write_record(record, payload, bool(close_stdin))


def send_signal_to_process(pid: int, signal: SignalLike = "SIGTERM", group: bool = False, *,
                           _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Send ``signal`` (a name like "SIGINT" or "INT", a number or a
    signal.Signals) to a process; ``group=True`` sends it to the process
    group of a managed process.  A managed process is signalled through
    its pidfd, never by a pid that may have been reused."""
    error = check_pid(pid)
    if error is not None:
        return failure(pid, error)
    try:
        sig = parse_signal(signal)
    except ValueError as exc:
        return failure(pid, str(exc))
    name = signal_name(sig)
    record = find(pid, _registry)
    if record is not None:
        proc = record.process
        sent = proc.signal_group(sig) if group else proc.send_signal(sig)
        if not sent:
            return failure(pid, f"pid {pid} has already exited", signal=name)
        return {"success": True, "pid": pid, "signal": name, "error": None}
    if group:
        return failure(pid, f"pid {pid} was not started by this ProcessManager: cannot signal its group",
                       signal=name)
    try:
        psutil.Process(pid).send_signal(sig)
    except psutil.NoSuchProcess:
        return failure(pid, f"no process with pid {pid}", signal=name)
    except psutil.AccessDenied:
        return failure(pid, f"permission denied to signal pid {pid}", signal=name)
    return {"success": True, "pid": pid, "signal": name, "error": None}


def interrupt_process(pid: int, *, _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Send SIGINT as Ctrl-C would: to the whole process group of a managed
    process (a shell and the command it runs), to the process otherwise."""
    record = find(pid, _registry) if check_pid(pid) is None else None
    group = record is not None and record.running
    return send_signal_to_process(pid, _signal_module.SIGINT, group=group, _registry=_registry)


def terminate_process(pid: int, force: bool = False, timeout: float = 5.0, *,
                      _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Stop a process cleanly: SIGTERM, up to ``timeout`` seconds, then
    SIGKILL (``force=True``: SIGKILL at once).  Returns once it is gone."""
    try:
        check_timeout(timeout)
    except BadArgument as exc:
        return failure(pid, str(exc))
    return kill_process(pid, force=force, timeout=timeout, _registry=_registry)
