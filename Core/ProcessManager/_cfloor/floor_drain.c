/* The C floor for pipe throughput: read a child's stdout to EOF as fast as
 * C can when the bytes must land in our memory (no splice to /dev/null:
 * the engine must hand the bytes to a reader).  One blocking read() after
 * another into one reused buffer, so the floor pays only the kernel's copy.
 * With pipe_size > 0 the pipe is enlarged first
 * (F_SETPIPE_SZ), to show what a bigger pipe would buy. */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int floor_drain(char *const argv[], int pipe_size, size_t buf_size, long long *nbytes, int *status)
{
    floor_child c;
    char *buf;
    int rc;

    *nbytes = 0;
    *status = 0;
    if (buf_size == 0)
        return EINVAL;
    buf = malloc(buf_size);
    if (buf == NULL)
        return ENOMEM;
    if ((rc = floor_spawn(argv, 0, &c)) != 0) {
        free(buf);
        return rc;
    }
    /* The child's stderr was a pipe for floor_spawn's sake; this floor only
     * counts stdout, and floor_finish drains the (empty) stderr pipe. */
    if (pipe_size > 0 && fcntl(c.out, F_SETPIPE_SZ, pipe_size) < 0)
        rc = errno;
    while (rc == 0) {
        ssize_t n = read(c.out, buf, buf_size);
        if (n > 0) {
            *nbytes += n;
            continue;
        }
        if (n == 0)
            break;
        if (errno != EINTR)
            rc = errno;
    }
    free(buf);
    {
        int frc = floor_finish(&c);
        if (rc == 0)
            rc = frc;
    }
    *status = c.status;
    return rc;
}
