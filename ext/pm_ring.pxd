# Declarations of src/pm_ring.h.
from libc.stdint cimport uint64_t

cdef extern from "pm_ring.h" nogil:
    ctypedef struct pm_ring:
        size_t cap
        size_t limit
        uint64_t start
        uint64_t end
        uint64_t lines

    void pm_ring_init(pm_ring *r, size_t limit)
    void pm_ring_destroy(pm_ring *r)
    int pm_ring_append(pm_ring *r, const char *data, size_t n)
    size_t pm_ring_available(const pm_ring *r, uint64_t frm)
    size_t pm_ring_read(const pm_ring *r, uint64_t frm, char *dst, size_t cap, uint64_t *first)
