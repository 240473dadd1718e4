/*
 * flows.c -- flow keys and the flow table (see flows.h for the design).
 */
#include "flows.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STENO_ARENA_CHUNK (256u * 1024u)
#define STENO_REF_CHUNK (1u << 14)
#define INITIAL_SLOTS 1024u

#define REF_OFFSET_BITS 20  /* offset in a chunk: STENO_ARENA_CHUNK <= 2^20 */
#define REF_LEN_SHIFT 56

_Static_assert(STENO_ARENA_CHUNK <= (1u << REF_OFFSET_BITS), "arena chunk fits ref offset");
_Static_assert(STENO_FLOWKEY_MAX < 256, "flow key length fits a byte of the ref");

static const unsigned widths[STENO_KEY_TYPES + 1] = {0, 1, 2, 2, 4, 4, 16};

unsigned steno_key_width(unsigned type)
{
    return type >= 1 && type <= STENO_KEY_TYPES ? widths[type] : 0;
}

static uint8_t *put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

static uint8_t *put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

uint32_t steno_flowkey_encode(const struct steno_frame_keys *k, uint8_t *buf)
{
    uint8_t *p = buf;
    *p++ = k->n_proto;
    if (k->n_proto)
        *p++ = k->proto;
    *p++ = k->n_ports;
    for (unsigned i = 0; i < k->n_ports; i++)
        p = put_be16(p, k->ports[i]);
    *p++ = k->n_vlans;
    for (unsigned i = 0; i < k->n_vlans; i++)
        p = put_be16(p, k->vlans[i]);
    *p++ = k->n_ipv4;
    for (unsigned i = 0; i < k->n_ipv4; i++)
        p = put_be32(p, k->ipv4[i]);
    *p++ = k->n_mpls;
    for (unsigned i = 0; i < k->n_mpls; i++)
        p = put_be32(p, k->mpls[i]);
    *p++ = k->n_ipv6;
    for (unsigned i = 0; i < k->n_ipv6; i++) {
        memcpy(p, k->ipv6[i], 16);
        p += 16;
    }
    uint32_t len = (uint32_t)(p - buf);
    uint32_t padded = (len + 7) & ~7u;
    memset(p, 0, padded - len);
    return len;
}

void steno_flowkey_values(const uint8_t *key, unsigned type, const uint8_t **vals, unsigned *n)
{
    const uint8_t *p = key;
    for (unsigned t = 1; t < type; t++)
        p += 1 + (size_t)p[0] * widths[t];
    *n = p[0];
    *vals = p + 1;
}

/*
 * Word-at-a-time multiply-xorshift; the final avalanche spreads the bits so
 * that masking the low bits for the slot index is fine.  Collisions are
 * harmless for correctness (keys are compared), so this only has to be fast
 * and decent.
 */
uint32_t steno_flowkey_hash(const uint8_t *buf, uint32_t len)
{
    uint64_t h = 0x243f6a8885a308d3ull ^ len;
    for (uint32_t i = 0; i < len; i += 8) {
        uint64_t w;
        memcpy(&w, buf + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

int steno_flows_init(struct steno_flows *t)
{
    memset(t, 0, sizeof *t);
    t->slots = malloc(INITIAL_SLOTS * sizeof *t->slots);
    if (!t->slots)
        return -ENOMEM;
    for (uint32_t i = 0; i < INITIAL_SLOTS; i++)
        t->slots[i].flow = STENO_FLOW_NONE;
    t->mask = INITIAL_SLOTS - 1;
    return 0;
}

void steno_flows_free(struct steno_flows *t)
{
    free(t->slots);
    for (uint32_t i = 0; i < t->arena_chunks; i++)
        free(t->arena[i]);
    free(t->arena);
    for (uint32_t i = 0; i < t->ref_chunks; i++)
        free(t->refs[i]);
    free(t->refs);
    memset(t, 0, sizeof *t);
}

static inline const uint8_t *ref_ptr(const struct steno_flows *t, uint64_t ref)
{
    uint64_t where = ref & ((1ull << REF_LEN_SHIFT) - 1);
    return t->arena[where >> REF_OFFSET_BITS] + (where & ((1u << REF_OFFSET_BITS) - 1));
}

static int grow_slots(struct steno_flows *t)
{
    uint64_t n = ((uint64_t)t->mask + 1) * 2;
    if (n > (1ull << 32))
        return -EOVERFLOW;
    struct steno_flow_slot *s = malloc(n * sizeof *s);
    if (!s)
        return -ENOMEM;
    for (uint64_t i = 0; i < n; i++)
        s[i].flow = STENO_FLOW_NONE;
    uint32_t mask = (uint32_t)(n - 1);
    for (uint64_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].flow == STENO_FLOW_NONE)
            continue;
        uint32_t j = t->slots[i].hash & mask;
        while (s[j].flow != STENO_FLOW_NONE)
            j = (j + 1) & mask;
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->mask = mask;
    return 0;
}

/* Next capacity of a chunk directory that is full, or 0 if it is not full. */
static uint32_t dir_next_cap(uint32_t cap, uint32_t used)
{
    return used < cap ? 0 : cap ? cap * 2 : 16;
}

/* Copies a key into the arena; *ref gets where. */
static int arena_add(struct steno_flows *t, const uint8_t *key, uint32_t len, uint64_t *ref)
{
    if (t->arena_chunks == 0 || t->arena_used + len > STENO_ARENA_CHUNK) {
        uint32_t ncap = dir_next_cap(t->arena_cap, t->arena_chunks);
        if (ncap) {
            uint8_t **dir = realloc(t->arena, ncap * sizeof *dir);
            if (!dir)
                return -ENOMEM;
            t->arena = dir;
            t->arena_cap = ncap;
        }
        uint8_t *chunk = malloc(STENO_ARENA_CHUNK);
        if (!chunk)
            return -ENOMEM;
        t->arena[t->arena_chunks++] = chunk;
        t->arena_used = 0;
    }
    uint64_t where = (uint64_t)(t->arena_chunks - 1) << REF_OFFSET_BITS | t->arena_used;
    memcpy(t->arena[t->arena_chunks - 1] + t->arena_used, key, len);
    t->arena_used += len;
    *ref = where | (uint64_t)len << REF_LEN_SHIFT;
    return 0;
}

static int refs_add(struct steno_flows *t, uint32_t id, uint64_t ref)
{
    if (id % STENO_REF_CHUNK == 0 && id / STENO_REF_CHUNK == t->ref_chunks) {
        uint32_t ncap = dir_next_cap(t->ref_cap, t->ref_chunks);
        if (ncap) {
            uint64_t **dir = realloc(t->refs, ncap * sizeof *dir);
            if (!dir)
                return -ENOMEM;
            t->refs = dir;
            t->ref_cap = ncap;
        }
        uint64_t *chunk = malloc(STENO_REF_CHUNK * sizeof *chunk);
        if (!chunk)
            return -ENOMEM;
        t->refs[t->ref_chunks++] = chunk;
    }
    t->refs[id / STENO_REF_CHUNK][id % STENO_REF_CHUNK] = ref;
    return 0;
}

int steno_flows_find_or_add(struct steno_flows *t, const uint8_t *key, uint32_t len,
                            uint32_t hash, uint32_t *flow)
{
    uint32_t i = hash & t->mask;
    for (;;) {
        struct steno_flow_slot *s = &t->slots[i];
        if (s->flow == STENO_FLOW_NONE)
            break;
        if (s->hash == hash && (uint32_t)(s->ref >> REF_LEN_SHIFT) == len &&
            memcmp(ref_ptr(t, s->ref), key, len) == 0) {
            *flow = s->flow;
            return 0;
        }
        i = (i + 1) & t->mask;
    }
    /* New flow.  Keep the load at or below one half. */
    if (t->count >= (1u << 31))
        return -EOVERFLOW;
    if ((uint64_t)(t->count + 1) * 2 > (uint64_t)t->mask + 1) {
        int rc = grow_slots(t);
        if (rc)
            return rc;
        i = hash & t->mask;
        while (t->slots[i].flow != STENO_FLOW_NONE)
            i = (i + 1) & t->mask;
    }
    uint64_t ref;
    if (arena_add(t, key, len, &ref) || refs_add(t, t->count, ref))
        return -ENOMEM;
    t->slots[i] = (struct steno_flow_slot){.hash = hash, .flow = t->count, .ref = ref};
    *flow = t->count++;
    return 0;
}

const uint8_t *steno_flows_key(const struct steno_flows *t, uint32_t id, uint32_t *len)
{
    uint64_t ref = t->refs[id / STENO_REF_CHUNK][id % STENO_REF_CHUNK];
    *len = (uint32_t)(ref >> REF_LEN_SHIFT);
    return ref_ptr(t, ref);
}

uint64_t steno_flows_memory(const struct steno_flows *t)
{
    return ((uint64_t)t->mask + 1) * sizeof(struct steno_flow_slot) +
           (uint64_t)t->arena_chunks * STENO_ARENA_CHUNK + (uint64_t)t->arena_cap * sizeof(void *) +
           (uint64_t)t->ref_chunks * STENO_REF_CHUNK * sizeof(uint64_t) +
           (uint64_t)t->ref_cap * sizeof(void *);
}
