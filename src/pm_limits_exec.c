/* _pm_limits: set resource limits, then exec the real program.
 *
 * posix_spawn cannot set rlimits in the child, and setting them in the
 * parent would limit the parent.  So a child that must run limited is
 * spawned as this tiny program, which applies the limits and execs the
 * program: the program's first instruction already runs limited.
 *
 *   _pm_limits RESOURCE:SOFT:HARD ... -- PROGRAM ARGV0 ARGS...
 *
 * Failures are reported to the parent on descriptor 3 (two ints: what
 * failed and errno), which is close-on-exec for the program itself; the
 * helper then exits 127.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

enum { STAGE_USAGE = 1, STAGE_SETRLIMIT = 2, STAGE_EXEC = 3 };

static _Noreturn void fail(int stage, int detail, int err)
{
    int report[3] = { stage, detail, err };
    ssize_t w;
    do
        w = write(3, report, sizeof report);
    while (w < 0 && errno == EINTR);
    _exit(127);
}

static rlim_t parse_limit(const char *s, char **end)
{
    if (strncmp(s, "inf", 3) == 0) {
        *end = (char *)s + 3;
        return RLIM_INFINITY;
    }
    errno = 0;
    unsigned long long v = strtoull(s, end, 10);
    if (errno != 0 || *end == s)
        fail(STAGE_USAGE, 0, EINVAL);
    return (rlim_t)v;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        char *p;
        errno = 0;
        long resource = strtol(argv[i], &p, 10);
        if (errno != 0 || *p != ':')
            fail(STAGE_USAGE, 0, EINVAL);
        struct rlimit rl;
        rl.rlim_cur = parse_limit(p + 1, &p);
        if (*p != ':')
            fail(STAGE_USAGE, 0, EINVAL);
        rl.rlim_max = parse_limit(p + 1, &p);
        if (*p != '\0')
            fail(STAGE_USAGE, 0, EINVAL);
        if (setrlimit((int)resource, &rl) != 0)
            fail(STAGE_SETRLIMIT, (int)resource, errno);
    }
    if (i + 2 >= argc) /* "--", the program and its argv[0] at least */
        fail(STAGE_USAGE, 0, EINVAL);
    /* The report descriptor must not reach the program. */
    if (fcntl(3, F_SETFD, FD_CLOEXEC) != 0)
        fail(STAGE_USAGE, 0, errno);
    execv(argv[i + 1], argv + i + 2);
    fail(STAGE_EXEC, 0, errno);
}
