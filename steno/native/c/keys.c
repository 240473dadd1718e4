/*
 * keys.c -- the frame walk of docs/index-keys.md (see keys.h).
 *
 * The walk is written as one loop over "what comes next" with an explicit
 * offset into the frame, never a pointer past its end: every header is
 * reached through need(), which says whether n more bytes were captured.  The
 * limits on tags, labels, pseudowire frames and extension headers make the
 * work per frame bounded whatever the bytes say (at most a few hundred byte
 * reads), so a hostile frame costs no more than a plain one.
 *
 * Keys are collected unsorted as found and put in canonical order (sorted,
 * distinct) at the end; the arrays are tiny, so insertion sort is the fast
 * choice.
 */
#include "keys.h"

#include <linux/if_packet.h>
#include <string.h>

enum {
    ETH_LEN = 14,
    TAG_LEN = 4,
    LABEL_LEN = 4,
    PW_CONTROL_WORD_LEN = 4,
    IPV4_MIN_LEN = 20,
    IPV6_LEN = 40,
    FRAG6_LEN = 8,
    PORTS_LEN = 4,
};

enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_IPV6 = 0x86dd,
    ETHERTYPE_MPLS_UC = 0x8847,
    ETHERTYPE_MPLS_MC = 0x8848,
};

enum {
    IPPROTO_HOPOPTS_ = 0,
    IPPROTO_TCP_ = 6,
    IPPROTO_UDP_ = 17,
    IPPROTO_DCCP_ = 33,
    IPPROTO_ROUTING_ = 43,
    IPPROTO_FRAGMENT_ = 44,
    IPPROTO_AH_ = 51,
    IPPROTO_DSTOPTS_ = 60,
    IPPROTO_SCTP_ = 132,
    IPPROTO_MH_ = 135,
    IPPROTO_UDPLITE_ = 136,
};

struct walk {
    const uint8_t *p;
    uint32_t len;
    struct steno_frame_keys *k;
};

static inline int need(const struct walk *w, uint32_t off, uint32_t n)
{
    return off <= w->len && n <= w->len - off;
}

static inline uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int is_tag(uint16_t ethertype)
{
    switch (ethertype) {
    case 0x8100:
    case 0x88a8:
    case 0x9100:
    case 0x9200:
    case 0x9300:
        return 1;
    default:
        return 0;
    }
}

static int has_ports(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP_:
    case IPPROTO_UDP_:
    case IPPROTO_DCCP_:
    case IPPROTO_SCTP_:
    case IPPROTO_UDPLITE_:
        return 1;
    default:
        return 0;
    }
}

static void set_proto(struct walk *w, uint8_t proto)
{
    w->k->n_proto = 1;
    w->k->proto = proto;
}

/* Ports of a first (or only) fragment whose transport header is at off. */
static void ports(struct walk *w, uint8_t proto, uint32_t off)
{
    if (!has_ports(proto) || !need(w, off, PORTS_LEN))
        return;
    w->k->ports[0] = be16(w->p + off);
    w->k->ports[1] = be16(w->p + off + 2);
    w->k->n_ports = 2;
}

static void ipv4(struct walk *w, uint32_t off)
{
    if (!need(w, off, IPV4_MIN_LEN))
        return;
    const uint8_t *h = w->p + off;
    if (h[0] >> 4 != 4)
        return;
    w->k->ipv4[0] = be32(h + 12);
    w->k->ipv4[1] = be32(h + 16);
    w->k->n_ipv4 = 2;
    uint32_t ihl = (uint32_t)(h[0] & 0x0f) * 4;
    if (ihl < IPV4_MIN_LEN)
        return;
    set_proto(w, h[9]);
    if ((be16(h + 6) & 0x1fff) != 0)
        return; /* a later fragment: its first bytes are payload, not ports */
    ports(w, h[9], off + ihl);
}

static int is_ipv6_ext(uint8_t nh)
{
    switch (nh) {
    case IPPROTO_HOPOPTS_:
    case IPPROTO_ROUTING_:
    case IPPROTO_FRAGMENT_:
    case IPPROTO_AH_:
    case IPPROTO_DSTOPTS_:
    case IPPROTO_MH_:
        return 1;
    default:
        return 0;
    }
}

static void ipv6(struct walk *w, uint32_t off)
{
    if (!need(w, off, IPV6_LEN))
        return;
    const uint8_t *h = w->p + off;
    if (h[0] >> 4 != 6)
        return;
    memcpy(w->k->ipv6[0], h + 8, 16);
    memcpy(w->k->ipv6[1], h + 24, 16);
    w->k->n_ipv6 = 2;

    uint8_t nh = h[6];
    /* 64 bits: extension lengths add up to at most 16 * 2048 past a 32-bit off. */
    uint64_t at = (uint64_t)off + IPV6_LEN;
    for (int i = 0; is_ipv6_ext(nh); i++) {
        /* Cut short (by the limit or the captured length): proto is the last
         * next-header value read, which is nh. */
        if (i == STENO_KEYS_MAX_IPV6_EXT || at > w->len) {
            set_proto(w, nh);
            return;
        }
        uint32_t o = (uint32_t)at;
        if (nh == IPPROTO_FRAGMENT_) {
            if (!need(w, o, FRAG6_LEN)) {
                set_proto(w, nh);
                return;
            }
            uint8_t next = w->p[o];
            if ((be16(w->p + o + 2) >> 3) != 0) {
                set_proto(w, next); /* a later fragment: no ports */
                return;
            }
            nh = next;
            at += FRAG6_LEN;
            continue;
        }
        if (!need(w, o, 2)) {
            set_proto(w, nh);
            return;
        }
        uint8_t next = w->p[o];
        uint32_t hdrlen = nh == IPPROTO_AH_ ? ((uint32_t)w->p[o + 1] + 2) * 4
                                            : ((uint32_t)w->p[o + 1] + 1) * 8;
        nh = next;
        at += hdrlen;
    }
    set_proto(w, nh);
    if (at <= w->len)
        ports(w, nh, (uint32_t)at);
}

static void add_vlan(struct walk *w, uint16_t tci)
{
    w->k->vlans[w->k->n_vlans++] = tci & 0x0fff;
}

/*
 * Steps 2 and 3 of the walk, then IP.  One loop iteration per header; the
 * counters bound it (tags + labels + inner frames <= 36 iterations).
 */
static void walk_frame(struct walk *w)
{
    uint32_t off = 0;
    unsigned tags = 0, labels = 0, inner = 0;

ethernet:
    if (!need(w, off, ETH_LEN))
        return;
    uint16_t ethertype = be16(w->p + off + 12);
    off += ETH_LEN;
    for (;;) {
        if (is_tag(ethertype)) {
            if (tags == STENO_KEYS_MAX_TAGS || !need(w, off, TAG_LEN))
                return;
            tags++;
            add_vlan(w, be16(w->p + off));
            ethertype = be16(w->p + off + 2);
            off += TAG_LEN;
            continue;
        }
        if (ethertype == ETHERTYPE_MPLS_UC || ethertype == ETHERTYPE_MPLS_MC) {
            uint32_t entry;
            do {
                if (labels == STENO_KEYS_MAX_LABELS || !need(w, off, LABEL_LEN))
                    return;
                labels++;
                entry = be32(w->p + off);
                w->k->mpls[w->k->n_mpls++] = entry >> 12;
                off += LABEL_LEN;
            } while (!(entry & 0x100));
            if (!need(w, off, 1))
                return;
            switch (w->p[off] >> 4) {
            case 4:
                ipv4(w, off);
                return;
            case 6:
                ipv6(w, off);
                return;
            case 0:
                /* Pseudowire control word, then an Ethernet frame of its own. */
                if (inner == STENO_KEYS_MAX_INNER_ETH)
                    return;
                inner++;
                off += PW_CONTROL_WORD_LEN;
                goto ethernet;
            default:
                return;
            }
        }
        if (ethertype == ETHERTYPE_IPV4)
            ipv4(w, off);
        else if (ethertype == ETHERTYPE_IPV6)
            ipv6(w, off);
        return;
    }
}

static void sort_u16(uint16_t *v, uint8_t *n)
{
    for (unsigned i = 1; i < *n; i++) {
        uint16_t x = v[i];
        unsigned j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    unsigned out = 0;
    for (unsigned i = 0; i < *n; i++)
        if (out == 0 || v[out - 1] != v[i])
            v[out++] = v[i];
    *n = (uint8_t)out;
}

static void sort_u32(uint32_t *v, uint8_t *n)
{
    for (unsigned i = 1; i < *n; i++) {
        uint32_t x = v[i];
        unsigned j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    unsigned out = 0;
    for (unsigned i = 0; i < *n; i++)
        if (out == 0 || v[out - 1] != v[i])
            v[out++] = v[i];
    *n = (uint8_t)out;
}

static void canonicalize(struct steno_frame_keys *k)
{
    sort_u16(k->ports, &k->n_ports);
    sort_u16(k->vlans, &k->n_vlans);
    sort_u32(k->ipv4, &k->n_ipv4);
    sort_u32(k->mpls, &k->n_mpls);
    if (k->n_ipv6 == 2) {
        int c = memcmp(k->ipv6[0], k->ipv6[1], 16);
        if (c == 0) {
            k->n_ipv6 = 1;
        } else if (c > 0) {
            uint8_t t[16];
            memcpy(t, k->ipv6[0], 16);
            memcpy(k->ipv6[0], k->ipv6[1], 16);
            memcpy(k->ipv6[1], t, 16);
        }
    }
}

void steno_frame_keys(const uint8_t *frame, uint32_t caplen, uint32_t tp_status,
                      uint32_t vlan_tci, struct steno_frame_keys *out)
{
    /* Only the counts: the arrays are defined up to them. */
    out->n_proto = out->n_ports = out->n_vlans = out->n_ipv4 = out->n_mpls = out->n_ipv6 = 0;
    out->proto = 0;
    struct walk w = {.p = frame, .len = caplen, .k = out};
    if (tp_status & TP_STATUS_VLAN_VALID)
        add_vlan(&w, (uint16_t)vlan_tci);
    walk_frame(&w);
    canonicalize(out);
}
