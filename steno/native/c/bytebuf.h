/*
 * bytebuf.h -- a growable byte buffer for writing the index file in memory
 * (off the capture path, so plain doubling realloc is fine here), with
 * little-endian writers.  Writers report failure once: after a failed
 * reserve, err is set and later writes are no-ops, so serialization code can
 * write a whole section and check once.
 */
#ifndef STENO_BYTEBUF_H
#define STENO_BYTEBUF_H

#include <stddef.h>
#include <stdint.h>

struct steno_bytebuf {
    uint8_t *p;
    size_t len, cap;
    int err;   /* 0, or -ENOMEM after a failed reserve */
};

/* Room for n more bytes; returns a pointer to them (len unchanged) or NULL. */
uint8_t *steno_bytebuf_reserve(struct steno_bytebuf *b, size_t n);
void steno_bytebuf_put(struct steno_bytebuf *b, const void *src, size_t n);
void steno_bytebuf_u8(struct steno_bytebuf *b, uint8_t v);
void steno_bytebuf_u16(struct steno_bytebuf *b, uint16_t v);
void steno_bytebuf_u32(struct steno_bytebuf *b, uint32_t v);
void steno_bytebuf_u64(struct steno_bytebuf *b, uint64_t v);
/* Zero bytes up to the next multiple of 8 of len. */
void steno_bytebuf_align8(struct steno_bytebuf *b);
/* Overwrites 4 or 8 bytes at off (< len) with v, little-endian. */
void steno_bytebuf_set_u32(struct steno_bytebuf *b, size_t off, uint32_t v);
void steno_bytebuf_set_u64(struct steno_bytebuf *b, size_t off, uint64_t v);
void steno_bytebuf_free(struct steno_bytebuf *b);

static inline void steno_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void steno_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t steno_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t steno_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t steno_get_le64(const uint8_t *p)
{
    return (uint64_t)steno_get_le32(p) | (uint64_t)steno_get_le32(p + 4) << 32;
}

#endif
