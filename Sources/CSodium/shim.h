#ifndef SWIFTPS_CSODIUM_SHIM_H
#define SWIFTPS_CSODIUM_SHIM_H
/* libsodium, for one thing only: the speed of its XSalsa20-Poly1305 (what CurveZMQ encrypts every message with),
   the physical floor next to which `swiftps bench transport --security curve` puts CurveZMQ's cost. */
#include <sodium.h>

static inline int swiftps_sodium_init(void) { return sodium_init(); }
static inline unsigned long swiftps_secretbox_overhead(void) { return crypto_secretbox_MACBYTES; }

/* Encrypts and authenticates `length` bytes of `message` into `box` (length + MAC bytes) with a fixed key and nonce:
   the same work per byte as a CurveZMQ message. */
static inline int swiftps_secretbox(unsigned char *box, const unsigned char *message, unsigned long long length) {
    static const unsigned char key[crypto_secretbox_KEYBYTES] = {1};
    static const unsigned char nonce[crypto_secretbox_NONCEBYTES] = {2};
    return crypto_secretbox_easy(box, message, length, nonce, key);
}
#endif
