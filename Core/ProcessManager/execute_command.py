"""Running commands: execute_command, execute_command_async and CommandExecutor.

A ``str`` command runs through ``/bin/sh -c``; a list or tuple runs as argv,
never through a shell.  Nothing here raises for a runtime failure: the
result says ``success=False`` and ``error`` names the cause.

``pty=True`` (any mode) gives the child a pseudo-terminal as its controlling
terminal (stdin, stdout and stderr, so stderr is merged into stdout): REPLs,
``bash -i`` and programs that line-buffer only on a terminal behave as for a
person.  write_to_process types into it (the terminal echoes); closing its
input means typing the terminal's EOF character, ^D (b"\x04"), which the
modes other than INTERACTIVE do after ``input_data``, as a closed stdin.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable
from typing import Any, Optional

from . import _aio, _engine
from ._command import BadArgument, build_env, check_cwd, check_input, check_timeout, prepare_command, \
    spawn_error_message
from ._agent import FeedSlot, FinishedFeed, pty_eof, running_result
from ._dispatch import DRAIN, ResultCallback, TextCallback, Watcher, dispatcher
from ._policy import CommandPolicy, Redaction, compile_redactions, redact_command
from ._registry import ProcessRecord, Registry, default_registry
from ._results import finished_result, result_maker
from ._text import DEFAULT_ENCODING, check_encoding
from ._types import (CommandFailedError, CommandStartError, CommandTimeoutError, ExecutionMode,
                     ExecutionResult, ProcessManagerError)

__all__ = [
    "CommandExecutor", "ExecutionMode", "ExecutionResult", "ProcessManagerError",
    "CommandStartError", "CommandFailedError", "CommandTimeoutError",
    "execute_command", "execute_command_async", "get_default_executor", "pop_finished_processes",
]

log = logging.getLogger("Core.ProcessManager")

# SIGTERM -> SIGKILL delay when a timeout ends a process group.
TIMEOUT_GRACE = 0.2
# How long a blocking call waits for the pipes' EOF after the exit (a
# descendant may hold them: the call returns anyway, the output keeps being
# drained into the record).
EOF_GRACE = DRAIN
# Ring size per stream kept by a blocking call moved to the background
# (background_after) beyond what it already holds: it stops growing.
BACKGROUND_CAPACITY = 1 << 20

def _check_pty(pty: object, rows: object, cols: object) -> bool:
    if pty is False and rows == 24 and cols == 80:  # the defaults: nothing to check
        return False
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise BadArgument(f"{name} must be an int in 1..65535, got {value!r}")
    return bool(pty)


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


# The engine's spawn arguments of a plain blocking run (see CommandExecutor._run_plain).
_PLAIN_SPAWN: dict[str, Any] = {"growing": True, "waited": True}


class CommandExecutor:
    """Starts commands and keeps a record of each; instances are separate
    registries.  The module-level functions use one default executor.

    ``policy``: a CommandPolicy every command must pass (None: all allowed);
    a refused command is a failed result and nothing is started.
    ``clean_env=True``: the default of execute_command's ``clean_env``.
    ``redact``: regular expressions masked (``***``) in the commands this
    executor logs, on top of DEFAULT_REDACTIONS.  All three can be set
    later as attributes."""

    def __init__(self, max_finished: int = 1000, *, on_finished: Optional[ResultCallback] = None,
                 policy: Optional[CommandPolicy] = None, clean_env: bool = False,
                 redact: Iterable[Redaction] = (), _registry: Optional[Registry] = None) -> None:
        self._registry = _registry if _registry is not None else Registry(max_finished)
        self._feed = FinishedFeed(self._registry)
        if on_finished is not None:
            self.on_finished = on_finished
        self.policy = policy
        self.clean_env = clean_env
        self.redact = redact

    @property
    def registry(self) -> Registry:
        return self._registry

    # -- policy and logs ---------------------------------------------------

    @property
    def policy(self) -> Optional[CommandPolicy]:
        """The CommandPolicy checked before each start, or None."""
        return self._policy

    @policy.setter
    def policy(self, policy: Optional[CommandPolicy]) -> None:
        if policy is not None and not isinstance(policy, CommandPolicy):
            raise TypeError(f"policy must be a CommandPolicy or None, not {type(policy).__name__}")
        self._policy = policy

    @property
    def redact(self) -> tuple[re.Pattern[str], ...]:
        """This executor's own redaction patterns (DEFAULT_REDACTIONS always apply)."""
        return self._redact

    @redact.setter
    def redact(self, patterns: Iterable[Redaction]) -> None:
        self._redact = compile_redactions(patterns)

    def _logged(self, text: str) -> str:
        """A command as it may be written to a log."""
        return redact_command(text, self._redact)

    # -- completion notices ------------------------------------------------

    @property
    def on_finished(self) -> Optional[ResultCallback]:
        """Called with the final ExecutionResult of each process of this
        executor when it ends (on the dispatcher thread; an exception is
        logged).  Setting it starts the completion notices (see
        finished_since_last_look)."""
        return self._feed.on_finished

    @on_finished.setter
    def on_finished(self, callback: Optional[ResultCallback]) -> None:
        _check_callback(callback, "on_finished")
        self._feed.on_finished = callback
        if callback is not None:
            self._feed.enable()

    def finished_since_last_look(self) -> list[ExecutionResult]:
        """The final results of this executor's processes that ended since
        the previous call, in the order they ended (each process once,
        whatever its mode).  Nothing polls: the dispatcher thread queues
        each result when the process ends.  The first call (or setting
        on_finished) starts the notices: it returns the processes already
        finished and still recorded, and watches the running ones from then
        on; until then plain runs pay nothing for this."""
        return self._feed.take()

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
        *,
        pty: bool = False,
        rows: int = 24,
        cols: int = 80,
        background_after: Optional[float] = None,
        limits: Optional[dict[str, Any]] = None,
        clean_env: Optional[bool] = None,
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

        ``pty=True``: a pseudo-terminal of ``rows`` x ``cols`` (see the
        module's docstring; resize_process changes it).
        ``limits={"cpu": 10, "memory": 2**30, "open_files": 256,
        "processes": 64, ...}`` (a value or (soft, hard); None unlimited):
        resource limits in force from the program's first instruction.
        ``clean_env=True``: the child gets only PATH (os.defpath when unset),
        HOME, LANG and TERM from this environment, plus ``env`` and
        ``extra_env``; None: the executor's default (False: inherit).
        ``background_after=S`` (BLOCKING): if the process is still running
        after S seconds, return a result with ``finished=False`` (output so
        far, ``success=True``, no return code) and leave it running, as a
        shell moves a job to the background; ``timeout`` still ends it, and
        wait_for_process / read_from_process / finished_since_last_look
        follow it from there.
        """
        # The usual call, execute_command(command), takes a short cut.
        if (mode is ExecutionMode.BLOCKING and cwd is None and env is None and timeout is None
                and input_data is None and on_output is None and on_error is None and on_complete is None
                and shell is None and extra_env is None and encoding is DEFAULT_ENCODING and detach is False
                and buffer_size is None and pty is False and background_after is None and limits is None
                and clean_env is None and self._policy is None and not self.clean_env and not self._feed.enabled):
            return self._run_plain(command)
        try:
            after = check_timeout(background_after, "background_after")
        except BadArgument as exc:
            return ExecutionResult(success=False, command=_display(command), error=str(exc))
        started = self._start(command, mode, cwd, env, timeout, input_data, on_output, on_error,
                              on_complete, shell, extra_env, encoding, detach, buffer_size, None,
                              pty=pty, rows=rows, cols=cols, limits=limits, clean_env=clean_env,
                              waited=True)
        if isinstance(started, ExecutionResult):
            return started
        record, watcher, launch = started
        if launch is not None:  # the modes that return at once
            return launch
        return self._finish_blocking(record, watcher, check_timeout(timeout), after)

    def _run_plain(self, command: Any) -> ExecutionResult:
        """execute_command(command) with every other argument at its
        default: the same result as _start + _finish_blocking, through a
        third of their code (run cold between two spawns, each line costs)."""
        blocking = ExecutionMode.BLOCKING
        try:
            argv, display, via_shell = prepare_command(command, None)
        except ValueError as exc:
            return ExecutionResult(success=False, command=_display(command), mode=blocking, error=str(exc))
        started = self._spawn(argv, display, blocking, None, None, _PLAIN_SPAWN)
        if isinstance(started, ExecutionResult):
            return started
        record = self._register(started, display, blocking, DEFAULT_ENCODING, via_shell)
        return self._finish_blocking(record, None, None)

    def _spawn(self, argv: tuple[bytes, ...], display: str, exec_mode: ExecutionMode, cwd_bytes: Optional[bytes],
               watcher: Optional[Watcher], spawn_kwargs: dict[str, Any]) -> _engine.Process | ExecutionResult:
        """The engine's spawn, or the failed result that says why not."""
        t0 = time.monotonic()
        try:
            if watcher is not None:
                return dispatcher.spawn(watcher, argv, **spawn_kwargs)
            return _engine.spawn(argv, **spawn_kwargs)
        except (ValueError, TypeError) as exc:  # limits the engine refused
            return ExecutionResult(success=False, command=display, mode=exec_mode, error=str(exc))
        except OSError as exc:  # SpawnError, or EMFILE/ENOMEM from the pipes
            if log.isEnabledFor(logging.DEBUG):
                log.debug("spawn failed for %s: %s", self._logged(display), exc)
            return ExecutionResult(success=False, command=display, mode=exec_mode,
                                   error=spawn_error_message(exc, argv, cwd_bytes),
                                   execution_time=time.monotonic() - t0, errno=exc.errno)

    def _register(self, proc: _engine.Process, display: str, exec_mode: ExecutionMode, encoding: str,
                  via_shell: bool, stdin_piped: bool = False, use_pty: bool = False,
                  detach: bool = False) -> ProcessRecord:
        record = ProcessRecord(pid=proc.pid, command=display, mode=exec_mode, process=proc,
                               start_time=time.time(), encoding=encoding, detached=bool(detach),
                               via_shell=via_shell, stdin_piped=stdin_piped, pty=use_pty)
        self._registry.add(record)
        if log.isEnabledFor(logging.DEBUG):  # str(mode) is its value
            log.debug("started pid %d (%s): %s", proc.pid, exec_mode, self._logged(display))
        return record

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
        *,
        pty: bool = False,
        rows: int = 24,
        cols: int = 80,
        background_after: Optional[float] = None,
        limits: Optional[dict[str, Any]] = None,
        clean_env: Optional[bool] = None,
    ) -> ExecutionResult:
        """execute_command for asyncio, with no thread per call.  BLOCKING
        awaits the end on the running loop: the process is subscribed to the
        loop's engine NoticeChannel (one per loop, its descriptor watched by
        loop.add_reader), or, when it has callbacks, the result comes from
        the dispatcher thread after on_complete.  The other modes return at
        once.  ``pty``, ``rows``, ``cols`` and ``background_after`` as in
        execute_command, and so are ``clean_env`` and the executor's policy.
        Cancelling the awaiting task ends the process group."""
        loop = asyncio.get_running_loop()
        try:
            after = check_timeout(background_after, "background_after")
            seconds = check_timeout(timeout)
        except BadArgument as exc:
            return ExecutionResult(success=False, command=_display(command), error=str(exc))
        try:
            blocking = _check_mode(mode) is ExecutionMode.BLOCKING
        except BadArgument:
            blocking = False  # _start reports it
        future: Optional[asyncio.Future[ExecutionResult]] = None
        complete: Optional[ResultCallback] = None
        if blocking and (on_output or on_error or on_complete):
            future = loop.create_future()

            def resolve(result: ExecutionResult) -> None:
                assert future is not None
                if not future.done():
                    future.set_result(result)

            def complete(result: ExecutionResult) -> None:
                try:
                    loop.call_soon_threadsafe(resolve, result)
                except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
                    pass

        started = self._start(command, mode, cwd, env, timeout, input_data, on_output, on_error,
                              on_complete, shell, extra_env, encoding, detach, buffer_size, complete,
                              pty=pty, rows=rows, cols=cols, limits=limits, clean_env=clean_env)
        if isinstance(started, ExecutionResult):
            return started
        record, _watcher, launch = started
        if launch is not None:
            return launch
        proc = record.process
        try:
            if future is not None:
                if after is None:
                    return await future
                await asyncio.wait({future}, timeout=after)
                return future.result() if future.done() else self.to_background(record)
            ended = await _aio.wait_blocking_end(proc, seconds, after, TIMEOUT_GRACE, EOF_GRACE)
        except asyncio.CancelledError:
            proc.terminate(TIMEOUT_GRACE, True)
            raise
        if ended is None:
            return self.to_background(record)
        if not ended:
            log.warning("pid %d outlived its timeout; killing its group", proc.pid)
            proc.signal_group(9)
            proc.send_signal(9)
        return finished_result(proc, record.command, record.mode, seconds, record.encoding, record.via_shell)

    def _start(self, command: Any, mode: Any, cwd: Any, env: Any, timeout: Any, input_data: Any,
               on_output: Any, on_error: Any, on_complete: Any, shell: Any, extra_env: Any,
               encoding: Any, detach: Any, buffer_size: Any,
               completion: Optional[ResultCallback], *, pty: Any = False, rows: Any = 24, cols: Any = 80,
               limits: Any = None, clean_env: Any = None, waited: bool = False
               ) -> ExecutionResult | tuple[ProcessRecord, Optional[Watcher], Optional[ExecutionResult]]:
        """Validate and spawn.  A failed ExecutionResult, or (record, watcher,
        "started" result, None for BLOCKING).  waited: this thread waits
        for a BLOCKING process at once (the engine's spawn(waited=True))."""
        try:
            exec_mode = _check_mode(mode)
        except BadArgument as exc:
            return ExecutionResult(success=False, command=_display(command), error=str(exc))
        if self._policy is not None:
            decision = self._policy.check(command, shell)
            if not decision.allowed:
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s", self._logged(f"{decision.message}: {_display(command)}"))
                return ExecutionResult(success=False, command=_display(command), mode=exec_mode,
                                       error=decision.message)
        display = None
        try:
            argv, display, via_shell = prepare_command(command, shell)
            env_list = build_env(env, extra_env, self.clean_env if clean_env is None else bool(clean_env))
            cwd_bytes = check_cwd(cwd)
            seconds = check_timeout(timeout)
            data = check_input(input_data)
            encoding = check_encoding(encoding)
            if on_output is not None or on_error is not None or on_complete is not None:
                for what, callback in (("on_output", on_output), ("on_error", on_error),
                                       ("on_complete", on_complete)):
                    _check_callback(callback, what)
            if buffer_size is not None and (isinstance(buffer_size, bool) or not isinstance(buffer_size, int)
                                            or buffer_size <= 0):
                raise BadArgument(f"buffer_size must be a positive int, got {buffer_size!r}")
            use_pty = _check_pty(pty, rows, cols)
        except ValueError as exc:  # BadArgument, or a bad encoding
            return ExecutionResult(success=False, command=display if display is not None else _display(command),
                                   mode=exec_mode, error=str(exc))

        interactive = exec_mode is ExecutionMode.INTERACTIVE

        # Only what differs from the engine's defaults (stdin /dev/null, stdout
        # and stderr piped, inherited env and cwd, own process group, no
        # timeout, a ring): its keyword parsing is part of every call's cost.
        stdin_piped = interactive or data is not None or use_pty
        spawn_kwargs: dict[str, Any] = {}
        if exec_mode is ExecutionMode.BLOCKING:
            spawn_kwargs["growing"] = True
            if waited:
                spawn_kwargs["waited"] = True
        if stdin_piped:
            spawn_kwargs["stdin"] = _engine.PIPE
        if env_list is not None:
            spawn_kwargs["env"] = env_list
        if cwd_bytes is not None:
            spawn_kwargs["cwd"] = cwd_bytes
        if detach:
            spawn_kwargs["new_session"] = True
        if seconds is not None:
            spawn_kwargs.update(timeout=seconds, grace=TIMEOUT_GRACE)
        if buffer_size is not None:
            spawn_kwargs["capacity"] = buffer_size
        if use_pty:
            spawn_kwargs.update(pty=True, rows=rows, cols=cols, stdin=_engine.PIPE, stderr=_engine.STDOUT)
        if limits is not None:
            spawn_kwargs["limits"] = limits
        watcher: Optional[Watcher] = None
        slot: Optional[FeedSlot] = self._feed.slot() if self._feed.enabled else None
        if on_output or on_error or on_complete or completion or slot:
            completions: list[ResultCallback] = [c for c in (completion, slot) if c is not None]
            watcher = Watcher(encoding, on_output, on_error, on_complete,
                              result_maker(display, exec_mode, seconds, encoding, via_shell), completions)
        started = self._spawn(argv, display, exec_mode, cwd_bytes, watcher, spawn_kwargs)
        if isinstance(started, ExecutionResult):
            return started
        proc = started
        record = self._register(proc, display, exec_mode, encoding, via_shell, stdin_piped, use_pty, detach)
        if slot is not None:
            slot.bind(record)
        if data is not None:
            try:
                proc.write(data)
            except (BrokenPipeError, ValueError) as exc:  # it exited without reading: not our error
                log.debug("pid %d: input_data not written: %s", proc.pid, exc)
        if use_pty and not interactive:
            try:  # a terminal has no input to close: ^D is its end of input
                proc.write(pty_eof(data or b""))
            except (BrokenPipeError, ValueError):
                pass
        elif data is not None and not interactive:
            proc.close_stdin()
        if exec_mode is ExecutionMode.BLOCKING:
            return record, watcher, None  # its caller waits and makes the result
        launch = ExecutionResult(success=True, command=display, pid=proc.pid, mode=exec_mode,
                                 execution_time=time.monotonic() - proc.start_time, finished=False)
        return record, watcher, launch

    def _finish_blocking(self, record: ProcessRecord, watcher: Optional[Watcher],
                         timeout: Optional[float], background_after: Optional[float] = None) -> ExecutionResult:
        proc = record.process
        start = proc.start_time
        # The engine ends the group at the timeout (SIGTERM, SIGKILL after the
        # grace); this bound only guards against it not doing so.
        limit = None if timeout is None else timeout + TIMEOUT_GRACE + 0.1
        if background_after is not None and (limit is None or background_after < limit):
            if not _wait_exit(proc, max(0.0, start + background_after - time.monotonic())):
                return self.to_background(record)
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
        if watcher is not None and not dispatcher.in_dispatcher() and (
                watcher.on_output or watcher.on_error or watcher.on_complete):
            # on_complete has run (or runs within the timeout's budget) before we return.
            budget = None if timeout is None else max(0.0, start + timeout + 0.5 - time.monotonic())
            watcher.done.wait(budget)
        return result

    @staticmethod
    def to_background(record: ProcessRecord) -> ExecutionResult:
        """A blocking call gives up waiting: its full capture stops growing
        (what it holds is kept, plus BACKGROUND_CAPACITY), and the result
        says finished=False with the output so far."""
        proc = record.process
        held = max(proc.stream_info(_engine.OUT)[0], proc.stream_info(_engine.ERR)[0])
        try:
            proc.set_capacity(held + BACKGROUND_CAPACITY)
        except (MemoryError, ValueError) as exc:  # it keeps growing: only memory is at stake
            log.debug("pid %d: capacity not set: %s", proc.pid, exc)
        log.debug("pid %d: still running, moved to the background", proc.pid)
        return running_result(record)

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


def pop_finished_processes() -> list[ExecutionResult]:
    """The final results of the processes started by the module-level
    functions that ended since the previous call (see
    CommandExecutor.finished_since_last_look)."""
    return _default_executor.finished_since_last_look()


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
    *,
    pty: bool = False,
    rows: int = 24,
    cols: int = 80,
    background_after: Optional[float] = None,
    limits: Optional[dict[str, Any]] = None,
    clean_env: Optional[bool] = None,
) -> ExecutionResult:
    return _default_executor.execute_command(
        command, mode, cwd, env, timeout, input_data, on_output, on_error, on_complete, shell,
        capture_output, extra_env, encoding, detach, buffer_size, pty=pty, rows=rows, cols=cols,
        background_after=background_after, limits=limits, clean_env=clean_env)


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
    *,
    pty: bool = False,
    rows: int = 24,
    cols: int = 80,
    background_after: Optional[float] = None,
    limits: Optional[dict[str, Any]] = None,
    clean_env: Optional[bool] = None,
) -> ExecutionResult:
    return await _default_executor.execute_command_async(
        command, mode, cwd, env, timeout, input_data, on_output, on_error, on_complete, shell,
        capture_output, extra_env, encoding, detach, buffer_size, pty=pty, rows=rows, cols=cols,
        background_after=background_after, limits=limits, clean_env=clean_env)


execute_command.__doc__ = CommandExecutor.execute_command.__doc__
execute_command_async.__doc__ = CommandExecutor.execute_command_async.__doc__
