/*
 * radix.c -- LSD radix sorts with 11-bit digits (see radix.h).  Each pass is
 * a stable counting sort from one buffer into the other; the result ends in v.
 */
#include "radix.h"

#include <string.h>

#define DIGIT_BITS 11
#define BUCKETS (1u << DIGIT_BITS)

void steno_radix_sort_u64(uint64_t *v, uint64_t *tmp, size_t n, uint64_t max)
{
    uint64_t *src = v, *dst = tmp;
    for (unsigned shift = 0; shift < 64 && (max >> shift) != 0; shift += DIGIT_BITS) {
        size_t count[BUCKETS];
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & (BUCKETS - 1)]++;
        size_t sum = 0;
        for (unsigned b = 0; b < BUCKETS; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & (BUCKETS - 1)]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}

void steno_radix_sort_u32(uint32_t *v, uint32_t *tmp, size_t n, uint32_t max)
{
    uint32_t *src = v, *dst = tmp;
    for (unsigned shift = 0; shift < 32 && (max >> shift) != 0; shift += DIGIT_BITS) {
        size_t count[BUCKETS];
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & (BUCKETS - 1)]++;
        size_t sum = 0;
        for (unsigned b = 0; b < BUCKETS; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & (BUCKETS - 1)]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}
