"""Running commands: execute_command, execute_command_async and CommandExecutor.

A ``str`` command runs through ``/bin/sh -c``; a list or tuple runs as argv,
never through a shell.  Nothing here raises for a runtime failure: the
result says ``success=False`` and ``error`` names the cause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

from . import _engine
from ._command import BadArgument, build_argv, build_env, check_cwd, check_input, check_timeout, \
    spawn_error_message
from ._dispatch import DRAIN, ResultCallback, TextCallback, Watcher, dispatcher
from ._registry import ProcessRecord, Registry, default_registry
from ._results import finished_result
from ._text import DEFAULT_ENCODING, check_encoding
from ._types import (CommandFailedError, CommandStartError, CommandTimeoutError, ExecutionMode,
                     ExecutionResult, ProcessManagerError)

__all__ = [
    "CommandExecutor", "ExecutionMode", "ExecutionResult", "ProcessManagerError",
    "CommandStartError", "CommandFailedError", "CommandTimeoutError",
    "execute_command", "execute_command_async", "get_default_executor",
]

log = logging.getLogger("Core.ProcessManager")

# SIGTERM -> SIGKILL delay when a timeout ends a process group.
TIMEOUT_GRACE = 0.2
# How long a blocking call waits for the pipes' EOF after the exit (a
# descendant may hold them: the call returns anyway, the output keeps being
# drained into the record).
EOF_GRACE = DRAIN


def _check_mode(mode: object) -> ExecutionMode:
    if isinstance(mode, ExecutionMode):
        return mode
    if isinstance(mode, str):
        try:
            return ExecutionMode(mode.strip().lower())
        except ValueError:
            pass
    choices = ", ".join(m.value for m in ExecutionMode)
    raise BadArgument(f"unknown execution mode {mode!r} (expected one of: {choices})")


def _check_callback(value: object, what: str) -> None:
    if value is not None and not callable(value):
        raise BadArgument(f"{what} must be callable, not {type(value).__name__}")


def _display(command: object) -> str:
    """The command as shown in a result, even when it is invalid."""
    if isinstance(command, str):
        return command
    if isinstance(command, (list, tuple)):
        return " ".join(str(a) for a in command)
    return repr(command)


def _wait_exit(proc: _engine.Process, timeout: Optional[float]) -> bool:
    """proc.wait(timeout); on Ctrl-C (the engine's wait lets signals through)
    the process group is ended before re-raising."""
    try:
        return proc.wait(timeout)
    except KeyboardInterrupt:
        proc.terminate(TIMEOUT_GRACE, True)
        proc.wait(TIMEOUT_GRACE + 0.5)
        raise


class CommandExecutor:
    """Starts commands and keeps a record of each; instances are separate
    registries.  The module-level functions use one default executor."""

    def __init__(self, max_finished: int = 1000, *, _registry: Optional[Registry] = None) -> None:
        self._registry = _registry if _registry is not None else Registry(max_finished)

    @property
    def registry(self) -> Registry:
        return self._registry

    # -- execution ---------------------------------------------------------

    def execute_command(
        self,
        command: Any,
        mode: Any = ExecutionMode.BLOCKING,
        cwd: Any = None,
        env: Any = None,
        timeout: Any = None,
        input_data: Any = None,
        on_output: Optional[TextCallback] = None,
        on_error: Optional[TextCallback] = None,
        on_complete: Optional[ResultCallback] = None,
        shell: Optional[bool] = None,
        capture_output: bool = True,
        extra_env: Any = None,
        encoding: str = DEFAULT_ENCODING,
        detach: bool = False,
        buffer_size: Optional[int] = None,
    ) -> ExecutionResult:
        """Run ``command`` in ``mode``.

        BLOCKING returns when the process has exited (all of its output in
        the result) or at ``timeout``; BACKGROUND, INTERACTIVE and MONITORED
        return at once with the pid.  ``env`` replaces the environment,
        ``extra_env`` adds to it.  ``on_output``/``on_error`` receive decoded
        lines, ``on_complete`` the final result, all on the dispatcher
        thread.  ``detach=True``: own session, left running at interpreter
        exit.  ``capture_output`` is accepted for compatibility: output is
        always captured (the engine only pipes or discards it).
        """
        started = self._start(command, mode, cwd, env, timeout, input_data, on_output, on_error,
                              on_complete, shell, extra_env, encoding, detach, buffer_size, None)
        if isinstance(started, ExecutionResult):
            return started
        record, watcher, launch = started
        if record.mode is not ExecutionMode.BLOCKING:
            return launch
        return self._finish_blocking(record, watcher, check_timeout(timeout))

    async def execute_command_async(
        self,
        command: Any,
        mode: Any = ExecutionMode.BLOCKING,
        cwd: Any = None,
        env: Any = None,
        timeout: Any = None,
        input_data: Any = None,
        on_output: Optional[TextCallback] = None,
        on_error: Optional[TextCallback] = None,
        on_complete: Optional[ResultCallback] = None,
        shell: Optional[bool] = None,
        capture_output: bool = True,
        extra_env: Any = None,
        encoding: str = DEFAULT_ENCODING,
        detach: bool = False,
        buffer_size: Optional[int] = None,
    ) -> ExecutionResult:
        """execute_command for asyncio, with no thread per call: BLOCKING
        resolves a future from the dispatcher thread when the process ends;
        the other modes return at once.  Cancelling the awaiting task ends
        the process group."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ExecutionResult] = loop.create_future()

        def resolve(result: ExecutionResult) -> None:
            if not future.done():
                future.set_result(result)

        def complete(result: ExecutionResult) -> None:
            try:
                loop.call_soon_threadsafe(resolve, result)
            except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
                pass

        try:
            blocking = _check_mode(mode) is ExecutionMode.BLOCKING
        except BadArgument:
            blocking = False  # _start reports it
        started = self._start(command, mode, cwd, env, timeout, input_data, on_output, on_error,
                              on_complete, shell, extra_env, encoding, detach, buffer_size,
                              complete if blocking else None)
        if isinstance(started, ExecutionResult):
            return started
        record, _watcher, launch = started
        if not blocking:
            return launch
        try:
            return await future
        except asyncio.CancelledError:
            record.process.terminate(TIMEOUT_GRACE, True)
            raise

    def _start(self, command: Any, mode: Any, cwd: Any, env: Any, timeout: Any, input_data: Any,
               on_output: Any, on_error: Any, on_complete: Any, shell: Any, extra_env: Any,
               encoding: Any, detach: Any, buffer_size: Any,
               completion: Optional[ResultCallback]
               ) -> ExecutionResult | tuple[ProcessRecord, Optional[Watcher], ExecutionResult]:
        """Validate and spawn.  A failed ExecutionResult, or (record, watcher,
        "started" result)."""
        display = _display(command)
        try:
            exec_mode = _check_mode(mode)
        except BadArgument as exc:
            return ExecutionResult(success=False, command=display, error=str(exc))
        try:
            argv, display = build_argv(command, shell)
            env_list = build_env(env, extra_env)
            cwd_bytes = check_cwd(cwd)
            seconds = check_timeout(timeout)
            data = check_input(input_data)
            encoding = check_encoding(encoding)
            for what, callback in (("on_output", on_output), ("on_error", on_error),
                                   ("on_complete", on_complete)):
                _check_callback(callback, what)
            if buffer_size is not None and (isinstance(buffer_size, bool) or not isinstance(buffer_size, int)
                                            or buffer_size <= 0):
                raise BadArgument(f"buffer_size must be a positive int, got {buffer_size!r}")
        except ValueError as exc:  # BadArgument, or a bad encoding
            return ExecutionResult(success=False, command=display, mode=exec_mode, error=str(exc))

        via_shell = argv[0] == b"/bin/sh" and argv[1:2] == [b"-c"]
        interactive = exec_mode is ExecutionMode.INTERACTIVE

        def make_result(proc: _engine.Process) -> ExecutionResult:
            return finished_result(proc, display, exec_mode, seconds, encoding, via_shell)

        spawn_kwargs: dict[str, Any] = {
            "env": env_list,
            "cwd": cwd_bytes,
            "stdin": _engine.PIPE if interactive or data is not None else _engine.DEVNULL,
            "stdout": _engine.PIPE,
            "stderr": _engine.PIPE,
            "new_session": bool(detach),
            "timeout": seconds,
            "grace": TIMEOUT_GRACE,
            "growing": exec_mode is ExecutionMode.BLOCKING,
        }
        if buffer_size is not None:
            spawn_kwargs["capacity"] = buffer_size
        watcher: Optional[Watcher] = None
        if on_output or on_error or on_complete or completion:
            watcher = Watcher(encoding, on_output, on_error, on_complete, make_result,
                              [completion] if completion else [])
        t0 = time.monotonic()
        try:
            if watcher is not None:
                proc = dispatcher.spawn(watcher, argv, **spawn_kwargs)
            else:
                proc = _engine.spawn(argv, **spawn_kwargs)
        except OSError as exc:  # SpawnError, or EMFILE/ENOMEM from the pipes
            log.debug("spawn failed for %s: %s", display, exc)
            return ExecutionResult(success=False, command=display, mode=exec_mode,
                                   error=spawn_error_message(exc, argv, cwd_bytes),
                                   execution_time=time.monotonic() - t0, errno=exc.errno)
        record = ProcessRecord(pid=proc.pid, command=display, mode=exec_mode, process=proc,
                               start_time=time.time(), encoding=encoding, detached=bool(detach),
                               via_shell=via_shell, stdin_piped=spawn_kwargs["stdin"] == _engine.PIPE)
        self._registry.add(record)
        log.debug("started pid %d (%s): %s", proc.pid, exec_mode.value, display)
        if data is not None:
            try:
                proc.write(data)
            except (BrokenPipeError, ValueError) as exc:  # it exited without reading: not our error
                log.debug("pid %d: input_data not written: %s", proc.pid, exc)
        if data is not None and not interactive:
            proc.close_stdin()
        launch = ExecutionResult(success=True, command=display, pid=proc.pid, mode=exec_mode,
                                 execution_time=time.monotonic() - t0)
        return record, watcher, launch

    def _finish_blocking(self, record: ProcessRecord, watcher: Optional[Watcher],
                         timeout: Optional[float]) -> ExecutionResult:
        proc = record.process
        start = proc.start_time
        # The engine ends the group at the timeout (SIGTERM, SIGKILL after the
        # grace); this bound only guards against it not doing so.
        limit = None if timeout is None else timeout + TIMEOUT_GRACE + 0.1
        if not _wait_exit(proc, limit):
            log.warning("pid %d outlived its timeout; killing its group", proc.pid)
            proc.signal_group(9)
            proc.send_signal(9)
            proc.wait(0.1)
        # Wait a little for the pipes' EOF, within the timeout's half second.
        eof_wait = EOF_GRACE
        if timeout is not None:
            eof_wait = min(eof_wait, start + timeout + 0.45 - time.monotonic())
        proc.wait_eof(max(0.0, eof_wait))
        result = finished_result(proc, record.command, record.mode, timeout, record.encoding,
                                 record.via_shell)
        if watcher is not None and not dispatcher.in_dispatcher():
            # on_complete has run (or runs within the timeout's budget) before we return.
            budget = None if timeout is None else max(0.0, start + timeout + 0.5 - time.monotonic())
            watcher.done.wait(budget)
        return result

    # -- registry ----------------------------------------------------------

    def get_active_processes(self) -> dict[int, dict[str, Any]]:
        """{pid: info} of this executor's running processes."""
        return {r.pid: r.info() for r in self._registry.running()}

    def get_processes(self) -> dict[int, dict[str, Any]]:
        """{pid: info} of every process this executor still has a record of."""
        return {r.pid: r.info() for r in self._registry.records()}

    def cleanup_finished_processes(self) -> int:
        """Forget the finished processes; return how many were removed."""
        return self._registry.cleanup()

    def terminate_all(self, timeout: float = 5.0) -> int:
        """End every running process of this executor (their groups); return how many."""
        running = self._registry.running()
        for r in running:
            r.process.terminate(min(timeout, TIMEOUT_GRACE * 10), True)
        deadline = time.monotonic() + timeout
        for r in running:
            r.process.wait(max(0.0, deadline - time.monotonic()))
        return len(running)


_default_executor = CommandExecutor(_registry=default_registry)


def get_default_executor() -> CommandExecutor:
    """The executor shared by the module-level functions."""
    return _default_executor


def execute_command(
    command: Any,
    mode: Any = ExecutionMode.BLOCKING,
    cwd: Any = None,
    env: Any = None,
    timeout: Any = None,
    input_data: Any = None,
    on_output: Optional[TextCallback] = None,
    on_error: Optional[TextCallback] = None,
    on_complete: Optional[ResultCallback] = None,
    shell: Optional[bool] = None,
    capture_output: bool = True,
    extra_env: Any = None,
    encoding: str = DEFAULT_ENCODING,
    detach: bool = False,
    buffer_size: Optional[int] = None,
) -> ExecutionResult:
    return _default_executor.execute_command(
        command, mode, cwd, env, timeout, input_data, on_output, on_error, on_complete, shell,
        capture_output, extra_env, encoding, detach, buffer_size)


async def execute_command_async(
    command: Any,
    mode: Any = ExecutionMode.BLOCKING,
    cwd: Any = None,
    env: Any = None,
    timeout: Any = None,
    input_data: Any = None,
    on_output: Optional[TextCallback] = None,
    on_error: Optional[TextCallback] = None,
    on_complete: Optional[ResultCallback] = None,
    shell: Optional[bool] = None,
    capture_output: bool = True,
    extra_env: Any = None,
    encoding: str = DEFAULT_ENCODING,
    detach: bool = False,
    buffer_size: Optional[int] = None,
) -> ExecutionResult:
    return await _default_executor.execute_command_async(
        command, mode, cwd, env, timeout, input_data, on_output, on_error, on_complete, shell,
        capture_output, extra_env, encoding, detach, buffer_size)


execute_command.__doc__ = CommandExecutor.execute_command.__doc__
execute_command_async.__doc__ = CommandExecutor.execute_command_async.__doc__
