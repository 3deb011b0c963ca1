/* The reactor: one thread around epoll_wait owning every child.
 *
 * Ownership and locking
 * - Each process has a lock guarding its state (descriptors, rings, stdin
 *   queue, exit status) and a condition that wakes its waiters.
 * - eng.lock guards the engine: the list of live processes, the deadline
 *   heap, the kick list, the notice channels and every field marked "engine".
 * - Lock order: a process lock may be held while taking eng.lock, never
 *   the reverse.
 * - Descriptors are closed under the process lock, their field set to -1
 *   first.  An epoll event carries a pointer to (process, which stream),
 *   never a bare number, and is ignored when that field is -1: a number
 *   closed and reused within one batch of events is never mistaken.  A
 *   fork() between the two steps leaves the child a copy, never a reused
 *   number to close.  Callers mostly leave the closing to the reactor
 *   through a "kick"; the exceptions are commented.
 * - The reactor holds a reference on every process it watches, and drops it
 *   only at the end of a batch of events, so an event later in the same
 *   batch never finds freed memory.
 *
 * Reaping: the reactor is the only reaper of its children, through their
 * pidfds.  While a child is unreaped its zombie keeps its pid and process
 * group id from being reused, so signals go only to processes we started.
 */
#include "pm_engine.h"
#include "pm_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define NEVER INT64_MAX
#define NO_HEAP SIZE_MAX
/* How long what a poller polled stays out of the reactor after it left, for
 * the next wait (an exchange with a REPL, a sliced wait) to find it so: see
 * stop_polling. */
#define MUTE_LEASE_NS 2000000
/* How late the reactor may let go of a process a poller reaped (see kick_at). */
#define LAZY_KICK_NS 5000000

enum { W_IN = 0, W_OUT = PM_OUT, W_ERR = PM_ERR, W_PID = 3, W_COUNT = 4 };

/* What an epoll event points at: a process and which of its descriptors. */
struct watch {
    pm_proc *proc;
    int kind;
};

/* A process's subscription to a notice channel (engine fields). */
struct sub {
    pm_channel *ch;     /* NULL: slot unused */
    pm_proc *proc;
    uint64_t tag;
    bool output;        /* notified of new output too, not only of ends */
    bool queued;
    struct sub *next;   /* in ch's queue */
};
#define PM_MAX_SUBS 4

struct chunk {
    struct chunk *next;
    size_t len, off;
    char data[];
};

struct pm_proc {
    atomic_int refs;
    pthread_mutex_t lock;
    pthread_cond_t cond;

    /* Constant after pm_start. */
    pid_t pid;
    bool in_piped;
    bool pty;
    int64_t start_ns;
    struct watch watch[W_COUNT];

    /* Guarded by lock. */
    int fd[W_COUNT];
    pm_ring ring[W_COUNT]; /* W_OUT and W_ERR only */
    struct chunk *in_head, *in_tail;
    size_t in_pending;
    bool in_registered;    /* stdin is in epoll, waiting to be writable */
    bool in_close_req;
    bool pipes_close_req;
    bool abandoned;        /* no caller holds it: nobody will read its output */
    /* One waiter at a time, the poller, may wait on the descriptors
     * themselves rather than on cond (see wait_direct). */
    bool poller;           /* a waiter owns the polling, for its whole wait */
    bool in_poll;          /* ... and is in ppoll() now */
    bool poke_armed;       /* ... with poke_fd in its set */
    bool polled[W_COUNT];  /* descriptors the poller watches */
    bool muted[W_COUNT];   /* ... out of the reactor's epoll set (see mute) */
    int parked[W_COUNT];   /* unwatched while polled: the poller closes them */
    int poke_fd;           /* eventfd: another thread changed p; -1 until needed */
    int sleepers;          /* waiters sleeping on cond */
    int in_error;
    bool reaped, status_lost, timed_out, forked_away;
    int exit_code, term_signal;
    int64_t exit_ns;

    /* Engine fields, guarded by eng.lock. */
    int64_t timeout_at, kill_at, grace_ns;
    int64_t unmute_at;     /* end of the muted streams' lease */
    bool killing, kill_group;
    size_t heap_index;
    bool active, kicked;
    pm_proc *kick_next;
    pm_proc *all_prev, *all_next;
    struct sub subs[PM_MAX_SUBS];
    atomic_int nsubs;   /* read without the lock by changed() */

    /* Reactor thread only. */
    bool finishing;
    pm_proc *release_next;
};

static struct {
    pthread_mutex_t lock;
    bool conds_ready;
    bool running;
    int epfd, evfd;
    struct watch wake_watch;
    int lazy_fd;              /* timerfd: wakes the reactor for lazy kicks */
    struct watch lazy_watch;
    bool kicks_woken;         /* the reactor was woken for the kick list */
    bool lazy_armed;          /* lazy_fd is armed */
    pm_proc *all;
    size_t live, active;
    uint64_t spawned;
    pm_proc **heap;
    size_t heap_len, heap_cap;
    pm_proc *kicks;
    pm_channel *channels;
    int64_t reactor_wakes_at; /* the deadline the reactor sleeps until */
} eng = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .epfd = -1,
    .evfd = -1,
    .lazy_fd = -1,
    .reactor_wakes_at = NEVER,
};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void);

int64_t pm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec to_timespec(int64_t ns)
{
    struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
    return ts;
}

static void init_monotonic_cond(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* Wait on c until deadline_ns (< 0: forever).  False once the deadline passed. */
static bool cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ns)
{
    if (deadline_ns < 0) {
        pthread_cond_wait(c, m);
        return true;
    }
    if (pm_now_ns() >= deadline_ns)
        return false;
    struct timespec ts = to_timespec(deadline_ns);
    return pthread_cond_timedwait(c, m, &ts) != ETIMEDOUT || pm_now_ns() < deadline_ns;
}

/* Something wedged the engine beyond repair (a corrupted descriptor table):
 * say what and stop, rather than hang every waiter silently. */
static void fatal(const char *what)
{
    fprintf(stderr, "Core.ProcessManager engine: %s: %s\n", what, strerror(errno));
    abort();
}

static void wake_reactor(void)
{
    uint64_t one = 1;
    if (eng.evfd < 0)
        return;
    /* EAGAIN means the counter is already non-zero: the reactor will wake. */
    while (write(eng.evfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

/* ---- deadline heap (eng.lock) ------------------------------------------- */

static int64_t deadline_of(const pm_proc *p)
{
    int64_t d = p->timeout_at < p->kill_at ? p->timeout_at : p->kill_at;
    return d < p->unmute_at ? d : p->unmute_at;
}

static void heap_set(size_t i, pm_proc *p)
{
    eng.heap[i] = p;
    p->heap_index = i;
}

static void heap_sift(size_t i)
{
    pm_proc *p = eng.heap[i];
    int64_t key = deadline_of(p);
    while (i > 0 && deadline_of(eng.heap[(i - 1) / 2]) > key) {
        heap_set(i, eng.heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t mk = key;
        if (l < eng.heap_len && deadline_of(eng.heap[l]) < mk)
            m = l, mk = deadline_of(eng.heap[l]);
        if (l + 1 < eng.heap_len && deadline_of(eng.heap[l + 1]) < mk)
            m = l + 1;
        if (m == i)
            break;
        heap_set(i, eng.heap[m]);
        i = m;
    }
    heap_set(i, p);
}

static void heap_remove(pm_proc *p)
{
    size_t i = p->heap_index;
    if (i == NO_HEAP)
        return;
    p->heap_index = NO_HEAP;
    pm_proc *last = eng.heap[--eng.heap_len];
    if (i < eng.heap_len) {
        heap_set(i, last);
        heap_sift(i);
    }
}

/* Put p where its deadline says (or take it out).  -1: no memory. */
static int heap_update(pm_proc *p)
{
    if (deadline_of(p) == NEVER) {
        heap_remove(p);
        return 0;
    }
    if (p->heap_index == NO_HEAP) {
        if (eng.heap_len == eng.heap_cap) {
            size_t cap = eng.heap_cap ? eng.heap_cap * 2 : 64;
            pm_proc **h = realloc(eng.heap, cap * sizeof *h);
            if (h == NULL)
                return -1;
            eng.heap = h;
            eng.heap_cap = cap;
        }
        heap_set(eng.heap_len++, p);
    }
    heap_sift(p->heap_index);
    return 0;
}

/* ---- references, kicks, notices ----------------------------------------- */

static void free_proc(pm_proc *p)
{
    pthread_mutex_lock(&eng.lock);
    if (p->all_prev)
        p->all_prev->all_next = p->all_next;
    else
        eng.all = p->all_next;
    if (p->all_next)
        p->all_next->all_prev = p->all_prev;
    eng.live--;
    pm_channel *subscribed[PM_MAX_SUBS];
    for (int i = 0; i < PM_MAX_SUBS; i++)
        subscribed[i] = p->subs[i].ch; /* none queued: a queued one holds a reference */
    pthread_mutex_unlock(&eng.lock);
    for (int i = 0; i < PM_MAX_SUBS; i++)
        pm_channel_release(subscribed[i]);
    for (struct chunk *c = p->in_head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    pm_ring_destroy(&p->ring[W_OUT]);
    pm_ring_destroy(&p->ring[W_ERR]);
    if (p->poke_fd >= 0)
        close(p->poke_fd);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void pm_proc_release(pm_proc *p)
{
    if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
        free_proc(p);
}

/* Ask the reactor to look at p again (stdin to register or close, pipes to
 * close, a process to let go of).  The kick list holds a reference.
 * Urgent: wake the reactor now; else within LAZY_KICK_NS. */
static void kick_at(pm_proc *p, bool urgent)
{
    bool wake = false, arm = false;
    pthread_mutex_lock(&eng.lock);
    if (p->active && !p->kicked) {
        p->kicked = true;
        atomic_fetch_add(&p->refs, 1);
        p->kick_next = eng.kicks;
        eng.kicks = p;
    }
    if (eng.kicks != NULL && !eng.kicks_woken) {
        if (urgent)
            wake = eng.kicks_woken = true;
        else if (!eng.lazy_armed)
            arm = eng.lazy_armed = true;
    }
    pthread_mutex_unlock(&eng.lock);
    if (arm) {
        struct itimerspec when = { .it_value = to_timespec(LAZY_KICK_NS) };
        if (eng.lazy_fd < 0 || timerfd_settime(eng.lazy_fd, 0, &when, NULL) != 0)
            wake = true;
    }
    if (wake)
        wake_reactor();
}

static void kick(pm_proc *p)
{
    kick_at(p, true);
}

/* A kick that can wait: a process a poller reaped and drained has nothing
 * left for the reactor but to let go of it, which only frees memory.  One
 * timer wakes the reactor for all of them, rather than one wake-up each
 * (the caller's thread would pay for it on its way back). */
static void kick_lazily(pm_proc *p)
{
    kick_at(p, false);
}

/* ---- notice channels (eng.lock) ------------------------------------------ */

/* A channel queues the tags of the processes subscribed to it that changed
 * (output, end of file, exit), each at most once until taken.  Its eventfd
 * is readable while the queue is not empty, for an event loop to watch. */
struct pm_channel {
    atomic_int refs;
    pthread_cond_t cond;
    int evfd;                       /* -1 for the default channel */
    struct sub *head, *tail;
    pm_channel *all_prev, *all_next;
};

static pm_channel default_channel = { .evfd = -1 };

pm_channel *pm_default_channel(void)
{
    return &default_channel;
}

/* eng.lock held.  Channel conditions use CLOCK_MONOTONIC, so they are set
 * up at run time; this one on first use. */
static void ensure_default_channel(void)
{
    if (!eng.conds_ready) {
        init_monotonic_cond(&default_channel.cond);
        atomic_init(&default_channel.refs, 1); /* never freed */
        eng.conds_ready = true;
    }
}

pm_channel *pm_channel_new(void)
{
    pm_channel *ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return NULL;
    ch->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ch->evfd < 0) {
        int saved = errno;
        free(ch);
        errno = saved;
        return NULL;
    }
    init_monotonic_cond(&ch->cond);
    atomic_init(&ch->refs, 1);
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&eng.lock);
    ch->all_next = eng.channels;
    if (eng.channels)
        eng.channels->all_prev = ch;
    eng.channels = ch;
    pthread_mutex_unlock(&eng.lock);
    return ch;
}

void pm_channel_release(pm_channel *ch)
{
    if (ch == NULL || ch == &default_channel || atomic_fetch_sub(&ch->refs, 1) != 1)
        return;
    pthread_mutex_lock(&eng.lock);
    if (ch->all_prev)
        ch->all_prev->all_next = ch->all_next;
    else
        eng.channels = ch->all_next;
    if (ch->all_next)
        ch->all_next->all_prev = ch->all_prev;
    pthread_mutex_unlock(&eng.lock);
    close(ch->evfd);
    pthread_cond_destroy(&ch->cond);
    free(ch);
}

int pm_channel_fd(const pm_channel *ch)
{
    return ch->evfd;
}

/* eng.lock held.  Queue s (a reference on its process comes along). */
static void enqueue(struct sub *s)
{
    if (s->queued)
        return;
    pm_channel *ch = s->ch;
    s->queued = true;
    s->next = NULL;
    atomic_fetch_add(&s->proc->refs, 1);
    bool was_empty = ch->head == NULL;
    if (ch->tail)
        ch->tail->next = s;
    else
        ch->head = s;
    ch->tail = s;
    if (was_empty) {
        pthread_cond_signal(&ch->cond);
        if (ch->evfd >= 0) {
            uint64_t one = 1;
            while (write(ch->evfd, &one, sizeof one) < 0 && errno == EINTR)
                ;
        }
    }
}

/* eng.lock held.  Take s out of its channel's queue; returns whether it
 * was queued (its process reference then belongs to the caller). */
static bool dequeue(struct sub *s)
{
    if (!s->queued)
        return false;
    pm_channel *ch = s->ch;
    struct sub *prev = NULL;
    for (struct sub *q = ch->head; q != s; q = q->next)
        prev = q;
    if (prev)
        prev->next = s->next;
    else
        ch->head = s->next;
    if (ch->tail == s)
        ch->tail = prev;
    s->queued = false;
    return true;
}

size_t pm_channel_take(pm_channel *ch, uint64_t *tags, size_t cap, int64_t deadline_ns)
{
    pm_proc *procs[256];
    if (cap > sizeof procs / sizeof procs[0])
        cap = sizeof procs / sizeof procs[0];
    size_t n = 0;
    pthread_mutex_lock(&eng.lock);
    ensure_default_channel();
    while (ch->head == NULL)
        if (!cond_wait_until(&ch->cond, &eng.lock, deadline_ns))
            break;
    while (ch->head != NULL && n < cap) {
        struct sub *s = ch->head;
        ch->head = s->next;
        if (ch->head == NULL)
            ch->tail = NULL;
        s->queued = false;
        tags[n] = s->tag;
        procs[n++] = s->proc;
    }
    if (ch->head == NULL && ch->evfd >= 0) {
        uint64_t count;
        while (read(ch->evfd, &count, sizeof count) < 0 && errno == EINTR)
            ;
    }
    pthread_mutex_unlock(&eng.lock);
    for (size_t i = 0; i < n; i++)
        pm_proc_release(procs[i]);
    return n;
}

int pm_proc_subscribe(pm_proc *p, pm_channel *ch, uint64_t tag, bool output)
{
    int rc = -EBUSY;
    pthread_mutex_lock(&eng.lock);
    ensure_default_channel();
    struct sub *free_slot = NULL;
    for (int i = 0; i < PM_MAX_SUBS; i++) {
        if (p->subs[i].ch == ch) {
            free_slot = &p->subs[i];
            break;
        }
        if (p->subs[i].ch == NULL && free_slot == NULL)
            free_slot = &p->subs[i];
    }
    if (free_slot != NULL) {
        if (free_slot->ch == NULL) {
            atomic_fetch_add(&ch->refs, 1);
            atomic_fetch_add(&p->nsubs, 1);
            free_slot->ch = ch;
        }
        free_slot->tag = tag;
        free_slot->output = output;
        /* Notified once at once: the subscriber looks at the state now, so
         * a change just before the subscription is never missed. */
        enqueue(free_slot);
        rc = 0;
    }
    pthread_mutex_unlock(&eng.lock);
    return rc;
}

void pm_proc_unsubscribe(pm_proc *p, pm_channel *ch)
{
    bool held = false, found = false;
    pthread_mutex_lock(&eng.lock);
    for (int i = 0; i < PM_MAX_SUBS; i++) {
        if (p->subs[i].ch == ch) {
            held = dequeue(&p->subs[i]);
            p->subs[i].ch = NULL;
            atomic_fetch_sub(&p->nsubs, 1);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&eng.lock);
    if (found)
        pm_channel_release(ch);
    if (held)
        pm_proc_release(p); /* never the last reference: the caller has one */
}

/* Called with p->lock held after p changed: wake its waiters and notify
 * its channels.  only_output: new output and nothing else (no end of file,
 * no exit), which subscriptions without output do not hear of. */
static void changed(pm_proc *p, bool only_output)
{
    pthread_cond_broadcast(&p->cond);
    if (p->poke_armed) {
        uint64_t one = 1;
        /* EAGAIN: the counter is already non-zero, the poller will wake. */
        while (write(p->poke_fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    /* Without subscribers, skip the engine lock.  A subscription made just
     * after this check is notified by pm_proc_subscribe itself. */
    if (atomic_load(&p->nsubs) == 0)
        return;
    pthread_mutex_lock(&eng.lock);
    for (int i = 0; i < PM_MAX_SUBS; i++)
        if (p->subs[i].ch != NULL && (p->subs[i].output || !only_output))
            enqueue(&p->subs[i]);
    pthread_mutex_unlock(&eng.lock);
}

/* ---- descriptor handling (p->lock held) ---------------------------------- */

static void unwatch(pm_proc *p, int kind)
{
    int fd = p->fd[kind];
    if (fd < 0)
        return;
    p->fd[kind] = -1;
    /* Explicit removal: a fork()ed copy of the descriptor would keep it in
     * the epoll set after our close(). */
    if ((kind != W_IN || p->in_registered) && !p->muted[kind]) {
        if (epoll_ctl(eng.epfd, EPOLL_CTL_DEL, fd, NULL) != 0 && errno != ENOENT)
            fatal("epoll_ctl(DEL)");
    }
    if (kind == W_IN)
        p->in_registered = false;
    p->muted[kind] = false;
    /* The poller may be in ppoll() on it: closing could hand its number to
     * an unrelated descriptor under the poller's feet. */
    if (p->in_poll && kind != W_IN)
        p->parked[kind] = fd;
    else
        close(fd);
}

/* The poller takes the descriptors it polls out of the reactor's epoll set
 * (removed, not only disarmed: a pipe's hang-up would still wake it), so
 * the reactor does not wake for what the poller handles.  This only saves
 * wake-ups: a removal that fails leaves the descriptor watched. */
static void mute(pm_proc *p, int k)
{
    if (!p->muted[k] && p->fd[k] >= 0 && epoll_ctl(eng.epfd, EPOLL_CTL_DEL, p->fd[k], NULL) == 0)
        p->muted[k] = true;
}

static bool lease_muted(pm_proc *p, int64_t ns);

/* Give the reactor back every muted descriptor the poller (if any) does
 * not poll.  Adding can fail (no memory, or the user's epoll watches
 * exhausted meanwhile): the descriptor then stays muted and the reactor
 * retries after a lease, so a child is never left writing into a pipe
 * nobody drains. */
static void unmute_all(pm_proc *p)
{
    bool failed = false;
    for (int k = W_OUT; k < W_COUNT; k++) {
        if (!p->muted[k] || p->polled[k])
            continue;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->watch[k] };
        if (epoll_ctl(eng.epfd, EPOLL_CTL_ADD, p->fd[k], &ev) == 0)
            p->muted[k] = false;
        else
            failed = true;
    }
    if (failed && !lease_muted(p, MUTE_LEASE_NS))
        fatal("epoll_ctl(ADD) of a child's descriptor, and no memory to retry");
}

static void drop_stdin_queue(pm_proc *p)
{
    for (struct chunk *c = p->in_head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    p->in_head = p->in_tail = NULL;
    p->in_pending = 0;
}

/* Read what the pipe has into the ring.  until_empty: keep reading to EAGAIN
 * (the child has exited, so everything it wrote is already there); else
 * stop after a short read or a budget, for fairness between children. */
static bool drain(pm_proc *p, int kind, bool until_empty)
{
    pm_ring *r = &p->ring[kind];
    size_t budget = (size_t)1 << 20;
    bool got = false;
    while (p->fd[kind] >= 0) {
        char *dst;
        char scratch[4096];
        size_t space = pm_ring_space(r, &dst);
        bool lost = space == 0; /* no memory even for a first block */
        if (lost) {
            dst = scratch;
            space = sizeof scratch;
        }
        ssize_t n = read(p->fd[kind], dst, space);
        if (n > 0) {
            got = true;
            if (lost)
                pm_ring_skip(r, scratch, (size_t)n);
            else
                pm_ring_commit(r, (size_t)n);
            if (!until_empty) {
                /* A short read means the pipe is empty; the budget keeps
                 * one chatty child from starving the others. */
                if ((size_t)n < space || budget <= (size_t)n)
                    break;
                budget -= (size_t)n;
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        /* End of file, or a read error (EIO): no more data will come. */
        unwatch(p, kind);
        got = true;
    }
    return got;
}

/* Write queued stdin data until the pipe is full or the queue is empty. */
static void flush_stdin(pm_proc *p)
{
    while (p->in_head != NULL && p->fd[W_IN] >= 0) {
        struct chunk *c = p->in_head;
        /* SIGPIPE is blocked in this thread: a closed reader gives EPIPE. */
        ssize_t w = write(p->fd[W_IN], c->data + c->off, c->len - c->off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            p->in_error = errno;
            drop_stdin_queue(p);
            unwatch(p, W_IN);
            return;
        }
        c->off += (size_t)w;
        p->in_pending -= (size_t)w;
        if (c->off == c->len) {
            p->in_head = c->next;
            if (p->in_head == NULL)
                p->in_tail = NULL;
            free(c);
        }
    }
    if (p->fd[W_IN] >= 0 && p->in_registered) {
        if (epoll_ctl(eng.epfd, EPOLL_CTL_DEL, p->fd[W_IN], NULL) != 0)
            fatal("epoll_ctl(DEL stdin)");
        p->in_registered = false;
    }
    if (p->in_close_req)
        unwatch(p, W_IN);
}

/* Send sig to the child, or to its group.  Only while unreaped. */
static int send_signal(pm_proc *p, int sig, bool group)
{
    if (p->reaped)
        return 0;
    if (group && getpgid(p->pid) == p->pid) {
        if (kill(-p->pid, sig) == 0)
            return 1;
        if (errno != ESRCH)
            return -errno;
    } else if (group) {
        /* The child left its group (job control): its old group gets the
         * signal if it still has members, and the child itself below. */
        (void)kill(-p->pid, sig);
    }
    if (syscall(SYS_pidfd_send_signal, p->fd[W_PID], sig, NULL, 0) != 0)
        return errno == ESRCH ? 0 : -errno;
    return 1;
}

/* The child's pidfd is readable: collect its exit. */
static void reap(pm_proc *p)
{
    /* Everything the child wrote before exiting is in the pipes now. */
    drain(p, W_OUT, true);
    drain(p, W_ERR, true);

    pthread_mutex_lock(&eng.lock);
    bool end_group = p->killing && p->kill_group;
    pthread_mutex_unlock(&eng.lock);
    /* Ending a group: the zombie still holds the group id, so stragglers
     * that outlived SIGTERM can be killed without touching a reused id. */
    if (end_group)
        (void)kill(-p->pid, SIGKILL);

    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do
        r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0 && si.si_pid == 0)
        return; /* not exited after all */
    if (r < 0) {
        /* ECHILD: a SIGCHLD handler with waitpid(-1) or SIG_IGN took it. */
        p->status_lost = true;
    } else if (si.si_code == CLD_EXITED) {
        p->exit_code = si.si_status;
    } else {
        p->term_signal = si.si_status;
    }
    p->reaped = true;
    p->exit_ns = pm_now_ns();
    unwatch(p, W_PID);
    /* The child is gone: its stdin goes too. */
    if (p->fd[W_IN] >= 0 || p->in_head != NULL) {
        drop_stdin_queue(p);
        unwatch(p, W_IN);
    }
    if (p->in_piped && p->in_error == 0)
        p->in_error = EPIPE;
    if (p->abandoned) {
        /* Nobody can read what a descendant still writes: stop draining. */
        unwatch(p, W_OUT);
        unwatch(p, W_ERR);
    }
    pthread_mutex_lock(&eng.lock);
    p->killing = false;
    p->timeout_at = p->kill_at = p->unmute_at = NEVER;
    heap_remove(p);
    pthread_mutex_unlock(&eng.lock);
    if (!p->poller) /* else the poller gives them back when it leaves */
        unmute_all(p);
}

/* ---- the reactor --------------------------------------------------------- */

static pm_proc *release_list;

/* p->lock held.  Once nothing is left to watch, stop watching p. */
static void maybe_finish(pm_proc *p)
{
    if (p->finishing || !p->reaped || p->fd[W_OUT] >= 0 || p->fd[W_ERR] >= 0 || p->fd[W_IN] >= 0)
        return;
    p->finishing = true;
    pthread_mutex_lock(&eng.lock);
    p->active = false;
    eng.active--;
    p->unmute_at = NEVER; /* the heap must not outlive the reactor's reference */
    heap_remove(p);
    pthread_mutex_unlock(&eng.lock);
    p->release_next = release_list;
    release_list = p;
}

static void on_event(struct watch *w, uint32_t events)
{
    pm_proc *p = w->proc;
    pthread_mutex_lock(&p->lock);
    bool news = false, only_output = false;
    switch (w->kind) {
    case W_OUT:
    case W_ERR:
        news = drain(p, w->kind, false);
        only_output = p->fd[w->kind] >= 0;
        break;
    case W_IN:
        if (p->in_registered && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            size_t before = p->in_pending;
            flush_stdin(p);
            news = p->in_pending != before || p->fd[W_IN] < 0;
        }
        break;
    case W_PID:
        if (p->fd[W_PID] >= 0) {
            reap(p);
            news = p->reaped;
        }
        break;
    }
    if (news)
        changed(p, only_output);
    maybe_finish(p);
    pthread_mutex_unlock(&p->lock);
}

static void run_kicks(void)
{
    pthread_mutex_lock(&eng.lock);
    pm_proc *list = eng.kicks;
    eng.kicks = NULL;
    eng.kicks_woken = false;
    for (pm_proc *p = list; p; p = p->kick_next)
        p->kicked = false;
    pthread_mutex_unlock(&eng.lock);
    for (pm_proc *p = list, *next; p; p = next) {
        next = p->kick_next;
        pthread_mutex_lock(&p->lock);
        bool news = false;
        if (p->pipes_close_req && (p->fd[W_OUT] >= 0 || p->fd[W_ERR] >= 0)) {
            unwatch(p, W_OUT);
            unwatch(p, W_ERR);
            news = true;
        }
        if (p->fd[W_IN] >= 0) {
            if (p->in_head != NULL && !p->in_registered) {
                struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &p->watch[W_IN] };
                if (epoll_ctl(eng.epfd, EPOLL_CTL_ADD, p->fd[W_IN], &ev) == 0) {
                    p->in_registered = true;
                } else {
                    /* Out of epoll watches or memory: the queued data cannot
                     * be written; report it as the stdin's error. */
                    p->in_error = errno;
                    drop_stdin_queue(p);
                    unwatch(p, W_IN);
                    news = true;
                }
            } else if (p->in_head == NULL && (p->in_close_req || p->in_error)) {
                unwatch(p, W_IN);
                news = true;
            }
        }
        if (news)
            changed(p, false);
        maybe_finish(p);
        pthread_mutex_unlock(&p->lock);
        /* The kick's reference: released now, as p stays on release_list
         * (with the reactor's own reference) if it just finished. */
        pm_proc_release(p);
    }
}

enum { ACT_TIMEOUT = 1, ACT_KILL = 2, ACT_UNMUTE = 3 };

/* Fire due deadlines; returns the next one (NEVER if none). */
static int64_t run_deadlines(void)
{
    for (;;) {
        struct {
            pm_proc *p;
            int act;
            bool group;
        } due[32];
        size_t n = 0;
        int64_t now = pm_now_ns(), next = NEVER;
        pthread_mutex_lock(&eng.lock);
        while (eng.heap_len > 0 && n < 32) {
            pm_proc *p = eng.heap[0];
            if (deadline_of(p) > now) {
                next = deadline_of(p);
                break;
            }
            if (p->timeout_at <= now) {
                /* The deadline passed: end it as terminate() would. */
                p->timeout_at = NEVER;
                p->killing = true;
                p->kill_group = true;
                p->kill_at = now + p->grace_ns;
                due[n].act = ACT_TIMEOUT;
            } else if (p->kill_at <= now) {
                p->kill_at = NEVER;
                due[n].act = ACT_KILL;
            } else {
                p->unmute_at = NEVER;
                due[n].act = ACT_UNMUTE;
            }
            due[n].p = p;
            due[n].group = p->kill_group;
            n++;
            (void)heap_update(p); /* p is in the heap already: no allocation */
        }
        eng.reactor_wakes_at = next;
        pthread_mutex_unlock(&eng.lock);
        for (size_t i = 0; i < n; i++) {
            pm_proc *p = due[i].p;
            pthread_mutex_lock(&p->lock);
            if (due[i].act == ACT_UNMUTE) {
                if (!p->poller) /* else the poller owns them */
                    unmute_all(p);
            } else if (!p->reaped) {
                if (due[i].act == ACT_TIMEOUT) {
                    p->timed_out = true;
                    (void)send_signal(p, SIGTERM, true);
                    /* A stopped process would never see SIGTERM. */
                    (void)send_signal(p, SIGCONT, true);
                } else {
                    (void)send_signal(p, SIGKILL, due[i].group);
                }
            }
            pthread_mutex_unlock(&p->lock);
        }
        if (n < 32)
            return next;
    }
}

static void *reactor_main(void *unused)
{
    (void)unused;
    struct epoll_event evs[128];
    for (;;) {
        int64_t next = run_deadlines();
        int timeout_ms = -1;
        if (next != NEVER) {
            int64_t ms = (next - pm_now_ns() + 999999) / 1000000; /* round up: never spin */
            timeout_ms = ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
        }
        int n = epoll_wait(eng.epfd, evs, 128, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatal("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct watch *w = evs[i].data.ptr;
            if (w == &eng.wake_watch || w == &eng.lazy_watch) {
                int fd = w == &eng.wake_watch ? eng.evfd : eng.lazy_fd;
                uint64_t count;
                while (read(fd, &count, sizeof count) < 0 && errno == EINTR)
                    ;
                if (w == &eng.lazy_watch) {
                    pthread_mutex_lock(&eng.lock);
                    eng.lazy_armed = false;
                    pthread_mutex_unlock(&eng.lock);
                }
                continue;
            }
            on_event(w, evs[i].events);
        }
        run_kicks();
        while (release_list != NULL) {
            pm_proc *p = release_list;
            release_list = p->release_next;
            pm_proc_release(p);
        }
    }
    return NULL;
}

/* ---- fork ---------------------------------------------------------------- */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&eng.lock);
}

static void atfork_parent(void)
{
    pthread_mutex_unlock(&eng.lock);
}

/* In the child of fork(): only this thread exists.  The parent's children
 * are not ours; forget them, close the parent's descriptors (a pipe end
 * kept here would hold back the EOF the parent's child waits for), and let
 * the next pm_start build a fresh engine. */
static void atfork_child(void)
{
    pthread_mutex_init(&eng.lock, NULL);
    if (eng.conds_ready)
        init_monotonic_cond(&default_channel.cond);
    default_channel.head = default_channel.tail = NULL;
    for (pm_channel *ch = eng.channels; ch; ch = ch->all_next) {
        init_monotonic_cond(&ch->cond);
        ch->head = ch->tail = NULL;
        /* The eventfd is shared with the parent: give this process its own,
         * under the same number (an event loop may be watching it). */
        int fresh = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fresh >= 0) {
            dup3(fresh, ch->evfd, O_CLOEXEC);
            close(fresh);
        }
    }
    for (pm_proc *p = eng.all, *next; p; p = next) {
        next = p->all_next;
        pthread_mutex_init(&p->lock, NULL);
        init_monotonic_cond(&p->cond);
        for (int k = 0; k < W_COUNT; k++) {
            if (p->fd[k] >= 0)
                close(p->fd[k]);
            p->fd[k] = -1;
        }
        for (int k = 0; k < W_COUNT; k++) {
            if (p->parked[k] >= 0)
                close(p->parked[k]);
            p->parked[k] = -1;
        }
        if (p->poke_fd >= 0)
            close(p->poke_fd);
        p->poke_fd = -1;
        p->poller = p->in_poll = p->poke_armed = false;
        memset(p->polled, 0, sizeof p->polled);
        memset(p->muted, 0, sizeof p->muted);
        p->unmute_at = NEVER;
        p->in_registered = false;
        drop_stdin_queue(p);
        if (!p->reaped)
            p->forked_away = true;
        p->reaped = true;
        p->in_error = EPIPE;
        int held = (p->active ? 1 : 0) + (p->kicked ? 1 : 0);
        for (int i = 0; i < PM_MAX_SUBS; i++) {
            held += p->subs[i].queued ? 1 : 0;
            p->subs[i].queued = false;
        }
        p->active = p->kicked = false;
        p->heap_index = NO_HEAP;
        if (atomic_fetch_sub(&p->refs, held) == held)
            free_proc(p);
    }
    if (eng.epfd >= 0)
        close(eng.epfd);
    if (eng.evfd >= 0)
        close(eng.evfd);
    if (eng.lazy_fd >= 0)
        close(eng.lazy_fd);
    eng.epfd = eng.evfd = eng.lazy_fd = -1;
    eng.kicks_woken = eng.lazy_armed = false;
    free(eng.heap);
    eng.heap = NULL;
    eng.heap_len = eng.heap_cap = 0;
    eng.kicks = NULL;
    eng.active = 0;
    eng.running = false;
    eng.reactor_wakes_at = NEVER;
    release_list = NULL;
}

static void register_atfork(void)
{
    if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0)
        fatal("pthread_atfork");
}

/* ---- starting ------------------------------------------------------------ */

/* eng.lock held.  Start the reactor thread if it is not running. */
static int ensure_reactor(void)
{
    if (eng.running)
        return 0;
    ensure_default_channel();
    eng.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (eng.epfd < 0)
        return -1;
    eng.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (eng.evfd < 0)
        goto fail;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &eng.wake_watch };
    if (epoll_ctl(eng.epfd, EPOLL_CTL_ADD, eng.evfd, &ev) != 0)
        goto fail;
    eng.lazy_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (eng.lazy_fd < 0)
        goto fail;
    ev.data.ptr = &eng.lazy_watch;
    if (epoll_ctl(eng.epfd, EPOLL_CTL_ADD, eng.lazy_fd, &ev) != 0)
        goto fail;
    /* The reactor takes no signals: they belong to the application's
     * threads (and SIGPIPE then comes back as EPIPE). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    int err = pthread_create(&t, &attr, reactor_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        errno = err;
        goto fail;
    }
    eng.running = true;
    return 0;
fail: {
    int saved = errno;
    if (eng.evfd >= 0)
        close(eng.evfd);
    if (eng.lazy_fd >= 0)
        close(eng.lazy_fd);
    close(eng.epfd);
    eng.epfd = eng.evfd = eng.lazy_fd = -1;
    errno = saved;
    return -1;
}
}

/* p->lock held (released here), p registered: the child started but cannot
 * be watched as asked.  Kill and reap it here (the reactor cannot: we hold
 * the lock), let the reactor drop it, and report err. */
static int abandon_start(pm_proc *p, pm_spawn_error *e, int err)
{
    e->err = err;
    e->culprit = PM_CULPRIT_SYSTEM;
    (void)send_signal(p, SIGKILL, true);
    siginfo_t si;
    while (waitid(P_PID, (id_t)p->pid, &si, WEXITED) < 0 && errno == EINTR)
        ;
    p->reaped = true;
    p->exit_ns = pm_now_ns();
    for (int w = 0; w < W_COUNT; w++)
        unwatch(p, w);
    pthread_mutex_lock(&eng.lock);
    p->timeout_at = p->unmute_at = NEVER;
    heap_remove(p);
    pthread_mutex_unlock(&eng.lock);
    pthread_mutex_unlock(&p->lock);
    kick(p);
    pm_proc_release(p);
    return -1;
}

int pm_start(const pm_start_opts *o, pm_proc **out, pm_spawn_error *e)
{
    memset(e, 0, sizeof *e);
    *out = NULL;
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&eng.lock);
    int rc = ensure_reactor();
    pthread_mutex_unlock(&eng.lock);
    if (rc != 0) {
        e->err = errno;
        e->culprit = PM_CULPRIT_SYSTEM;
        return -1;
    }

    pm_proc *p = calloc(1, sizeof *p);
    if (p == NULL) {
        e->err = ENOMEM;
        e->culprit = PM_CULPRIT_SYSTEM;
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    init_monotonic_cond(&p->cond);
    pm_ring_init(&p->ring[W_OUT], o->ring_limit);
    pm_ring_init(&p->ring[W_ERR], o->ring_limit);
    for (int i = 0; i < PM_MAX_SUBS; i++)
        p->subs[i].proc = p;
    p->pty = o->spawn.pty;
    p->in_piped = o->spawn.stdin_mode == PM_PIPE || p->pty;
    p->timeout_at = p->kill_at = p->unmute_at = NEVER;
    p->grace_ns = o->grace_ns;
    p->heap_index = NO_HEAP;
    p->poke_fd = -1;
    for (int k = 0; k < W_COUNT; k++) {
        p->watch[k].proc = p;
        p->watch[k].kind = k;
        p->parked[k] = -1;
    }

    pm_child c;
    p->start_ns = pm_now_ns();
    if (pm_spawn_child(&o->spawn, &c, e) != 0) {
        pm_ring_destroy(&p->ring[W_OUT]);
        pm_ring_destroy(&p->ring[W_ERR]);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return -1;
    }
    p->pid = c.pid;
    p->fd[W_IN] = c.in_fd;
    p->fd[W_OUT] = c.out_fd;
    p->fd[W_ERR] = c.err_fd;
    p->fd[W_PID] = c.pidfd;
    if (c.gone) {
        p->reaped = p->status_lost = true;
        p->exit_ns = pm_now_ns();
        if (p->in_piped) {
            int fd = p->fd[W_IN];
            p->fd[W_IN] = -1;
            if (fd >= 0)
                close(fd);
            p->in_error = EPIPE;
        }
    }
    atomic_init(&p->refs, 2); /* the caller's and the reactor's */

    /* Registered under p->lock: the reactor sees p whole when it locks it. */
    pthread_mutex_lock(&p->lock);
    pthread_mutex_lock(&eng.lock);
    p->all_next = eng.all;
    if (eng.all)
        eng.all->all_prev = p;
    eng.all = p;
    eng.live++;
    eng.active++;
    eng.spawned++;
    p->active = true;
    /* A caller that waits at once (a blocking run) polls the pipes and the
     * pidfd itself: they start muted, as a poller leaves them, rather than
     * being added to epoll only for its wait to take them out again.  If
     * no waiter comes, the reactor adds them when the lease ends. */
    bool start_muted = o->waited && !p->reaped;
    if (o->timeout_ns >= 0 && !p->reaped)
        p->timeout_at = p->start_ns + o->timeout_ns;
    if (start_muted)
        p->unmute_at = pm_now_ns() + MUTE_LEASE_NS;
    bool earliest = false;
    if (deadline_of(p) != NEVER) {
        if (heap_update(p) == 0) {
            /* A timeout must be on time; the lease can wait for the lazy
             * timer (below): its waiter is on its way. */
            earliest = p->timeout_at < eng.reactor_wakes_at;
        } else if (p->timeout_at != NEVER) {
            /* No memory for the deadline: a timeout that cannot be kept
             * must not be dropped without a word. */
            pthread_mutex_unlock(&eng.lock);
            return abandon_start(p, e, ENOMEM);
        } else {
            p->unmute_at = NEVER; /* no lease: the reactor watches it from now */
            start_muted = false;
        }
    }
    pthread_mutex_unlock(&eng.lock);
    int kinds[] = { W_OUT, W_ERR, W_PID };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        int k = kinds[i];
        if (p->fd[k] < 0)
            continue;
        if (start_muted) {
            p->muted[k] = true;
            continue;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &p->watch[k] };
        /* Out of epoll watches (ENOSPC) or memory: we cannot watch this
         * child, so it must not run unwatched. */
        if (epoll_ctl(eng.epfd, EPOLL_CTL_ADD, p->fd[k], &ev) != 0)
            return abandon_start(p, e, errno);
    }
    pthread_mutex_unlock(&p->lock);
    if (c.gone)
        kick(p); /* gone already: the reactor lets go once its pipes are drained */
    else if (start_muted)
        kick_lazily(p); /* the reactor wakes for the lease within LAZY_KICK_NS */
    if (o->channel != NULL)
        (void)pm_proc_subscribe(p, o->channel, o->tag, true); /* a free slot: cannot fail */
    if (earliest)
        wake_reactor();
    *out = p;
    return 0;
}

/* ---- caller-side operations ---------------------------------------------- */

void pm_proc_status(pm_proc *p, pm_status *st)
{
    pthread_mutex_lock(&p->lock);
    st->pid = p->pid;
    st->exited = p->reaped;
    st->status_lost = p->status_lost;
    st->exit_code = p->exit_code;
    st->term_signal = p->term_signal;
    st->timed_out = p->timed_out;
    st->stdin_open = p->fd[W_IN] >= 0 && !p->in_close_req;
    st->pipes_open = p->fd[W_OUT] >= 0 || p->fd[W_ERR] >= 0;
    st->forked_away = p->forked_away;
    st->stdin_pending = p->in_pending;
    st->stdin_error = p->in_error;
    st->start_ns = p->start_ns;
    st->exit_ns = p->exit_ns;
    pthread_mutex_unlock(&p->lock);
}

/* write() from a caller's thread, whose SIGPIPE may be unblocked with the
 * default action: block it around the write and swallow the one we cause. */
static ssize_t write_no_sigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t w;
    do
        w = write(fd, buf, n);
    while (w < 0 && errno == EINTR);
    int saved = errno;
    if (!sigismember(&old, SIGPIPE)) {
        if (w < 0 && saved == EPIPE) {
            struct timespec zero = { 0, 0 };
            while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR)
                ;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    errno = saved;
    return w;
}

int pm_proc_write(pm_proc *p, const void *data, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    if (!p->in_piped || p->in_close_req)
        rc = -EBADF;
    else if (p->in_error)
        rc = -p->in_error;
    else if (p->fd[W_IN] < 0)
        rc = -EPIPE;
    else {
        size_t done = 0;
        if (p->in_head == NULL) {
            /* Nothing queued: write directly, saving a trip through the reactor. */
            while (done < n) {
                ssize_t w = write_no_sigpipe(p->fd[W_IN], (const char *)data + done, n - done);
                if (w < 0) {
                    if (errno != EAGAIN) {
                        rc = -errno;
                        p->in_error = errno;
                        kick(p); /* the reactor closes it */
                    }
                    break;
                }
                done += (size_t)w;
            }
        }
        if (rc == 0 && done < n) {
            struct chunk *c = malloc(sizeof *c + (n - done));
            if (c == NULL) {
                rc = -ENOMEM;
            } else {
                memcpy(c->data, (const char *)data + done, n - done);
                c->len = n - done;
                c->off = 0;
                c->next = NULL;
                if (p->in_tail)
                    p->in_tail->next = c;
                else
                    p->in_head = c;
                p->in_tail = c;
                p->in_pending += c->len;
                kick(p);
            }
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void pm_proc_close_stdin(pm_proc *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->fd[W_IN] >= 0 && !p->in_close_req) {
        p->in_close_req = true;
        if (p->in_head == NULL && !p->in_registered) {
            /* Not in epoll: close it here, so the child sees EOF now. */
            int fd = p->fd[W_IN];
            p->fd[W_IN] = -1;
            close(fd);
            changed(p, false);
        }
        kick(p); /* flush-then-close, or let the reactor finish p */
    }
    pthread_mutex_unlock(&p->lock);
}

void pm_proc_abandon(pm_proc *p)
{
    pthread_mutex_lock(&p->lock);
    p->abandoned = true;
    if (p->reaped && (p->fd[W_OUT] >= 0 || p->fd[W_ERR] >= 0)) {
        p->pipes_close_req = true;
        kick(p);
    }
    pthread_mutex_unlock(&p->lock);
}

int pm_proc_set_ring_limit(pm_proc *p, size_t limit)
{
    pthread_mutex_lock(&p->lock);
    int rc = pm_ring_set_limit(&p->ring[W_OUT], limit) == 0
          && pm_ring_set_limit(&p->ring[W_ERR], limit) == 0 ? 0 : -ENOMEM;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int pm_proc_set_winsize(pm_proc *p, unsigned short rows, unsigned short cols)
{
    int rc = -ENOTTY;
    pthread_mutex_lock(&p->lock);
    if (p->pty && p->fd[W_OUT] >= 0) {
        struct winsize ws = { .ws_row = rows, .ws_col = cols };
        rc = ioctl(p->fd[W_OUT], TIOCSWINSZ, &ws) == 0 ? 0 : -errno;
    } else if (p->pty) {
        rc = -EBADF; /* the terminal is closed */
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void pm_proc_close_pipes(pm_proc *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->fd[W_OUT] >= 0 || p->fd[W_ERR] >= 0) {
        p->pipes_close_req = true;
        kick(p);
    }
    pthread_mutex_unlock(&p->lock);
}

static bool valid_stream(int stream)
{
    return stream == PM_OUT || stream == PM_ERR;
}

void pm_proc_stream_info(pm_proc *p, int stream, pm_stream_info *si)
{
    memset(si, 0, sizeof *si);
    if (!valid_stream(stream))
        return;
    pthread_mutex_lock(&p->lock);
    const pm_ring *r = &p->ring[stream];
    si->end = r->end;
    si->dropped = r->start;
    si->lines = r->lines;
    si->eof = p->fd[stream] < 0;
    pthread_mutex_unlock(&p->lock);
}

size_t pm_proc_available(pm_proc *p, int stream, uint64_t from)
{
    if (!valid_stream(stream))
        return 0;
    pthread_mutex_lock(&p->lock);
    size_t n = pm_ring_available(&p->ring[stream], from);
    pthread_mutex_unlock(&p->lock);
    return n;
}

size_t pm_proc_read(pm_proc *p, int stream, uint64_t from, void *dst, size_t cap, uint64_t *first)
{
    *first = from;
    if (!valid_stream(stream))
        return 0;
    pthread_mutex_lock(&p->lock);
    size_t n = pm_ring_read(&p->ring[stream], from, dst, cap, first);
    pthread_mutex_unlock(&p->lock);
    return n;
}

static bool condition_holds(const pm_proc *p, int what, uint64_t out_off, uint64_t err_off)
{
    bool out_done = p->fd[W_OUT] < 0, err_done = p->fd[W_ERR] < 0;
    switch (what) {
    case PM_WAIT_EXIT:
        return p->reaped;
    case PM_WAIT_OUTPUT: {
        /* A watched stream passed its offset, or every watched stream is done. */
        bool out_watched = out_off != PM_UNWATCHED, err_watched = err_off != PM_UNWATCHED;
        return (out_watched && p->ring[W_OUT].end > out_off)
            || (err_watched && p->ring[W_ERR].end > err_off)
            || ((out_done || !out_watched) && (err_done || !err_watched));
    }
    default:
        return out_done && err_done;
    }
}

static bool watches(int what, int k, uint64_t out_off, uint64_t err_off)
{
    return what == PM_WAIT_EOF || (k == W_OUT ? out_off : err_off) != PM_UNWATCHED;
}

/* p->lock held, released while waiting; the caller is the poller.  Wait on
 * the descriptors themselves (muted in the reactor, see start_polling) and
 * drain or reap here what is ready: the waiter wakes once, when the child
 * acts, instead of after the reactor has woken, done it and signalled cond.
 * - An exit: only the poller reaps (a pidfd stays readable after the exit,
 *   should the reactor reap because muting failed).
 * - Output: what another thread changes (the reactor reaping the child, a
 *   close_pipes) pokes an eventfd in the set, so no wake-up is lost.
 * Returns false when the deadline passed. */
static bool wait_direct(pm_proc *p, int what, int64_t deadline_ns)
{
    struct pollfd pfd[3];  /* poke or pidfd, stdout, stderr */
    int kind_of[3];
    nfds_t n = 0;
    if (what == PM_WAIT_EXIT) {
        if (p->fd[W_PID] < 0)
            return cond_wait_until(&p->cond, &p->lock, deadline_ns);
        pfd[n] = (struct pollfd){ .fd = p->fd[W_PID], .events = POLLIN };
        kind_of[n++] = W_PID;
    } else {
        if (p->poke_fd < 0 && (p->poke_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
            return cond_wait_until(&p->cond, &p->lock, deadline_ns); /* EMFILE: the slow way */
        pfd[n] = (struct pollfd){ .fd = p->poke_fd, .events = POLLIN };
        kind_of[n++] = -1;
        p->poke_armed = true;
    }
    for (int k = W_OUT; k <= W_ERR; k++) {
        if (p->fd[k] >= 0 && p->polled[k]) {
            pfd[n] = (struct pollfd){ .fd = p->fd[k], .events = POLLIN };
            kind_of[n++] = k;
        }
    }
    p->in_poll = true;
    pthread_mutex_unlock(&p->lock);
    struct timespec left, *timeout = NULL;
    if (deadline_ns >= 0) {
        int64_t ns = deadline_ns - pm_now_ns();
        left = to_timespec(ns < 0 ? 0 : ns);
        timeout = &left;
    }
    int r = ppoll(pfd, n, timeout, NULL);
    int err = errno;
    pthread_mutex_lock(&p->lock);
    p->in_poll = p->poke_armed = false;
    for (int k = 0; k < W_COUNT; k++) {
        if (p->parked[k] >= 0) {
            close(p->parked[k]);
            p->parked[k] = -1;
        }
    }
    bool news = false, only_output = true;
    for (nfds_t i = 0; r > 0 && i < n; i++) {
        if (pfd[i].revents == 0)
            continue;
        int k = kind_of[i];
        if (k < 0) {
            uint64_t count;
            while (read(p->poke_fd, &count, sizeof count) < 0 && errno == EINTR)
                ;
        } else if (k == W_PID) {
            if (p->fd[W_PID] >= 0) {
                reap(p);
                news = news || p->reaped;
                only_output = false;
            }
        } else if (drain(p, k, false)) { /* nothing if the stream was closed meanwhile */
            news = true;
            only_output = only_output && p->fd[k] >= 0;
        }
    }
    if (news) {
        changed(p, only_output);
        if (p->reaped)
            kick_lazily(p); /* reaped or closed here: the reactor lets go of p */
    }
    if (r < 0 && err != EINTR) /* ENOMEM: fall back to the reactor's wake-up */
        return cond_wait_until(&p->cond, &p->lock, deadline_ns);
    return r != 0 || deadline_ns < 0 || pm_now_ns() < deadline_ns;
}

/* p->lock held.  The new poller takes what it polls from the reactor: for
 * an exit, the pidfd and the pipes (drained here meanwhile, as a lone
 * caller of poll() would); for output, the streams it watches.  What a
 * previous poller's lease left muted and this one does not poll goes back. */
static void start_polling(pm_proc *p, int what, uint64_t out_off, uint64_t err_off)
{
    p->polled[W_PID] = what == PM_WAIT_EXIT;
    for (int k = W_OUT; k <= W_ERR; k++)
        p->polled[k] = what == PM_WAIT_EXIT || watches(what, k, out_off, err_off);
    for (int k = W_OUT; k < W_COUNT; k++)
        if (p->polled[k])
            mute(p, k);
    unmute_all(p); /* those not polled */
}

/* Mute what is muted for ns more: until then the reactor does not look at
 * it (then it puts it back, see run_deadlines).  False: no memory. */
static bool lease_muted(pm_proc *p, int64_t ns)
{
    pthread_mutex_lock(&eng.lock);
    p->unmute_at = pm_now_ns() + ns;
    bool leased = heap_update(p) == 0;
    if (!leased)
        p->unmute_at = NEVER;
    bool sooner = leased && p->unmute_at < eng.reactor_wakes_at;
    pthread_mutex_unlock(&eng.lock);
    if (sooner)
        wake_reactor(); /* it sleeps past the lease: let it recompute */
    return leased;
}

/* p->lock held.  The poller leaves what it polled muted for MUTE_LEASE_NS:
 * a caller in an exchange (write, wait, read, write...) or waiting in
 * slices is back within that time, and the reactor then never wakes for
 * what it handles.  Output that comes meanwhile with nobody polling waits
 * in the pipe until the lease ends.  No lease when another waiter sleeps
 * on cond, or once the child is reaped: they need the reactor now. */
static void stop_polling(pm_proc *p)
{
    p->poller = false;
    memset(p->polled, 0, sizeof p->polled);
    if (p->reaped && p->unmute_at != NEVER) {
        /* A lease (a waited spawn's) would only wake the reactor for nothing. */
        pthread_mutex_lock(&eng.lock);
        p->unmute_at = NEVER;
        (void)heap_update(p); /* a removal or a move down: no allocation */
        pthread_mutex_unlock(&eng.lock);
    }
    if (!p->muted[W_OUT] && !p->muted[W_ERR] && !p->muted[W_PID])
        return;
    if (p->reaped || p->sleepers > 0 || !lease_muted(p, MUTE_LEASE_NS))
        unmute_all(p);
}

/* p->lock held; a new output poller, before it sleeps: read what its pipes
 * already hold.  A child that answers at once has often answered by now (on
 * one CPU the write that woke it let it run first), and then one read
 * replaces a ppoll() and a read.  Returns whether anything changed. */
static bool read_ahead(pm_proc *p)
{
    bool news = false, only_output = true;
    for (int k = W_OUT; k <= W_ERR; k++) {
        if (p->polled[k] && drain(p, k, false)) {
            news = true;
            only_output = only_output && p->fd[k] >= 0;
        }
    }
    if (news)
        changed(p, only_output);
    return news;
}

bool pm_proc_wait(pm_proc *p, int what, uint64_t out_off, uint64_t err_off, int64_t deadline_ns)
{
    pthread_mutex_lock(&p->lock);
    bool ok, polling = false;
    while (!(ok = condition_holds(p, what, out_off, err_off))) {
        if (!polling && !p->poller) {
            p->poller = polling = true;
            start_polling(p, what, out_off, err_off);
            if (what == PM_WAIT_OUTPUT && read_ahead(p))
                continue;
        }
        bool waited;
        if (polling) {
            waited = wait_direct(p, what, deadline_ns);
        } else {
            p->sleepers++;
            waited = cond_wait_until(&p->cond, &p->lock, deadline_ns);
            p->sleepers--;
        }
        if (!waited)
            break;
    }
    if (!ok)
        ok = condition_holds(p, what, out_off, err_off);
    if (polling)
        stop_polling(p);
    pthread_mutex_unlock(&p->lock);
    return ok;
}

bool pm_proc_poll_output(pm_proc *p, uint64_t out_off, uint64_t err_off)
{
    pthread_mutex_lock(&p->lock);
    bool ok = condition_holds(p, PM_WAIT_OUTPUT, out_off, err_off);
    if (!ok && !p->poller) {
        p->poller = true;
        start_polling(p, PM_WAIT_OUTPUT, out_off, err_off);
        ok = read_ahead(p) && condition_holds(p, PM_WAIT_OUTPUT, out_off, err_off);
        stop_polling(p);
    }
    pthread_mutex_unlock(&p->lock);
    return ok;
}

int pm_proc_signal(pm_proc *p, int sig, bool group)
{
    pthread_mutex_lock(&p->lock);
    int rc = send_signal(p, sig, group);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int pm_proc_terminate(pm_proc *p, int64_t grace_ns, bool group)
{
    pthread_mutex_lock(&p->lock);
    int rc = send_signal(p, SIGTERM, group);
    if (rc > 0) {
        /* A stopped process would never see SIGTERM. */
        (void)send_signal(p, SIGCONT, group);
        pthread_mutex_lock(&eng.lock);
        p->killing = true;
        p->kill_group = group;
        p->kill_at = pm_now_ns() + (grace_ns < 0 ? 0 : grace_ns);
        bool scheduled = heap_update(p) == 0;
        pthread_mutex_unlock(&eng.lock);
        if (!scheduled) /* no memory for the deadline: do not leave it running */
            (void)send_signal(p, SIGKILL, group);
    }
    pthread_mutex_unlock(&p->lock);
    if (rc > 0)
        wake_reactor();
    return rc < 0 ? rc : 0;
}

void pm_proc_set_timeout(pm_proc *p, int64_t timeout_ns, int64_t grace_ns)
{
    pthread_mutex_lock(&p->lock);
    if (!p->reaped) {
        pthread_mutex_lock(&eng.lock);
        p->timeout_at = timeout_ns < 0 ? NEVER : pm_now_ns() + timeout_ns;
        p->grace_ns = grace_ns;
        if (heap_update(p) != 0)
            p->timeout_at = NEVER;
        pthread_mutex_unlock(&eng.lock);
    }
    pthread_mutex_unlock(&p->lock);
    wake_reactor();
}

void pm_get_stats(pm_stats *s)
{
    pthread_mutex_lock(&eng.lock);
    s->live = eng.live;
    s->active = eng.active;
    s->spawned = eng.spawned;
    s->reactor_running = eng.running;
    pthread_mutex_unlock(&eng.lock);
}
