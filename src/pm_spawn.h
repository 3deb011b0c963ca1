/* Starting one child with posix_spawn.
 *
 * Only the spawn itself lives here: descriptors for the child's standard
 * streams, the file actions and attributes, the PATH search, and telling
 * apart what failed.  The reactor (pm_engine.c) owns the child afterwards.
 */
#ifndef PM_SPAWN_H
#define PM_SPAWN_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* Where a standard stream goes, besides a descriptor >= 0 of the caller's
 * (dup'd onto the child's 0, 1 or 2; the caller keeps its own). */
enum {
    PM_PIPE = -1,    /* a pipe to the parent */
    PM_DEVNULL = -2, /* /dev/null */
    PM_STDOUT = -3,  /* stderr only: the same pipe as stdout */
};

/* A resource limit for the child (setrlimit), applied by the helper
 * program before the child's first instruction. */
typedef struct pm_limit {
    int resource;          /* RLIMIT_* */
    unsigned long long soft, hard; /* ULLONG_MAX: unlimited */
} pm_limit;

typedef struct pm_spawn_opts {
    char *const *argv;     /* NULL-terminated, argv[0] is the program */
    char *const *envp;     /* NULL-terminated, or NULL for the parent's environ */
    const char *path;      /* PATH to search when argv[0] has no slash (NULL: "/bin:/usr/bin") */
    const char *cwd;       /* NULL: the parent's */
    int stdin_mode;        /* PM_PIPE, PM_DEVNULL or a descriptor */
    int stdout_mode;       /* PM_PIPE, PM_DEVNULL or a descriptor */
    int stderr_mode;       /* PM_PIPE, PM_DEVNULL, PM_STDOUT or a descriptor */
    bool new_session;      /* setsid() rather than a new process group */
    bool pty;              /* a new pseudo-terminal as controlling terminal on 0, 1
                            * (and 2 unless stderr_mode is PM_PIPE or PM_DEVNULL);
                            * implies new_session; stdin_mode and stdout_mode are ignored */
    unsigned short rows, cols; /* its window size (0: 24 x 80) */
    const pm_limit *limits; /* applied through limits_helper (src/pm_limits_exec.c) */
    size_t nlimits;
    const char *limits_helper;
} pm_spawn_opts;

/* What failed, so the caller can name it. */
enum {
    PM_CULPRIT_NONE = 0,
    PM_CULPRIT_PROGRAM = 1, /* the program: missing, not executable, bad format */
    PM_CULPRIT_CWD = 2,     /* the working directory */
    PM_CULPRIT_SYSTEM = 3,  /* the parent: out of descriptors, memory, processes */
    PM_CULPRIT_ARGUMENT = 4, /* the options themselves */
    PM_CULPRIT_LIMIT = 5     /* a resource limit could not be set (detail: which) */
};

typedef struct pm_spawn_error {
    int err;                 /* errno value */
    int culprit;             /* PM_CULPRIT_* */
    int detail;              /* PM_CULPRIT_LIMIT: the RLIMIT_* resource */
    char path[PATH_MAX];     /* the program as resolved, when the culprit is the program */
} pm_spawn_error;

/* The parent's side of a started child.  Descriptors are O_CLOEXEC, the pipe
 * ends non-blocking; -1 where the stream is not a pipe.  With a pty, out_fd
 * is the master and in_fd a second descriptor on it (epoll watches each
 * descriptor for one direction). */
typedef struct pm_child {
    pid_t pid;
    int pidfd;             /* -1 when gone */
    int in_fd, out_fd, err_fd;
    bool gone;             /* exited and reaped by the kernel before we could
                            * watch it (SIGCHLD ignored): status unknown */
} pm_child;

/* Returns 0, or -1 with *e filled and nothing left open or running. */
int pm_spawn_child(const pm_spawn_opts *o, pm_child *c, pm_spawn_error *e);

/* A descriptor on /dev/null shared by every spawn (opened once, O_CLOEXEC). */
int pm_devnull_fd(void);

#endif
