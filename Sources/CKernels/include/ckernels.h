// The server's update rules, its finiteness check and the wire's f16 conversion, written with clang's vector
// extensions and run with AVX or F16C where the CPU has them (chosen at run time; the binary stays baseline x86-64).
// Swift compiles its own loops for baseline SSE only, and its Float.squareRoot() goes through libm's sqrtf with errno
// semantics (a compare and a call per element), which keeps Adam's loop from using packed square roots.
#ifndef SWIFTPS_CKERNELS_H
#define SWIFTPS_CKERNELS_H

#include <stddef.h>

/// One Adam step with bias correction on `count` elements, in place:
///   g' = g + weight_decay·w;  m = β1·m + (1−β1)·g';  v = β2·v + (1−β2)·g'²;
///   w −= step_size · m / (√v · inv_sqrt_correction2 + ε)
/// Every element gets the same sequence of IEEE operations whether it falls in a vector or in the tail, and on
/// whichever instruction set runs it (AVX when the CPU has it, chosen at run time), so the result does not depend
/// on how a tensor is chunked or which machine serves it.
void swiftps_adam(float *weights, float *m, float *v, const float *gradient, size_t count, float beta1, float beta2,
                  float epsilon, float weight_decay, float step_size, float inv_sqrt_correction2);

/// `swiftps_adam` on baseline instructions only, whatever the CPU has (for tests: both must agree bit for bit).
void swiftps_adam_portable(float *weights, float *m, float *v, const float *gradient, size_t count, float beta1,
                           float beta2, float epsilon, float weight_decay, float step_size, float inv_sqrt_correction2);

/// One SGD step on `count` elements, in place: w −= learning_rate·(g + weight_decay·w). Same operations in every
/// lane and in the tail, on every instruction set, as `swiftps_adam`.
void swiftps_sgd(float *weights, const float *gradient, size_t count, float learning_rate, float weight_decay);

/// One step of SGD with momentum, in place: v = momentum·v + (g + weight_decay·w); w −= learning_rate·v.
void swiftps_momentum(float *weights, float *velocity, const float *gradient, size_t count, float learning_rate,
                      float momentum, float weight_decay);

/// `swiftps_sgd` and `swiftps_momentum` on baseline instructions only (for tests: both must agree bit for bit).
void swiftps_sgd_portable(float *weights, const float *gradient, size_t count, float learning_rate, float weight_decay);
void swiftps_momentum_portable(float *weights, float *velocity, const float *gradient, size_t count,
                               float learning_rate, float momentum, float weight_decay);

/// The largest |x| of the values, or +Inf when one is NaN or ±Inf. Reads each value once and never exits early: its
/// time depends only on `count`.
float swiftps_max_magnitude(const float *values, size_t count);

/// fp32 → IEEE binary16 with F16C where the CPU has it (chosen at run time): round to nearest even, NaN → the
/// canonical quiet NaN 0x7E00 with the input's sign, as `HalfPrecision.f16` does. Converts the leading multiple of 8
/// elements and returns how many it converted (0 without F16C); the caller converts the rest. `destination` takes
/// little-endian values at any alignment.
size_t swiftps_f16_encode_fast(const float *source, void *destination, size_t count);

/// IEEE binary16 → fp32 with F16C where the CPU has it; as `swiftps_f16_encode_fast`, returns how many it converted.
size_t swiftps_f16_decode_fast(const void *source, float *destination, size_t count);

#endif
