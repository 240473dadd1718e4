/*
 * fuzz_keys.c -- libFuzzer harness for the frame walk (steno_frame_keys).
 *
 * Input: 1 flag byte (bit 0: the kernel stripped a VLAN tag), 2 bytes of
 * tp_vlan_tci (big-endian), then the frame.  The frame ends exactly where
 * libFuzzer's buffer ends, so AddressSanitizer sees any read past caplen.
 * Beyond "no crash", the output must be in canonical form (keys.h): each
 * array sorted, distinct, within its bounds and its type's value range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

#define CHECK(c) \
    do {         \
        if (!(c)) \
            abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint32_t status = (data[0] & 1) ? 0x10 : 0;
    uint32_t tci = (uint32_t)data[1] << 8 | data[2];
    struct steno_frame_keys k;
    memset(&k, 0xa5, sizeof k); /* garbage: the function must set every count */
    steno_frame_keys(data + 3, (uint32_t)(size - 3), status, tci, &k);

    CHECK(k.n_proto <= 1);
    CHECK(k.n_ports <= 2 && k.n_ipv4 <= 2 && k.n_ipv6 <= 2);
    CHECK(k.n_vlans <= STENO_KEYS_MAX_VLANS && k.n_mpls <= STENO_KEYS_MAX_LABELS);
    CHECK(k.n_ipv4 == 0 || k.n_ipv6 == 0);  /* one IP header at most */
    CHECK(k.n_ports == 0 || k.n_proto == 1);
    for (unsigned i = 0; i < k.n_vlans; i++)
        CHECK(k.vlans[i] <= 0x0fff && (i == 0 || k.vlans[i - 1] < k.vlans[i]));
    for (unsigned i = 0; i < k.n_mpls; i++)
        CHECK(k.mpls[i] <= 0xfffff && (i == 0 || k.mpls[i - 1] < k.mpls[i]));
    for (unsigned i = 1; i < k.n_ports; i++)
        CHECK(k.ports[i - 1] < k.ports[i]);
    for (unsigned i = 1; i < k.n_ipv4; i++)
        CHECK(k.ipv4[i - 1] < k.ipv4[i]);
    if (k.n_ipv6 == 2)
        CHECK(memcmp(k.ipv6[0], k.ipv6[1], 16) < 0);
    if (status)
        CHECK(k.n_vlans >= 1);
    return 0;
}
