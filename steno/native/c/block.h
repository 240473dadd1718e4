/*
 * block.h -- reading TPACKET_V3 blocks: the unit the kernel hands us, the unit
 * we write to disk, and so the unit every packet file is made of.
 *
 * A packet file is a sequence of blocks written verbatim, block k at byte
 * k * block_size.  A block starts with a struct tpacket_block_desc (48 bytes);
 * its packets follow, each a struct tpacket3_hdr, a sockaddr_ll and the frame,
 * chained by tp_next_offset.  A packet's "position" is the file offset of its
 * tpacket3_hdr, which is what the index stores (as upstream Stenographer).
 *
 * Blocks from the kernel are well formed, but blocks read back from disk may
 * be torn (a crash mid-write), zero (preallocated space never written) or
 * foreign.  So nothing here trusts a length field: steno_block_check() walks
 * the whole chain against the block's bounds first, and the iterator only runs
 * over blocks that passed.  None of these functions allocate or keep state.
 */
#ifndef STENO_BLOCK_H
#define STENO_BLOCK_H

#include <stdint.h>

#define STENO_BLOCK_DESC_LEN 48u  /* sizeof(struct tpacket_block_desc) */
#define STENO_PKT_HDR_LEN 48u     /* sizeof(struct tpacket3_hdr) */
#define STENO_TPACKET_V3 2u       /* tpacket_block_desc.version as the kernel fills it */

/* One packet inside a block, as the iterator hands it out. */
struct steno_packet_view {
    uint32_t offset;      /* of its tpacket3_hdr, from the start of the block */
    uint32_t sec;         /* capture time */
    uint32_t nsec;
    uint32_t caplen;      /* bytes of frame stored (tp_snaplen) */
    uint32_t wirelen;     /* bytes on the wire (tp_len) */
    uint32_t status;      /* tp_status: TP_STATUS_VLAN_VALID and friends */
    uint16_t vlan_tci;    /* outer tag the kernel stripped, if status says so */
    uint16_t vlan_tpid;
    const uint8_t *frame; /* caplen bytes, inside the block */
};

/* A summary of a checked block. */
struct steno_block_info {
    uint32_t num_pkts;
    uint32_t blk_len;
    uint32_t first_offset;
    uint64_t seq_num;
    uint64_t first_ns;    /* smallest and largest packet time in the block, */
    uint64_t last_ns;     /* nanoseconds since the epoch (0, 0 when empty) */
};

struct steno_block_iter {
    const uint8_t *block;
    uint32_t next;        /* offset of the next packet header, 0 when done */
    uint32_t left;        /* packets not yet returned */
};

/*
 * Checks that `block` (block_size bytes) is a well-formed TPACKET_V3 block
 * whose every packet lies inside it.
 * Returns 0 and fills *info (if not NULL) on success; -EINVAL if the block
 * header is not a TPACKET_V3 header of a block of this size (zero fill, a torn
 * or foreign block); -EBADMSG if the header is plausible but the packet chain
 * leaves the block or disagrees with num_pkts.
 */
int steno_block_check(const uint8_t *block, uint32_t block_size,
                      struct steno_block_info *info);

/*
 * Iterates over the packets of a block that steno_block_check() accepted.
 * steno_block_iter_next returns 1 and fills *pkt while packets remain, then 0.
 */
void steno_block_iter_init(struct steno_block_iter *it, const uint8_t *block);
int steno_block_iter_next(struct steno_block_iter *it, struct steno_packet_view *pkt);

#endif
