#include "ckernels.h"
#include <string.h>

// No fused multiply-adds: vector lanes and the scalar tail must round identically, on every CPU.
#pragma clang fp contract(off)

// The same loop body for every instruction set: 8 floats at a time, then a scalar tail with the same operations.
#define ADAM_LOOP(lanes)                                                                                              \
    const size_t width = sizeof(lanes) / sizeof(float);                                                               \
    const size_t vector_end = count - count % width;                                                                  \
    for (size_t i = 0; i < vector_end; i += width) {                                                                  \
        lanes w, g, mi, vi;                                                                                           \
        memcpy(&w, weights + i, sizeof w);                                                                            \
        memcpy(&g, gradient + i, sizeof g);                                                                           \
        memcpy(&mi, m + i, sizeof mi);                                                                                \
        memcpy(&vi, v + i, sizeof vi);                                                                                \
        g = g + weight_decay * w;                                                                                     \
        mi = beta1 * mi + (1 - beta1) * g;                                                                            \
        vi = beta2 * vi + (1 - beta2) * g * g;                                                                        \
        w = w - step_size * mi / (__builtin_elementwise_sqrt(vi) * inv_sqrt_correction2 + epsilon);                  \
        memcpy(m + i, &mi, sizeof mi);                                                                                \
        memcpy(v + i, &vi, sizeof vi);                                                                                \
        memcpy(weights + i, &w, sizeof w);                                                                            \
    }                                                                                                                 \
    for (size_t i = vector_end; i < count; i++) {                                                                     \
        const float w = weights[i];                                                                                   \
        const float g = gradient[i] + weight_decay * w;                                                               \
        const float mi = beta1 * m[i] + (1 - beta1) * g;                                                              \
        const float vi = beta2 * v[i] + (1 - beta2) * g * g;                                                          \
        m[i] = mi;                                                                                                    \
        v[i] = vi;                                                                                                    \
        weights[i] = w - step_size * mi / (__builtin_elementwise_sqrt(vi) * inv_sqrt_correction2 + epsilon);         \
    }

typedef float lanes8 __attribute__((vector_size(32)));

#if defined(__x86_64__)
// Full-width square roots and divisions where the CPU has AVX (chosen at run time; the binary stays baseline x86-64).
__attribute__((target("avx")))
static void adam_avx(float *weights, float *m, float *v, const float *gradient, size_t count, float beta1, float beta2,
                     float epsilon, float weight_decay, float step_size, float inv_sqrt_correction2) {
    ADAM_LOOP(lanes8)
}
#endif

void swiftps_adam_portable(float *weights, float *m, float *v, const float *gradient, size_t count, float beta1,
                           float beta2, float epsilon, float weight_decay, float step_size, float inv_sqrt_correction2) {
    ADAM_LOOP(lanes8)
}

void swiftps_adam(float *weights, float *m, float *v, const float *gradient, size_t count, float beta1, float beta2,
                  float epsilon, float weight_decay, float step_size, float inv_sqrt_correction2) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx")) {
        adam_avx(weights, m, v, gradient, count, beta1, beta2, epsilon, weight_decay, step_size, inv_sqrt_correction2);
        return;
    }
#endif
    swiftps_adam_portable(weights, m, v, gradient, count, beta1, beta2, epsilon, weight_decay, step_size,
                          inv_sqrt_correction2);
}
