/*
 * extract.c -- pcap records out of checked TPACKET_V3 blocks (see extract.h).
 *
 * pcap fields are written little-endian whatever the host, with explicit
 * byte stores; the block's own fields come through block.h's iterator.
 */
#include "extract.h"

#include "block.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <stdlib.h>
#include <string.h>

#define PCAP_MAGIC_MICRO 0xa1b2c3d4u
#define PCAP_MAGIC_NANO 0xa1b23c4du
#define TPID_8021Q 0x8100u
#define MAC_ADDRS_LEN 12u

static inline void le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void steno_pcap_file_header(uint8_t out[24], uint32_t flags, uint32_t snaplen, uint32_t linktype)
{
    le32(out, (flags & STENO_PCAP_NANO) ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO);
    le16(out + 4, 2);
    le16(out + 6, 4);
    le32(out + 8, 0);   /* thiszone */
    le32(out + 12, 0);  /* sigfigs */
    le32(out + 16, snaplen);
    le32(out + 20, linktype);
}

int steno_extract_block_info(const uint8_t *block, uint32_t block_size,
                             struct steno_extract_block_info *info)
{
    struct steno_block_info bi;
    int rc = steno_block_check(block, block_size, &bi);
    if (rc)
        return rc;
    info->num_pkts = bi.num_pkts;
    info->blk_len = bi.blk_len;
    info->seq_num = bi.seq_num;
    info->first_ns = bi.first_ns;
    info->last_ns = bi.last_ns;
    return 0;
}

/* Writes one record at out + *len; returns -ENOSPC if it does not fit. */
static int put_record(const struct steno_packet_view *pkt, uint32_t flags, uint32_t snaplen,
                      uint8_t *out, size_t out_cap, size_t *len, int *restored)
{
    int tag = (pkt->status & TP_STATUS_VLAN_VALID) && pkt->caplen >= MAC_ADDRS_LEN;
    uint64_t caplen = (uint64_t)pkt->caplen + (tag ? 4u : 0u);
    uint64_t wirelen = (uint64_t)pkt->wirelen + (tag ? 4u : 0u);
    uint32_t incl = caplen > snaplen ? snaplen : (uint32_t)caplen;
    if (wirelen > UINT32_MAX)
        wirelen = UINT32_MAX;
    if (out_cap - *len < STENO_PCAP_RECORD_HEADER_LEN + (size_t)incl)
        return -ENOSPC;
    uint8_t *p = out + *len;
    le32(p, pkt->sec);
    le32(p + 4, (flags & STENO_PCAP_NANO) ? pkt->nsec : pkt->nsec / 1000u);
    le32(p + 8, incl);
    le32(p + 12, (uint32_t)wirelen);
    p += STENO_PCAP_RECORD_HEADER_LEN;
    if (tag) {
        uint16_t tpid = (pkt->status & TP_STATUS_VLAN_TPID_VALID) ? pkt->vlan_tpid : TPID_8021Q;
        uint8_t hdr[4] = { (uint8_t)(tpid >> 8), (uint8_t)tpid,
                           (uint8_t)(pkt->vlan_tci >> 8), (uint8_t)pkt->vlan_tci };
        /* MAC addresses, tag, rest of the frame -- each cut at incl. */
        uint32_t left = incl;
        uint32_t n = left < MAC_ADDRS_LEN ? left : MAC_ADDRS_LEN;
        memcpy(p, pkt->frame, n);
        p += n;
        left -= n;
        n = left < 4 ? left : 4;
        memcpy(p, hdr, n);
        p += n;
        left -= n;
        memcpy(p, pkt->frame + MAC_ADDRS_LEN, left);
        *restored = 1;
    } else {
        memcpy(p, pkt->frame, incl);
        *restored = 0;
    }
    *len += STENO_PCAP_RECORD_HEADER_LEN + incl;
    return 0;
}

int steno_extract_block(const uint8_t *block, uint32_t block_size, uint64_t block_pos,
                        const uint64_t *positions, size_t n_positions,
                        uint32_t flags, uint32_t snaplen,
                        uint8_t *out, size_t out_cap, struct steno_extract_result *res)
{
    memset(res, 0, sizeof *res);
    int rc = steno_block_check(block, block_size, NULL);
    if (rc)
        return rc;
    uint64_t block_end = block_pos + block_size;
    size_t want = 0;  /* positions inside this block */
    if (positions) {
        while (want < n_positions && positions[want] < block_end) {
            if (positions[want] < block_pos || (want && positions[want] <= positions[want - 1]))
                return -ERANGE;
            want++;
        }
    }
    struct steno_block_iter it;
    struct steno_packet_view pkt;
    size_t next = 0;  /* next wanted position */
    steno_block_iter_init(&it, block);
    while ((!positions || next < want) && steno_block_iter_next(&it, &pkt)) {
        if (positions) {
            uint64_t here = block_pos + pkt.offset;
            if (here < positions[next])
                continue;
            if (here > positions[next]) {
                res->consumed = next;
                return -ENOENT;  /* the position fell between two packets */
            }
            next++;
        }
        int restored = 0;
        rc = put_record(&pkt, flags, snaplen, out, out_cap, &res->out_len, &restored);
        if (rc) {
            res->consumed = next;
            return rc;
        }
        res->packets++;
        res->vlan_restored += (uint32_t)restored;
    }
    res->consumed = want;
    if (positions && next < want)
        return -ENOENT;  /* positions past the last packet of the block */
    return 0;
}

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

/*
 * The header fields of a block needed to trust a packet inside it: version,
 * ownership, where packets start and how much of the block they use.  Returns
 * blk_len, or 0 if the block header is not a TPACKET_V3 header.
 */
static uint32_t block_extent(const uint8_t *block, uint32_t block_size, uint32_t *first)
{
    uint32_t version = rd32(block);
    uint32_t status = rd32(block + 8);
    uint32_t first_off = rd32(block + 16);
    uint32_t blk_len = rd32(block + 20);
    if (version != STENO_TPACKET_V3 || !(status & TP_STATUS_USER))
        return 0;
    if (first_off < STENO_BLOCK_DESC_LEN || blk_len > block_size || first_off > blk_len)
        return 0;
    *first = first_off;
    return blk_len;
}

/* Writes pkt's record if its time lies in [time_lo, time_hi): 1 if written,
 * 0 if out of the window, -ENOSPC if out has no room for it. */
static int put_in_window(const struct steno_packet_view *pkt, uint64_t time_lo, uint64_t time_hi,
                         uint32_t flags, uint32_t snaplen, uint8_t *out, size_t out_cap,
                         size_t *len, int *restored)
{
    uint64_t t = (uint64_t)pkt->sec * 1000000000u + pkt->nsec;
    if (t < time_lo || t >= time_hi)
        return 0;
    return put_record(pkt, flags, snaplen, out, out_cap, len, restored) < 0 ? -ENOSPC : 1;
}

/* Reads the packet whose header is at `off` of a block, checking that header
 * and bytes lie inside the block's used part.  0 or -EBADMSG. */
static int point_packet(const uint8_t *block, uint32_t first, uint32_t blk_len, uint32_t off,
                        struct steno_packet_view *pkt)
{
    if (off < first || (off & 7) || (uint64_t)off + STENO_PKT_HDR_LEN > blk_len)
        return -EBADMSG;
    const uint8_t *h = block + off;
    uint32_t mac = rd16(h + 24);
    uint32_t caplen = rd32(h + 12);
    if (mac < STENO_PKT_HDR_LEN || (uint64_t)off + mac + caplen > blk_len)
        return -EBADMSG;
    pkt->offset = off;
    pkt->sec = rd32(h + 4);
    pkt->nsec = rd32(h + 8);
    pkt->caplen = caplen;
    pkt->wirelen = rd32(h + 16);
    pkt->status = rd32(h + 20);
    pkt->vlan_tci = (uint16_t)rd32(h + 32);
    pkt->vlan_tpid = rd16(h + 36);
    pkt->frame = h + mac;
    return 0;
}

int steno_extract_span(const uint8_t *span, uint64_t span_off, uint64_t span_len,
                       uint32_t block_size, const uint32_t *positions, size_t n_positions,
                       uint64_t time_lo, uint64_t time_hi, uint32_t flags, uint32_t snaplen,
                       uint8_t *out, size_t out_cap, struct steno_points_result *res)
{
    memset(res, 0, sizeof *res);
    if (span_off % block_size)
        return -EINVAL;
    uint64_t cur_block = UINT64_MAX;
    uint32_t first = 0, blk_len = 0;
    const uint8_t *block = NULL;
    for (size_t i = 0; i < n_positions; i++) {
        uint64_t pos = positions[i];
        if (i && pos <= positions[i - 1]) {
            res->consumed = i;
            return -ERANGE;
        }
        uint64_t k = pos / block_size;
        if (k != cur_block) {
            uint64_t at = k * block_size;
            if (at < span_off) {
                res->consumed = i;
                return -EINVAL;
            }
            if (at - span_off + block_size > span_len) {
                res->consumed = i;
                res->past_span = 1;
                return 0;
            }
            block = span + (at - span_off);
            blk_len = block_extent(block, block_size, &first);
            if (!blk_len) {
                res->consumed = i;
                return -EBADMSG;
            }
            cur_block = k;
        }
        struct steno_packet_view pkt;
        if (point_packet(block, first, blk_len, (uint32_t)(pos - k * block_size), &pkt) < 0) {
            res->consumed = i;
            return -EBADMSG;
        }
        int restored = 0;
        int kept = put_in_window(&pkt, time_lo, time_hi, flags, snaplen, out, out_cap,
                                 &res->out_len, &restored);
        if (kept < 0) {
            res->consumed = i;
            return 0; /* out is full: resume here */
        }
        res->packets += (uint32_t)kept;
        res->out_of_time += (uint32_t)!kept;
        res->vlan_restored += (uint32_t)restored;
    }
    res->consumed = n_positions;
    return 0;
}

int steno_extract_points(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                         const uint32_t *positions, size_t n_positions,
                         uint64_t time_lo, uint64_t time_hi, uint32_t flags, uint32_t snaplen,
                         uint8_t *out, size_t out_cap, struct steno_points_result *res)
{
    int rc = steno_extract_span(file, 0, file_size, block_size, positions, n_positions, time_lo,
                                time_hi, flags, snaplen, out, out_cap, res);
    if (rc == 0 && res->past_span) /* the block lies past the end of the file */
        return -EBADMSG;
    return rc;
}

int steno_extract_scan(const uint8_t *span, uint64_t span_off, uint64_t span_len,
                       uint32_t block_size, uint64_t from, uint64_t to, uint64_t time_lo,
                       uint64_t time_hi, uint32_t flags, uint32_t snaplen, uint8_t *out,
                       size_t out_cap, struct steno_scan_result *res)
{
    memset(res, 0, sizeof *res);
    res->next = from;
    if (block_size == 0 || span_off % block_size || to % block_size || from < span_off)
        return -EINVAL;
    while (res->next < to) {
        uint64_t at = res->next / block_size * block_size;
        if (at - span_off + block_size > span_len) {
            res->past_span = 1;
            return 0;
        }
        const uint8_t *block = span + (at - span_off);
        struct steno_block_info info;
        int bad = steno_block_check(block, block_size, &info);
        if (bad)
            return bad == -EINVAL ? -ENODATA : -EBADMSG;
        uint64_t skip = res->next - at; /* packets before it were written already */
        struct steno_block_iter it;
        struct steno_packet_view pkt;
        steno_block_iter_init(&it, block);
        while (steno_block_iter_next(&it, &pkt)) {
            if (pkt.offset < skip)
                continue;
            int restored = 0;
            int kept = put_in_window(&pkt, time_lo, time_hi, flags, snaplen, out, out_cap,
                                     &res->out_len, &restored);
            if (kept < 0) {
                res->next = at + pkt.offset;
                return 0; /* out is full: resume at this packet */
            }
            res->packets += (uint32_t)kept;
            res->out_of_time += (uint32_t)!kept;
            res->vlan_restored += (uint32_t)restored;
        }
        res->next = at + block_size;
    }
    return 0;
}

int steno_positions_in_time(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                            const uint32_t *positions, size_t n_positions, uint64_t time_lo,
                            uint64_t time_hi, uint32_t *kept, size_t *n_kept)
{
    *n_kept = 0;
    uint64_t cur_block = UINT64_MAX;
    uint32_t first = 0, blk_len = 0;
    const uint8_t *block = NULL;
    for (size_t i = 0; i < n_positions; i++) {
        uint64_t pos = positions[i];
        if (i && pos <= positions[i - 1])
            return -ERANGE;
        uint64_t k = pos / block_size;
        if (k != cur_block) {
            if ((k + 1) * (uint64_t)block_size > file_size)
                return -EBADMSG;
            block = file + k * block_size;
            blk_len = block_extent(block, block_size, &first);
            if (!blk_len)
                return -EBADMSG;
            cur_block = k;
        }
        struct steno_packet_view pkt;
        if (point_packet(block, first, blk_len, (uint32_t)(pos - k * block_size), &pkt) < 0)
            return -EBADMSG;
        uint64_t t = (uint64_t)pkt.sec * 1000000000u + pkt.nsec;
        if (t >= time_lo && t < time_hi)
            kept[(*n_kept)++] = positions[i];
    }
    return 0;
}

int steno_packet_positions(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                           uint32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0, len = 0;
    uint32_t *v = NULL;
    for (uint64_t off = 0; off + block_size <= file_size && off <= UINT32_MAX; off += block_size) {
        const uint8_t *block = file + off;
        struct steno_block_info info;
        if (steno_block_check(block, block_size, &info) < 0)
            break;
        if (len + info.num_pkts > cap) {
            size_t want = cap ? cap * 2 : 4096;
            while (want < len + info.num_pkts)
                want *= 2;
            uint32_t *grown = realloc(v, want * sizeof *v);
            if (!grown) {
                free(v);
                return -ENOMEM;
            }
            v = grown;
            cap = want;
        }
        struct steno_block_iter it;
        struct steno_packet_view pkt;
        steno_block_iter_init(&it, block);
        while (steno_block_iter_next(&it, &pkt))
            v[len++] = (uint32_t)(off + pkt.offset);
    }
    if (len == 0) {
        free(v);
        return 0;
    }
    *out = v;
    *n = len;
    return 0;
}

void steno_blocks_in_time(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                          uint64_t time_lo, uint64_t time_hi, uint64_t slack_ns,
                          uint64_t *first, uint64_t *end)
{
    uint64_t lo = time_lo > slack_ns ? time_lo - slack_ns : 0;
    uint64_t hi = time_hi < UINT64_MAX - slack_ns ? time_hi + slack_ns : UINT64_MAX;
    uint64_t n = file_size / block_size, k;
    *first = *end = 0;
    for (k = 0; k < n; k++) {
        const uint8_t *block = file + k * (uint64_t)block_size;
        int unknown = rd32(block) != STENO_TPACKET_V3;
        if (!unknown && rd32(block + 12) == 0)
            continue; /* no packets */
        uint64_t opened = (uint64_t)rd32(block + 32) * 1000000000u + rd32(block + 36);
        uint64_t last = (uint64_t)rd32(block + 40) * 1000000000u + rd32(block + 44);
        if (unknown || (last >= lo && opened < hi)) {
            if (*first == *end)
                *first = k;
            *end = k + 1;
        }
    }
}
