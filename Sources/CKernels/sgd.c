#include "ckernels.h"
#include <string.h>

// No fused multiply-adds: vector lanes and the scalar tail must round identically, on every CPU.
#pragma clang fp contract(off)

typedef float lanes8 __attribute__((vector_size(32)));

// One loop body for every instruction set: 8 floats at a time, then a scalar tail with the same operations.
#define SGD_LOOP                                                                                                      \
    const size_t vector_end = count - count % 8;                                                                      \
    for (size_t i = 0; i < vector_end; i += 8) {                                                                      \
        lanes8 w, g;                                                                                                  \
        memcpy(&w, weights + i, sizeof w);                                                                            \
        memcpy(&g, gradient + i, sizeof g);                                                                           \
        w = w - learning_rate * (g + weight_decay * w);                                                               \
        memcpy(weights + i, &w, sizeof w);                                                                            \
    }                                                                                                                 \
    for (size_t i = vector_end; i < count; i++) {                                                                    \
        weights[i] = weights[i] - learning_rate * (gradient[i] + weight_decay * weights[i]);                          \
    }

#define MOMENTUM_LOOP                                                                                                 \
    const size_t vector_end = count - count % 8;                                                                      \
    for (size_t i = 0; i < vector_end; i += 8) {                                                                      \
        lanes8 w, g, v;                                                                                               \
        memcpy(&w, weights + i, sizeof w);                                                                            \
        memcpy(&g, gradient + i, sizeof g);                                                                           \
        memcpy(&v, velocity + i, sizeof v);                                                                           \
        v = momentum * v + (g + weight_decay * w);                                                                    \
        w = w - learning_rate * v;                                                                                    \
        memcpy(velocity + i, &v, sizeof v);                                                                           \
        memcpy(weights + i, &w, sizeof w);                                                                            \
    }                                                                                                                 \
    for (size_t i = vector_end; i < count; i++) {                                                                    \
        const float v = momentum * velocity[i] + (gradient[i] + weight_decay * weights[i]);                           \
        velocity[i] = v;                                                                                              \
        weights[i] = weights[i] - learning_rate * v;                                                                  \
    }

#if defined(__x86_64__)
__attribute__((target("avx")))
static void sgd_avx(float *weights, const float *gradient, size_t count, float learning_rate, float weight_decay) {
    SGD_LOOP
}

__attribute__((target("avx")))
static void momentum_avx(float *weights, float *velocity, const float *gradient, size_t count, float learning_rate,
                         float momentum, float weight_decay) {
    MOMENTUM_LOOP
}
#endif

void swiftps_sgd_portable(float *weights, const float *gradient, size_t count, float learning_rate,
                          float weight_decay) {
    SGD_LOOP
}

void swiftps_momentum_portable(float *weights, float *velocity, const float *gradient, size_t count,
                               float learning_rate, float momentum, float weight_decay) {
    MOMENTUM_LOOP
}

void swiftps_sgd(float *weights, const float *gradient, size_t count, float learning_rate, float weight_decay) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx")) {
        sgd_avx(weights, gradient, count, learning_rate, weight_decay);
        return;
    }
#endif
    swiftps_sgd_portable(weights, gradient, count, learning_rate, weight_decay);
}

void swiftps_momentum(float *weights, float *velocity, const float *gradient, size_t count, float learning_rate,
                      float momentum, float weight_decay) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx")) {
        momentum_avx(weights, velocity, gradient, count, learning_rate, momentum, weight_decay);
        return;
    }
#endif
    swiftps_momentum_portable(weights, velocity, gradient, count, learning_rate, momentum, weight_decay);
}
