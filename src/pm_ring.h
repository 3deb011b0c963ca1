/* Byte ring buffer with absolute offsets.
 *
 * A ring remembers every byte ever appended by its absolute offset (0 for the
 * first byte).  It holds at most `limit` bytes: past that the oldest bytes are
 * overwritten and counted as dropped.  A limit of 0 means "grow without
 * bound" (a blocking call's full capture).  Memory is allocated as data
 * arrives, so an idle ring costs nothing.
 *
 * Not thread-safe by itself: the owner (pm_engine.c) serialises access with
 * the process lock.
 */
#ifndef PM_RING_H
#define PM_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct pm_ring {
    char *buf;
    size_t cap;        /* bytes allocated (0 until the first append) */
    size_t limit;      /* most bytes kept; 0 = unbounded */
    uint64_t start;    /* absolute offset of the oldest byte held == bytes dropped */
    uint64_t end;      /* absolute offset after the newest byte == bytes ever appended */
    uint64_t lines;    /* '\n' bytes ever appended */
} pm_ring;

void pm_ring_init(pm_ring *r, size_t limit);
void pm_ring_destroy(pm_ring *r);

/* Contiguous writable space at the head, growing the buffer if allowed.
 * Returns its length (0 only when memory is exhausted) and sets *out.
 * Writing there overwrites the oldest bytes once the ring is at its limit. */
size_t pm_ring_space(pm_ring *r, char **out);
/* Account for n bytes written into the space returned by pm_ring_space. */
void pm_ring_commit(pm_ring *r, size_t n);
/* Account for n bytes that could not be stored (no memory): they and
 * everything held are dropped, keeping offsets and line counts exact. */
void pm_ring_skip(pm_ring *r, const char *data, size_t n);
/* Append a copy of data; returns 0 or -1 when memory is exhausted. */
int pm_ring_append(pm_ring *r, const char *data, size_t n);

/* Change the limit (0: unbounded).  Shrinking drops the oldest bytes held
 * beyond the new limit, counted as dropped.  0, or -1 when out of memory
 * (the ring is then unchanged). */
int pm_ring_set_limit(pm_ring *r, size_t limit);

/* Bytes held after absolute offset `from` (what pm_ring_read would copy). */
size_t pm_ring_available(const pm_ring *r, uint64_t from);
/* Copy at most cap bytes held after `from` into dst.  *first receives the
 * offset of the first byte copied: max(from, start), so first - from bytes
 * were missed (overwritten before they were read).  Returns bytes copied. */
size_t pm_ring_read(const pm_ring *r, uint64_t from, char *dst, size_t cap, uint64_t *first);

#endif
