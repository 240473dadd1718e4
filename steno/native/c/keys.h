/*
 * keys.h -- what one captured frame is indexed under (docs/index-keys.md).
 *
 * This is the only code that looks inside packets on the capture path, and the
 * packets are hostile: every read is checked against the captured length, the
 * walk is bounded (tags, labels, nested frames, IPv6 extension headers), and no
 * input makes it fail -- a frame that stops making sense simply stops yielding
 * keys.  Nothing here allocates or keeps state.
 *
 * The result is the frame's *key set* in canonical form: per key type the
 * values are sorted ascending and distinct.  Two frames of one conversation in
 * opposite directions therefore give identical structs (the index builder
 * relies on that to put both directions in one flow).
 */
#ifndef STENO_KEYS_H
#define STENO_KEYS_H

#include <stdint.h>

/* Key types; upstream Stenographer's numbering (docs/index-keys.md). */
#define STENO_KEY_PROTO 1
#define STENO_KEY_PORT 2
#define STENO_KEY_VLAN 3
#define STENO_KEY_IPV4 4
#define STENO_KEY_MPLS 5
#define STENO_KEY_IPV6 6
#define STENO_KEY_TYPES 6   /* types 1..STENO_KEY_TYPES are produced today */

/* Walk limits (docs/index-keys.md, "Tags and labels"). */
#define STENO_KEYS_MAX_TAGS 16        /* in-frame 802.1Q/802.1ad tags, whole walk */
#define STENO_KEYS_MAX_LABELS 16      /* MPLS label entries, whole walk */
#define STENO_KEYS_MAX_INNER_ETH 4    /* Ethernet frames behind pseudowires */
#define STENO_KEYS_MAX_IPV6_EXT 16    /* IPv6 extension headers followed */

/* The stripped outer tag plus every in-frame tag. */
#define STENO_KEYS_MAX_VLANS (1 + STENO_KEYS_MAX_TAGS)

/*
 * A frame's keys.  Numeric values are in host order (ports, VLAN ids, MPLS
 * labels, IPv4 addresses as 32-bit numbers: 10.0.0.1 is 0x0a000001); IPv6
 * addresses are the 16 bytes as on the wire.  Each array is sorted ascending
 * (IPv6 bytewise) without duplicates; n_proto is 0 or 1.  Array entries past
 * their count are left as they were (setting 150 bytes per packet is a
 * measurable part of the capture path's cost).
 */
struct steno_frame_keys {
    uint8_t n_proto;
    uint8_t proto;
    uint8_t n_ports;
    uint8_t n_vlans;
    uint8_t n_ipv4;
    uint8_t n_mpls;
    uint8_t n_ipv6;
    uint8_t pad_;
    uint16_t ports[2];
    uint16_t vlans[STENO_KEYS_MAX_VLANS];
    uint32_t ipv4[2];
    uint32_t mpls[STENO_KEYS_MAX_LABELS];
    uint8_t ipv6[2][16];
};

/*
 * Extracts the keys of one frame: caplen captured bytes of an Ethernet frame,
 * with tp_status and tp_vlan_tci from its tpacket3_hdr (the kernel reports a
 * stripped outer VLAN tag there).  Never fails; every count of *out is set.
 */
void steno_frame_keys(const uint8_t *frame, uint32_t caplen, uint32_t tp_status,
                      uint32_t vlan_tci, struct steno_frame_keys *out);

#endif
