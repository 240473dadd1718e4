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
