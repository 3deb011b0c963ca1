"""Turning execute_command's arguments into what _engine.spawn takes, with
an error that names the cause for each bad argument."""

from __future__ import annotations

import errno
import math
import os
import re
import shlex
import time
from collections.abc import Mapping, Sequence
from typing import Optional, Union

from ._signals import signal_name

SHELL = b"/bin/sh"

CommandLike = Union[str, bytes, "os.PathLike[str]", list[object], tuple[object, ...]]


# A shell command made only of plain words: safe to prefix with "exec" so that
# the pid is the program itself (dash does not exec the last command: the
# pid would be a shell that defers SIGINT and outlives a SIGTERM).
_PLAIN_COMMAND = re.compile(r"[A-Za-z0-9_./:,+@%=-]+(?:[ \t]+[A-Za-z0-9_./:,+@%=-]+)*")
# Shell builtins and keywords: these must not be exec'd.
_SHELL_WORDS = frozenset(
    "alias bg break cd chdir command continue echo eval exec exit export false fc fg getopts hash "
    "jobs kill local printf pwd read readonly return set shift test times trap true type ulimit "
    "umask unalias unset wait if then else elif fi for while until do done case esac function "
    "select time source".split())


def shell_script(command: str) -> str:
    """The script given to /bin/sh -c: ``exec`` is prepended to a plain
    command (words only, no operator, quote, expansion or builtin)."""
    stripped = command.strip()
    if _PLAIN_COMMAND.fullmatch(stripped):
        first = stripped.split()[0]
        if "=" not in first and first not in _SHELL_WORDS:
            return "exec " + stripped
    return command


class BadArgument(ValueError):
    """An argument of a public function is invalid; the message names it."""


def _arg_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (str, bytes, os.PathLike)):
        raise BadArgument(f"{what} must be str, bytes or a path, not {type(value).__name__}")
    try:
        data = os.fsencode(value)
    except UnicodeEncodeError:  # its message would quote part of the value
        raise BadArgument(f"{what} cannot be encoded (a lone surrogate)") from None
    if b"\0" in data:
        raise BadArgument(f"{what} contains a NUL byte")
    return data


def build_argv(command: object, shell: Optional[bool]) -> tuple[list[bytes], str]:
    """(argv, display form).  A str runs through /bin/sh -c unless shell=False
    (then it is split like a shell would, but never interpreted); a list or
    tuple runs as argv unless shell=True (then, as in subprocess, its first
    item is the script and the rest its positional arguments)."""
    if isinstance(command, (str, bytes)):
        text = os.fsdecode(command)
        if not text.strip():
            raise BadArgument("empty command")
        if shell is False:
            try:
                words = shlex.split(text)
            except ValueError as exc:
                raise BadArgument(f"cannot split command: {exc}") from None
            return [_arg_bytes(w, "command") for w in words], text
        return [SHELL, b"-c", _arg_bytes(shell_script(text), "command")], text
    if isinstance(command, (list, tuple)):
        if not command:
            raise BadArgument("empty command")
        argv = [_arg_bytes(a, "command argument") for a in command]
        if not argv[0]:
            raise BadArgument("empty program name")
        display = shlex.join(os.fsdecode(a) for a in argv)
        if shell:
            return [SHELL, b"-c", argv[0], *argv[1:]], display
        return argv, display
    if isinstance(command, os.PathLike):
        return build_argv([command], shell)
    raise BadArgument(f"command must be a str or a list of str, not {type(command).__name__}")


# prepare_command's memo: agents and test runners repeat the same commands,
# and encoding, checking and quoting them costs more than the rest of a
# call's Python side.  Only commands made of str are kept (their argv cannot
# change); cleared when full.
_PREPARED_MAX = 256
_prepared: dict[tuple[object, Optional[bool]], tuple[tuple[bytes, ...], str, bool]] = {}


def prepare_command(command: object, shell: Optional[bool]) -> tuple[tuple[bytes, ...], str, bool]:
    """build_argv, memoised: (argv, display form, whether it runs through
    /bin/sh -c)."""
    key: Optional[tuple[object, Optional[bool]]] = None
    if shell is None or shell is True or shell is False:  # shell=0 is not shell=False for a str
        if type(command) is str:
            key = (command, shell)
        elif type(command) is list or type(command) is tuple:
            key = (tuple(command), shell)
    if key is not None:
        try:
            hit = _prepared.get(key)
        except TypeError:  # an unhashable item: build_argv names the bad argument
            key = hit = None
        if hit is not None:
            return hit
    argv, display = build_argv(command, shell)
    prepared = (tuple(argv), display, argv[0] == SHELL and argv[1:2] == [b"-c"])
    if key is not None and _all_str(key[0]):
        if len(_prepared) >= _PREPARED_MAX:
            _prepared.clear()
        _prepared[key] = prepared
    return prepared


def _all_str(words: object) -> bool:
    return type(words) is str or (type(words) is tuple and all(type(w) is str for w in words))


# What clean_env=True keeps of this process's environment.
MINIMAL_ENV = (b"PATH", b"HOME", b"LANG", b"TERM")


def build_env(env: object, extra_env: object, clean: bool = False) -> Optional[list[bytes]]:
    """``env`` replaces the environment; ``extra_env`` adds to os.environ (or
    to ``env`` when both are given).  ``clean``: both add to MINIMAL_ENV's
    variables instead (PATH is os.defpath when unset).  None: inherit
    unchanged.  Errors name a variable, never its value."""
    if env is None and extra_env is None and not clean:
        return None
    merged: dict[bytes, bytes] = {}
    if clean:
        merged = {name: os.environb[name] for name in MINIMAL_ENV if name in os.environb}
        merged.setdefault(b"PATH", os.fsencode(os.defpath))
    elif env is None:
        merged.update(os.environb)
    for what, mapping in (("env", env), ("extra_env", extra_env)):
        if mapping is None:
            continue
        if not isinstance(mapping, Mapping):
            raise BadArgument(f"{what} must be a mapping, not {type(mapping).__name__}")
        for key, value in mapping.items():
            k = _arg_bytes(key, f"{what} name")
            if not k or b"=" in k:  # the part after '=' may be a value given by mistake
                raise BadArgument(f"invalid {what} variable name: {os.fsdecode(k.partition(b'=')[0])!r} "
                                  "(empty or containing '=')")
            merged[k] = _arg_bytes(value, f"{what}[{os.fsdecode(k)!r}]")
    return [k + b"=" + v for k, v in merged.items()]


def time_left(deadline: Optional[float]) -> Optional[float]:
    """Seconds until ``deadline`` (a time.monotonic() value), never below
    0; None when there is no deadline."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def check_timeout(timeout: object, what: str = "timeout") -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise BadArgument(f"{what} must be a number of seconds, not {type(timeout).__name__}")
    value = float(timeout)
    if math.isnan(value) or value < 0:
        raise BadArgument(f"{what} must be >= 0, got {timeout!r}")
    return None if math.isinf(value) else value


def check_cwd(cwd: object) -> Optional[bytes]:
    if cwd is None:
        return None
    path = _arg_bytes(cwd, "cwd")
    if not os.path.exists(path):
        raise BadArgument(f"working directory does not exist: {os.fsdecode(path)}")
    if not os.path.isdir(path):
        raise BadArgument(f"working directory is not a directory: {os.fsdecode(path)}")
    return path


def check_input(input_data: object) -> Optional[bytes]:
    if input_data is None:
        return None
    if isinstance(input_data, str):
        return input_data.encode("utf-8")
    if isinstance(input_data, (bytes, bytearray, memoryview)):
        return bytes(input_data)
    raise BadArgument(f"input_data must be str or bytes, not {type(input_data).__name__}")


def spawn_error_message(exc: OSError, argv: Sequence[bytes], cwd: Optional[bytes]) -> str:
    """"command not found: foo", "permission denied: ./x", ..."""
    program = os.fsdecode(argv[0])
    filename = exc.filename
    if cwd is not None and filename is not None and os.fsencode(filename) == cwd:
        if exc.errno == errno.ENOENT:
            return f"working directory does not exist: {os.fsdecode(cwd)}"
        return f"cannot use working directory {os.fsdecode(cwd)}: {exc.strerror}"
    if exc.errno == errno.ENOENT:
        return f"command not found: {program}"
    if exc.errno == errno.EACCES:
        return f"permission denied: {program}"
    if exc.errno == errno.ENOEXEC:
        return f"not an executable format: {program}"
    if exc.errno == errno.ENOTDIR:
        return f"not a directory in the path of: {program}"
    return f"cannot start {program}: {exc.strerror or exc}"


def describe_exit(return_code: Optional[int], timed_out: bool, timeout: Optional[float],
                  via_shell: bool) -> Optional[str]:
    """The error text of a finished process, None for a clean exit."""
    if timed_out:
        return f"timed out after {timeout:g} s" if timeout is not None else "timed out"
    if return_code is None or return_code == 0:
        return None
    if return_code < 0:
        return f"killed by {signal_name(-return_code)}"
    if via_shell and return_code == 127:
        return "exit status 127 (command not found)"
    if via_shell and return_code == 126:
        return "exit status 126 (permission denied or not executable)"
    return f"exit status {return_code}"
