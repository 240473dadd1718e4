/*
 * postings.h -- the coding of one sorted list of 32-bit integers in the index
 * file: a flow's packet positions, or the flow ids that have one key.
 *
 * Two codings, the writer picks the smaller per list (the tie goes to delta):
 *   delta varint  -- cheap for short lists: first value, then gaps - 1;
 *   Elias-Fano    -- near the information-theoretic size for longer lists
 *                    (2 + log2(span / n) bits a value), decoded without a
 *                    data-dependent branch per bit.
 * Both are preceded by a varint header (n << 2 | kind), so a list is
 * self-delimiting: steno_list_peek() tells its length and size without
 * decoding it, which is how a reader skips lists.  Byte layout and the
 * reasons: docs/index-format.md, "Posting lists".
 *
 * Decoders treat their input as hostile: they never read outside
 * [p, p + avail), never write more than n values, and reject (-EBADMSG) a
 * list that is not strictly increasing, overflows 32 bits, or is empty.
 */
#ifndef STENO_POSTINGS_H
#define STENO_POSTINGS_H

#include <stddef.h>
#include <stdint.h>

#define STENO_LIST_DELTA 0u
#define STENO_LIST_EF 1u
#define STENO_LIST_MAX_N ((1u << 30) - 1)   /* n must fit the header varint */

/* Bytes a varint of v takes (1..5). */
size_t steno_varint_len(uint32_t v);

/*
 * Reads an unsigned LEB128 varint of at most 5 bytes (value < 2^32) from
 * [*p, end); advances *p.  Returns 0 or -EBADMSG (cut short or too big).
 */
int steno_varint_get(const uint8_t **p, const uint8_t *end, uint32_t *v);

/* Writes v at p (room for 5 bytes); returns the bytes written. */
size_t steno_varint_put(uint8_t *p, uint32_t v);

/* A bound on the encoded size of any list of n values: room to encode into. */
size_t steno_list_max_size(uint32_t n);

/*
 * Encodes v[0..n) (strictly increasing, 1 <= n <= STENO_LIST_MAX_N) at out,
 * which has room for steno_list_max_size(n) bytes; returns bytes written.
 * The list is stored relative to ref (<= v[0]): what is encoded is
 * v[0] - ref, ..., v[n-1] - ref, so a reader adds ref back.  Lists whose
 * first values grow from one to the next (a collection's flows) store each
 * against the previous one's first value, which takes a byte or two instead
 * of four (docs/index-format.md, "List collections").  ref 0: absolute.
 * The same input always gives the same bytes.
 */
size_t steno_list_encode(const uint32_t *v, uint32_t n, uint32_t ref, uint8_t *out);

/*
 * Reads the header of the list at p (avail bytes there): its length *n, its
 * whole encoded size *size (header included) and, if first is not NULL, its
 * first stored value.  Returns 0, or -EBADMSG when the header is malformed or
 * the list would not fit in avail.
 */
int steno_list_peek(const uint8_t *p, size_t avail, uint32_t *n, size_t *size,
                    uint32_t *first);

/*
 * Decodes the list at p into out (room for max_n values): the stored values,
 * to which the caller adds the ref it was encoded against; *n is its length.
 * Returns 0, -EBADMSG (malformed, or longer than max_n).
 */
int steno_list_decode(const uint8_t *p, size_t avail, uint32_t *out, uint32_t max_n,
                      uint32_t *n);

#endif
