#include "ckernels.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx,f16c")))
static size_t encode_f16c(const float *source, uint8_t *destination, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 x = _mm256_loadu_ps(source + i);
        __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const int nans = _mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        if (nans) {  // the hardware keeps NaN payloads; the wire format's NaN is canonical
            uint16_t lanes[8];
            _mm_storeu_si128((__m128i *)lanes, h);
            for (int k = 0; k < 8; k++) {
                if (nans >> k & 1) {
                    uint32_t bits;
                    memcpy(&bits, source + i + k, sizeof bits);
                    lanes[k] = (uint16_t)((bits >> 16 & 0x8000) | 0x7E00);
                }
            }
            h = _mm_loadu_si128((const __m128i *)lanes);
        }
        _mm_storeu_si128((__m128i *)(destination + 2 * i), h);
    }
    return i;
}

__attribute__((target("avx,f16c")))
static size_t decode_f16c(const uint8_t *source, float *destination, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        _mm256_storeu_ps(destination + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(source + 2 * i))));
    }
    return i;
}

static int has_f16c(void) { return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c"); }
#endif

size_t swiftps_f16_encode_fast(const float *source, void *destination, size_t count) {
#if defined(__x86_64__)
    if (has_f16c()) return encode_f16c(source, destination, count);
#endif
    (void)source, (void)destination, (void)count;
    return 0;
}

size_t swiftps_f16_decode_fast(const void *source, float *destination, size_t count) {
#if defined(__x86_64__)
    if (has_f16c()) return decode_f16c(source, destination, count);
#endif
    (void)source, (void)destination, (void)count;
    return 0;
}
