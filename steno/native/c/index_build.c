/*
 * index_build.c -- the capture-side half of the index builder (see
 * index_build.h): per packet it only parses keys, finds or adds the packet's
 * flow and appends (position, flow id).  Everything that sorts or encodes
 * waits for steno_index_serialize() (index_write.c), which runs off the
 * capture path.
 *
 * Who owns what: the builder owns all its memory; the block passed in is only
 * read during the call (the capture loop is about to write it to disk and
 * hand it back to the kernel).
 */
#include "index_build.h"

#include <linux/if_packet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "index_build_internal.h"
#include "keys.h"

int steno_index_builder_new(uint32_t block_size, steno_index_builder **out)
{
    if (block_size < STENO_BLOCK_DESC_LEN)
        return -EINVAL;
    steno_index_builder *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->block_size = block_size;
    b->hash_mask = UINT32_MAX;
    int rc = steno_flows_init(&b->flows);
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void steno_index_builder_free(steno_index_builder *b)
{
    if (!b)
        return;
    steno_flows_free(&b->flows);
    for (uint32_t i = 0; i < b->pkt_chunks; i++)
        free(b->pkts[i]);
    free(b->pkts);
    free(b->blocks);
    free(b);
}

int steno_index_builder_set_hash_mask(steno_index_builder *b, uint32_t mask)
{
    if (b->flows.count)
        return -EBUSY;
    b->hash_mask = mask;
    return 0;
}

/* Makes room for one more packet; the chunk is allocated when first needed. */
static int reserve_packet(steno_index_builder *b)
{
    uint64_t chunk = b->packets >> STENO_PKT_CHUNK_LOG2;
    if (chunk < b->pkt_chunks)
        return 0;
    if (b->pkt_chunks == b->pkt_cap) {
        uint32_t ncap = b->pkt_cap ? b->pkt_cap * 2 : 16;
        struct steno_index_pkt **dir = realloc(b->pkts, ncap * sizeof *dir);
        if (!dir)
            return -ENOMEM;
        b->pkts = dir;
        b->pkt_cap = ncap;
    }
    struct steno_index_pkt *c = malloc(STENO_PKT_CHUNK * sizeof *c);
    if (!c)
        return -ENOMEM;
    b->pkts[b->pkt_chunks++] = c;
    return 0;
}

static int reserve_block(steno_index_builder *b)
{
    if (b->nblocks < b->blocks_cap)
        return 0;
    uint64_t ncap = b->blocks_cap ? b->blocks_cap * 2 : 64;
    struct steno_index_block_entry *t = realloc(b->blocks, ncap * sizeof *t);
    if (!t)
        return -ENOMEM;
    b->blocks = t;
    b->blocks_cap = ncap;
    return 0;
}

/* Recomputes the time range from the block table (after a truncation). */
static void recompute_times(steno_index_builder *b)
{
    b->first_ns = b->last_ns = 0;
    int any = 0;
    for (uint64_t i = 0; i < b->nblocks; i++) {
        const struct steno_index_block_entry *e = &b->blocks[i];
        if (!e->packets)
            continue;
        if (!any || e->first_ns < b->first_ns)
            b->first_ns = e->first_ns;
        if (!any || e->last_ns > b->last_ns)
            b->last_ns = e->last_ns;
        any = 1;
    }
}

/* The fields of a kernel block's header the indexing pass needs. */
static int kernel_block_header(const uint8_t *block, uint32_t bs, uint32_t *num_pkts)
{
    const struct tpacket_block_desc *d = (const void *)block;
    uint32_t first = d->hdr.bh1.offset_to_first_pkt, len = d->hdr.bh1.blk_len;
    if (d->version != STENO_TPACKET_V3 || first < STENO_BLOCK_DESC_LEN || len > bs || first > len)
        return -EINVAL;
    *num_pkts = d->hdr.bh1.num_pkts;
    return 0;
}

static int add_block(steno_index_builder *b, const uint8_t *block, uint64_t file_offset,
                     int trusted)
{
    uint32_t bs = b->block_size;
    if (file_offset % bs || file_offset < b->next_offset ||
        file_offset + bs > (UINT64_C(1) << 32))
        return -ERANGE;
    struct steno_block_info info = {0};
    int rc = trusted ? kernel_block_header(block, bs, &info.num_pkts)
                     : steno_block_check(block, bs, &info);
    if (rc)
        return rc;
    rc = reserve_block(b);
    if (rc)
        return rc;

    uint64_t packets_before = b->packets;
    uint64_t lo = UINT64_MAX, hi = 0;
    struct steno_block_iter it;
    struct steno_packet_view pv;
    struct steno_frame_keys k;
    uint8_t key[STENO_FLOWKEY_BUF];
    steno_block_iter_init(&it, block);
    while (steno_block_iter_next(&it, &pv)) {
        uint64_t ns = (uint64_t)pv.sec * 1000000000u + pv.nsec;
        lo = ns < lo ? ns : lo;
        hi = ns > hi ? ns : hi;
        steno_frame_keys(pv.frame, pv.caplen, pv.status, pv.vlan_tci, &k);
        uint32_t len = steno_flowkey_encode(&k, key);
        uint32_t hash = steno_flowkey_hash(key, len) & b->hash_mask;
        uint32_t flow;
        rc = steno_flows_find_or_add(&b->flows, key, len, hash, &flow);
        if (!rc)
            rc = reserve_packet(b);
        if (rc) {
            /* Undo this block's packets; flows it added stay, with no packets
             * (serialization leaves such flows out). */
            b->packets = packets_before;
            return rc;
        }
        *steno_index_pkt_at(b, b->packets++) = (struct steno_index_pkt){
            .pos = (uint32_t)(file_offset + pv.offset),
            .flow = flow,
        };
    }
    if (trusted) {
        info.first_ns = info.num_pkts ? lo : 0;
        info.last_ns = info.num_pkts ? hi : 0;
    }

    b->blocks[b->nblocks++] = (struct steno_index_block_entry){
        .index = (uint32_t)(file_offset / bs),
        .packets = info.num_pkts,
        .first_ns = info.first_ns,
        .last_ns = info.last_ns,
    };
    if (info.num_pkts) {
        if (packets_before == 0 || info.first_ns < b->first_ns)
            b->first_ns = info.first_ns;
        if (packets_before == 0 || info.last_ns > b->last_ns)
            b->last_ns = info.last_ns;
    }
    b->next_offset = file_offset + bs;
    return 0;
}

int steno_index_add_block(steno_index_builder *b, const uint8_t *block, uint64_t file_offset)
{
    return add_block(b, block, file_offset, 0);
}

int steno_index_add_kernel_block(steno_index_builder *b, const uint8_t *block,
                                 uint64_t file_offset)
{
    return add_block(b, block, file_offset, 1);
}

int steno_index_truncate(steno_index_builder *b, uint64_t file_offset)
{
    uint64_t keep = b->nblocks;
    while (keep > 0 && (uint64_t)b->blocks[keep - 1].index * b->block_size >= file_offset)
        keep--;
    if (keep == b->nblocks)
        return 0;
    uint64_t packets = 0;
    for (uint64_t i = 0; i < keep; i++)
        packets += b->blocks[i].packets;
    b->nblocks = keep;
    b->packets = packets;
    b->next_offset = keep ? ((uint64_t)b->blocks[keep - 1].index + 1) * b->block_size : 0;
    recompute_times(b);
    return 0;
}

void steno_index_builder_stats(const steno_index_builder *b,
                               struct steno_index_builder_stats *out)
{
    out->packets = b->packets;
    out->blocks = b->nblocks;
    out->flows = b->flows.count;
    out->memory_bytes = sizeof *b + steno_flows_memory(&b->flows) +
                        (uint64_t)b->pkt_chunks * STENO_PKT_CHUNK * sizeof(struct steno_index_pkt) +
                        (uint64_t)b->pkt_cap * sizeof(void *) +
                        b->blocks_cap * sizeof(struct steno_index_block_entry);
    out->first_ns = b->first_ns;
    out->last_ns = b->last_ns;
}

void steno_free(void *p)
{
    free(p);
}
