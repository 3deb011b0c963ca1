# Declarations of src/pm_spawn.h.
from libc.stdint cimport int64_t

cdef extern from "pm_spawn.h" nogil:
    enum:
        PM_PIPE
        PM_DEVNULL
        PM_STDOUT
    enum:
        PM_CULPRIT_NONE
        PM_CULPRIT_PROGRAM
        PM_CULPRIT_CWD
        PM_CULPRIT_SYSTEM
        PM_CULPRIT_ARGUMENT
        PM_CULPRIT_LIMIT

    ctypedef struct pm_limit:
        int resource
        unsigned long long soft
        unsigned long long hard

    ctypedef struct pm_spawn_opts:
        char **argv
        char **envp
        const char *path
        const char *cwd
        int stdin_mode
        int stdout_mode
        int stderr_mode
        bint new_session
        bint pty
        unsigned short rows
        unsigned short cols
        const pm_limit *limits
        size_t nlimits
        const char *limits_helper

    ctypedef struct pm_spawn_error:
        int err
        int culprit
        int detail
        char path[4096]
