/*
 * index_lookup.h -- answering look-ups from one serialized index file (the
 * query engine's side; the format is docs/index-format.md).
 *
 * A reader is opened over a buffer the caller owns and keeps alive and
 * unchanged until steno_index_reader_free() (typically an mmap of the file);
 * the reader copies nothing out of it.  Opening checks the structure (magic,
 * version, trailer, header, directory, every section's framing) and, with
 * STENO_INDEX_VERIFY_CRC, the whole-file checksum.  Lists are decoded only
 * when looked up, with every read bounds-checked, so even a file that is
 * hostile yet well framed (which a checksum does not rule out) gives an
 * error, never a crash.
 *
 * A look-up is two steps, so that the engine can do set algebra on flow ids
 * (small) before touching positions (large): a key range of one type ->
 * sorted flow ids; sorted flow ids -> their merged, sorted packet positions.
 *
 * Error contract: 0 or a negative errno; results in out-parameters; arrays
 * returned through a pointer are the caller's, to release with steno_free().
 * A reader is immutable after open and may be used by several threads.
 */
#ifndef STENO_INDEX_LOOKUP_H
#define STENO_INDEX_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct steno_index_reader steno_index_reader;

#define STENO_INDEX_VERIFY_CRC 1u   /* open: check the whole-file CRC-32C */

struct steno_index_info {
    uint32_t major, minor;
    uint32_t block_size;
    uint32_t blocks;
    uint32_t flows;
    uint64_t packet_file_size;
    uint64_t packets;
    uint64_t first_ns, last_ns;
};

struct steno_index_block {
    uint32_t index;       /* the block is at index * block_size in the packet file */
    uint32_t packets;
    uint64_t first_ns, last_ns;
};

/*
 * Opens the index in buf[0..len).  Returns 0 and *out; or -EBADMSG (not a
 * valid index: torn, foreign, corrupted), -EPROTONOSUPPORT (a major version
 * this reader does not know), -ENOMEM.  On failure a one-line reason is
 * written to err (errlen bytes, NUL-terminated) when err is not NULL.
 */
int steno_index_reader_open(const uint8_t *buf, size_t len, uint32_t flags,
                            steno_index_reader **out, char *err, size_t errlen);
void steno_index_reader_free(steno_index_reader *r);

void steno_index_reader_info(const steno_index_reader *r, struct steno_index_info *out);

/* Entry i (< blocks) of the block table: -ERANGE past the end. */
int steno_index_reader_block(const steno_index_reader *r, uint32_t i, struct steno_index_block *out);

/*
 * The block indices (ascending, room for info.blocks in out) of the blocks
 * holding a packet with time in [time_lo, time_hi), by the block table's
 * exact per-block times: a query with only a time condition reads these
 * blocks whole and nothing else.  Empty blocks are left out.  *n of them.
 */
void steno_index_blocks_in_time(const steno_index_reader *r, uint64_t time_lo, uint64_t time_hi,
                                uint32_t *out, size_t *n);

/*
 * Key width of a key type in this file (*width 0 if the file has no key of
 * that type).
 */
void steno_index_key_width(const steno_index_reader *r, uint32_t key_type, uint32_t *width);

/*
 * The sorted, distinct ids of the flows having a key of key_type between lo
 * and hi inclusive (width bytes each, network byte order, compared
 * bytewise: a host is lo == hi, a network its first and last address).
 * *flows is NULL and *n 0 when nothing matches (also when the file has no
 * key of that type).  Returns 0; -EINVAL when width is not the file's width
 * for the type; -EBADMSG when a list is malformed; -ENOMEM.
 */
int steno_index_lookup_flows(const steno_index_reader *r, uint32_t key_type, const uint8_t *lo,
                             const uint8_t *hi, uint32_t width, uint32_t **flows, size_t *n);

/*
 * The sorted, distinct positions of the packets of flows[0..nflows) (ids in
 * any order; each < the file's flow count, else -EINVAL).  *positions is NULL
 * and *n 0 when nflows is 0.  Returns 0; -EINVAL; -EBADMSG; -ENOMEM.
 */
int steno_index_flow_positions(const steno_index_reader *r, const uint32_t *flows, size_t nflows,
                               uint32_t **positions, size_t *n);

/* Releases an array returned above (the same function index_build.h declares). */
void steno_free(void *p);

#endif
