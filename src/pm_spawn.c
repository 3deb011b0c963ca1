/* posix_spawn with explicit file actions.
 *
 * glibc runs the child side of posix_spawn on a CLONE_VFORK stack and reports
 * any failure up to and including execve() as the return value, so an exec
 * error reaches the caller as an errno instead of a child that exits 127.
 */
#include "pm_spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void close_keep_errno(int fd)
{
    if (fd >= 0) {
        int saved = errno;
        close(fd); /* on Linux the descriptor is gone even on EINTR: never retry */
        errno = saved;
    }
}

/* Our descriptors must not be 0, 1 or 2: the file actions dup2 onto those
 * numbers, and a source that is already the target would keep O_CLOEXEC. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close_keep_errno(fd);
    return moved;
}

/* A pipe whose parent end is non-blocking; the child's end stays blocking,
 * as programs expect.  Both ends are O_CLOEXEC. */
static int make_pipe(int *parent_end, int *child_end, bool parent_reads)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fds[0] = above_stdio(fds[0]);
    fds[1] = above_stdio(fds[1]);
    if (fds[0] < 0 || fds[1] < 0)
        goto fail;
    int p = parent_reads ? fds[0] : fds[1];
    /* A new pipe has no other status flag to keep: no F_GETFL needed. */
    if (fcntl(p, F_SETFL, O_NONBLOCK) != 0)
        goto fail;
    *parent_end = p;
    *child_end = parent_reads ? fds[1] : fds[0];
    return 0;
fail:
    close_keep_errno(fds[0]);
    close_keep_errno(fds[1]);
    return -1;
}

static _Atomic int devnull = -1;

int pm_devnull_fd(void)
{
    int fd = atomic_load(&devnull);
    if (fd >= 0)
        return fd;
    /* Lock-free so that fork() can never inherit it held. */
    do
        fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    fd = above_stdio(fd);
    if (fd < 0)
        return -1;
    int expected = -1;
    if (!atomic_compare_exchange_strong(&devnull, &expected, fd)) {
        close(fd); /* another thread won the race */
        fd = expected;
    }
    return fd;
}

/* A new pseudo-terminal: *master (non-blocking, O_CLOEXEC) and the path of
 * its slave, which only the child opens. */
static int open_pty(const pm_spawn_opts *o, int *master, char *slave, size_t len)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0)
        return -1;
    m = above_stdio(m);
    struct winsize ws = { .ws_row = o->rows ? o->rows : 24, .ws_col = o->cols ? o->cols : 80 };
    if (m < 0 || grantpt(m) != 0 || unlockpt(m) != 0)
        goto fail;
    int err = ptsname_r(m, slave, len); /* returns the error, errno unspecified */
    if (err != 0) {
        errno = err;
        goto fail;
    }
    if (ioctl(m, TIOCSWINSZ, &ws) != 0)
        goto fail;
    int flags = fcntl(m, F_GETFL);
    if (flags < 0 || fcntl(m, F_SETFL, flags | O_NONBLOCK) != 0)
        goto fail;
    *master = m;
    return 0;
fail:
    close_keep_errno(m);
    return -1;
}

static bool is_executable_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The program to exec, as execvp would pick it: argv[0] itself when it has a
 * slash, else the first executable regular file in PATH.  Fills e on failure. */
static int resolve_program(const pm_spawn_opts *o, char *out, pm_spawn_error *e)
{
    const char *prog = o->argv[0];
    e->culprit = PM_CULPRIT_PROGRAM;
    if (strchr(prog, '/') != NULL) {
        if (strlen(prog) >= PATH_MAX) {
            e->err = ENAMETOOLONG;
            snprintf(e->path, sizeof e->path, "%.*s", PATH_MAX - 1, prog);
            return -1;
        }
        strcpy(out, prog);
        return 0;
    }
    size_t plen = strlen(prog);
    const char *path = o->path != NULL ? o->path : "/bin:/usr/bin";
    int err = ENOENT;
    snprintf(e->path, sizeof e->path, "%s", prog);
    for (const char *dir = path;; ) {
        const char *colon = strchr(dir, ':');
        size_t dlen = colon != NULL ? (size_t)(colon - dir) : strlen(dir);
        /* An empty entry means the current directory, as for execvp. */
        const char *d = dlen == 0 ? "." : dir;
        size_t dl = dlen == 0 ? 1 : dlen;
        if (dl + 1 + plen < PATH_MAX) {
            memcpy(out, d, dl);
            out[dl] = '/';
            memcpy(out + dl + 1, prog, plen + 1);
            if (is_executable_file(out))
                return 0;
            if (err == ENOENT && access(out, F_OK) == 0) {
                /* Exists but is not an executable file: remember, keep looking. */
                err = EACCES;
                snprintf(e->path, sizeof e->path, "%s", out);
            }
        }
        if (colon == NULL)
            break;
        dir = colon + 1;
    }
    e->err = err;
    return -1;
}

#ifndef PM_HAVE_ADDCLOSEFROM
/* glibc < 2.34 has no addclosefrom_np: close, in the child, every descriptor
 * >= 3 that is open without O_CLOEXEC now.  One opened by another thread
 * between this scan and the spawn can still leak; glibc >= 2.34 closes all. */
static int add_close_inheritable(posix_spawn_file_actions_t *fa, int first)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return errno;
    int err = 0;
    struct dirent *ent;
    while (err == 0 && (ent = readdir(d)) != NULL) {
        int fd = atoi(ent->d_name);
        if (fd < first || fd == dirfd(d))
            continue;
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            err = posix_spawn_file_actions_addclose(fa, fd);
    }
    closedir(d);
    return err;
}
#endif

/* posix_spawn returned err: was it the working directory or the program? */
static void blame(const pm_spawn_opts *o, const char *program, int err, pm_spawn_error *e)
{
    e->err = err;
    if (o->cwd != NULL) {
        int fd = open(o->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            e->err = errno;
            e->culprit = PM_CULPRIT_CWD;
            snprintf(e->path, sizeof e->path, "%s", o->cwd);
            return;
        }
        close(fd);
    }
    if (err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN) {
        e->culprit = PM_CULPRIT_SYSTEM;
        e->path[0] = '\0';
        return;
    }
    e->culprit = PM_CULPRIT_PROGRAM;
    snprintf(e->path, sizeof e->path, "%s", program);
}

/* argv for the limits helper: HELPER RES:SOFT:HARD ... -- PROGRAM ARGV...
 * One allocation (pointers, then the limit strings), freed by the caller. */
static char **limits_argv(const pm_spawn_opts *o, char *program)
{
    size_t argc = 0;
    while (o->argv[argc] != NULL)
        argc++;
    enum { ITEM = 3 * 21 + 3 }; /* "R:S:H" with three 64-bit numbers */
    size_t slots = 1 + o->nlimits + 2 + argc + 1;
    char **v = malloc(slots * sizeof *v + o->nlimits * ITEM);
    if (v == NULL)
        return NULL;
    char *text = (char *)(v + slots);
    size_t k = 0;
    v[k++] = (char *)o->limits_helper;
    for (size_t i = 0; i < o->nlimits; i++, text += ITEM) {
        const pm_limit *l = &o->limits[i];
        char soft[24], hard[24];
        if (l->soft == ULLONG_MAX)
            strcpy(soft, "inf");
        else
            snprintf(soft, sizeof soft, "%llu", l->soft);
        if (l->hard == ULLONG_MAX)
            strcpy(hard, "inf");
        else
            snprintf(hard, sizeof hard, "%llu", l->hard);
        snprintf(text, ITEM, "%d:%s:%s", l->resource, soft, hard);
        v[k++] = text;
    }
    v[k++] = (char *)"--";
    v[k++] = program;
    for (size_t i = 0; i < argc; i++)
        v[k++] = o->argv[i];
    v[k] = NULL;
    return v;
}

/* After spawning the limits helper: its report on the pipe (nothing when
 * the program was exec'd; else what failed), read until the helper has
 * exec'd or exited.  Reaps a failed helper. */
static int read_helper_report(pid_t pid, int report_fd, const char *program, pm_spawn_error *e)
{
    int report[3];
    size_t got = 0;
    while (got < sizeof report) {
        ssize_t n = read(report_fd, (char *)report + got, sizeof report - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == 0)
        return 0; /* the close-on-exec end went away with the exec */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (got != sizeof report) {
        e->err = EIO;
        e->culprit = PM_CULPRIT_SYSTEM;
    } else if (report[0] == 2) {
        e->err = report[2];
        e->culprit = PM_CULPRIT_LIMIT;
        e->detail = report[1];
    } else if (report[0] == 3) {
        e->err = report[2];
        e->culprit = PM_CULPRIT_PROGRAM;
        snprintf(e->path, sizeof e->path, "%s", program);
    } else {
        e->err = report[2];
        e->culprit = PM_CULPRIT_ARGUMENT;
    }
    return -1;
}

static int valid_modes(const pm_spawn_opts *o)
{
    return o->argv != NULL && o->argv[0] != NULL && o->argv[0][0] != '\0'
        && (o->stdin_mode >= 0 || o->stdin_mode == PM_PIPE || o->stdin_mode == PM_DEVNULL)
        && (o->stdout_mode >= 0 || o->stdout_mode == PM_PIPE || o->stdout_mode == PM_DEVNULL)
        && (o->stderr_mode >= 0 || o->stderr_mode == PM_PIPE || o->stderr_mode == PM_DEVNULL
            || o->stderr_mode == PM_STDOUT);
}

int pm_spawn_child(const pm_spawn_opts *o, pm_child *c, pm_spawn_error *e)
{
    memset(e, 0, sizeof *e);
    c->pid = -1;
    c->pidfd = c->in_fd = c->out_fd = c->err_fd = -1;
    c->gone = false;
    if (!valid_modes(o)) {
        e->err = EINVAL;
        e->culprit = PM_CULPRIT_ARGUMENT;
        return -1;
    }

    char program[PATH_MAX];
    if (resolve_program(o, program, e) != 0)
        return -1;

    /* The child's ends, closed in the parent once the child has them. */
    int child_in = -1, child_out = -1, child_err = -1;
    int rc = -1;
    int null_fd = -1;
    int given[3] = { -1, -1, -1 }; /* the caller's descriptors, as used */
    int report_r = -1, report_w = -1; /* the limits helper's report pipe */
    char **helper_argv = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    bool fa_ready = false, attr_ready = false;

    if (o->stdin_mode == PM_DEVNULL || o->stdout_mode == PM_DEVNULL || o->stderr_mode == PM_DEVNULL) {
        null_fd = pm_devnull_fd();
        if (null_fd < 0)
            goto system_error;
    }
    char slave[64];
    if (o->pty) {
        if (open_pty(o, &c->out_fd, slave, sizeof slave) != 0)
            goto system_error;
        c->in_fd = fcntl(c->out_fd, F_DUPFD_CLOEXEC, 3);
        if (c->in_fd < 0)
            goto system_error;
    } else {
        if (o->stdin_mode == PM_PIPE && make_pipe(&c->in_fd, &child_in, false) != 0)
            goto system_error;
        if (o->stdout_mode == PM_PIPE && make_pipe(&c->out_fd, &child_out, true) != 0)
            goto system_error;
    }
    if (o->stderr_mode == PM_PIPE && make_pipe(&c->err_fd, &child_err, true) != 0)
        goto system_error;

    /* A caller's descriptor below 3 is copied above 2 first: the dup2s onto
     * 0, 1 and 2 below then never overwrite a source still to be read
     * (stdout=2 with stderr=1, say). */
    for (int i = 0; i < 3; i++) {
        int mode = i == 0 ? o->stdin_mode : i == 1 ? o->stdout_mode : o->stderr_mode;
        if (mode >= 0 && mode <= 2 && (given[i] = fcntl(mode, F_DUPFD_CLOEXEC, 3)) < 0)
            goto system_error;
        if (mode > 2)
            given[i] = mode;
    }
    int in_src = o->stdin_mode == PM_PIPE ? child_in : o->stdin_mode == PM_DEVNULL ? null_fd : given[0];
    int out_src = o->stdout_mode == PM_PIPE ? child_out : o->stdout_mode == PM_DEVNULL ? null_fd : given[1];
    int err_src = o->stderr_mode == PM_PIPE ? child_err : o->stderr_mode == PM_STDOUT ? out_src
                : o->stderr_mode == PM_DEVNULL ? null_fd : given[2];
    if (o->pty) {
        in_src = out_src = 0;
        if (o->stderr_mode == PM_STDOUT)
            err_src = 0;
    }

    if ((errno = posix_spawn_file_actions_init(&fa)) != 0)
        goto system_error;
    fa_ready = true;
    /* With a pty, the child opens the slave as 0 after setsid() (glibc
     * applies the attributes before the file actions): the first terminal a
     * session leader opens becomes its controlling terminal. */
    if (o->pty && (errno = posix_spawn_file_actions_addopen(&fa, 0, slave, O_RDWR, 0)) != 0)
        goto system_error;
    /* dup2 clears O_CLOEXEC on the copies 0, 1 and 2 only. */
    if ((!o->pty && (errno = posix_spawn_file_actions_adddup2(&fa, in_src, 0)) != 0)
        || (errno = posix_spawn_file_actions_adddup2(&fa, out_src, 1)) != 0
        || (errno = posix_spawn_file_actions_adddup2(&fa, err_src, 2)) != 0)
        goto system_error;
    /* Whatever the parent has open without O_CLOEXEC stays out of the child. */
    /* The limits helper reports on descriptor 3 (see pm_limits_exec.c). */
    int first_closed = 3;
    if (o->nlimits > 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            goto system_error;
        report_r = fds[0];
        report_w = fds[1] > 3 ? fds[1] : fcntl(fds[1], F_DUPFD_CLOEXEC, 4);
        if (report_w != fds[1])
            close_keep_errno(fds[1]);
        if (report_w < 0 || (errno = posix_spawn_file_actions_adddup2(&fa, report_w, 3)) != 0)
            goto system_error;
        first_closed = 4;
    }
#ifdef PM_HAVE_ADDCLOSEFROM
    if ((errno = posix_spawn_file_actions_addclosefrom_np(&fa, first_closed)) != 0)
        goto system_error;
#else
    if ((errno = add_close_inheritable(&fa, first_closed)) != 0)
        goto system_error;
#endif
    if (o->cwd != NULL && (errno = posix_spawn_file_actions_addchdir_np(&fa, o->cwd)) != 0)
        goto system_error;

    if ((errno = posix_spawnattr_init(&attr)) != 0)
        goto system_error;
    attr_ready = true;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
                | (o->new_session || o->pty ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP);
    /* Empty mask and default dispositions: the child must not inherit the
     * blocked signals of the calling thread or signals the parent ignores
     * (CPython ignores SIGPIPE). */
    if ((errno = posix_spawnattr_setflags(&attr, flags)) != 0
        || (errno = posix_spawnattr_setsigmask(&attr, &none)) != 0
        || (errno = posix_spawnattr_setsigdefault(&attr, &all)) != 0
        || (errno = posix_spawnattr_setpgroup(&attr, 0)) != 0)
        goto system_error;

    const char *exe = program;
    char *const *args = o->argv;
    if (o->nlimits > 0) {
        if (o->limits_helper == NULL) {
            errno = EINVAL;
            goto system_error;
        }
        helper_argv = limits_argv(o, program);
        if (helper_argv == NULL)
            goto system_error;
        exe = o->limits_helper;
        args = helper_argv;
    }
    pid_t pid;
    int err = posix_spawn(&pid, exe, &fa, &attr, args, o->envp != NULL ? o->envp : environ);
    if (err != 0) {
        blame(o, exe, err, e);
        goto cleanup;
    }
    if (report_w >= 0) {
        close_keep_errno(report_w);
        report_w = -1;
        if (read_helper_report(pid, report_r, program, e) != 0)
            goto cleanup;
    }
    c->pid = pid;

    /* Unless the application reaps behind our back (waitpid(-1) in a
     * SIGCHLD handler, SIGCHLD ignored), no one else reaps this child (see
     * pm_engine.c), so its pid cannot be recycled before the pidfd refers
     * to it. */
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (c->pidfd < 0 && errno == ESRCH) {
        /* Already exited and reaped by the kernel (the application ignores
         * SIGCHLD): it ran, its output is in the pipes, its status is lost. */
        c->gone = true;
    } else if (c->pidfd < 0) {
        int saved = errno;
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        c->pid = -1;
        e->err = saved;
        e->culprit = PM_CULPRIT_SYSTEM;
        goto cleanup;
    }
    rc = 0;
    goto cleanup;

system_error:
    e->err = errno;
    e->culprit = PM_CULPRIT_SYSTEM;
cleanup:
    free(helper_argv);
    close_keep_errno(report_r);
    close_keep_errno(report_w);
    if (fa_ready)
        posix_spawn_file_actions_destroy(&fa);
    if (attr_ready)
        posix_spawnattr_destroy(&attr);
    close_keep_errno(child_in);
    close_keep_errno(child_out);
    close_keep_errno(child_err);
    /* Only the copies made above: the caller's own descriptors stay open. */
    if (o->stdin_mode >= 0 && o->stdin_mode <= 2)
        close_keep_errno(given[0]);
    if (o->stdout_mode >= 0 && o->stdout_mode <= 2)
        close_keep_errno(given[1]);
    if (o->stderr_mode >= 0 && o->stderr_mode <= 2)
        close_keep_errno(given[2]);
    if (rc != 0) {
        close_keep_errno(c->in_fd);
        close_keep_errno(c->out_fd);
        close_keep_errno(c->err_fd);
        c->in_fd = c->out_fd = c->err_fd = -1;
    }
    return rc;
}
