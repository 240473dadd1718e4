/*
 * index_build_internal.h -- the builder's state, shared by the capture-side
 * half (index_build.c: add, truncate, stats) and the serializing half
 * (index_write.c).  Nothing outside those two files looks in here.
 *
 * Per packet the builder keeps 8 bytes (its position and its flow id) in
 * fixed-size chunks, so the capture path never copies what it already has;
 * per block 24 bytes (the block table); per flow what flows.h keeps.
 */
#ifndef STENO_INDEX_BUILD_INTERNAL_H
#define STENO_INDEX_BUILD_INTERNAL_H

#include <stdint.h>

#include "flows.h"
#include "index_build.h"

#define STENO_PKT_CHUNK_LOG2 16
#define STENO_PKT_CHUNK (1u << STENO_PKT_CHUNK_LOG2)

struct steno_index_pkt {
    uint32_t pos;    /* position: file offset of the packet's tpacket3_hdr */
    uint32_t flow;   /* id in the flow table */
};

struct steno_index_block_entry {
    uint32_t index;     /* file offset / block size */
    uint32_t packets;
    uint64_t first_ns;  /* 0, 0 for a block without packets */
    uint64_t last_ns;
};

struct steno_index_builder {
    uint32_t block_size;
    uint32_t hash_mask;     /* all ones; a test narrows it to force collisions */
    struct steno_flows flows;
    struct steno_index_pkt **pkts;   /* chunks of STENO_PKT_CHUNK */
    uint32_t pkt_chunks, pkt_cap;
    uint64_t packets;
    struct steno_index_block_entry *blocks;
    uint64_t nblocks, blocks_cap;
    uint64_t next_offset;   /* the smallest offset the next block may have */
    uint64_t first_ns, last_ns;
};

static inline struct steno_index_pkt *steno_index_pkt_at(const struct steno_index_builder *b,
                                                        uint64_t i)
{
    return &b->pkts[i >> STENO_PKT_CHUNK_LOG2][i & (STENO_PKT_CHUNK - 1)];
}

#endif
