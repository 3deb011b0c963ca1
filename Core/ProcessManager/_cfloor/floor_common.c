/* The C floor for "spawn a program with pipes and wait for it".
 *
 * Why a shared library timed from Python, not a stand-alone program that
 * times itself:
 *  - Same parent.  The cost of a spawn depends on the parent: its open
 *    descriptors (closefrom), its signal handlers (SETSIGDEF walks them), its
 *    threads, its memory map.  Loaded into the benchmark's own Python
 *    process, the floor spawns from exactly the parent the engine and
 *    subprocess spawn from.  A separate C process would be a smaller, quieter
 *    parent and flatter the floor for reasons that have nothing to do with
 *    the engine.
 *  - Same moments.  This machine is shared and noisy.  Timed from Python in
 *    the same loop (for each round: floor, subprocess, engine), every
 *    contender meets the same noise, and the ratio of medians is stable where
 *    two separate runs minutes apart are not.
 *  - Same clock and the same fixed costs: one time.perf_counter_ns() pair
 *    around each call.  The floor pays a ctypes call (about a microsecond,
 *    with the GIL released) that a pure C loop would not; against a spawn
 *    of several hundred microseconds that is well under 1% and it is the
 *    same order as the engine's own entry cost, so it is left in.
 *  floor_cli.c builds the same code into a stand-alone program, to check
 *  that the in-process floor is not slower than a C process doing the same.
 *
 * What one spawn does here is what the engine does (src/, DESIGN.md):
 *  - stdin from one /dev/null descriptor opened once and cached;
 *  - stdout and stderr: pipe2(O_CLOEXEC), the child's ends dup2'd to 1, 2;
 *  - posix_spawn file actions: adddup2 for 0, 1, 2, then closefrom(3)
 *    (posix_spawn_file_actions_addclosefrom_np, glibc >= 2.34);
 *  - attributes: POSIX_SPAWN_SETPGROUP (own group, pgroup 0),
 *    POSIX_SPAWN_SETSIGMASK (empty mask), POSIX_SPAWN_SETSIGDEF (all
 *    signals back to default);
 *  - pidfd_open for the exit;
 *  - poll on both pipes and the pidfd until EOF on both and exit, reading
 *    all output, then waitid(P_PIDFD) to reap.
 */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <features.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define FLOOR_HAVE_ADDCLOSEFROM 1
#endif

extern char **environ;

static int devnull_fd = -1;
int floor_epoll_fd = -1; /* shared with floor_bg.c */

int floor_init(void)
{
    if (devnull_fd < 0) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return errno;
        devnull_fd = fd;
    }
    return 0;
}

int floor_devnull(void);
int floor_devnull(void)
{
    return devnull_fd;
}

static void close_if(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

int floor_spawn(char *const argv[], int want_stdin, floor_child *c)
{
    int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t mask, def;
    pid_t pid;
    int rc;

    c->pid = -1;
    c->pidfd = c->in = c->out = c->err = -1;
    c->status = 0;
    c->out_bytes = c->err_bytes = 0;
    if (devnull_fd < 0 && (rc = floor_init()) != 0)
        return rc;

    if (want_stdin && pipe2(in_p, O_CLOEXEC) < 0)
        return errno;
    if (pipe2(out_p, O_CLOEXEC) < 0) {
        rc = errno;
        goto close_pipes;
    }
    if (pipe2(err_p, O_CLOEXEC) < 0) {
        rc = errno;
        goto close_pipes;
    }

    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        goto close_pipes;
    if ((rc = posix_spawnattr_init(&attr)) != 0)
        goto destroy_fa;
    /* dup2 clears O_CLOEXEC on the target, so the child keeps 0-2 and
     * nothing else: closefrom(3) drops whatever the parent had open. */
    if ((rc = posix_spawn_file_actions_adddup2(&fa, want_stdin ? in_p[0] : devnull_fd, 0)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, out_p[1], 1)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, err_p[1], 2)) != 0)
        goto destroy_all;
#ifdef FLOOR_HAVE_ADDCLOSEFROM
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
        goto destroy_all;
#endif
    if (sigemptyset(&mask) < 0 || sigfillset(&def) < 0) {
        rc = errno;
        goto destroy_all;
    }
    if ((rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF)) != 0 ||
        (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
        (rc = posix_spawnattr_setsigmask(&attr, &mask)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(&attr, &def)) != 0)
        goto destroy_all;

    /* glibc's posix_spawn reports exec failures (ENOENT, EACCES, ...) as
     * its return value: it uses CLONE_VFORK and the child writes the errno
     * before _exit(127). */
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);

destroy_all:
    (void)posix_spawnattr_destroy(&attr);
destroy_fa:
    (void)posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        goto close_pipes;

    /* The child's ends are its own now. */
    close_if(&in_p[0]);
    close_if(&out_p[1]);
    close_if(&err_p[1]);

    c->pid = (int)pid;
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (c->pidfd < 0) {
        siginfo_t si;
        rc = errno;
        (void)kill(pid, SIGKILL);
        while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0 && errno == EINTR)
            ;
        goto close_pipes;
    }
    (void)fcntl(c->pidfd, F_SETFD, FD_CLOEXEC); /* pidfd_open sets it already */
    c->in = in_p[1];
    c->out = out_p[0];
    c->err = err_p[0];
    return 0;

close_pipes:
    close_if(&in_p[0]);
    close_if(&in_p[1]);
    close_if(&out_p[0]);
    close_if(&out_p[1]);
    close_if(&err_p[0]);
    close_if(&err_p[1]);
    c->pid = -1;
    return rc;
}

/* Reads what is there; 1 at EOF (the descriptor is closed), 0 otherwise, or
 * minus errno. */
static int drain_some(int *fd, long long *count)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0) {
            *count += n;
            /* A short read means the pipe is empty for now: back to poll
             * rather than pay a read that would block (or EAGAIN). */
            if ((size_t)n < sizeof buf)
                return 0;
            continue;
        }
        if (n == 0) {
            close_if(fd);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        return -errno;
    }
}

static int reap(floor_child *c)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED) < 0) {
        if (errno != EINTR)
            return errno;
    }
    c->status = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    close_if(&c->pidfd);
    return 0;
}

int floor_finish(floor_child *c)
{
    int exited = 0;
    int rc = 0;
    /* A child reading its stdin would never see EOF otherwise. */
    close_if(&c->in);
    while (c->out >= 0 || c->err >= 0 || !exited) {
        struct pollfd pfd[3];
        pfd[0].fd = c->out;
        pfd[1].fd = c->err;
        pfd[2].fd = exited ? -1 : c->pidfd; /* poll ignores negative fds */
        for (int i = 0; i < 3; i++) {
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        if (poll(pfd, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            rc = errno;
            break;
        }
        if (pfd[0].revents) {
            int r = drain_some(&c->out, &c->out_bytes);
            if (r < 0) {
                rc = -r;
                break;
            }
        }
        if (pfd[1].revents) {
            int r = drain_some(&c->err, &c->err_bytes);
            if (r < 0) {
                rc = -r;
                break;
            }
        }
        if (pfd[2].revents) {
            if ((rc = reap(c)) != 0)
                break;
            exited = 1;
        }
    }
    if (rc != 0 && c->pidfd >= 0) {
        /* Never leave a child behind: end it and reap it. */
        (void)kill(c->pid, SIGKILL);
        (void)reap(c);
    }
    close_if(&c->in);
    close_if(&c->out);
    close_if(&c->err);
    close_if(&c->pidfd);
    return rc;
}

int floor_run(char *const argv[], int *status, long long *out_bytes)
{
    floor_child c;
    int rc = floor_spawn(argv, 0, &c);
    if (rc != 0)
        return rc;
    rc = floor_finish(&c);
    *status = c.status;
    *out_bytes = c.out_bytes;
    return rc;
}
