/*
 * setops.c -- sorted-array intersection and union (see setops.h).
 */
#include "setops.h"

#include <errno.h>
#include <stdlib.h>

/* First index i in [lo, n) with v[i] >= x, galloping from lo. */
static size_t gallop(const uint32_t *v, size_t lo, size_t n, uint32_t x)
{
    size_t step = 1, hi = lo;
    while (hi < n && v[hi] < x) {
        lo = hi + 1;
        hi += step;
        step <<= 1;
    }
    if (hi > n)
        hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int steno_set_and(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t **out,
                  size_t *n)
{
    *out = NULL;
    *n = 0;
    if (na == 0 || nb == 0)
        return 0;
    if (na > nb) {
        const uint32_t *t = a;
        a = b;
        b = t;
        size_t tn = na;
        na = nb;
        nb = tn;
    }
    uint32_t *r = malloc(na * sizeof *r);
    if (!r)
        return -ENOMEM;
    size_t k = 0;
    if (nb / na >= 16) {
        size_t j = 0;
        for (size_t i = 0; i < na && j < nb; i++) {
            j = gallop(b, j, nb, a[i]);
            if (j < nb && b[j] == a[i])
                r[k++] = a[i];
        }
    } else {
        size_t i = 0, j = 0;
        while (i < na && j < nb) {
            if (a[i] < b[j])
                i++;
            else if (a[i] > b[j])
                j++;
            else {
                r[k++] = a[i];
                i++;
                j++;
            }
        }
    }
    if (k == 0) {
        free(r);
        return 0;
    }
    *out = r;
    *n = k;
    return 0;
}

int steno_set_or(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, uint32_t **out,
                 size_t *n)
{
    *out = NULL;
    *n = 0;
    if (na + nb == 0)
        return 0;
    uint32_t *r = malloc((na + nb) * sizeof *r);
    if (!r)
        return -ENOMEM;
    size_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j])
            r[k++] = a[i++];
        else if (a[i] > b[j])
            r[k++] = b[j++];
        else {
            r[k++] = a[i];
            i++;
            j++;
        }
    }
    while (i < na)
        r[k++] = a[i++];
    while (j < nb)
        r[k++] = b[j++];
    *out = r;
    *n = k;
    return 0;
}
