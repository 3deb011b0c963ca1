# cython: language_level=3, boundscheck=False, wraparound=False
"""Bindings over the native engine (src/).

Converts between Python and C and releases the GIL around every call that
can wait.  No policy lives here: see the Python modules of the package.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_CheckSignals
from cpython.pythread cimport PyThread_get_thread_ident
from libc.errno cimport errno, EINTR, ENOTTY, EACCES, EBADF, EISDIR, EMFILE, ENAMETOOLONG, ENFILE, ENOENT, ENOEXEC, ENOMEM, ENOTDIR, EPERM, EPIPE, EAGAIN, E2BIG
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memchr, strerror
from posix.fcntl cimport O_CLOEXEC, O_RDONLY, open as c_open
from posix.unistd cimport close as c_close, read as c_read

from pm_engine cimport *
from pm_ring cimport *
from pm_spawn cimport *

import os
import resource
import threading

PIPE = PM_PIPE
DEVNULL = PM_DEVNULL
STDOUT = PM_STDOUT
OUT = PM_OUT
ERR = PM_ERR

DEFAULT_CAPACITY = 1 << 20

# Resource limits by name (spawn(limits=...)): what each bounds.
LIMITS = {
    "cpu": resource.RLIMIT_CPU,         # CPU seconds (SIGXCPU at the soft limit, SIGKILL at the hard)
    "memory": resource.RLIMIT_AS,       # bytes of address space
    "open_files": resource.RLIMIT_NOFILE,
    "processes": resource.RLIMIT_NPROC, # processes of the user (the child's own forks fail past it)
    "file_size": resource.RLIMIT_FSIZE, # bytes of any file written
    "core": resource.RLIMIT_CORE,
    "stack": resource.RLIMIT_STACK,
}
_LIMITS_HELPER = os.fsencode(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_pm_limits"))

cdef unsigned long _main_thread_ident = threading.main_thread().ident
# The main thread wakes this often while waiting, to run signal handlers
# (Ctrl-C).  Other threads wait in one piece.
cdef int64_t _SIGNAL_SLICE_NS = 100_000_000


class SpawnError(OSError):
    """The program could not be started (errno, strerror, filename)."""


class _SpawnNotFound(SpawnError, FileNotFoundError):
    pass


class _SpawnPermission(SpawnError, PermissionError):
    pass


class _SpawnNotADirectory(SpawnError, NotADirectoryError):
    pass


class _SpawnIsADirectory(SpawnError, IsADirectoryError):
    pass


_SPAWN_ERROR_CLASS = {
    ENOENT: _SpawnNotFound,
    EACCES: _SpawnPermission,
    EPERM: _SpawnPermission,
    ENOTDIR: _SpawnNotADirectory,
    EISDIR: _SpawnIsADirectory,
}


cdef object _spawn_error(const pm_spawn_error *e, object program):
    cdef int err = e.err
    culprit = e.culprit
    path = os.fsdecode(<bytes>e.path) if e.path[0] != 0 else None
    if culprit == PM_CULPRIT_CWD:
        what = {ENOENT: "working directory does not exist",
                ENOTDIR: "working directory is not a directory",
                EACCES: "working directory is not accessible"}.get(err, "cannot enter working directory")
    elif culprit == PM_CULPRIT_PROGRAM:
        what = {ENOENT: "command not found",
                EACCES: "permission denied (not an executable file)",
                ENOEXEC: "exec format error (not a binary, and no #! line)",
                EISDIR: "is a directory, not a program",
                ENAMETOOLONG: "program path too long",
                E2BIG: "argument list and environment too long"}.get(err, strerror(err).decode())
        path = path or program
    elif culprit == PM_CULPRIT_LIMIT:
        names = {v: k for k, v in LIMITS.items()}
        name = names.get(e.detail, f"resource {e.detail}")
        what = f"cannot set the {name} limit ({strerror(err).decode()}"
        what += ": above the current hard limit, or the system's maximum)" if err == EPERM else ")"
        path = None
    elif culprit == PM_CULPRIT_SYSTEM:
        what = {EMFILE: "too many open files in this process (RLIMIT_NOFILE reached)",
                ENFILE: "too many open files in the system",
                EAGAIN: "cannot create a process (RLIMIT_NPROC or pid limit reached)",
                ENOMEM: "out of memory"}.get(err, strerror(err).decode())
        what = f"{what} while starting {program!r}"
        path = None
    else:
        what = "invalid spawn arguments"
    cls = _SPAWN_ERROR_CLASS.get(err, SpawnError) if culprit in (PM_CULPRIT_PROGRAM, PM_CULPRIT_CWD) else SpawnError
    if path is None:
        return cls(err, what)
    return cls(err, what, path)


cdef int64_t _seconds_to_ns(object seconds, str name) except -2:
    """None -> -1; a finite, non-negative number -> nanoseconds."""
    if seconds is None:
        return -1
    cdef double s
    if type(seconds) is float:
        s = seconds
    elif isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        s = float(seconds)
    else:  # float() would take "1" or True
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if s != s or s < 0:  # NaN, or negative
        raise ValueError(f"{name} must be a non-negative number of seconds, not {seconds!r}")
    if s > 1e9:
        s = 1e9  # about 31 years: "no deadline" in practice, no overflow
    return <int64_t>(s * 1e9)


cdef bytes _checked_bytes(object value, str what):
    if not isinstance(value, bytes):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    if b"\0" in <bytes>value:
        raise ValueError(f"{what} contains a NUL byte")
    return <bytes>value


cdef char **_cstring_array(list items) except NULL:
    """A NULL-terminated array pointing into the bytes of items (kept alive
    by the caller)."""
    cdef Py_ssize_t n = len(items), i
    cdef char **arr = <char **>malloc((n + 1) * sizeof(char *))
    if arr == NULL:
        raise MemoryError()
    for i in range(n):
        arr[i] = PyBytes_AS_STRING(items[i])
    arr[n] = NULL
    return arr


cdef int _raise_write_error(int rc) except -1:
    if rc == -EPIPE:
        raise BrokenPipeError(EPIPE, "the process closed its stdin or exited")
    if rc == -EBADF:
        raise ValueError("stdin of this process is not a pipe or was closed")
    if rc == -ENOMEM:
        raise MemoryError("no memory to queue stdin data")
    raise OSError(-rc, strerror(-rc).decode())


cdef inline bint _has_newline(bytes data):
    return memchr(PyBytes_AS_STRING(data), b'\n', len(data)) != NULL


cdef class _Waiting:
    """A wait with the GIL released, in slices on the main thread so that
    signal handlers (Ctrl-C) run in between."""

    cdef int64_t deadline   # CLOCK_MONOTONIC ns, -1: none
    cdef bint sliced

    def __cinit__(self, timeout):
        self.deadline = _seconds_to_ns(timeout, "timeout")
        if self.deadline >= 0:
            self.deadline += pm_now_ns()
        self.sliced = PyThread_get_thread_ident() == _main_thread_ident

    cdef int64_t slice_end(self):
        if not self.sliced:
            return self.deadline
        cdef int64_t until = pm_now_ns() + _SIGNAL_SLICE_NS
        return self.deadline if 0 <= self.deadline < until else until

    cdef bint expired(self) except -1:
        """True once the deadline passed; runs pending signal handlers
        (which may raise) otherwise."""
        if self.deadline >= 0 and pm_now_ns() >= self.deadline:
            return True
        PyErr_CheckSignals()
        return False


cdef unsigned long long _UNLIMITED = 0xFFFFFFFFFFFFFFFF


cdef list _limit_items(object limits):
    """[(RLIMIT_*, soft, hard)] from {name: value or (soft, hard)}; None
    (or resource.RLIM_INFINITY) is unlimited."""
    if limits is None:
        return []
    if not isinstance(limits, dict):
        raise TypeError("limits must be a dict like {'cpu': 10, 'memory': 2**30}")
    items = []
    for name, value in limits.items():
        if name not in LIMITS:
            raise ValueError(f"unknown limit {name!r}: one of {', '.join(LIMITS)}")
        soft, hard = value if isinstance(value, tuple) else (value, value)
        pair = []
        for v in (soft, hard):
            if v is None or v == resource.RLIM_INFINITY:
                pair.append(_UNLIMITED)
            elif isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"limit {name!r} must be a non-negative int, None or (soft, hard), not {value!r}")
            else:
                pair.append(v)
        if pair[0] > pair[1]:
            raise ValueError(f"limit {name!r}: soft {soft} is above hard {hard}")
        items.append((LIMITS[name], pair[0], pair[1]))
    return items


cdef class Process:
    """One child started by the engine.  Thread-safe."""

    cdef pm_proc *p
    cdef readonly int pid
    cdef readonly unsigned long long tag

    def __dealloc__(self):
        if self.p != NULL:
            pm_proc_abandon(self.p)
            pm_proc_release(self.p)
            self.p = NULL

    def __repr__(self):
        return f"<_engine.Process pid={self.pid} returncode={self.returncode}>"

    cdef pm_status _status(self):
        cdef pm_status st
        pm_proc_status(self.p, &st)
        return st

    @property
    def returncode(self):
        cdef pm_status st = self._status()
        if not st.exited or st.status_lost or st.forked_away:
            return None
        return -st.term_signal if st.term_signal else st.exit_code

    @property
    def exited(self):
        return bool(self._status().exited)

    @property
    def status_lost(self):
        """The exit status was collected by someone else in this process
        (a SIGCHLD handler calling waitpid(-1), or SIGCHLD ignored)."""
        return bool(self._status().status_lost)

    @property
    def forked_away(self):
        """True in a fork() child for processes its parent started."""
        return bool(self._status().forked_away)

    @property
    def timed_out(self):
        return bool(self._status().timed_out)

    @property
    def term_signal(self):
        cdef pm_status st = self._status()
        return st.term_signal if st.exited and st.term_signal else None

    @property
    def start_time(self):
        return self._status().start_ns / 1e9

    @property
    def exit_time(self):
        cdef pm_status st = self._status()
        return st.exit_ns / 1e9 if st.exited and st.exit_ns else None

    @property
    def stdin_open(self):
        return bool(self._status().stdin_open)

    @property
    def pipes_open(self):
        return bool(self._status().pipes_open)

    def pending_stdin(self):
        return self._status().stdin_pending

    def write(self, data):
        cdef bytes b = bytes(data) if not isinstance(data, bytes) else data
        cdef const char *buf = PyBytes_AS_STRING(b)
        cdef size_t n = len(b)
        cdef int rc
        with nogil:
            rc = pm_proc_write(self.p, buf, n)
        if rc != 0:
            _raise_write_error(rc)
        return n

    def close_stdin(self):
        with nogil:
            pm_proc_close_stdin(self.p)

    def read(self, int stream, unsigned long long offset=0, Py_ssize_t max_bytes=-1):
        if stream != PM_OUT and stream != PM_ERR:
            raise ValueError(f"stream must be OUT or ERR, not {stream!r}")
        cdef uint64_t first = offset
        data = self._read_past(stream, offset, max_bytes, &first)
        return data, first, (first - offset if first > offset else 0)

    cdef bytes _read_past(self, int stream, uint64_t offset, Py_ssize_t max_bytes, uint64_t *first):
        """Up to max_bytes (< 0: all) of what the stream holds past offset;
        *first: the offset of its first byte (past offset when overwritten)."""
        cdef size_t n = pm_proc_available(self.p, stream, offset)
        if max_bytes >= 0 and n > <size_t>max_bytes:
            n = <size_t>max_bytes
        data = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>n)
        cdef size_t got = pm_proc_read(self.p, stream, offset, PyBytes_AS_STRING(data), n, first)
        if got != n:  # overwritten meanwhile: keep what was copied
            data = data[:got]
        return data

    cdef pm_stream_info _info(self, int stream) noexcept:
        cdef pm_stream_info si
        pm_proc_stream_info(self.p, stream, &si)
        return si

    def stream_info(self, int stream):
        if stream != PM_OUT and stream != PM_ERR:
            raise ValueError(f"stream must be OUT or ERR, not {stream!r}")
        cdef pm_stream_info si = self._info(stream)
        return si.end, si.dropped, si.lines, bool(si.eof)

    cdef bint _wait(self, int what, uint64_t out_off, uint64_t err_off, object timeout) except -1:
        return self._wait_for(what, out_off, err_off, _Waiting(timeout))

    cdef bint _wait_for(self, int what, uint64_t out_off, uint64_t err_off, _Waiting w) except -1:
        cdef int64_t until
        cdef bint ok
        while True:
            until = w.slice_end()
            with nogil:
                ok = pm_proc_wait(self.p, what, out_off, err_off, until)
            if ok:
                return True
            if w.expired():
                return False

    def wait(self, timeout=None):
        return self._wait(PM_WAIT_EXIT, 0, 0, timeout)

    def wait_output(self, out_offset, err_offset, timeout=None):
        cdef uint64_t o = PM_UNWATCHED if out_offset is None else <unsigned long long>out_offset
        cdef uint64_t e = PM_UNWATCHED if err_offset is None else <unsigned long long>err_offset
        return self._wait(PM_WAIT_OUTPUT, o, e, timeout)

    def wait_eof(self, timeout=None):
        return self._wait(PM_WAIT_EOF, 0, 0, timeout)

    cdef bint _send(self, data, uint64_t out_off, uint64_t err_off) except -1:
        """Write data (bytes or None), then whether stdout already passed
        out_off or stderr err_off.  The GIL stays held: the write never
        blocks (what the pipe cannot take is queued) and neither does the
        poll, so a child that answers at once costs no GIL hand-over."""
        cdef bytes b = b"" if data is None else (data if type(data) is bytes else bytes(data))
        cdef int rc
        if len(b) > 0:
            rc = pm_proc_write(self.p, PyBytes_AS_STRING(b), len(b))
            if rc != 0:
                _raise_write_error(rc)
        return pm_proc_poll_output(self.p, out_off, err_off)

    def exchange(self, data, out_offset=None, err_offset=None, timeout=None):
        """One request/response step in one call (communicate's hot path).
        Write ``data`` (bytes, or None), then wait until stdout passes
        out_offset or stderr passes err_offset (None: the stream's end
        before the write), both reach EOF, or the timeout.  Returns (ok,
        out, out_next, err, err_next, eof): ok is False on timeout; out and
        err are what each stream holds past its offset, out_next and
        err_next the offsets after them; eof is whether both streams had
        reached EOF before they were read.  Write errors raise as write()."""
        _seconds_to_ns(timeout, "timeout")  # checked before anything is written
        cdef uint64_t o = self._info(PM_OUT).end if out_offset is None else <unsigned long long>out_offset
        cdef uint64_t e = self._info(PM_ERR).end if err_offset is None else <unsigned long long>err_offset
        cdef bint ok = self._send(data, o, e)
        if not ok:
            ok = self._wait_for(PM_WAIT_OUTPUT, o, e, _Waiting(timeout))
        out, err, eof = self._take(&o, &e)
        return ok, out, o, err, e, eof

    cdef tuple _take(self, uint64_t *out_off, uint64_t *err_off):
        """(out, err, eof) for exchange and converse: all that each stream
        holds past *out_off / *err_off, which move past it; eof: both
        streams had reached EOF before the reads."""
        # EOF first: if it was already there, the reads below get everything.
        cdef bint eof = self._info(PM_OUT).eof and self._info(PM_ERR).eof
        out = self._read_past(PM_OUT, out_off[0], -1, out_off)
        out_off[0] += len(out)
        err = self._read_past(PM_ERR, err_off[0], -1, err_off)
        err_off[0] += len(err)
        return out, err, eof

    def converse(self, data, timeout=None):
        """Write ``data`` (bytes, or None), then collect the response: what
        each stream gains past its end before the write, until a complete
        line has arrived (on either stream) and everything ready has been
        read, both streams reach EOF, or the timeout.  Returns (out,
        out_next, err, err_next, eof, timed_out); timed_out is False when a
        line or EOF came first.  The loop of communicate_with_process,
        compiled: one call per message.  Write errors raise as write()."""
        _seconds_to_ns(timeout, "timeout")  # checked before anything is written
        cdef uint64_t o = self._info(PM_OUT).end
        cdef uint64_t e = self._info(PM_ERR).end
        cdef bint ok = self._send(data, o, e)
        cdef _Waiting w = None
        cdef bint line = False
        cdef bint eof
        cdef bytes out = b""
        cdef bytes err = b""
        cdef bytes more_out, more_err
        while True:
            if not ok:
                if w is None:
                    w = _Waiting(timeout)
                ok = not w.expired() and self._wait_for(PM_WAIT_OUTPUT, o, e, w)
            more_out, more_err, eof = self._take(&o, &e)
            line = line or _has_newline(more_out) or _has_newline(more_err)
            out = more_out if not out else out + more_out
            err = more_err if not err else err + more_err
            if line or eof:
                return out, o, err, e, eof, False
            if not ok:
                return out, o, err, e, eof, True
            ok = False

    def send_signal(self, int sig):
        return self._signal(sig, False)

    def signal_group(self, int sig):
        return self._signal(sig, True)

    cdef object _signal(self, int sig, bint group):
        cdef int rc
        with nogil:
            rc = pm_proc_signal(self.p, sig, group)
        if rc < 0:
            raise OSError(-rc, strerror(-rc).decode())
        return rc == 1

    def terminate(self, grace=0.2, bint group=True):
        cdef int64_t g = _seconds_to_ns(grace, "grace")
        cdef int rc
        with nogil:
            rc = pm_proc_terminate(self.p, g if g >= 0 else 0, group)
        if rc < 0:
            raise OSError(-rc, strerror(-rc).decode())

    def set_timeout(self, seconds, grace=0.2):
        cdef int64_t t = _seconds_to_ns(seconds, "timeout")
        cdef int64_t g = _seconds_to_ns(grace, "grace")
        pm_proc_set_timeout(self.p, t, g if g >= 0 else 0)

    def close_pipes(self):
        pm_proc_close_pipes(self.p)

    def subscribe(self, NoticeChannel channel not None, tag=None, bint output=True):
        """Report this process's changes on channel, under tag (default: the
        spawn tag); output=False: only its exit and end of file, not each
        new output.  Notified once at once.  A process has four
        subscriptions at most."""
        cdef unsigned long long t = self.tag if tag is None else tag
        if pm_proc_subscribe(self.p, channel.ch, t, output) != 0:
            raise RuntimeError("a process can be subscribed to four channels at most")

    def unsubscribe(self, NoticeChannel channel not None):
        pm_proc_unsubscribe(self.p, channel.ch)

    def set_capacity(self, Py_ssize_t capacity):
        """Bytes kept per stream from now on (0: unbounded).  Shrinking
        drops the oldest bytes, counted as dropped."""
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        if pm_proc_set_ring_limit(self.p, <size_t>capacity) != 0:
            raise MemoryError("no memory to resize the output buffers")

    def set_winsize(self, int rows, int cols):
        if not (0 < rows < 65536 and 0 < cols < 65536):
            raise ValueError(f"window size must be 1..65535 rows and columns, not {rows}x{cols}")
        cdef int rc = pm_proc_set_winsize(self.p, <unsigned short>rows, <unsigned short>cols)
        if rc == -ENOTTY:
            raise ValueError("this process has no pseudo-terminal (spawn with pty=True)")
        if rc < 0:
            raise OSError(-rc, strerror(-rc).decode())


def spawn(argv, *, env=None, cwd=None, int stdin=PM_DEVNULL, int stdout=PM_PIPE,
          int stderr=PM_PIPE, bint new_session=False, timeout=None, grace=0.2,
          Py_ssize_t capacity=DEFAULT_CAPACITY, bint growing=False,
          unsigned long long tag=0, notify=False, bint pty=False, rows=24, cols=80,
          limits=None, bint waited=False):
    """Start argv; see _engine.pyi."""
    if isinstance(argv, (bytes, str)) or not hasattr(argv, "__len__"):
        raise TypeError("argv must be a sequence of bytes")
    cdef list args = [_checked_bytes(a, "argv item") for a in argv]
    if not args or not args[0]:
        raise ValueError("argv must name a program")
    cdef list envs = None
    cdef bytes path = None
    if env is not None:
        if isinstance(env, (bytes, str)):
            raise TypeError("env must be a sequence of b'NAME=value'")
        envs = [_checked_bytes(item, "env item") for item in env]
        for item in envs:
            if b"=" not in item:
                raise ValueError("env items must look like b'NAME=value'")
            if item.startswith(b"PATH="):
                path = item[5:]
    elif b"/" not in args[0]:  # only a bare name is searched (and os.environb is slow)
        path = os.environb.get(b"PATH")
    cdef bytes cwd_b = _checked_bytes(cwd, "cwd") if cwd is not None else None
    if stdin < 0 and stdin != PM_PIPE and stdin != PM_DEVNULL:
        raise ValueError("stdin must be PIPE, DEVNULL or a descriptor")
    if stdout < 0 and stdout != PM_PIPE and stdout != PM_DEVNULL:
        raise ValueError("stdout must be PIPE, DEVNULL or a descriptor")
    if stderr < 0 and stderr != PM_PIPE and stderr != PM_DEVNULL and stderr != PM_STDOUT:
        raise ValueError("stderr must be PIPE, DEVNULL, STDOUT or a descriptor")
    if capacity < 0:
        raise ValueError("capacity must be >= 0")
    if not (0 < rows < 65536 and 0 < cols < 65536):
        raise ValueError(f"window size must be 1..65535 rows and columns, not {rows}x{cols}")
    if pty and stderr == PM_PIPE:
        stderr = PM_STDOUT  # a terminal has one output: stderr goes there too

    cdef list limit_items = _limit_items(limits)
    cdef pm_limit *lims = NULL
    cdef pm_start_opts o
    cdef pm_spawn_error e
    cdef pm_proc *p = NULL
    cdef int rc
    o.spawn.argv = NULL
    o.spawn.envp = NULL
    o.spawn.path = PyBytes_AS_STRING(path) if path is not None else NULL
    o.spawn.cwd = PyBytes_AS_STRING(cwd_b) if cwd_b is not None else NULL
    o.spawn.stdin_mode = stdin
    o.spawn.stdout_mode = stdout
    o.spawn.stderr_mode = stderr
    o.spawn.new_session = new_session
    o.spawn.pty = pty
    o.spawn.rows = rows
    o.spawn.cols = cols
    o.timeout_ns = _seconds_to_ns(timeout, "timeout")
    o.grace_ns = _seconds_to_ns(grace, "grace")
    if o.grace_ns < 0:
        o.grace_ns = 0
    o.ring_limit = 0 if growing else (<size_t>capacity if capacity > 0 else DEFAULT_CAPACITY)
    o.tag = tag
    o.waited = waited
    o.channel = NULL
    if isinstance(notify, NoticeChannel):
        o.channel = (<NoticeChannel>notify).ch
    elif notify is True:
        o.channel = pm_default_channel()
    elif notify is not False and notify is not None:
        raise TypeError("notify must be a bool or a NoticeChannel")
    o.spawn.limits = NULL
    o.spawn.nlimits = 0
    o.spawn.limits_helper = _LIMITS_HELPER
    try:
        if limit_items:
            lims = <pm_limit *>malloc(len(limit_items) * sizeof(pm_limit))
            if lims == NULL:
                raise MemoryError()
            for i, (res, soft, hard) in enumerate(limit_items):
                lims[i].resource = res
                lims[i].soft = soft
                lims[i].hard = hard
            o.spawn.limits = lims
            o.spawn.nlimits = len(limit_items)
        o.spawn.argv = _cstring_array(args)
        if envs is not None:
            o.spawn.envp = _cstring_array(envs)
            with nogil:
                rc = pm_start(&o, &p, &e)
        else:
            # The child gets `environ`: keep the GIL so no Python thread
            # changes it (os.putenv) while posix_spawn reads it.
            rc = pm_start(&o, &p, &e)
    finally:
        free(<void *>o.spawn.argv)
        free(<void *>o.spawn.envp)
        free(lims)
    if rc != 0:
        if e.culprit == PM_CULPRIT_ARGUMENT:
            raise ValueError("invalid stdin/stdout/stderr for spawn")
        raise _spawn_error(&e, os.fsdecode(args[0]))
    cdef Process proc = Process.__new__(Process)
    proc.p = p
    proc.pid = 0
    proc.tag = tag
    cdef pm_status st
    pm_proc_status(p, &st)
    proc.pid = st.pid
    return proc


cdef list _take(pm_channel *ch, object timeout):
    cdef uint64_t tags[256]
    cdef _Waiting w = _Waiting(timeout)
    cdef int64_t until
    cdef size_t n
    while True:
        until = w.slice_end()
        with nogil:
            n = pm_channel_take(ch, tags, 256, until)
        if n > 0 or w.expired():
            return [tags[i] for i in range(n)]


def wait_notices(timeout=None):
    """Tags of notify=True processes with news since the previous call."""
    return _take(pm_default_channel(), timeout)


cdef class NoticeChannel:
    """A queue of tags of subscribed processes that changed (output, end of
    file, exit), each once until taken.  ``fd`` is readable while tags are
    queued: an event loop watches it (loop.add_reader) instead of a thread."""

    cdef pm_channel *ch

    def __cinit__(self):
        self.ch = pm_channel_new()
        if self.ch == NULL:
            raise OSError(errno, "cannot create a notice channel: " + strerror(errno).decode())

    def __dealloc__(self):
        if self.ch != NULL:
            pm_channel_release(self.ch)
            self.ch = NULL

    @property
    def fd(self):
        return pm_channel_fd(self.ch)

    def take(self):
        """The queued tags, without waiting."""
        return _take(self.ch, 0)

    def wait(self, timeout=None):
        """The queued tags, waiting up to timeout for one."""
        return _take(self.ch, timeout)


cdef enum:
    _SMALL_FILE = 4096
    _SMALL_FILES_MAX = 4


def read_small_files(tuple paths):
    """The contents of up to four small files (the first 4 KiB of each),
    such as /proc/<pid>/stat and statm, read with the GIL let go once:
    get_process_status's reads, where os.open, os.read and os.close per
    file cost a third of the call.  Raises OSError (FileNotFoundError...)
    naming the file that failed."""
    cdef Py_ssize_t n = len(paths), i
    if n > _SMALL_FILES_MAX:
        raise ValueError(f"at most {_SMALL_FILES_MAX} files, not {n}")
    cdef const char *names[_SMALL_FILES_MAX]
    cdef char bufs[_SMALL_FILES_MAX][_SMALL_FILE]
    cdef Py_ssize_t got[_SMALL_FILES_MAX]
    cdef Py_ssize_t failed = -1
    cdef int err = 0, fd
    for i in range(n):
        names[i] = PyBytes_AS_STRING(_checked_bytes(paths[i], "path"))  # the tuple keeps them
    with nogil:
        for i in range(n):
            fd = c_open(names[i], O_RDONLY | O_CLOEXEC)
            while fd < 0 and errno == EINTR:
                fd = c_open(names[i], O_RDONLY | O_CLOEXEC)
            if fd < 0:
                failed, err = i, errno
                break
            got[i] = c_read(fd, bufs[i], _SMALL_FILE)
            while got[i] < 0 and errno == EINTR:
                got[i] = c_read(fd, bufs[i], _SMALL_FILE)
            if got[i] < 0:
                failed, err = i, errno
            c_close(fd)  # read-only: nothing to lose, and the descriptor is gone even on EINTR
            if failed >= 0:
                break
    if failed >= 0:
        raise OSError(err, strerror(err).decode(), os.fsdecode(paths[failed]))
    return tuple([PyBytes_FromStringAndSize(bufs[i], got[i]) for i in range(n)])


def stats():
    """Engine counters."""
    cdef pm_stats s
    pm_get_stats(&s)
    return {"live": s.live, "active": s.active, "spawned": s.spawned,
            "reactor_running": int(s.reactor_running)}


cdef class Ring:
    """A bare ring buffer (src/pm_ring.c), for tests and inspection."""

    cdef pm_ring r

    def __cinit__(self, Py_ssize_t limit=0):
        if limit < 0:
            raise ValueError("limit must be >= 0")
        pm_ring_init(&self.r, <size_t>limit)

    def __dealloc__(self):
        pm_ring_destroy(&self.r)

    def append(self, bytes data):
        if pm_ring_append(&self.r, data, len(data)) != 0:
            raise MemoryError()

    def read(self, unsigned long long offset=0):
        cdef uint64_t first = 0
        cdef size_t n = pm_ring_available(&self.r, offset)
        data = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>n)
        pm_ring_read(&self.r, offset, PyBytes_AS_STRING(data), n, &first)
        return data, first

    @property
    def start(self):
        return self.r.start

    @property
    def end(self):
        return self.r.end

    @property
    def lines(self):
        return self.r.lines

    @property
    def capacity(self):
        return self.r.cap
