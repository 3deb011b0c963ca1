/* The C floor for one message round trip with a child that echoes lines
 * (cat): write the message to its stdin pipe, then read its stdout until a
 * newline has come back.  The child is started once with
 * floor_spawn(argv, 1, &c) (stdin, stdout and stderr pipes, blocking
 * descriptors) and ended with floor_close.
 *
 * Plain blocking write() and read(): the least a C program can do.  (A
 * poll() before each read, which a caller that must not block forever
 * needs, measured 0.4 us more on a 4.5 us round trip here.)
 * floor_roundtrip_n runs n round
 * trips in one call so that the ctypes call (about a microsecond) is paid
 * once per batch, not per message: the floor then holds no Python cost at
 * all. */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
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
        ssize_t n;
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

int floor_roundtrip_n(floor_child *c, const char *msg, size_t len, char *buf, size_t cap,
                      size_t *got, long n)
{
    for (long i = 0; i < n; i++) {
        int rc = floor_roundtrip(c, msg, len, buf, cap, got);
        if (rc != 0)
            return rc;
    }
    return 0;
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
