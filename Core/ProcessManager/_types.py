"""Public value types: execution modes, results and the exceptions of check()."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional


class ExecutionMode(str, enum.Enum):
    """How execute_command runs a command.

    A ``str`` subclass so that existing callers comparing with or passing the
    plain values ("blocking", ...) keep working.
    """

    BLOCKING = "blocking"
    BACKGROUND = "background"
    INTERACTIVE = "interactive"
    MONITORED = "monitored"

    def __str__(self) -> str:
        return self.value


class ProcessManagerError(Exception):
    """Base class of the exceptions raised by ExecutionResult.check()."""

    def __init__(self, message: str, result: Optional["ExecutionResult"] = None) -> None:
        super().__init__(message)
        self.result = result


class CommandStartError(ProcessManagerError):
    """The command was never started (bad argument, not found, missing cwd...)."""


class CommandFailedError(ProcessManagerError):
    """The command ran and ended with a non-zero status or a signal."""


class CommandTimeoutError(CommandFailedError):
    """The command was ended because it reached its timeout."""


@dataclass
class ExecutionResult:
    """The outcome of execute_command.

    ``success`` means exit status 0 for BLOCKING and "started" for the modes
    that return at once.  ``return_code`` is negative for a signal, as in
    subprocess; ``signal`` is then the signal number.  ``command`` is the
    command as given, never redacted (only logs are; see redact_command).
    A command refused by the executor's policy has ``pid`` None and an
    ``error`` starting with "refused by policy:".
    """

    success: bool
    command: str
    pid: Optional[int] = None
    return_code: Optional[int] = None
    stdout: str = ""
    stderr: str = ""
    execution_time: float = 0.0
    mode: ExecutionMode = ExecutionMode.BLOCKING
    error: Optional[str] = None
    timed_out: bool = False
    signal: Optional[int] = None
    stdout_dropped: int = 0
    stderr_dropped: int = 0
    # errno of a failed start (ENOENT, EACCES...), for callers mapping exit codes.
    errno: Optional[int] = None
    # False while the process is still running: a result of the modes that
    # return at once, or of a blocking call moved to the background
    # (background_after) or a wait_for_process that ran out of time; stdout
    # and stderr then hold the output so far.
    finished: bool = True

    def check(self) -> "ExecutionResult":
        """Return self when successful, else raise the matching typed exception."""
        if self.success:
            return self
        message = self.error or f"command failed: {self.command}"
        if self.timed_out:
            raise CommandTimeoutError(message, self)
        if self.pid is None:
            raise CommandStartError(message, self)
        raise CommandFailedError(message, self)
