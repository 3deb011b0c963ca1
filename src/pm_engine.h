/* The engine: one reactor thread around epoll_wait owning every child.
 *
 * The reactor drains stdout/stderr into rings, writes queued stdin, reaps
 * through pidfds and enforces deadlines.  Callers (any thread, without any
 * Python lock) start children, read, write, signal and wait on them.  The
 * reactor never calls back into the caller: it only wakes waiters.
 */
#ifndef PM_ENGINE_H
#define PM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pm_spawn.h"

typedef struct pm_proc pm_proc;
typedef struct pm_channel pm_channel;

enum { PM_OUT = 1, PM_ERR = 2 };

typedef struct pm_start_opts {
    pm_spawn_opts spawn;
    int64_t timeout_ns;   /* < 0: no deadline */
    int64_t grace_ns;     /* SIGTERM -> SIGKILL delay when the deadline passes */
    size_t ring_limit;    /* bytes kept per stream, 0: unbounded */
    uint64_t tag;         /* what the channel reports for this process */
    pm_channel *channel;  /* NULL, or a channel to subscribe to at once */
    bool waited;          /* the caller waits for the exit at once (see pm_start) */
} pm_start_opts;

/* Start a child under the reactor (started on first use).  On success *out
 * holds one reference, released with pm_proc_release. */
int pm_start(const pm_start_opts *o, pm_proc **out, pm_spawn_error *e);
void pm_proc_release(pm_proc *p);
/* The caller drops its last handle: once the child has exited, output a
 * descendant still writes is no longer drained (nobody could read it). */
void pm_proc_abandon(pm_proc *p);

typedef struct pm_status {
    pid_t pid;
    bool exited;          /* exit collected (or lost, see status_lost) */
    bool status_lost;     /* something else in this process reaped it first */
    int exit_code;        /* valid when exited by exit() */
    int term_signal;      /* > 0 when a signal ended it */
    bool timed_out;
    bool stdin_open;
    bool pipes_open;      /* stdout or stderr still drained */
    bool forked_away;     /* inherited through fork(): belongs to the parent */
    size_t stdin_pending;
    int stdin_error;      /* errno that closed stdin (EPIPE), 0 if none */
    int64_t start_ns, exit_ns;
} pm_status;

void pm_proc_status(pm_proc *p, pm_status *st);

/* Queue data for stdin without blocking.  0, or -EPIPE (the child closed its
 * stdin or exited), -EBADF (stdin is not a pipe, or was closed), -ENOMEM. */
int pm_proc_write(pm_proc *p, const void *data, size_t n);
/* Close stdin once the queue is flushed. */
void pm_proc_close_stdin(pm_proc *p);

typedef struct pm_stream_info {
    uint64_t end, dropped, lines;
    bool eof;             /* no more data will come (EOF, closed, or not a pipe) */
} pm_stream_info;

void pm_proc_stream_info(pm_proc *p, int stream, pm_stream_info *si);
size_t pm_proc_available(pm_proc *p, int stream, uint64_t from);
size_t pm_proc_read(pm_proc *p, int stream, uint64_t from, void *dst, size_t cap, uint64_t *first);

enum { PM_WAIT_EXIT = 1, PM_WAIT_OUTPUT = 2, PM_WAIT_EOF = 3 };
/* An offset for PM_WAIT_OUTPUT meaning "this stream is not watched". */
#define PM_UNWATCHED UINT64_MAX
/* Wait until the condition holds or CLOCK_MONOTONIC reaches deadline_ns
 * (< 0: no deadline).  Returns true when the condition holds.
 * PM_WAIT_OUTPUT: a watched stream passed its offset, or every watched
 * stream reached EOF (or is closed). */
bool pm_proc_wait(pm_proc *p, int what, uint64_t out_off, uint64_t err_off, int64_t deadline_ns);
/* PM_WAIT_OUTPUT's condition now, after reading what the pipes already
 * hold (unless another thread polls them).  Never sleeps: callers may hold
 * the GIL. */
bool pm_proc_poll_output(pm_proc *p, uint64_t out_off, uint64_t err_off);

/* 1 sent, 0 the child has already exited, -errno on failure. */
int pm_proc_signal(pm_proc *p, int sig, bool group);
/* SIGTERM now, SIGKILL after grace_ns; 0, or 0 as well when already exited. */
int pm_proc_terminate(pm_proc *p, int64_t grace_ns, bool group);
/* New deadline from now (< 0: none). */
void pm_proc_set_timeout(pm_proc *p, int64_t timeout_ns, int64_t grace_ns);
/* New limit for both rings (0: unbounded); shrinking drops the oldest
 * bytes, counted as dropped.  0 or -ENOMEM. */
int pm_proc_set_ring_limit(pm_proc *p, size_t limit);
/* Window size of a pty child (its foreground group gets SIGWINCH).
 * 0, -ENOTTY when it has no pty, or -errno. */
int pm_proc_set_winsize(pm_proc *p, unsigned short rows, unsigned short cols);
/* Stop draining stdout and stderr; buffered output stays readable. */
void pm_proc_close_pipes(pm_proc *p);

/* Notice channels: a channel reports the tags of its subscribed processes
 * that got output, reached end of file or exited, each once until taken.
 * A process has at most four subscriptions; a new subscription is notified
 * at once, so the subscriber never misses a change made just before it. */
pm_channel *pm_channel_new(void);          /* NULL with errno on failure */
void pm_channel_release(pm_channel *ch);
pm_channel *pm_default_channel(void);      /* for spawns with notify=True */
/* An eventfd, readable while tags are queued (-1 for the default channel). */
int pm_channel_fd(const pm_channel *ch);
/* Take up to cap tags, waiting until deadline_ns (< 0: forever) if none. */
size_t pm_channel_take(pm_channel *ch, uint64_t *tags, size_t cap, int64_t deadline_ns);
/* 0, or -EBUSY when the process has four subscriptions already.  output:
 * notified of new output too; else only of its exit and end of file. */
int pm_proc_subscribe(pm_proc *p, pm_channel *ch, uint64_t tag, bool output);
void pm_proc_unsubscribe(pm_proc *p, pm_channel *ch);

typedef struct pm_stats {
    size_t live;          /* processes not yet released */
    size_t active;        /* processes the reactor still watches */
    uint64_t spawned;
    bool reactor_running;
} pm_stats;
void pm_get_stats(pm_stats *s);

int64_t pm_now_ns(void);

#endif
