"""Typed surface of the native engine (ext/_engine.pyx over src/).

The engine spawns with posix_spawn, drains every child's pipes on one epoll
thread into ring buffers, reaps through pidfds and enforces deadlines.  This
module converts types and releases the GIL; the policy lives in the Python
modules above it.
"""

from typing import Optional, Sequence

# Where a child's standard stream goes (arguments of spawn()).
PIPE: int       # a pipe to the engine (stdin: written with Process.write)
DEVNULL: int    # /dev/null
STDOUT: int     # stderr only: merged into the stdout pipe

# Resource limit names accepted by spawn(limits=...), and their RLIMIT_*.
LIMITS: dict[str, int]

# Stream selectors for Process.read / stream_info.
OUT: int
ERR: int

class SpawnError(OSError):
    """The program could not be started.

    ``errno``, ``strerror`` and ``filename`` (the program, or the cwd when the
    working directory is the cause) are set, as for any OSError; the
    subclass raised is the matching builtin one where there is one
    (FileNotFoundError, PermissionError, ...) through multiple inheritance.
    """

class Process:
    """One child started by the engine.  Thread-safe.

    Dropping the last reference never ends the child: the engine still
    reaps it.  Once it has exited, output that a descendant still writes is
    no longer drained, and every descriptor is closed."""

    @property
    def pid(self) -> int: ...
    @property
    def tag(self) -> int: ...
    @property
    def returncode(self) -> Optional[int]:
        """None while running (or before the exit was collected); the exit
        status, or minus the signal number that ended it."""
    @property
    def exited(self) -> bool: ...
    @property
    def timed_out(self) -> bool: ...
    @property
    def status_lost(self) -> bool:
        """The exit status was collected by someone else in this process
        (a SIGCHLD handler calling waitpid(-1), or SIGCHLD ignored)."""
    @property
    def forked_away(self) -> bool:
        """True in a fork() child for the processes its parent started."""
    @property
    def term_signal(self) -> Optional[int]: ...
    @property
    def start_time(self) -> float:
        """time.monotonic() at spawn."""
    @property
    def exit_time(self) -> Optional[float]:
        """time.monotonic() when the exit was collected."""
    @property
    def stdin_open(self) -> bool: ...
    @property
    def pipes_open(self) -> bool:
        """True while stdout or stderr is still being drained (a descendant
        may hold a pipe after the child itself has exited)."""

    def write(self, data: bytes) -> int:
        """Queue data for stdin without blocking; returns len(data).
        Raises BrokenPipeError once the child has closed its stdin or exited,
        ValueError when stdin was never a pipe or was closed by close_stdin."""
    def close_stdin(self) -> None:
        """Close stdin once the queued data is written (idempotent).  On a
        pty this only stops further writes: a terminal's end of input is
        the EOF character (b"\x04") typed into it."""
    def pending_stdin(self) -> int:
        """Bytes queued for stdin and not yet written."""

    def read(self, stream: int, offset: int = 0, max_bytes: int = -1) -> tuple[bytes, int, int]:
        """Everything buffered after absolute offset ``offset``.
        Returns (data, first, missed): data starts at absolute offset
        ``first`` (>= offset); ``missed`` bytes between offset and first were
        overwritten by the ring before they could be read."""
    def stream_info(self, stream: int) -> tuple[int, int, int, bool]:
        """(end, dropped, lines, eof): bytes ever received, bytes overwritten,
        newlines ever received, whether the pipe reached end of file."""

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait for the exit (GIL released).  True when exited."""
    def wait_output(self, out_offset: Optional[int], err_offset: Optional[int],
                    timeout: Optional[float] = None) -> bool:
        """Wait until stdout passes out_offset or stderr passes err_offset,
        or every watched stream is at EOF (or closed); None: that stream is
        not watched.  True when that happened."""
    def wait_eof(self, timeout: Optional[float] = None) -> bool:
        """Wait until stdout and stderr are both at EOF or closed."""

    def exchange(self, data: Optional[bytes], out_offset: Optional[int] = None,
                 err_offset: Optional[int] = None, timeout: Optional[float] = None
                 ) -> tuple[bool, bytes, int, bytes, int, bool]:
        """Write data, wait for output past the offsets (None: each
        stream's end before the write), read both streams: (ok, out,
        out_next, err, err_next, eof).  One call per request/response."""

    def converse(self, data: Optional[bytes], timeout: Optional[float] = None
                 ) -> tuple[bytes, int, bytes, int, bool, bool]:
        """Write data, then read the response until a complete line and
        nothing more ready, EOF of both streams, or the timeout: (out,
        out_next, err, err_next, eof, timed_out)."""

    def send_signal(self, sig: int) -> bool:
        """Signal the child itself through its pidfd.  False when it has
        already exited; never signals a recycled pid."""
    def signal_group(self, sig: int) -> bool:
        """Signal the child's process group.  Only while the child is not yet
        reaped (its zombie keeps the group id from being reused); False
        otherwise."""
    def terminate(self, grace: float = 0.2, group: bool = True) -> None:
        """SIGTERM now, SIGKILL after ``grace`` seconds if it has not exited;
        to the whole group when ``group``.  Returns at once; wait() after."""
    def set_timeout(self, seconds: Optional[float]) -> None:
        """Deadline from now (None: none).  At the deadline the group is
        ended as by terminate(grace) and timed_out becomes True."""
    def subscribe(self, channel: "NoticeChannel", tag: Optional[int] = None, output: bool = True) -> None:
        """Report this process's changes on channel under tag (default: the
        spawn tag); output=False: only its exit and end of file, not each
        new output.  Notified once at once.  Four subscriptions at most
        (RuntimeError beyond)."""
    def unsubscribe(self, channel: "NoticeChannel") -> None: ...
    def set_capacity(self, capacity: int) -> None:
        """Bytes kept per stream from now on (0: unbounded).  Shrinking
        drops the oldest bytes, counted as dropped (stops a full capture
        from growing once its caller has what it needs)."""
    def set_winsize(self, rows: int, cols: int) -> None:
        """Window size of a pty child (it gets SIGWINCH).  ValueError when
        it has no pty."""
    def close_pipes(self) -> None:
        """Stop draining: close stdout/stderr (a descendant still writing
        gets EPIPE).  Buffered output stays readable."""

def spawn(
    argv: Sequence[bytes],
    *,
    env: Optional[Sequence[bytes]] = None,
    cwd: Optional[bytes] = None,
    stdin: int = ...,          # DEVNULL, PIPE or a descriptor >= 0 (dup'd as the child's 0)
    stdout: int = ...,         # PIPE, DEVNULL or a descriptor >= 0 (dup'd as the child's 1)
    stderr: int = ...,         # PIPE, DEVNULL, STDOUT or a descriptor >= 0
    new_session: bool = False, # setsid() instead of a new process group
    timeout: Optional[float] = None,
    grace: float = 0.2,        # SIGTERM -> SIGKILL delay used by the timeout
    capacity: int = ...,       # ring size per stream in bytes
    growing: bool = False,     # grow instead of overwriting (full capture)
    tag: int = 0,
    notify: "bool | NoticeChannel" = False,  # report changes through wait_notices()
                               # (True) or a NoticeChannel
    pty: bool = False,         # a new pseudo-terminal on 0, 1 and 2 (stderr merged
                               # unless DEVNULL), as controlling terminal of a new
                               # session; write() types into it, OUT reads the screen
    rows: int = 24,
    cols: int = 80,
    limits: Optional[dict[str, "int | None | tuple[int | None, int | None]"]] = None,
                               # resource limits by name (LIMITS), value or (soft, hard),
                               # None/-1 unlimited: in force before the program's first
                               # instruction (through the _pm_limits helper; ~0.4 ms more)
    waited: bool = False,      # the caller waits for the exit at once (a blocking run):
                               # the pipes and pidfd start muted for its wait, and the
                               # reactor takes them after a 2 ms lease if it does not
) -> Process:
    """Start argv[0] (searched in PATH of ``env``, or of os.environ when env
    is None, when it has no slash).  Raises SpawnError on failure."""

def wait_notices(timeout: Optional[float] = None) -> list[int]:
    """Tags of the notify=True processes that got output, reached EOF or
    exited since the previous call (each tag once).  Waits up to timeout
    when there is none."""

class NoticeChannel:
    """Tags of subscribed processes that got output, reached EOF or exited,
    each once until taken.  ``fd`` is readable while tags are queued, for an
    event loop (loop.add_reader) instead of a thread."""
    @property
    def fd(self) -> int: ...
    def take(self) -> list[int]: ...
    def wait(self, timeout: Optional[float] = None) -> list[int]: ...

class Ring:
    """A bare ring buffer (src/pm_ring.c), for tests and inspection."""
    def __init__(self, limit: int = 0) -> None: ...
    def append(self, data: bytes) -> None: ...
    def read(self, offset: int = 0) -> tuple[bytes, int]: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def lines(self) -> int: ...
    @property
    def capacity(self) -> int: ...

def read_small_files(paths: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The first 4 KiB of each of up to four files (/proc/<pid>/stat...),
    the GIL let go once.  Raises OSError naming the file that failed."""

def stats() -> dict[str, int]:
    """Engine counters: live processes, reactor running, spawns."""
