/*
 * block.c -- checking and walking TPACKET_V3 blocks (see block.h).
 *
 * Field offsets are those of struct tpacket_block_desc and struct tpacket3_hdr
 * in <linux/if_packet.h>; they are read with memcpy so that a block at any
 * address (a read buffer, not only the page-aligned ring) is fine.  The
 * _Static_asserts tie the constants here to the kernel's structs.
 */
#include "block.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <stddef.h>
#include <string.h>

_Static_assert(sizeof(struct tpacket_block_desc) == STENO_BLOCK_DESC_LEN, "block desc layout");
_Static_assert(sizeof(struct tpacket3_hdr) == STENO_PKT_HDR_LEN, "tpacket3_hdr layout");
_Static_assert(offsetof(struct tpacket3_hdr, hv1) == 28, "hv1 offset");

static inline uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t rd16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Offsets inside struct tpacket_block_desc. */
enum {
    BD_VERSION = 0,
    BD_OFFSET_TO_PRIV = 4,
    BD_STATUS = 8,
    BD_NUM_PKTS = 12,
    BD_FIRST = 16,
    BD_LEN = 20,
    BD_SEQ = 24,
};

/* Offsets inside struct tpacket3_hdr. */
enum {
    PH_NEXT = 0,
    PH_SEC = 4,
    PH_NSEC = 8,
    PH_SNAPLEN = 12,
    PH_LEN = 16,
    PH_STATUS = 20,
    PH_MAC = 24,
    PH_VLAN_TCI = 32,
    PH_VLAN_TPID = 36,
};

#define PREFETCH_AHEAD 4096u

int steno_block_check(const uint8_t *block, uint32_t block_size, struct steno_block_info *info)
{
    if (block_size < STENO_BLOCK_DESC_LEN)
        return -EINVAL;
    uint32_t version = rd32(block + BD_VERSION);
    uint32_t status = rd32(block + BD_STATUS);
    uint32_t num_pkts = rd32(block + BD_NUM_PKTS);
    uint32_t first = rd32(block + BD_FIRST);
    uint32_t blk_len = rd32(block + BD_LEN);

    if (version != STENO_TPACKET_V3 || !(status & TP_STATUS_USER))
        return -EINVAL;
    if (first < STENO_BLOCK_DESC_LEN || blk_len > block_size || first > blk_len || (first & 7))
        return -EINVAL;
    /* Each packet takes at least its header; anything more is a lie. */
    if (num_pkts > (blk_len - first) / STENO_PKT_HDR_LEN)
        return -EBADMSG;

    uint64_t lo = UINT64_MAX, hi = 0;
    uint32_t off = first;
    uint32_t ahead = first; /* prefetched up to here */
    for (uint32_t i = 0; i < num_pkts; i++) {
        if ((uint64_t)off + STENO_PKT_HDR_LEN > blk_len)
            return -EBADMSG;
        /* The chain is a dependent walk, which the hardware prefetcher cannot
         * see through; but packets lie in ascending order, so fetching a few
         * KiB ahead in a straight line makes the walk (and the indexer's
         * reads of the frames after it) hit cache instead of memory. */
        if (ahead < off)
            ahead = off & ~63u;
        while (ahead < blk_len && ahead - off < PREFETCH_AHEAD) {
            __builtin_prefetch(block + ahead);
            ahead += 64;
        }
        const uint8_t *h = block + off;
        uint32_t mac = rd16(h + PH_MAC);
        uint32_t snaplen = rd32(h + PH_SNAPLEN);
        uint32_t next = rd32(h + PH_NEXT);
        if (mac < STENO_PKT_HDR_LEN || (uint64_t)off + mac + snaplen > blk_len)
            return -EBADMSG;
        uint64_t ns = (uint64_t)rd32(h + PH_SEC) * 1000000000u + rd32(h + PH_NSEC);
        if (ns < lo)
            lo = ns;
        if (ns > hi)
            hi = ns;
        if (i + 1 < num_pkts) {
            /* The next header follows this packet's bytes, 8-aligned. */
            if (next < mac + snaplen || (next & 7) || (uint64_t)off + next > blk_len)
                return -EBADMSG;
            off += next;
        }
    }
    if (info) {
        info->num_pkts = num_pkts;
        info->blk_len = blk_len;
        info->first_offset = first;
        info->seq_num = rd64(block + BD_SEQ);
        info->first_ns = num_pkts ? lo : 0;
        info->last_ns = num_pkts ? hi : 0;
    }
    return 0;
}

void steno_block_iter_init(struct steno_block_iter *it, const uint8_t *block)
{
    it->block = block;
    it->left = rd32(block + BD_NUM_PKTS);
    it->next = it->left ? rd32(block + BD_FIRST) : 0;
}

int steno_block_iter_next(struct steno_block_iter *it, struct steno_packet_view *pkt)
{
    if (it->left == 0)
        return 0;
    const uint8_t *h = it->block + it->next;
    pkt->offset = it->next;
    pkt->sec = rd32(h + PH_SEC);
    pkt->nsec = rd32(h + PH_NSEC);
    pkt->caplen = rd32(h + PH_SNAPLEN);
    pkt->wirelen = rd32(h + PH_LEN);
    pkt->status = rd32(h + PH_STATUS);
    pkt->vlan_tci = (uint16_t)rd32(h + PH_VLAN_TCI);
    pkt->vlan_tpid = rd16(h + PH_VLAN_TPID);
    pkt->frame = h + rd16(h + PH_MAC);
    it->left--;
    it->next = it->left ? it->next + rd32(h + PH_NEXT) : 0;
    return 1;
}
