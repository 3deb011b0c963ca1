"""Command policy (which programs an executor may start) and the redaction
of secrets from commands written to logs.

A policy guards against mistakes (an agent that must not push, a tool that
must not call sudo); it is not a sandbox.  Rules match program names: the
basename of each program a command runs.  A list command runs one program
(or more through a wrapper: ``env``, ``sudo``, ``xargs``...); a ``str``
command is a shell script, read here without running it: every simple
command of it (between ``;``, ``&&``, ``||``, ``|``, ``&``, newlines,
parentheses, in ``$(...)`` and backquotes) names a program.  What cannot be
known without running the script (``eval``, ``$CMD`` or ``$(...)`` as the
command word, a nested shell) is refused by an allow-list and, a deny list
being a list of known names, allowed by a deny list: see README
"Command policy".
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = ["CommandPolicy", "PolicyDecision", "DEFAULT_REDACTIONS", "redact_command"]

# A rule or a redaction: a str (a glob for rules, a regular expression for
# redactions) or a compiled regular expression.
Rule = Union[str, "re.Pattern[str]"]
Redaction = Rule

# Nested $(...), backquotes and nested shells deeper than this are not read:
# the script is refused (no recursion limit, no quadratic time).
MAX_DEPTH = 32


@dataclass(frozen=True)
class PolicyDecision:
    """What CommandPolicy.check says of one command.

    ``rule`` names the rule that refused it (None when allowed):
    ``"deny 'git'"`` (the deny rule as written), ``"allow"`` (a program no
    allow rule matches), ``"static"`` (an allow-list needs to know every
    program), ``"max_length"``, ``"nul"``, ``"type"`` (an argument that is
    not a string) or ``"syntax"`` (a shell string that cannot be read).
    ``message`` is the result's ``error``: "refused by policy: ...".
    ``programs``: the program names found (a substitution before the
    command it is part of).
    """

    allowed: bool
    rule: Optional[str] = None
    message: str = ""
    programs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


def _refuse(rule: str, reason: str, programs: Sequence[str] = ()) -> PolicyDecision:
    return PolicyDecision(False, rule, f"refused by policy: {reason}", tuple(programs))


def _compile_rules(rules: Optional[Iterable[Rule]], what: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(label, regex) per rule: a str is a glob (fnmatch, case-sensitive), a
    compiled re.Pattern must match the whole name."""
    if rules is None:
        return ()
    if isinstance(rules, (str, re.Pattern)):
        rules = [rules]  # deny="git" means the one rule, not the letters g, i, t
    compiled = []
    for rule in rules:
        if isinstance(rule, re.Pattern):
            if not isinstance(rule.pattern, str):
                raise TypeError(f"{what} rule {rule!r}: a str pattern is needed, not bytes")
            compiled.append((f"/{rule.pattern}/", re.compile(rf"(?:{rule.pattern})\Z", rule.flags)))
        elif isinstance(rule, str) and rule:
            compiled.append((rule, re.compile(fnmatch.translate(rule))))
        else:
            raise TypeError(f"{what} rule must be a non-empty str (glob) or a re.Pattern, not {rule!r}")
    return tuple(compiled)


class CommandPolicy:
    """Which commands a CommandExecutor may start.

    ``deny``: rules (a glob such as ``"git"`` or ``"python3*"``, or a
    compiled ``re.Pattern`` matching the whole name) refusing any command
    that runs a matching program.  ``allow``: when given (even empty), only
    commands whose every program matches one of these rules, and whose
    programs can all be known without running anything, are allowed; deny
    rules still win.  ``max_length``: the most bytes a command may have (a
    str's UTF-8 bytes; a list's arguments plus one separator each).  NUL
    bytes and arguments that are not strings (str, bytes or a path) are
    always refused.  Rules match the program's basename, so ``"git"``
    catches ``/usr/bin/git`` and ``./git``, but not a copy of git under
    another name.
    """

    def __init__(self, *, allow: Optional[Iterable[Rule]] = None, deny: Optional[Iterable[Rule]] = None,
                 max_length: Optional[int] = None) -> None:
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length <= 0):
            raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
        self._deny = _compile_rules(deny, "deny")
        self._allow = None if allow is None else _compile_rules(allow, "allow")
        self._max_length = max_length

    @property
    def deny(self) -> tuple[str, ...]:
        return tuple(label for label, _ in self._deny)

    @property
    def allow(self) -> Optional[tuple[str, ...]]:
        return None if self._allow is None else tuple(label for label, _ in self._allow)

    @property
    def max_length(self) -> Optional[int]:
        return self._max_length

    def __repr__(self) -> str:
        return f"CommandPolicy(allow={self.allow!r}, deny={self.deny!r}, max_length={self._max_length!r})"

    def check(self, command: object, shell: Optional[bool] = None) -> PolicyDecision:
        """The decision for ``command`` as execute_command(command,
        shell=shell) would run it.  Never raises."""
        words: Optional[list[str]] = None
        script: Optional[str] = None
        if isinstance(command, (str, bytes)):
            text = os.fsdecode(command)
            if "\0" in text:
                return _refuse("nul", "no NUL bytes: the command contains a NUL byte")
            size = _size(text)
            if shell is False:
                try:
                    words = shlex.split(text)
                except ValueError as exc:
                    return _refuse("syntax", f"shell syntax: cannot split the command: {exc}")
            else:
                script = text
        elif isinstance(command, (list, tuple, os.PathLike)):
            items = [command] if isinstance(command, os.PathLike) else command
            words = []
            for index, item in enumerate(items):
                word = _string(item)
                if word is None:
                    return _refuse("type", f"string arguments only: command argument {index} is "
                                           f"{type(item).__name__}, not str")
                if "\0" in word:
                    return _refuse("nul", f"no NUL bytes: command argument {index} contains a NUL byte")
                words.append(word)
            size = sum(_size(w) for w in words) + max(0, len(words) - 1)
            if shell and words:  # as in subprocess: the first item is the script
                script, words = words[0], None
        else:
            return _refuse("type", f"string arguments only: the command is {type(command).__name__}, "
                                   "not str or a list of str")
        if self._max_length is not None and size > self._max_length:
            return _refuse("max_length", f"max_length: the command is {size} bytes, over {self._max_length}")
        if not self._deny and self._allow is None:
            return PolicyDecision(True)
        found = _Found()
        if script is not None:
            found.script(script)
        elif words:
            found.command([(w, w) for w in words])
        return self._judge(found)

    def _judge(self, found: "_Found") -> PolicyDecision:
        programs = found.programs
        for name in programs:
            for label, regex in self._deny:
                if regex.match(name):
                    return _refuse(f"deny {label!r}", f"deny rule {label!r} matched program {name!r}", programs)
        if found.broken:
            return _refuse("syntax", f"shell syntax: {found.broken}", programs)
        if self._allow is None:
            return PolicyDecision(True, programs=tuple(programs))
        if found.unknown:
            return _refuse("static", f"an allow-list needs every program known in advance: {found.unknown[0]}",
                           programs)
        for name in programs:
            if not any(regex.match(name) for _, regex in self._allow):
                return _refuse("allow", f"allow rules: no rule matches program {name!r}", programs)
        return PolicyDecision(True, programs=tuple(programs))


def _string(item: object) -> Optional[str]:
    """A command argument as str, None when it is not a string."""
    if isinstance(item, bool) or not isinstance(item, (str, bytes, os.PathLike)):
        return None
    try:
        return os.fsdecode(item)
    except TypeError:  # a __fspath__ returning something else
        return None


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _program(word: str) -> str:
    return os.path.basename(word.rstrip("/")) or word


# -- what runs: programs behind wrappers -------------------------------------------

# Programs that run the program named after their options; each with its
# options that take a separate value.  The wrapper is a program too (a deny
# rule can name it), except the shell builtins exec, command and builtin.
_WRAPPERS: dict[str, frozenset[str]] = {name: frozenset(opts.split()) for name, opts in {
    "env": "-u --unset -C --chdir -S --split-string",
    "nice": "-n --adjustment",
    "nohup": "",
    "timeout": "-s --signal -k --kill-after",
    "sudo": "-u --user -g --group -h --host -p --prompt -C --close-from -D --chdir -r --role "
            "-t --type -U --other-user -T --command-timeout -R --chroot",
    "doas": "-u -C",
    "xargs": "-a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars "
             "--process-slot-var",
    "time": "-f --format -o --output",
    "setsid": "",
    "stdbuf": "-i -o -e --input --output --error",
    "busybox": "",
    "exec": "-a",
    "command": "",
    "builtin": "",
}.items()}
_BUILTIN_WRAPPERS = frozenset({"exec", "command", "builtin"})
# Wrappers whose program may be preceded by NAME=value words.
_TAKE_ASSIGNMENTS = frozenset({"env", "sudo"})
# Shells: whatever they run is decided when they run.
_SHELLS = frozenset("sh bash dash zsh ksh mksh ash yash fish csh tcsh".split())
# Builtins that run text as commands; their literal arguments are still read
# for deny rules.
_CODE_BUILTINS = {"eval": "'eval' runs text as commands", "trap": "'trap' runs text as commands",
                  ".": "'.' runs a script file", "source": "'source' runs a script file",
                  "alias": "'alias' renames commands"}

# Reserved words after which a command word comes, and those that end a
# compound command.
_OPENERS = frozenset("if then else elif do while until ! { coproc".split())
_CLOSERS = frozenset("fi done } esac".split())
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECTION = re.compile(r"[0-9]*(?:<<-|<<<|<<|>>|<>|<&|>&|>\||&>>|&>|<|>)")
_METACHARS = frozenset(" \t\n;&|()<>")
_PARAMETER = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])?")

Word = tuple[str, Optional[str]]  # (as written, value after quote removal; None if computed)


@dataclass
class _Found:
    """Programs a command runs, what could not be known, and why the shell
    text could not be read (if so)."""

    programs: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    broken: str = ""
    depth: int = 0

    def script(self, text: str) -> None:
        """Read a shell script: its simple commands, at every depth."""
        if self.depth >= MAX_DEPTH:
            self.broken = self.broken or f"nested deeper than {MAX_DEPTH} levels"
            return
        self.depth += 1
        try:
            _ShellReader(text, self).parse()
        finally:
            self.depth -= 1

    def command(self, words: Sequence[Word]) -> None:
        """One simple command's words (assignments and redirections removed)."""
        i = 0
        while i < len(words):
            raw, value = words[i]
            if value is None:
                self.unknown.append(f"the command word {_short(raw)} is computed when it runs")
                return
            name = _program(value)
            if name not in _BUILTIN_WRAPPERS:
                self.programs.append(name)
            if name in _CODE_BUILTINS:
                self.unknown.append(_CODE_BUILTINS[name])
                self._literal(words[i + 1:])
                return
            if name in _SHELLS:
                self.unknown.append(f"a nested shell ({name!r}) decides what it runs")
                self._shell(words, i + 1)
                return
            takes_value = _WRAPPERS.get(name)
            if takes_value is None:
                return
            i, options = _skip_options(words, i + 1, takes_value)
            if name in _TAKE_ASSIGNMENTS:
                while i < len(words) and _ASSIGNMENT.match(words[i][1] or ""):
                    i += 1
            if name == "timeout":
                i += 1  # the duration
            elif name == "env":
                for option, value in options:
                    split = _split_string(option, value)
                    if split is not None:
                        self.unknown.append("'env -S' splits its own command line")
                        self.script(split)
            elif name == "sudo" and any(o in ("-s", "-i", "--shell", "--login") for o, _ in options):
                self.unknown.append("'sudo -s' and 'sudo -i' run a shell")

    def _literal(self, words: Sequence[Word]) -> None:
        """eval and trap: read their literal text as a script (deny rules)."""
        if words and all(value is not None for _, value in words):
            self.script(" ".join(value or "" for _, value in words))

    def _shell(self, words: Sequence[Word], i: int) -> None:
        """``sh [options] -c SCRIPT``: read SCRIPT when it is literal (deny rules)."""
        has_c = False
        while i < len(words):
            value = words[i][1]
            if value is None:
                return
            if value in ("--", "-"):
                i += 1
                break
            if len(value) < 2 or value[0] not in "-+":
                break
            if value[1] != "-" and "c" in value[1:]:
                has_c = True
            i += 2 if value in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file") else 1
        if has_c and i < len(words) and words[i][1] is not None:
            self.script(words[i][1] or "")


def _skip_options(words: Sequence[Word], i: int,
                  takes_value: frozenset[str]) -> tuple[int, list[tuple[str, Optional[str]]]]:
    """The index of a wrapper's program after its options, and the options."""
    options: list[tuple[str, Optional[str]]] = []
    while i < len(words):
        value = words[i][1]
        if value is None or not value.startswith("-"):
            break
        if value == "--":
            return i + 1, options
        if value in takes_value:
            options.append((value, words[i + 1][1] if i + 1 < len(words) else None))
            i += 2
        else:
            options.append((value, None))
            i += 1
    return i, options


def _split_string(option: str, value: Optional[str]) -> Optional[str]:
    """The command line of ``env -S LINE`` (any spelling), else None."""
    if option in ("-S", "--split-string"):
        return value
    if option.startswith("--split-string="):
        return option.partition("=")[2]
    if option.startswith("-S"):
        return option[2:]
    return None


def _short(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:37] + "...")


class _ShellReader:
    """Reads POSIX sh (and the bash forms that matter here) just enough to
    find each simple command's words.  Command substitutions are read
    where they occur, so their commands are found too."""

    def __init__(self, text: str, found: _Found) -> None:
        self.text = text
        self.i = 0
        self.found = found

    def parse(self, closer: str = "") -> None:
        """Up to the end, or to the ``)`` that closes a ``$(``."""
        s, found = self.text, self.found
        words: list[Word] = []
        target = False        # the next word is a redirection's target
        heredocs: list[tuple[str, bool, bool]] = []  # (delimiter, expands, strip tabs)
        skip_line = False     # 'for NAME in WORDS': up to ';' or a newline
        skip_name = False     # 'function NAME'
        case_head = 0         # words left in 'case WORD in'
        patterns = False      # in a case, before a pattern's ')'
        cases = 0             # open case commands

        def end() -> None:
            nonlocal words, target, skip_line
            if words:
                found.command(words)
            words, target, skip_line = [], False, False

        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            elif c == "#":
                newline = s.find("\n", self.i)
                self.i = len(s) if newline < 0 else newline
            elif c == "\n":
                end()
                self.i += 1
                for delimiter, expands, strip in heredocs:
                    self._heredoc(delimiter, expands, strip)
                heredocs = []
            elif c == ")" and closer and not patterns:
                end()
                self.i += 1
                return
            elif (c in "<>&" or c.isdigit()) and (redirect := _REDIRECTION.match(s, self.i)):
                self.i = redirect.end()
                op = redirect.group().lstrip("0123456789")
                if op in ("<<", "<<-"):
                    while self.i < len(s) and s[self.i] in " \t":
                        self.i += 1
                    raw, value = self.word()
                    expands = not any(q in raw for q in "'\"\\")
                    heredocs.append((raw if value is None else value, expands, op == "<<-"))
                else:
                    target = True
            elif c in ";&|()":
                op = next((o for o in (";;&", ";;", ";&", "&&", "||", "|&") if s.startswith(o, self.i)), c)
                self.i += len(op)
                if op == "(" and len(words) == 1 and s[self.i:].lstrip(" \t").startswith(")"):
                    words = []  # NAME() { ...; }: a function definition, not a command
                    self.i = s.index(")", self.i) + 1
                end()
                if op in (";;&", ";;", ";&"):
                    patterns = cases > 0
                elif op == ")" and patterns:
                    patterns = False
            else:
                raw, value = self.word()
                if target:
                    target = False
                elif case_head:
                    case_head -= 1
                    patterns = case_head == 0
                elif patterns:
                    if value == "esac" and not words:
                        patterns, cases = False, cases - 1
                elif skip_line:
                    pass
                elif skip_name:
                    skip_name = False
                elif words:
                    words.append((raw, value))
                elif _ASSIGNMENT.match(raw):
                    pass  # NAME=value before the command word
                elif value in _OPENERS:
                    pass
                elif value in _CLOSERS:
                    if value == "esac" and cases:
                        cases -= 1
                elif value in ("for", "select"):
                    skip_line = True
                elif value == "case":
                    case_head, cases = 2, cases + 1
                elif value == "function":
                    skip_name = True
                else:
                    words.append((raw, value))
        if closer:
            found.broken = found.broken or "unterminated $("
        end()

    def _heredoc(self, delimiter: str, expands: bool, strip: bool) -> None:
        """Skip a here-document's body; read the substitutions of one that
        expands (``<<EOF``, not ``<<'EOF'``)."""
        s = self.text
        start = self.i
        while self.i < len(s):
            newline = s.find("\n", self.i)
            stop = len(s) if newline < 0 else newline
            line = s[self.i:stop]
            self.i = stop + 1
            if (line.lstrip("\t") if strip else line) == delimiter:
                body = s[start:stop - len(line)]
                break
        else:
            body = s[start:]
            self.i = len(s)
        if expands:
            reader = _ShellReader(body, self.found)
            reader.expansions(len(body))

    # -- words ---------------------------------------------------------------------

    def word(self) -> Word:
        """One word from self.i: (as written, value or None when it holds an
        expansion or a pattern).  Substitutions in it are read."""
        s = self.text
        start = self.i
        out: list[str] = []
        static = True
        bracket = brace = False
        while self.i < len(s):
            c = s[self.i]
            if c in _METACHARS:
                break
            if c == "\\":
                if s.startswith("\\\n", self.i):
                    self.i += 2
                    continue
                out.append(s[self.i + 1:self.i + 2])
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    self.found.broken = self.found.broken or "unterminated quote"
                    end = len(s)
                out.append(s[self.i + 1:end])
                self.i = end + 1
            elif c == '"':
                self.i += 1
                text, plain = self.double_quoted()
                out.append(text)
                static = static and plain
            elif c in "$`":
                self.expansion()
                static = False
            else:
                # Unquoted pattern characters: pathname (and bash brace)
                # expansion decide the word when it runs.
                if c in "*?" or (bracket and c == "]") or (brace and (c == "," or s.startswith("..", self.i))):
                    static = False
                bracket = bracket or c == "["
                brace = brace or c == "{"
                out.append(c)
                self.i += 1
        return s[start:self.i], ("".join(out) if static else None)

    def double_quoted(self) -> tuple[str, bool]:
        """From after an opening ``"`` to after its closing one: (text,
        whether it holds no expansion)."""
        s = self.text
        out: list[str] = []
        plain = True
        while self.i < len(s):
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out), plain
            if c == "\\" and self.i + 1 < len(s):
                nxt = s[self.i + 1]
                if nxt != "\n":
                    out.append(nxt if nxt in '$`"\\' else c + nxt)
                self.i += 2
            elif c in "$`":
                self.expansion()
                plain = False
            else:
                out.append(c)
                self.i += 1
        self.found.broken = self.found.broken or "unterminated quote"
        return "".join(out), plain

    def expansion(self) -> None:
        """Past one ``$...`` or backquoted expansion at self.i, reading the
        commands of a substitution."""
        found = self.found
        if found.depth >= MAX_DEPTH:
            found.broken = found.broken or f"nested deeper than {MAX_DEPTH} levels"
            self.i = len(self.text)
            return
        found.depth += 1
        try:
            self._expansion()
        finally:
            found.depth -= 1

    def _expansion(self) -> None:
        s = self.text
        if s[self.i] == "`":
            self.backquoted()
        elif s.startswith("$((", self.i):
            self.i += 3
            self.expansions(len(s), arithmetic=True)
        elif s.startswith("$(", self.i):
            self.i += 2
            self.parse(closer=")")
        elif s.startswith("${", self.i):
            self.i += 2
            self.expansions(len(s), brace=True)
        elif s.startswith("$'", self.i):  # bash's $'...': backslash escapes
            self.i += 2
            while self.i < len(s) and s[self.i] != "'":
                self.i += 2 if s[self.i] == "\\" else 1
            self.i += 1
        elif s.startswith('$"', self.i):
            self.i += 2
            self.double_quoted()
        else:
            match = _PARAMETER.match(s, self.i)
            self.i = match.end() if match else self.i + 1

    def expansions(self, stop: int, *, arithmetic: bool = False, brace: bool = False) -> None:
        """Read the substitutions inside ``$((...))``, ``${...}`` or an
        expanding here-document, up to its end."""
        s = self.text
        depth = 0
        while self.i < stop:
            c = s[self.i]
            if c in "$`":
                self.expansion()
                continue
            if c == "\\":
                self.i += 2
                continue
            if c == "'" and brace:
                end = s.find("'", self.i + 1)
                self.i = len(s) if end < 0 else end + 1
                continue
            if c == '"' and brace:
                self.i += 1
                self.double_quoted()
                continue
            self.i += 1
            if arithmetic and c == "(":
                depth += 1
            elif arithmetic and c == ")":
                if depth:
                    depth -= 1
                elif s.startswith(")", self.i):
                    self.i += 1
                    return
                else:
                    return
            elif brace and c == "{":
                depth += 1
            elif brace and c == "}":
                if not depth:
                    return
                depth -= 1
        if arithmetic or brace:
            self.found.broken = self.found.broken or "unterminated expansion"

    def backquoted(self) -> None:
        """A `...` substitution: its text, unescaped, read as a script."""
        s = self.text
        self.i += 1
        out: list[str] = []
        while self.i < len(s) and s[self.i] != "`":
            if s[self.i] == "\\" and self.i + 1 < len(s) and s[self.i + 1] in "$`\\":
                self.i += 1
            out.append(s[self.i])
            self.i += 1
        if self.i >= len(s):
            self.found.broken = self.found.broken or "unterminated backquote"
        self.i += 1
        self.found.script("".join(out))


# -- redaction of logged commands -------------------------------------------------

# Names whose value is a secret: --password=..., GITHUB_TOKEN=..., api_key: ...
# Bounded and anchored at a word's start: no quadratic backtracking on a long word.
_SECRET_NAME = (r"(?<![\w.-])[\w.-]{0,40}?(?:passw(?:or)?d|passphrase|secret|token|api[_-]?key|access[_-]?key"
                r"|private[_-]?key|credentials?)[\w.-]{0,40}")
# One shell word, quotes included.
_SHELL_WORD = r"""(?:'[^']*'|"(?:[^"\\]|\\.)*"|\\.|[^\s'"\\;&|()<>`])+"""

# Masked in every logged command; the group named "secret" (else the whole
# match) becomes ***.
DEFAULT_REDACTIONS: tuple[str, ...] = (
    # a whole word quoted by shlex.join: '--password=a b c'
    rf"(?i)'{_SECRET_NAME}[=:](?P<secret>[^']+)'",
    rf"(?i){_SECRET_NAME}[=:]\s*(?P<secret>{_SHELL_WORD})",
    rf"(?i)(?<![\w-])(?:--?)?(?:password|passwd|passphrase|secret|token)\s+(?P<secret>{_SHELL_WORD})",
    r"(?i)\b(?:bearer|basic)\s+(?P<secret>[\w.~+/=-]+)",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"://[^/\s:@]+:(?P<secret>[^/\s@]+)@",
)
MASK = "***"


def compile_redactions(patterns: Iterable[Redaction]) -> tuple[re.Pattern[str], ...]:
    """Regular expressions from str or compiled patterns (re.error, TypeError
    for a bad one)."""
    if isinstance(patterns, (str, re.Pattern)):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        if isinstance(pattern, re.Pattern) and isinstance(pattern.pattern, str):
            compiled.append(pattern)
        elif isinstance(pattern, str) and pattern:
            compiled.append(re.compile(pattern))
        else:
            raise TypeError(f"a redaction pattern must be a non-empty str or a str re.Pattern, not {pattern!r}")
    return tuple(compiled)


_DEFAULT_COMPILED = compile_redactions(DEFAULT_REDACTIONS)


def _mask(match: re.Match[str]) -> str:
    if "secret" in match.re.groupindex and match.start("secret") >= 0:
        start, end = match.span("secret")
        whole = match.group()
        return whole[:start - match.start()] + MASK + whole[end - match.start():]
    return MASK


def redact_command(text: str, patterns: Iterable[Redaction] = ()) -> str:
    """``text`` with DEFAULT_REDACTIONS and ``patterns`` masked (``***``):
    what the library writes to logs for a command.  Use it before logging
    an ExecutionResult.command yourself."""
    for regex in (*_DEFAULT_COMPILED, *compile_redactions(patterns)):
        text = regex.sub(_mask, text)
    return text
