# Declarations of src/pm_engine.h.
from libc.stdint cimport int64_t, uint64_t
from posix.types cimport pid_t
from pm_spawn cimport pm_spawn_opts, pm_spawn_error

cdef extern from "pm_engine.h" nogil:
    ctypedef struct pm_proc:
        pass
    ctypedef struct pm_channel:
        pass

    enum:
        PM_OUT
        PM_ERR
    const uint64_t PM_UNWATCHED
    enum:
        PM_WAIT_EXIT
        PM_WAIT_OUTPUT
        PM_WAIT_EOF

    ctypedef struct pm_start_opts:
        pm_spawn_opts spawn
        int64_t timeout_ns
        int64_t grace_ns
        size_t ring_limit
        uint64_t tag
        pm_channel *channel
        bint waited

    ctypedef struct pm_status:
        pid_t pid
        bint exited
        bint status_lost
        int exit_code
        int term_signal
        bint timed_out
        bint stdin_open
        bint pipes_open
        bint forked_away
        size_t stdin_pending
        int stdin_error
        int64_t start_ns
        int64_t exit_ns

    ctypedef struct pm_stream_info:
        uint64_t end
        uint64_t dropped
        uint64_t lines
        bint eof

    ctypedef struct pm_stats:
        size_t live
        size_t active
        uint64_t spawned
        bint reactor_running

    int pm_start(const pm_start_opts *o, pm_proc **out, pm_spawn_error *e)
    void pm_proc_release(pm_proc *p)
    void pm_proc_abandon(pm_proc *p)
    int pm_proc_set_ring_limit(pm_proc *p, size_t limit)
    void pm_proc_status(pm_proc *p, pm_status *st)
    int pm_proc_write(pm_proc *p, const void *data, size_t n)
    void pm_proc_close_stdin(pm_proc *p)
    void pm_proc_stream_info(pm_proc *p, int stream, pm_stream_info *si)
    size_t pm_proc_available(pm_proc *p, int stream, uint64_t frm)
    size_t pm_proc_read(pm_proc *p, int stream, uint64_t frm, void *dst, size_t cap, uint64_t *first)
    bint pm_proc_wait(pm_proc *p, int what, uint64_t out_off, uint64_t err_off, int64_t deadline_ns)
    bint pm_proc_poll_output(pm_proc *p, uint64_t out_off, uint64_t err_off)
    int pm_proc_signal(pm_proc *p, int sig, bint group)
    int pm_proc_terminate(pm_proc *p, int64_t grace_ns, bint group)
    void pm_proc_set_timeout(pm_proc *p, int64_t timeout_ns, int64_t grace_ns)
    int pm_proc_set_winsize(pm_proc *p, unsigned short rows, unsigned short cols)
    void pm_proc_close_pipes(pm_proc *p)
    pm_channel *pm_channel_new()
    void pm_channel_release(pm_channel *ch)
    pm_channel *pm_default_channel()
    int pm_channel_fd(const pm_channel *ch)
    size_t pm_channel_take(pm_channel *ch, uint64_t *tags, size_t cap, int64_t deadline_ns)
    int pm_proc_subscribe(pm_proc *p, pm_channel *ch, uint64_t tag, bint output)
    void pm_proc_unsubscribe(pm_proc *p, pm_channel *ch)
    void pm_get_stats(pm_stats *s)
    int64_t pm_now_ns()
