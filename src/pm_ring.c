#include "pm_ring.h"

#include <stdlib.h>
#include <string.h>

/* The first allocation; later ones double up to the limit. */
#define PM_RING_MIN_CAP ((size_t)16 * 1024)

void pm_ring_init(pm_ring *r, size_t limit)
{
    memset(r, 0, sizeof *r);
    r->limit = limit;
}

void pm_ring_destroy(pm_ring *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

static size_t held(const pm_ring *r)
{
    return (size_t)(r->end - r->start);
}

/* Position of absolute offset `off` in the buffer. */
static size_t pos(const pm_ring *r, uint64_t off)
{
    return (size_t)(off % r->cap);
}

/* Copy n held bytes starting at absolute offset `from` out of the ring. */
static void copy_out(const pm_ring *r, uint64_t from, char *dst, size_t n)
{
    size_t p = pos(r, from);
    size_t first = r->cap - p < n ? r->cap - p : n;
    memcpy(dst, r->buf + p, first);
    memcpy(dst + first, r->buf, n - first);
}

/* Reallocate to new_cap, keeping every held byte at its offset. */
static int regrow(pm_ring *r, size_t new_cap)
{
    if (r->start == 0) {
        /* Nothing dropped yet (always so below the limit): bytes sit at
         * their offsets from 0 up, which stay put in a larger buffer, so
         * realloc can move the block without copying (mremap). */
        char *grown = realloc(r->buf, new_cap);
        if (grown == NULL)
            return -1;
        r->buf = grown;
        r->cap = new_cap;
        return 0;
    }
    char *nb = malloc(new_cap);
    if (nb == NULL)
        return -1;
    size_t n = held(r);
    if (n > 0) {
        /* Lay the held bytes out where offset % new_cap puts them. */
        size_t p = (size_t)(r->start % new_cap);
        size_t first = new_cap - p < n ? new_cap - p : n;
        copy_out(r, r->start, nb + p, first);
        copy_out(r, r->start + first, nb, n - first);
    }
    free(r->buf);
    r->buf = nb;
    r->cap = new_cap;
    return 0;
}

static size_t next_cap(const pm_ring *r)
{
    size_t want = r->cap == 0 ? PM_RING_MIN_CAP : r->cap * 2;
    if (want < r->cap) /* overflow */
        return r->cap;
    if (r->limit != 0 && want > r->limit)
        want = r->limit;
    return want;
}

size_t pm_ring_space(pm_ring *r, char **out)
{
    int at_limit = r->limit != 0 && r->cap >= r->limit;
    if (r->cap == 0 || (held(r) == r->cap && !at_limit)) {
        size_t want = next_cap(r);
        if (want <= r->cap || regrow(r, want) != 0) {
            if (r->cap == 0)
                return 0;
            at_limit = 1; /* out of memory: keep the newest bytes rather than block the child */
        } else {
            at_limit = r->limit != 0 && r->cap >= r->limit;
        }
    }
    size_t p = pos(r, r->end);
    size_t space = r->cap - p;
    /* Below the limit, never overwrite: stop at the oldest held byte. */
    if (!at_limit && held(r) + space > r->cap)
        space = r->cap - held(r);
    *out = r->buf + p;
    return space;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    const char *stop = p + n;
    while ((p = memchr(p, '\n', (size_t)(stop - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

void pm_ring_skip(pm_ring *r, const char *data, size_t n)
{
    r->lines += count_lines(data, n);
    r->end += n;
    r->start = r->end;
}

void pm_ring_commit(pm_ring *r, size_t n)
{
    r->lines += count_lines(r->buf + pos(r, r->end), n);
    r->end += n;
    if (held(r) > r->cap)
        r->start = r->end - r->cap;
}

int pm_ring_append(pm_ring *r, const char *data, size_t n)
{
    while (n > 0) {
        char *dst;
        size_t space = pm_ring_space(r, &dst);
        if (space == 0)
            return -1;
        size_t k = space < n ? space : n;
        memcpy(dst, data, k);
        pm_ring_commit(r, k);
        data += k;
        n -= k;
    }
    return 0;
}

int pm_ring_set_limit(pm_ring *r, size_t limit)
{
    if (limit != 0 && r->cap > limit) {
        uint64_t old_start = r->start;
        if (held(r) > limit)
            r->start = r->end - limit; /* the oldest bytes go */
        if (regrow(r, limit) != 0) {
            r->start = old_start;
            return -1;
        }
    }
    r->limit = limit;
    return 0;
}

size_t pm_ring_available(const pm_ring *r, uint64_t from)
{
    if (from < r->start)
        from = r->start;
    return from >= r->end ? 0 : (size_t)(r->end - from);
}

size_t pm_ring_read(const pm_ring *r, uint64_t from, char *dst, size_t cap, uint64_t *first)
{
    if (from < r->start)
        from = r->start;
    if (from > r->end)
        from = r->end;
    *first = from;
    size_t n = (size_t)(r->end - from);
    if (n > cap)
        n = cap;
    if (n > 0)
        copy_out(r, from, dst, n);
    return n;
}
