// Numeric kernels that Swift cannot vectorise itself. Swift's Float.squareRoot() goes through libm's sqrtf with
// errno semantics (a compare and a call per element), which keeps a loop from using packed square roots; these are
// written with clang's vector extensions, whose square root has no errno.
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

#endif
