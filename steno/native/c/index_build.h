/*
 * index_build.h -- the index of one packet file, built while the file is
 * written.
 *
 * The capture loop hands every block to steno_index_add_block() just before it
 * submits the block's write; nothing here may block or do per-file work on
 * that path.  When the file is rotated the builder is detached and serialized
 * off the capture path (by the index-flush actor, in a worker thread).
 * Format: docs/index-format.md.  What each packet is indexed under:
 * docs/index-keys.md.
 *
 * Error contract: functions return 0 or a negative errno; results go to
 * out-parameters.  A builder is used by one thread at a time.
 */
#ifndef STENO_INDEX_BUILD_H
#define STENO_INDEX_BUILD_H

#include <stddef.h>
#include <stdint.h>

typedef struct steno_index_builder steno_index_builder;

struct steno_index_builder_stats {
    uint64_t packets;       /* packets indexed */
    uint64_t blocks;        /* blocks indexed */
    uint64_t flows;         /* distinct key sets seen (a truncation does not
                               forget them: they keep their memory) */
    uint64_t memory_bytes;  /* heap held by the builder now */
    uint64_t first_ns;      /* earliest and latest packet time, ns since the */
    uint64_t last_ns;       /* epoch; both 0 while empty */
};

/* A new, empty builder for a packet file of blocks of block_size bytes. */
int steno_index_builder_new(uint32_t block_size, steno_index_builder **out);
void steno_index_builder_free(steno_index_builder *b);

/*
 * Test hook: hashes of flow keys are ANDed with mask (all ones by default), so
 * a test can make every flow collide (mask 0) and check that distinct key
 * sets still stay distinct flows.  Only on an empty builder (-EBUSY otherwise).
 */
int steno_index_builder_set_hash_mask(steno_index_builder *b, uint32_t mask);

/*
 * Indexes every packet of one block (block_size bytes) that sits at
 * file_offset in the packet file.  Blocks must come in increasing offset order.
 * Returns 0; -EINVAL or -EBADMSG when steno_block_check() rejects the block
 * (nothing is added); -ERANGE when file_offset is not a multiple of the block
 * size, goes backwards, or a position would not fit in 32 bits; -ENOMEM.
 * Hostile packet contents never make it fail.
 */
int steno_index_add_block(steno_index_builder *b, const uint8_t *block, uint64_t file_offset);

/*
 * The capture loop's variant: the block comes straight from the kernel's
 * ring, so its packet chain is not walked twice to be checked (only its
 * header is); the packets' contents are still treated as hostile.
 */
int steno_index_add_kernel_block(steno_index_builder *b, const uint8_t *block,
                                 uint64_t file_offset);

/*
 * Forgets every block at or after file_offset (their writes failed); the next
 * block may then come at the offset after the last block kept.
 */
int steno_index_truncate(steno_index_builder *b, uint64_t file_offset);

void steno_index_builder_stats(const steno_index_builder *b, struct steno_index_builder_stats *out);

/*
 * Serializes the index of a packet file of packet_file_size bytes into a new
 * buffer (*out, *out_len; release it with steno_free()).  The builder stays
 * usable (serializing twice gives the same bytes).  Returns 0, -ERANGE when
 * packet_file_size ends before the last indexed block, -ENOMEM.
 */
int steno_index_serialize(steno_index_builder *b, uint64_t packet_file_size,
                          uint8_t **out, size_t *out_len);

void steno_free(void *p);

#endif
