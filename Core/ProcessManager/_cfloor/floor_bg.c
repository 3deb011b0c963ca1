/* The C floor for a background start: start the child and return, leaving
 * it to an event loop that drains its pipes and learns of its exit later.
 * Beyond floor_spawn that takes what any such loop needs and the engine
 * does too: the read ends made non-blocking and the two pipes and the pidfd
 * registered with an epoll instance.  The reaping is not part of the timed
 * start (floor_bg_reap, called outside the timing). */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

extern int floor_epoll_fd;

static int watch(int fd)
{
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        return errno;
    if (epoll_ctl(floor_epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return errno;
    return 0;
}

static void unwatch(int fd)
{
    if (fd >= 0)
        (void)epoll_ctl(floor_epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int floor_bg_start(char *const argv[], floor_child *c)
{
    int rc;
    if (floor_epoll_fd < 0) {
        floor_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (floor_epoll_fd < 0)
            return errno;
    }
    if ((rc = floor_spawn(argv, 0, c)) != 0)
        return rc;
    if ((rc = watch(c->out)) != 0 || (rc = watch(c->err)) != 0 || (rc = watch(c->pidfd)) != 0) {
        (void)floor_bg_reap(c, SIGKILL);
        return rc;
    }
    return 0;
}

int floor_bg_reap(floor_child *c, int sig)
{
    unwatch(c->out);
    unwatch(c->err);
    unwatch(c->pidfd);
    if (sig > 0 && c->pidfd >= 0 &&
        syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
        return errno;
    return floor_finish(c);
}
