/*
 * postings.c -- delta-varint and Elias-Fano coding of sorted u32 lists (see
 * postings.h; byte layout in docs/index-format.md, "Posting lists").
 *
 * Elias-Fano, as used here: a list v[0] < ... < v[n-1] is stored as v[0], the
 * span u = v[n-1] - v[0], and the m = n - 1 offsets x[i] = v[i+1] - v[0]
 * (1 <= x[i] <= u).  Each x is split into l low bits, stored verbatim, and a
 * high part x >> l, stored in unary: bit (x[i] >> l) + i of the high bitmap is
 * set.  l is not stored; it is the largest l with m << l <= u, a function of
 * (m, u) that writer and reader compute alike.  Storing v[0] and coding
 * offsets against the span rather than against 2^32 is what makes short,
 * bursty flows (a TCP connection that lives for a second of a file) cheap.
 *
 * Bits are numbered LSB first within little-endian bytes: bit j of an area is
 * (byte[j >> 3] >> (j & 7)) & 1.
 */
#include "postings.h"

#include <errno.h>
#include <string.h>

size_t steno_varint_len(uint32_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

size_t steno_varint_put(uint8_t *p, uint32_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int steno_varint_get(const uint8_t **pp, const uint8_t *end, uint32_t *out)
{
    const uint8_t *p = *pp;
    uint32_t v = 0;
    for (unsigned shift = 0; shift < 35; shift += 7) {
        if (p >= end)
            return -EBADMSG;
        uint8_t b = *p++;
        if (shift == 28 && b > 0x0f)
            return -EBADMSG; /* more than 32 bits, or a sixth byte */
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -EBADMSG; /* unreachable: the fifth byte either ends or fails above */
}

size_t steno_list_max_size(uint32_t n)
{
    return 5 + 5 * (size_t)n;
}

/* The Elias-Fano split for m offsets up to u (m >= 1, u >= m). */
static unsigned ef_low_bits(uint64_t m, uint64_t u)
{
    unsigned l = 0;
    while (l < 31 && (m << (l + 1)) <= u)
        l++;
    return l;
}

static void ef_sizes(uint64_t m, uint64_t u, unsigned *l, uint64_t *low_bytes,
                     uint64_t *high_bytes)
{
    *l = ef_low_bits(m, u);
    *low_bytes = (m * *l + 7) / 8;
    *high_bytes = (m + (u >> *l) + 7) / 8;
}

static size_t delta_size(const uint32_t *v, uint32_t n, uint32_t ref)
{
    size_t s = steno_varint_len(n << 2 | STENO_LIST_DELTA) + steno_varint_len(v[0] - ref);
    for (uint32_t i = 1; i < n; i++)
        s += steno_varint_len(v[i] - v[i - 1] - 1);
    return s;
}

static size_t ef_size(const uint32_t *v, uint32_t n, uint32_t ref)
{
    uint32_t u = v[n - 1] - v[0];
    unsigned l;
    uint64_t lo, hi;
    ef_sizes(n - 1, u, &l, &lo, &hi);
    return steno_varint_len(n << 2 | STENO_LIST_EF) + steno_varint_len(v[0] - ref) +
           steno_varint_len(u) + (size_t)(lo + hi);
}

static void put_bits(uint8_t *area, uint64_t bit, uint32_t value, unsigned nbits)
{
    while (nbits) {
        unsigned in_byte = (unsigned)(bit & 7);
        unsigned take = 8 - in_byte < nbits ? 8 - in_byte : nbits;
        area[bit >> 3] |= (uint8_t)((value & ((1u << take) - 1)) << in_byte);
        value >>= take;
        bit += take;
        nbits -= take;
    }
}

static uint32_t get_bits(const uint8_t *area, uint64_t bit, unsigned nbits)
{
    uint32_t v = 0;
    unsigned got = 0;
    while (got < nbits) {
        unsigned in_byte = (unsigned)(bit & 7);
        unsigned take = 8 - in_byte < nbits - got ? 8 - in_byte : nbits - got;
        v |= (uint32_t)((area[bit >> 3] >> in_byte) & ((1u << take) - 1)) << got;
        got += take;
        bit += take;
    }
    return v;
}

size_t steno_list_encode(const uint32_t *v, uint32_t n, uint32_t ref, uint8_t *out)
{
    size_t ds = delta_size(v, n, ref);
    size_t es = n >= 2 ? ef_size(v, n, ref) : (size_t)-1;
    uint8_t *p = out;
    if (ds <= es) {
        p += steno_varint_put(p, n << 2 | STENO_LIST_DELTA);
        p += steno_varint_put(p, v[0] - ref);
        for (uint32_t i = 1; i < n; i++)
            p += steno_varint_put(p, v[i] - v[i - 1] - 1);
        return (size_t)(p - out);
    }
    uint32_t u = v[n - 1] - v[0];
    uint64_t m = n - 1;
    unsigned l;
    uint64_t lo, hi;
    ef_sizes(m, u, &l, &lo, &hi);
    p += steno_varint_put(p, n << 2 | STENO_LIST_EF);
    p += steno_varint_put(p, v[0] - ref);
    p += steno_varint_put(p, u);
    memset(p, 0, (size_t)(lo + hi));
    uint8_t *low = p, *high = p + lo;
    uint32_t mask = l ? (uint32_t)((1ull << l) - 1) : 0;
    for (uint64_t i = 0; i < m; i++) {
        uint32_t x = v[i + 1] - v[0];
        if (l)
            put_bits(low, i * l, x & mask, l);
        uint64_t bit = (uint64_t)(x >> l) + i;
        high[bit >> 3] |= (uint8_t)(1u << (bit & 7));
    }
    return (size_t)(p - out) + (size_t)(lo + hi);
}

/* Header, plus for EF the base and span: what peek and decode share. */
struct list_head {
    uint32_t n, kind, base, span;
    unsigned l;
    uint64_t low_bytes, high_bytes;
    const uint8_t *body;    /* DELTA: at v[0]; EF: at the low bits */
};

static int read_head(const uint8_t *p, size_t avail, struct list_head *h)
{
    const uint8_t *end = p + avail;
    uint32_t hdr;
    if (steno_varint_get(&p, end, &hdr))
        return -EBADMSG;
    h->n = hdr >> 2;
    h->kind = hdr & 3;
    if (h->n == 0)
        return -EBADMSG;
    if (h->kind == STENO_LIST_DELTA) {
        /* Every value takes at least a byte; this bounds all later work. */
        if (h->n > (size_t)(end - p))
            return -EBADMSG;
        h->body = p;
        return 0;
    }
    if (h->kind != STENO_LIST_EF)
        return -EBADMSG;
    if (steno_varint_get(&p, end, &h->base) || steno_varint_get(&p, end, &h->span))
        return -EBADMSG;
    if ((uint64_t)h->base + h->span > UINT32_MAX)
        return -EBADMSG;
    uint64_t m = h->n - 1;
    if (m == 0) {
        if (h->span != 0)
            return -EBADMSG;
        h->l = 0;
        h->low_bytes = h->high_bytes = 0;
    } else {
        if (h->span < m)
            return -EBADMSG; /* m distinct offsets in [1, span] */
        ef_sizes(m, h->span, &h->l, &h->low_bytes, &h->high_bytes);
    }
    if (h->low_bytes + h->high_bytes > (uint64_t)(end - p))
        return -EBADMSG;
    h->body = p;
    return 0;
}

/* Walks the n varints of a delta list; *size gets the bytes they take. */
static int delta_extent(const struct list_head *h, const uint8_t *end, const uint8_t **stop)
{
    const uint8_t *p = h->body;
    for (uint32_t i = 0; i < h->n; i++) {
        unsigned len = 0;
        do {
            if (p >= end || ++len > 5)
                return -EBADMSG;
        } while (*p++ & 0x80);
    }
    *stop = p;
    return 0;
}

int steno_list_peek(const uint8_t *p, size_t avail, uint32_t *n, size_t *size,
                    uint32_t *first)
{
    struct list_head h;
    if (read_head(p, avail, &h))
        return -EBADMSG;
    const uint8_t *stop;
    uint32_t v0 = h.base;
    if (h.kind == STENO_LIST_DELTA) {
        const uint8_t *q = h.body;
        if (delta_extent(&h, p + avail, &stop) || steno_varint_get(&q, stop, &v0))
            return -EBADMSG;
    } else {
        stop = h.body + h.low_bytes + h.high_bytes;
    }
    *n = h.n;
    *size = (size_t)(stop - p);
    if (first)
        *first = v0;
    return 0;
}

static int decode_delta(const struct list_head *h, const uint8_t *end, uint32_t *out)
{
    const uint8_t *p = h->body;
    uint32_t v;
    if (steno_varint_get(&p, end, &v))
        return -EBADMSG;
    out[0] = v;
    uint64_t prev = v;
    for (uint32_t i = 1; i < h->n; i++) {
        uint32_t gap;
        if (steno_varint_get(&p, end, &gap))
            return -EBADMSG;
        uint64_t next = prev + gap + 1;
        if (next > UINT32_MAX)
            return -EBADMSG;
        out[i] = (uint32_t)next;
        prev = next;
    }
    return 0;
}

static int decode_ef(const struct list_head *h, uint32_t *out)
{
    out[0] = h->base;
    uint64_t m = h->n - 1;
    if (m == 0)
        return 0;
    const uint8_t *low = h->body, *high = h->body + h->low_bytes;
    uint64_t i = 0;
    uint64_t prev = 0; /* offsets start at 1, so 0 is below every valid one */
    for (uint64_t byte = 0; byte < h->high_bytes; byte++) {
        unsigned bits = high[byte];
        while (bits) {
            unsigned b = (unsigned)__builtin_ctz(bits);
            bits &= bits - 1;
            if (i == m)
                return -EBADMSG; /* more set bits than values */
            uint64_t hpart = byte * 8 + b - i;
            uint64_t x = hpart << h->l | (h->l ? get_bits(low, i * h->l, h->l) : 0);
            if (x <= prev || x > h->span)
                return -EBADMSG;
            out[i + 1] = h->base + (uint32_t)x;
            prev = x;
            i++;
        }
    }
    if (i != m || prev != h->span)
        return -EBADMSG;
    return 0;
}

int steno_list_decode(const uint8_t *p, size_t avail, uint32_t *out, uint32_t max_n,
                      uint32_t *n)
{
    struct list_head h;
    if (read_head(p, avail, &h) || h.n > max_n)
        return -EBADMSG;
    int rc = h.kind == STENO_LIST_DELTA ? decode_delta(&h, p + avail, out) : decode_ef(&h, out);
    if (rc)
        return rc;
    *n = h.n;
    return 0;
}
