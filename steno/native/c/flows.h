/*
 * flows.h -- flows as the index sees them: a flow is a canonical key set, and
 * the flow table gives each distinct key set seen in a packet file a dense id
 * (0, 1, 2, ... in order of first sight).
 *
 * A key set is turned into a "flow key", a byte string that is equal for two
 * frames exactly when their key sets are equal: per key type 1..6 a count
 * byte, then the values in network byte order at the type's fixed width (the
 * same bytes the index file stores as keys).  Since steno_frame_keys() sorts
 * each type's values, both directions of a conversation give one flow key.
 *
 * The table is open addressing with linear probing over 16-byte slots holding
 * the hash, the id and where the flow key lives; a slot matches only if the
 * stored key bytes are equal, so a hash collision costs a probe, never a
 * merged flow.  Flow keys live in an arena of fixed-size chunks and the id ->
 * key map is chunked too: growing them never copies old data.  The slot array
 * itself doubles (a rehash moves 16 bytes a flow, no key is touched).
 *
 * Used by one thread at a time (the builder's).
 */
#ifndef STENO_FLOWS_H
#define STENO_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/* Longest flow key: 6 counts + proto + 2 ports + 17 VLANs + 2 IPv4 + 16 MPLS + 2 IPv6. */
#define STENO_FLOWKEY_MAX (6 + 1 + 2 * 2 + STENO_KEYS_MAX_VLANS * 2 + 2 * 4 + \
                           STENO_KEYS_MAX_LABELS * 4 + 2 * 16)
/* Room for a flow key rounded up to whole 8-byte words (the hash reads words). */
#define STENO_FLOWKEY_BUF ((STENO_FLOWKEY_MAX + 7) / 8 * 8)

/* Bytes of one value of key type t (1..6), 0 for other types. */
unsigned steno_key_width(unsigned type);

/*
 * Writes the flow key of k into buf (STENO_FLOWKEY_BUF bytes; the bytes after
 * the key up to the next multiple of 8 are zeroed) and returns its length.
 */
uint32_t steno_flowkey_encode(const struct steno_frame_keys *k, uint8_t *buf);

/* The values of type t in a flow key: *n values of steno_key_width(t) bytes at *vals. */
void steno_flowkey_values(const uint8_t *key, unsigned type, const uint8_t **vals, unsigned *n);

/* Hash of a flow key in a buffer zero-padded to a multiple of 8 bytes. */
uint32_t steno_flowkey_hash(const uint8_t *buf, uint32_t len);

struct steno_flow_slot {
    uint32_t hash;
    uint32_t flow;   /* STENO_FLOW_NONE when the slot is empty */
    uint64_t ref;    /* arena reference | length << 56 */
};

#define STENO_FLOW_NONE UINT32_MAX

struct steno_flows {
    struct steno_flow_slot *slots;
    uint32_t mask;           /* slot count - 1 */
    uint32_t count;          /* flows, i.e. the next id */
    uint8_t **arena;         /* chunks of STENO_ARENA_CHUNK bytes */
    uint32_t arena_chunks, arena_cap, arena_used; /* used: bytes of the last chunk */
    uint64_t **refs;         /* id -> ref, in chunks of STENO_REF_CHUNK */
    uint32_t ref_chunks, ref_cap;
};

int steno_flows_init(struct steno_flows *t);
void steno_flows_free(struct steno_flows *t);

/*
 * The id of the flow whose key is key[0..len) (buf zero-padded as for the
 * hash), adding it if new.  Returns 0, -ENOMEM (nothing added), or -EOVERFLOW
 * when the table is full (2^31 flows).
 */
int steno_flows_find_or_add(struct steno_flows *t, const uint8_t *key, uint32_t len,
                            uint32_t hash, uint32_t *flow);

/* The flow key of flow id (< count); *len gets its length. */
const uint8_t *steno_flows_key(const struct steno_flows *t, uint32_t id, uint32_t *len);

/* Heap bytes held. */
uint64_t steno_flows_memory(const struct steno_flows *t);

#endif
