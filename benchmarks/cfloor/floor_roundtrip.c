/* The C floor for one message round trip with a child that echoes lines
 * (cat): write the message to its stdin pipe, then wait for and read its
 * stdout until a newline has come back.  The child is started once with
 * floor_spawn(argv, 1, &c) (stdin, stdout and stderr pipes, blocking
 * descriptors) and ended with floor_close.  poll() before each read is what
 * a caller that must not block forever needs (and what the engine's waiters
 * do through the reactor); it costs one syscall. */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

int floor_roundtrip(floor_child *c, const char *msg, size_t len, char *buf, size_t cap,
                    size_t *got)
{
    size_t done = 0;
    *got = 0;
    while (done < len) {
        ssize_t n = write(c->in, msg + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        done += (size_t)n;
    }
    for (;;) {
        struct pollfd pfd;
        ssize_t n;
        pfd.fd = c->out;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (*got == cap)
            return ENOBUFS;
        n = read(c->out, buf + *got, cap - *got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EPIPE; /* the child closed its stdout before answering */
        if (memchr(buf + *got, '\n', (size_t)n) != NULL) {
            *got += (size_t)n;
            return 0;
        }
        *got += (size_t)n;
    }
}

int floor_close(floor_child *c)
{
    if (c->in >= 0) {
        if (close(c->in) < 0 && errno != EINTR) {
            c->in = -1;
            (void)floor_finish(c);
            return errno;
        }
        c->in = -1;
    }
    return floor_finish(c);
}
