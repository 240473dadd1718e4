/*
 * setops.h -- set algebra on sorted, duplicate-free arrays of uint32.
 *
 * The query engine evaluates `and`/`or` on flow ids (and, where it must, on
 * positions) here rather than in Python: the lists can hold millions of
 * entries.  Intersection gallops through the longer list when the two sizes
 * are far apart (a host's few flows against `tcp`'s many), so it costs about
 * small × log(large) instead of small + large.
 *
 * Error contract: 0 or -ENOMEM; *out is a new array (NULL when the result is
 * empty) that the caller releases with steno_free(), *n its length.
 * Inputs must be sorted ascending without duplicates; the result is too.
 */
#ifndef STENO_SETOPS_H
#define STENO_SETOPS_H

#include <stddef.h>
#include <stdint.h>

int steno_set_and(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t **out,
                  size_t *n);
int steno_set_or(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t **out,
                 size_t *n);

#endif
