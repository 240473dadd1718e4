/*
 * bytebuf.c -- see bytebuf.h.
 */
#include "bytebuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint8_t *steno_bytebuf_reserve(struct steno_bytebuf *b, size_t n)
{
    if (b->err)
        return NULL;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (n > cap - b->len) {
            if (cap > SIZE_MAX / 2) {
                b->err = -ENOMEM;
                return NULL;
            }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->err = -ENOMEM;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

void steno_bytebuf_put(struct steno_bytebuf *b, const void *src, size_t n)
{
    uint8_t *p = steno_bytebuf_reserve(b, n);
    if (!p)
        return;
    if (n)
        memcpy(p, src, n);
    b->len += n;
}

void steno_bytebuf_u8(struct steno_bytebuf *b, uint8_t v)
{
    steno_bytebuf_put(b, &v, 1);
}

void steno_bytebuf_u16(struct steno_bytebuf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    steno_bytebuf_put(b, t, 2);
}

void steno_bytebuf_u32(struct steno_bytebuf *b, uint32_t v)
{
    uint8_t t[4];
    steno_le32(t, v);
    steno_bytebuf_put(b, t, 4);
}

void steno_bytebuf_u64(struct steno_bytebuf *b, uint64_t v)
{
    uint8_t t[8];
    steno_le64(t, v);
    steno_bytebuf_put(b, t, 8);
}

void steno_bytebuf_align8(struct steno_bytebuf *b)
{
    static const uint8_t zeros[8];
    steno_bytebuf_put(b, zeros, (8 - (b->len & 7)) & 7);
}

void steno_bytebuf_set_u32(struct steno_bytebuf *b, size_t off, uint32_t v)
{
    if (!b->err && off + 4 <= b->len)
        steno_le32(b->p + off, v);
}

void steno_bytebuf_set_u64(struct steno_bytebuf *b, size_t off, uint64_t v)
{
    if (!b->err && off + 8 <= b->len)
        steno_le64(b->p + off, v);
}

void steno_bytebuf_free(struct steno_bytebuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
