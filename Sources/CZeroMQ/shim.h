#ifndef SWIFTPS_CZEROMQ_SHIM_H
#define SWIFTPS_CZEROMQ_SHIM_H
#include <zmq.h>
#include <errno.h>
#include <sys/eventfd.h>

/* errno as Swift sees it after a zmq call (zmq_errno is the portable spelling). */
static inline int swiftps_zmq_errno(void) { return zmq_errno(); }
#endif
