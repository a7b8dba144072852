#ifndef SWIFTPS_CZEROMQ_SHIM_H
#define SWIFTPS_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <malloc.h>

/* Keeps libzmq's large receive buffers in the heap, reused (see AllocatorTuning.swift). */
static inline void swiftps_keep_large_buffers_mapped(void) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    mallopt(M_TOP_PAD, 64 << 20);
}

/* Free heap pages back to the system, every arena (see AllocatorTuning.swift). */
static inline void swiftps_give_back_free_memory(void) { malloc_trim(64 << 20); }

/* errno as Swift sees it after a zmq call (zmq_errno is the portable spelling). */
static inline int swiftps_zmq_errno(void) { return zmq_errno(); }
#endif
