/*
 * extract.h -- packets of a packet file as pcap records.
 *
 * The caller reads the packet file block by block (the block size is not in
 * the file: it must be known, 1 MiB by default) and hands each block here;
 * the pcap records of its packets -- all of them, or those at given positions
 * -- are written into the caller's buffer.  Blocks are checked with
 * steno_block_check() first: a torn, zero or foreign block is an error, never
 * a read out of bounds.
 *
 * The outer VLAN tag: the kernel removed it from the frame and reported it in
 * tp_vlan_tci (TP_STATUS_VLAN_VALID) and tp_vlan_tpid (TP_STATUS_VLAN_TPID_VALID;
 * 0x8100 when not valid).  Extraction puts it back after the MAC addresses,
 * so the pcap holds the frame as it was on the wire; caplen and the original
 * length grow by 4.  (Upstream Stenographer did not, and lost the tag.)
 *
 * Output size: a record takes 16 header bytes, plus 4 for a restored tag,
 * plus the frame; in the block the same frame takes at least 48 header bytes.
 * So the records of one block never take more than the block's blk_len: an
 * output buffer of block_size bytes always suffices.
 *
 * Error contract: functions return 0 or a negative errno; results go to
 * out-parameters.  Nothing is allocated or kept between calls.
 */
#ifndef STENO_EXTRACT_H
#define STENO_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#define STENO_PCAP_FILE_HEADER_LEN 24u
#define STENO_PCAP_RECORD_HEADER_LEN 16u
#define STENO_PCAP_NANO 1u            /* flag: nanosecond timestamps (magic a1b23c4d) */

struct steno_extract_result {
    uint32_t packets;       /* records written */
    uint32_t vlan_restored; /* of which had the outer tag put back */
    size_t out_len;         /* bytes written to out */
    size_t consumed;        /* positions used (those inside this block) */
};

/* Block summary, as steno_block_check() sees it. */
struct steno_extract_block_info {
    uint32_t num_pkts;
    uint32_t blk_len;
    uint64_t seq_num;
    uint64_t first_ns;
    uint64_t last_ns;
};

/* The 24-byte little-endian pcap file header (link type, snaplen as given). */
void steno_pcap_file_header(uint8_t out[24], uint32_t flags, uint32_t snaplen, uint32_t linktype);

/*
 * Checks one block (block_size bytes).  Returns 0 and *info; -EINVAL for a
 * block that is not a TPACKET_V3 block (zero fill, torn, foreign); -EBADMSG
 * for one whose packet chain is inconsistent (see block.h).
 */
int steno_extract_block_info(const uint8_t *block, uint32_t block_size,
                             struct steno_extract_block_info *info);

/*
 * Writes the pcap records of one block into out (out_cap bytes).
 * block_pos is the block's offset in the packet file.  With positions NULL,
 * every packet of the block is written.  Otherwise positions (n_positions
 * file offsets of packet headers, strictly increasing) select packets: those
 * below block_pos + block_size are used and counted in res->consumed, the
 * rest are left for the next block.  Records longer than snaplen are cut to
 * it (incl_len = snaplen, orig_len unchanged).  flags: STENO_PCAP_NANO.
 * Returns 0; -EINVAL/-EBADMSG for a bad block (nothing written); -ENOENT if
 * a position in this block is not the start of a packet (records before it
 * are written and counted); -ERANGE if positions are not increasing or start
 * before block_pos; -ENOSPC if out is too small.
 */
int steno_extract_block(const uint8_t *block, uint32_t block_size, uint64_t block_pos,
                        const uint64_t *positions, size_t n_positions,
                        uint32_t flags, uint32_t snaplen,
                        uint8_t *out, size_t out_cap, struct steno_extract_result *res);

#endif
