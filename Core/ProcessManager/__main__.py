"""Command line: ``python -m Core.ProcessManager run [--timeout S] [--cwd D] -- COMMAND...``

Runs COMMAND with the library, streams its output as it comes and exits
with its status: 128+N for signal N, 124 for a timeout, 127 when the
command is not found, 126 when it cannot be executed, 125 when it could
not be started for another reason (a policy refusal among them).  One
COMMAND word runs through /bin/sh -c; several run as argv, never through a
shell.  ``--deny P`` / ``--allow P`` (repeatable globs) make a
CommandPolicy; ``--clean-env`` gives the command a minimal environment.
"""

from __future__ import annotations

import argparse
import errno
import sys
from typing import Optional, Sequence

from ._policy import CommandPolicy
from ._types import ExecutionMode, ExecutionResult
from .execute_command import CommandExecutor, get_default_executor


def _write(stream: str, text: str) -> None:
    out = sys.stdout if stream == "out" else sys.stderr
    out.write(text)
    out.flush()


def exit_status(result: ExecutionResult) -> int:
    """The shell's convention for a finished command."""
    if result.timed_out:
        return 124
    if result.pid is None:
        if result.errno == errno.ENOENT and "working directory" not in (result.error or ""):
            return 127
        if result.errno in (errno.EACCES, errno.ENOEXEC):
            return 126
        return 125
    if result.return_code is None:
        return 125
    if result.return_code < 0:
        return 128 - result.return_code
    return result.return_code


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m Core.ProcessManager",
                                     description="Run commands with Core.ProcessManager.")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command, stream its output, exit with its status")
    run.add_argument("--timeout", type=float, default=None, help="seconds before the group is ended")
    run.add_argument("--cwd", default=None, help="working directory")
    run.add_argument("--clean-env", action="store_true",
                     help="give the command only PATH, HOME, LANG and TERM from this environment")
    run.add_argument("--deny", action="append", metavar="PROGRAM",
                     help="refuse the command if it runs PROGRAM (a glob; repeatable)")
    run.add_argument("--allow", action="append", metavar="PROGRAM",
                     help="run the command only if every program it runs is allowed (a glob; repeatable)")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    bench = sub.add_parser("bench", help="the quick benchmark table (see _bench.py)", add_help=False)
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.action == "bench":
        try:
            from . import _bench  # type: ignore[attr-defined, unused-ignore]
        except ImportError:
            parser.error("bench: the benchmark module is not installed")
        return int(_bench.main(list(args.rest)))
    words = list(args.command)
    if words and words[0] == "--":
        words = words[1:]
    if not words:
        parser.error("run: no command given (usage: run [--timeout S] [--cwd D] -- COMMAND...)")
    command: "str | list[str]" = words[0] if len(words) == 1 else words
    executor = get_default_executor()
    if args.allow is not None or args.deny is not None:
        executor = CommandExecutor(policy=CommandPolicy(allow=args.allow, deny=args.deny))
    result = executor.execute_command(command, ExecutionMode.BLOCKING, cwd=args.cwd, timeout=args.timeout,
                                      on_output=lambda text: _write("out", text),
                                      on_error=lambda text: _write("err", text), clean_env=args.clean_env)
    if result.error and (result.pid is None or result.timed_out):
        _write("err", f"{parser.prog}: {result.error}\n")
    return exit_status(result)


if __name__ == "__main__":
    sys.exit(main())
