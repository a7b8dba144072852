#include "ckernels.h"
#include <math.h>
#include <string.h>

typedef int bits4 __attribute__((vector_size(16)));

// With the sign bit cleared, IEEE floats order as their bit patterns do (as signed integers, all below 2^31), and ±Inf
// and every NaN lie above every finite value: one integer maximum tells both the largest magnitude and whether a
// value is not finite. Four independent maxima keep the operations from waiting on each other, so the loop runs at
// the speed the cache delivers the values. One loop body for every instruction set.
#define MAX_MAGNITUDE_LOOP                                                                                            \
    bits4 largest0 = {0}, largest1 = {0}, largest2 = {0}, largest3 = {0};                                             \
    const size_t vector_end = count - count % 16;                                                                     \
    for (size_t i = 0; i < vector_end; i += 16) {                                                                     \
        bits4 x0, x1, x2, x3;                                                                                         \
        memcpy(&x0, values + i, sizeof x0);                                                                           \
        memcpy(&x1, values + i + 4, sizeof x1);                                                                       \
        memcpy(&x2, values + i + 8, sizeof x2);                                                                       \
        memcpy(&x3, values + i + 12, sizeof x3);                                                                      \
        largest0 = __builtin_elementwise_max(largest0, x0 & 0x7FFFFFFF);                                              \
        largest1 = __builtin_elementwise_max(largest1, x1 & 0x7FFFFFFF);                                              \
        largest2 = __builtin_elementwise_max(largest2, x2 & 0x7FFFFFFF);                                              \
        largest3 = __builtin_elementwise_max(largest3, x3 & 0x7FFFFFFF);                                              \
    }                                                                                                                 \
    const bits4 lanes = __builtin_elementwise_max(__builtin_elementwise_max(largest0, largest1),                      \
                                                  __builtin_elementwise_max(largest2, largest3));                     \
    int largest = 0;                                                                                                  \
    for (int lane = 0; lane < 4; lane++) largest = lanes[lane] > largest ? lanes[lane] : largest;                     \
    for (size_t i = vector_end; i < count; i++) {                                                                     \
        int bits;                                                                                                     \
        memcpy(&bits, values + i, sizeof bits);                                                                       \
        bits &= 0x7FFFFFFF;                                                                                           \
        largest = bits > largest ? bits : largest;                                                                    \
    }                                                                                                                 \
    return as_magnitude(largest);

/// The float with these bits, or +Inf for the bits of ±Inf and NaN.
static inline float as_magnitude(int bits) {
    if (bits >= 0x7F800000) return INFINITY;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

#if defined(__x86_64__)
// One instruction per maximum where the CPU has AVX (SSE2 has no 32-bit maximum: it compares and blends).
__attribute__((target("avx")))
static float max_magnitude_avx(const float *values, size_t count) {
    MAX_MAGNITUDE_LOOP
}
#endif

float swiftps_max_magnitude(const float *values, size_t count) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx")) return max_magnitude_avx(values, count);
#endif
    MAX_MAGNITUDE_LOOP
}
