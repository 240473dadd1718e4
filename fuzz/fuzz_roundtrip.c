/*
 * fuzz_roundtrip.c -- libFuzzer harness for frames -> blocks -> index builder
 * -> serialized file -> C reader, with the reader's answers checked against
 * the keys of every packet.
 *
 * Input: records of (flag byte, tp_vlan_tci u16 BE, frame length u16 BE,
 * frame).  Flag bit 0: VLAN_VALID; bit 1: start a new block before this
 * packet; bit 7 of the first record: after adding, truncate the last block.
 * Packets are laid into small (4 KiB) TPACKET_V3 blocks the way the kernel
 * does, so inputs quickly span several blocks and many flows.
 *
 * The oracle: for every packet and every one of its keys, looking the key up
 * (key -> flows -> positions) must return the packet's position; every
 * position returned for a key must be a packet that has that key; and all
 * flows together must hold exactly the indexed packets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "flows.h"
#include "index_build.h"
#include "index_lookup.h"
#include "keys.h"

#define CHECK(c) \
    do {         \
        if (!(c)) \
            abort(); \
    } while (0)

#define BLOCK_SIZE 4096u
#define MAX_PACKETS 512
#define TP_MAC 82u

struct pkt {
    uint32_t pos;
    uint32_t status, tci;
    const uint8_t *frame;
    uint32_t len;
    uint8_t flowkey[STENO_FLOWKEY_BUF];
    uint32_t flowkey_len;
};

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

/* Writes a block header for n packets ending at used bytes. */
static void seal(uint8_t *blk, uint32_t n, uint32_t used, uint64_t seq)
{
    put32(blk + 0, 2);
    put32(blk + 4, 48);
    put32(blk + 8, 1);
    put32(blk + 12, n);
    put32(blk + 16, 48);
    put32(blk + 20, used);
    memcpy(blk + 24, &seq, 8);
}

static int has_key(const struct pkt *p, unsigned type, const uint8_t *key)
{
    const uint8_t *vals;
    unsigned n, w = steno_key_width(type);
    steno_flowkey_values(p->flowkey, type, &vals, &n);
    for (unsigned i = 0; i < n; i++)
        if (memcmp(vals + i * w, key, w) == 0)
            return 1;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pkt pk[MAX_PACKETS]; /* harness scratch, not library state */
    size_t npk = 0, at = 0;
    int truncate_last = size > 0 && (data[0] & 0x80);
    uint32_t nblocks = 0;
    /* Each packet takes a record of at least 5 input bytes, so at most this
     * many packets, and at most one block each. */
    size_t max_blocks = size / 5 + 1 < MAX_PACKETS ? size / 5 + 1 : MAX_PACKETS;
    uint8_t *blocks = calloc(max_blocks, BLOCK_SIZE);
    CHECK(blocks);
    uint32_t used = 48, in_block = 0;

    while (at + 5 <= size && npk < MAX_PACKETS) {
        uint8_t flags = data[at];
        uint32_t tci = (uint32_t)data[at + 1] << 8 | data[at + 2];
        uint32_t len = (uint32_t)data[at + 3] << 8 | data[at + 4];
        at += 5;
        if (len > size - at)
            len = (uint32_t)(size - at);
        if (len > BLOCK_SIZE - 48 - TP_MAC)
            len = BLOCK_SIZE - 48 - TP_MAC;
        uint32_t rec = (TP_MAC + len + 7) & ~7u;
        if (nblocks == 0 || (flags & 2) || used + rec > BLOCK_SIZE) {
            if (nblocks)
                seal(blocks + (size_t)(nblocks - 1) * BLOCK_SIZE, in_block, used, nblocks);
            nblocks++;
            used = 48;
            in_block = 0;
        }
        uint8_t *blk = blocks + (size_t)(nblocks - 1) * BLOCK_SIZE;
        uint8_t *h = blk + used;
        if (in_block) /* chain the previous record to this one */
            put32(blk + pk[npk - 1].pos % BLOCK_SIZE, used - pk[npk - 1].pos % BLOCK_SIZE);
        put32(h + 0, 0);
        put32(h + 4, 1700000000u + (uint32_t)npk);
        put32(h + 8, (uint32_t)npk);
        put32(h + 12, len);
        put32(h + 16, len);
        put32(h + 20, 1u | ((flags & 1) ? 0x10u : 0));
        put16(h + 24, TP_MAC);
        put16(h + 26, TP_MAC + 14);
        put32(h + 32, tci);
        memcpy(h + TP_MAC, data + at, len);
        pk[npk] = (struct pkt){
            .pos = (nblocks - 1) * BLOCK_SIZE + used,
            .status = (flags & 1) ? 0x10u : 0,
            .tci = tci,
            .frame = h + TP_MAC,
            .len = len,
        };
        npk++;
        in_block++;
        used += rec;
        at += len;
    }
    if (nblocks)
        seal(blocks + (size_t)(nblocks - 1) * BLOCK_SIZE, in_block, used, nblocks);

    steno_index_builder *b;
    CHECK(steno_index_builder_new(BLOCK_SIZE, &b) == 0);
    for (uint32_t i = 0; i < nblocks; i++)
        CHECK(steno_index_add_block(b, blocks + (size_t)i * BLOCK_SIZE,
                                    (uint64_t)i * BLOCK_SIZE) == 0);
    uint32_t kept_blocks = nblocks;
    if (truncate_last && nblocks) {
        kept_blocks = nblocks - 1;
        CHECK(steno_index_truncate(b, (uint64_t)kept_blocks * BLOCK_SIZE) == 0);
    }
    size_t kept = 0;
    while (kept < npk && pk[kept].pos < kept_blocks * BLOCK_SIZE)
        kept++;

    uint8_t *file;
    size_t file_len;
    CHECK(steno_index_serialize(b, (uint64_t)nblocks * BLOCK_SIZE, &file, &file_len) == 0);
    steno_index_reader *r;
    char err[200];
    CHECK(steno_index_reader_open(file, file_len, STENO_INDEX_VERIFY_CRC, &r, err, sizeof err) == 0);
    struct steno_index_info info;
    steno_index_reader_info(r, &info);
    CHECK(info.packets == kept && info.blocks == kept_blocks);

    for (size_t i = 0; i < kept; i++) {
        struct steno_frame_keys k;
        steno_frame_keys(pk[i].frame, pk[i].len, pk[i].status, pk[i].tci, &k);
        pk[i].flowkey_len = steno_flowkey_encode(&k, pk[i].flowkey);
    }
    for (size_t i = 0; i < kept; i++) {
        for (unsigned type = 1; type <= STENO_KEY_TYPES; type++) {
            const uint8_t *vals;
            unsigned n, w = steno_key_width(type);
            steno_flowkey_values(pk[i].flowkey, type, &vals, &n);
            for (unsigned v = 0; v < n; v++) {
                uint32_t *flows, *pos;
                size_t nf, np;
                CHECK(steno_index_lookup_flows(r, type, vals + v * w, vals + v * w, w, &flows,
                                               &nf) == 0);
                CHECK(steno_index_flow_positions(r, flows, nf, &pos, &np) == 0);
                CHECK(bsearch(&pk[i].pos, pos, np, sizeof *pos, cmp_u32) != NULL);
                for (size_t j = 0; j < np; j++) {
                    size_t lo = 0, hi = kept;
                    while (lo < hi) { /* packets are in position order */
                        size_t mid = (lo + hi) / 2;
                        if (pk[mid].pos < pos[j])
                            lo = mid + 1;
                        else
                            hi = mid;
                    }
                    CHECK(lo < kept && pk[lo].pos == pos[j]);
                    CHECK(has_key(&pk[lo], type, vals + v * w));
                }
                steno_free(flows);
                steno_free(pos);
            }
        }
    }
    /* All flows together: exactly the kept packets. */
    uint32_t *ids = malloc((info.flows + 1) * sizeof *ids);
    CHECK(ids);
    for (uint32_t f = 0; f < info.flows; f++)
        ids[f] = f;
    uint32_t *pos;
    size_t np;
    CHECK(steno_index_flow_positions(r, ids, info.flows, &pos, &np) == 0);
    CHECK(np == kept);
    for (size_t j = 0; j < np; j++)
        CHECK(pos[j] == pk[j].pos);
    steno_free(pos);
    free(ids);

    steno_index_reader_free(r);
    steno_free(file);
    steno_index_builder_free(b);
    free(blocks);
    return 0;
}
