/* The C floor: what a careful C program must do to get the same result as
 * the engine, with nothing on top.  The benchmarks load these functions with
 * ctypes and time each call from Python, in the same loop as the engine and
 * its Python peers (see floor_common.c for why).
 *
 * Every function returns 0 or a positive errno; results come back through
 * out-parameters.  Nothing here calls exit() or prints: a failure is the
 * caller's to report. */
#ifndef PM_FLOOR_H
#define PM_FLOOR_H

#include <stddef.h>
#include <sys/types.h>

/* One child as a C event loop would hold it: its pid, a pidfd for its exit,
 * and the parent's ends of its pipes (-1 when absent or closed). */
typedef struct floor_child {
    int pid;
    int pidfd;
    int in;   /* write end of the child's stdin, or -1 (/dev/null) */
    int out;  /* read end of the child's stdout */
    int err;  /* read end of the child's stderr */
    int status; /* exit status, or minus the signal; valid once reaped */
    long long out_bytes; /* bytes read from stdout by floor_finish */
    long long err_bytes; /* bytes read from stderr by floor_finish */
} floor_child;

/* Opens the cached /dev/null (stdin of every child that has no stdin pipe)
 * and the epoll instance used by floor_bg_start.  Idempotent. */
int floor_init(void);

/* pipe2(O_CLOEXEC) for stdout and stderr (and stdin when want_stdin),
 * posix_spawn with the engine's file actions and attributes, pidfd_open.
 * On error nothing is left open and no child is left running. */
int floor_spawn(char *const argv[], int want_stdin, floor_child *c);

/* poll() the pipes and the pidfd until both pipes are at EOF and the child
 * has exited, reading all output; waitid(P_PIDFD) reaps it; closes all. */
int floor_finish(floor_child *c);

/* Blocking run: floor_spawn + floor_finish.  The "spawn /bin/true with
 * pipes + wait" floor. */
int floor_run(char *const argv[], int *status, long long *out_bytes);

/* Background start: floor_spawn, read ends made non-blocking and the two
 * pipes and the pidfd registered with an epoll instance, as an event loop
 * that will drain and reap the child later must do.  floor_bg_reap
 * (optionally signalling it first, through the pidfd) deregisters, drains,
 * reaps and closes. */
int floor_bg_start(char *const argv[], floor_child *c);
int floor_bg_reap(floor_child *c, int sig);

/* Message round trip with a line-echoing child (cat): write the whole
 * message to its stdin, then read its stdout until a newline has arrived.
 * *got is the number of bytes read into buf.  floor_roundtrip_n: n of them
 * in a row (*got: the last reply's length). */
int floor_roundtrip(floor_child *c, const char *msg, size_t len,
                    char *buf, size_t cap, size_t *got);
int floor_roundtrip_n(floor_child *c, const char *msg, size_t len,
                      char *buf, size_t cap, size_t *got, long n);

/* Close the child's stdin, then floor_finish. */
int floor_close(floor_child *c);

/* Drain: floor_spawn argv, read its stdout to EOF as fast as C can
 * (blocking read() into one reused buffer of buf_size bytes), then
 * floor_finish (stderr, empty here, is drained there).  pipe_size > 0 sets
 * F_SETPIPE_SZ on the stdout pipe first. */
int floor_drain(char *const argv[], int pipe_size, size_t buf_size,
                long long *nbytes, int *status);

#endif
