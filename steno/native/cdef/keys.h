/* cffi declarations for ../c/keys.h (the frame walk of docs/index-keys.md). */
#define STENO_KEY_PROTO ...
#define STENO_KEY_PORT ...
#define STENO_KEY_VLAN ...
#define STENO_KEY_IPV4 ...
#define STENO_KEY_MPLS ...
#define STENO_KEY_IPV6 ...
#define STENO_KEYS_MAX_VLANS ...
#define STENO_KEYS_MAX_LABELS ...

struct steno_frame_keys {
    uint8_t n_proto;
    uint8_t proto;
    uint8_t n_ports;
    uint8_t n_vlans;
    uint8_t n_ipv4;
    uint8_t n_mpls;
    uint8_t n_ipv6;
    uint16_t ports[2];
    uint16_t vlans[...];
    uint32_t ipv4[2];
    uint32_t mpls[...];
    uint8_t ipv6[2][16];
    ...;
};

void steno_frame_keys(const uint8_t *frame, uint32_t caplen, uint32_t tp_status,
                      uint32_t vlan_tci, struct steno_frame_keys *out);
