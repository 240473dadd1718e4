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

/* What steno_extract_points() did. */
struct steno_points_result {
    size_t consumed;        /* positions dealt with (written or skipped) */
    uint32_t packets;       /* records written */
    uint32_t vlan_restored; /* of which had the outer tag put back */
    uint32_t out_of_time;   /* skipped: time outside [time_lo, time_hi) */
    size_t out_len;         /* bytes written to out */
    uint32_t past_span;     /* steno_extract_span: stopped at a block past the span */
};

/*
 * The query path: records of the packets at positions (file offsets of
 * packet headers, strictly increasing, as an index gives them) of a whole
 * packet file mapped at file[0..file_size), made of block_size blocks.  Only
 * packets whose time t (ns since the epoch) has time_lo <= t < time_hi are
 * written.  Each packet is read where it is -- its block's header, its own
 * header, its bytes -- never the whole block, so a selective query reads
 * little; every read is checked against the block and file bounds first.
 *
 * Stops when the next record does not fit in out (not an error: resume at
 * positions + res->consumed with a fresh buffer).  out_cap must hold at least
 * one record of a full block (block_size bytes always do).
 * Returns 0; -ERANGE if positions are not increasing; -EBADMSG if a position
 * does not point at a packet header inside a well-formed block (a corrupt or
 * foreign file, or an index that does not belong to it): res->consumed is the
 * index of that position and everything before it was written.
 */
int steno_extract_points(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                         const uint32_t *positions, size_t n_positions,
                         uint64_t time_lo, uint64_t time_hi, uint32_t flags, uint32_t snaplen,
                         uint8_t *out, size_t out_cap, struct steno_points_result *res);

/*
 * steno_extract_points over a span of the file read into memory rather than
 * the whole file mapped: span holds the file's bytes [span_off, span_off +
 * span_len), span_off a multiple of block_size.  A dense read (most packets
 * of most blocks) goes through the file this way, a few MiB of whole blocks
 * at a time, into one reused buffer.
 *
 * Stops, without error, at the first position whose block is not wholly in
 * the span: res->past_span is then 1 and res->consumed its index (read the
 * next span from there).  -EINVAL if span_off is not a block boundary or a
 * position lies before the span; otherwise as steno_extract_points.
 */
int steno_extract_span(const uint8_t *span, uint64_t span_off, uint64_t span_len,
                       uint32_t block_size, const uint32_t *positions, size_t n_positions,
                       uint64_t time_lo, uint64_t time_hi, uint32_t flags, uint32_t snaplen,
                       uint8_t *out, size_t out_cap, struct steno_points_result *res);

/* What steno_extract_scan() did. */
struct steno_scan_result {
    uint64_t next;          /* file offset to resume at: a packet's, or a block's */
    uint32_t packets;       /* records written */
    uint32_t vlan_restored; /* of which had the outer tag put back */
    uint32_t out_of_time;   /* skipped: time outside [time_lo, time_hi) */
    size_t out_len;         /* bytes written to out */
    uint32_t past_span;     /* stopped at a block past the span */
};

/*
 * Every packet of the blocks in the file's bytes [from, to), with time in
 * [time_lo, time_hi), as pcap records: a query with no key condition (a time
 * window) needs no positions from an index, only a walk of the blocks it
 * covers.  span holds the file's bytes [span_off, span_off + span_len)
 * (span_off a multiple of block_size; the whole file mapped, or a window of
 * it read ahead).  from is a block boundary or a packet's offset (a previous
 * call's res->next); to is a block boundary.
 *
 * Stops, without error, when the next record does not fit in out (resume at
 * res->next with a fresh buffer), or at the first block not wholly in the
 * span (res->past_span = 1; read the span holding res->next and go on).
 * res->next == to when the range is done.  Each block is checked with
 * steno_block_check() before any of it is read.  Returns 0; -EINVAL if
 * span_off or to is not a block boundary or from lies before the span;
 * -ENODATA at a block that is not a TPACKET_V3 block (zero fill, as after a
 * failed truncation of a preallocated file, or foreign): the file's packets
 * end before it, as steno_packet_positions() has it; -EBADMSG at a block
 * whose packet chain is inconsistent.  Either way res->next is that block's
 * offset and everything before it was written.
 */
int steno_extract_scan(const uint8_t *span, uint64_t span_off, uint64_t span_len,
                       uint32_t block_size, uint64_t from, uint64_t to, uint64_t time_lo,
                       uint64_t time_hi, uint32_t flags, uint32_t snaplen, uint8_t *out,
                       size_t out_cap, struct steno_scan_result *res);

/*
 * The positions (increasing, as for steno_extract_points) whose packets have
 * time_lo <= time < time_hi, written to kept (room for n_positions) in order;
 * *n_kept of them.  For queries whose alternatives carry different time
 * windows.  0; -ERANGE; -EBADMSG with *n_kept positions checked before the
 * bad one.
 */
int steno_positions_in_time(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                            const uint32_t *positions, size_t n_positions, uint64_t time_lo,
                            uint64_t time_hi, uint32_t *kept, size_t *n_kept);

/*
 * Every packet position of a mapped packet file, in order, up to the first
 * block that is not a well-formed TPACKET_V3 block (zero fill or the end).
 * For stores without a steno index (upstream's), where "every packet" must be
 * enumerated.  *out is a new array (NULL when empty) to release with
 * steno_free(); *n its length.  0 or -ENOMEM.
 */
int steno_packet_positions(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                           uint32_t **out, size_t *n);

/*
 * The span of blocks [*first, *end) of a mapped packet file outside which no
 * packet's time (ns) can lie in [time_lo, time_hi).  Only each block's
 * descriptor is read -- when the kernel opened the block and the time of its
 * last packet -- so a time-bounded query need not read a long file whole.  A
 * block is in the span when [opened - slack_ns, last + slack_ns] meets the
 * window (the slack covers packets stamped a little before their block
 * opened), or when its descriptor is not a TPACKET_V3 one (it cannot be
 * ruled out; reading its packets will say what it is).  Empty blocks are
 * not.  *first == *end: no block can hold such a packet.
 */
void steno_blocks_in_time(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                          uint64_t time_lo, uint64_t time_hi, uint64_t slack_ns,
                          uint64_t *first, uint64_t *end);

#endif
