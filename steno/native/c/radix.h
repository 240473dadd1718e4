/*
 * radix.h -- LSD radix sorts of integer arrays, for the off-capture-path work
 * that sorts millions of values at once (key tables at serialize time, merged
 * position lists at lookup time), where they beat qsort several times over.
 */
#ifndef STENO_RADIX_H
#define STENO_RADIX_H

#include <stddef.h>
#include <stdint.h>

/*
 * Sorts v[0..n) ascending, using tmp (n values) as scratch.  max is an upper
 * bound of the values (passes over always-zero high digits are skipped).
 */
void steno_radix_sort_u32(uint32_t *v, uint32_t *tmp, size_t n, uint32_t max);
void steno_radix_sort_u64(uint64_t *v, uint64_t *tmp, size_t n, uint64_t max);

#endif
