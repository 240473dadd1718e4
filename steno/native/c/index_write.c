/*
 * index_write.c -- steno_index_serialize(): the builder's packets and flows
 * turned into an index file (docs/index-format.md).  Runs off the capture
 * path, in the index-flush actor's worker thread, so it may allocate and sort
 * freely; it leaves the builder unchanged.
 *
 * The steps:
 *  1. number the flows that still have packets 0..F-1 in order of their first
 *     packet (so the bytes depend only on the packets, not on hashing or on
 *     truncations), and count their packets;
 *  2. counting-sort the positions by flow: each flow's slice comes out
 *     ascending because packets were added in position order;
 *  3. per key type, sort (key, flow) pairs; each distinct key gets the
 *     ascending list of flows having it;
 *  4. write header, block table, flows, key tables, directory and trailer,
 *     then the checksums.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "crc32c.h"
#include "flows.h"
#include "index_build.h"
#include "index_build_internal.h"
#include "index_format.h"
#include "postings.h"
#include "radix.h"

#define MAX_SECTIONS (2 + STENO_KEY_TYPES)

struct section {
    uint16_t type;
    uint16_t flags;
    uint64_t offset, length;
};

struct writer {
    struct steno_bytebuf out;
    struct section sec[MAX_SECTIONS];
    unsigned nsec;
    const steno_index_builder *b;
    uint32_t *newid;      /* builder flow id -> file flow id, or STENO_FLOW_NONE */
    uint32_t *oldid;      /* file flow id -> builder flow id */
    uint32_t flows;       /* flows in the file */
};

static void section_begin(struct writer *w, uint16_t type)
{
    steno_bytebuf_align8(&w->out);
    w->sec[w->nsec] = (struct section){.type = type, .offset = w->out.len};
}

static void section_end(struct writer *w)
{
    struct section *s = &w->sec[w->nsec++];
    s->length = w->out.len - s->offset;
}

/*
 * A list collection: nlists lists, list j being values[starts[j] ..
 * starts[j + 1]), each non-empty and ascending, already shifted right by
 * shift.  With STENO_IDX_COLL_CHAINED the lists' first values must not
 * decrease from one list to the next.  Layout: docs/index-format.md, "List
 * collections".
 */
static int put_collection(struct writer *w, const uint32_t *values, const uint64_t *starts,
                          uint32_t nlists, unsigned shift, unsigned flags)
{
    struct steno_bytebuf *o = &w->out;
    uint32_t anchors = (uint32_t)(((uint64_t)nlists + (1u << STENO_IDX_ANCHOR_LOG2) - 1) >>
                                  STENO_IDX_ANCHOR_LOG2);
    steno_bytebuf_u32(o, nlists);
    steno_bytebuf_u8(o, (uint8_t)shift);
    steno_bytebuf_u8(o, STENO_IDX_ANCHOR_LOG2);
    steno_bytebuf_u16(o, (uint16_t)flags);
    steno_bytebuf_u32(o, anchors);
    size_t blob_len_at = o->len;
    steno_bytebuf_u32(o, 0);
    size_t anchors_at = o->len;
    for (uint32_t i = 0; i < anchors; i++)
        steno_bytebuf_u32(o, 0);
    size_t blob = o->len;
    for (uint32_t j = 0; j < nlists && !o->err; j++) {
        if ((j & ((1u << STENO_IDX_ANCHOR_LOG2) - 1)) == 0) {
            if (o->len - blob > UINT32_MAX)
                return -EFBIG;
            steno_bytebuf_set_u32(o, anchors_at + 4 * (size_t)(j >> STENO_IDX_ANCHOR_LOG2),
                                  (uint32_t)(o->len - blob));
        }
        uint32_t n = (uint32_t)(starts[j + 1] - starts[j]);
        int at_anchor = (j & ((1u << STENO_IDX_ANCHOR_LOG2) - 1)) == 0;
        uint32_t ref = (flags & STENO_IDX_COLL_CHAINED) && !at_anchor ? values[starts[j - 1]] : 0;
        uint8_t *p = steno_bytebuf_reserve(o, steno_list_max_size(n));
        if (!p)
            break;
        o->len += steno_list_encode(values + starts[j], n, ref, p);
    }
    if (o->err)
        return o->err;
    if (o->len - blob > UINT32_MAX)
        return -EFBIG;
    steno_bytebuf_set_u32(o, blob_len_at, (uint32_t)(o->len - blob));
    return 0;
}

static void put_blocks(struct writer *w)
{
    section_begin(w, STENO_IDX_SEC_BLOCKS);
    for (uint64_t i = 0; i < w->b->nblocks; i++) {
        const struct steno_index_block_entry *e = &w->b->blocks[i];
        steno_bytebuf_u32(&w->out, e->index);
        steno_bytebuf_u32(&w->out, e->packets);
        steno_bytebuf_u64(&w->out, e->first_ns);
        steno_bytebuf_u64(&w->out, e->last_ns);
    }
    section_end(w);
}

/* Steps 1 and 2, then the flows section. */
static int put_flows(struct writer *w)
{
    const steno_index_builder *b = w->b;
    uint32_t all = b->flows.count;
    uint64_t n = b->packets;
    int rc = -ENOMEM;
    uint64_t *starts = NULL;
    uint32_t *grouped = NULL;

    w->newid = malloc(((size_t)all + 1) * sizeof *w->newid);
    w->oldid = malloc(((size_t)all + 1) * sizeof *w->oldid);
    starts = calloc((size_t)all + 2, sizeof *starts);
    grouped = malloc((size_t)(n ? n : 1) * sizeof *grouped);
    if (!w->newid || !w->oldid || !starts || !grouped)
        goto out;
    memset(w->newid, 0xff, ((size_t)all + 1) * sizeof *w->newid);

    uint32_t live = 0;
    uint32_t or_all = 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct steno_index_pkt *p = steno_index_pkt_at(b, i);
        if (w->newid[p->flow] == STENO_FLOW_NONE) {
            w->oldid[live] = p->flow;
            w->newid[p->flow] = live++;
        }
        starts[w->newid[p->flow] + 1]++;
        or_all |= p->pos;
    }
    w->flows = live;
    for (uint32_t f = 0; f < live; f++)
        starts[f + 1] += starts[f];
    /* starts[f] is now where flow f's slice begins; fill with a moving copy. */
    uint64_t *fill = calloc((size_t)live + 1, sizeof *fill);
    if (!fill)
        goto out;
    memcpy(fill, starts, ((size_t)live + 1) * sizeof *fill);
    unsigned shift = or_all ? (unsigned)__builtin_ctz(or_all) : 0;
    for (uint64_t i = 0; i < n; i++) {
        const struct steno_index_pkt *p = steno_index_pkt_at(b, i);
        grouped[fill[w->newid[p->flow]]++] = p->pos >> shift;
    }
    free(fill);

    section_begin(w, STENO_IDX_SEC_FLOWS);
    /* Flows are numbered by first packet: their first positions ascend, so
     * each is stored against the previous one's. */
    rc = put_collection(w, grouped, starts, live, shift, STENO_IDX_COLL_CHAINED);
    section_end(w);
out:
    free(starts);
    free(grouped);
    return rc;
}

struct pair16 {
    uint8_t key[16];
    uint32_t flow;
};

static int cmp_pair16(const void *a, const void *b)
{
    const struct pair16 *x = a, *y = b;
    int c = memcmp(x->key, y->key, 16);
    if (c)
        return c;
    return x->flow < y->flow ? -1 : x->flow > y->flow;
}

/* Writes the key table section of one type from sorted (key, flow) pairs,
 * given as parallel arrays: keys (npairs * width bytes) and flows. */
static int put_key_table(struct writer *w, unsigned type, unsigned width, const uint8_t *keys,
                         const uint32_t *flows, size_t npairs)
{
    uint64_t *starts = malloc((npairs + 1) * sizeof *starts);
    if (!starts)
        return -ENOMEM;
    uint32_t nkeys = 0;
    section_begin(w, STENO_IDX_SEC_KEYS);
    steno_bytebuf_u32(&w->out, type);
    steno_bytebuf_u32(&w->out, width);
    size_t count_at = w->out.len;
    steno_bytebuf_u32(&w->out, 0);
    steno_bytebuf_u32(&w->out, 0);
    for (size_t i = 0; i < npairs; i++) {
        const uint8_t *k = keys + i * width;
        if (i == 0 || memcmp(k, k - width, width) != 0) {
            steno_bytebuf_put(&w->out, k, width);
            starts[nkeys++] = i;
        }
    }
    starts[nkeys] = npairs;
    steno_bytebuf_set_u32(&w->out, count_at, nkeys);
    steno_bytebuf_align8(&w->out);
    int rc = put_collection(w, flows, starts, nkeys, 0, 0);
    section_end(w);
    free(starts);
    return rc;
}

/* Step 3 for one key type: every (value, flow) of the live flows, sorted. */
static int put_keys(struct writer *w, unsigned type)
{
    unsigned width = steno_key_width(type);
    size_t npairs = 0;
    for (uint32_t f = 0; f < w->flows; f++) {
        uint32_t len;
        const uint8_t *key = steno_flows_key(&w->b->flows, w->oldid[f], &len);
        const uint8_t *vals;
        unsigned n;
        steno_flowkey_values(key, type, &vals, &n);
        npairs += n;
    }
    if (npairs == 0)
        return 0;

    int rc = -ENOMEM;
    uint8_t *keys = malloc(npairs * width);
    uint32_t *flows = malloc(npairs * sizeof *flows);
    uint64_t *packed = NULL, *tmp = NULL;
    struct pair16 *p16 = NULL;
    if (!keys || !flows)
        goto out;

    if (width <= 4) {
        /* (value << 32 | flow) sorts by value, then flow. */
        packed = malloc(npairs * sizeof *packed);
        tmp = malloc(npairs * sizeof *tmp);
        if (!packed || !tmp)
            goto out;
        size_t i = 0;
        uint64_t max = 0;
        for (uint32_t f = 0; f < w->flows; f++) {
            uint32_t len;
            const uint8_t *key = steno_flows_key(&w->b->flows, w->oldid[f], &len);
            const uint8_t *vals;
            unsigned n;
            steno_flowkey_values(key, type, &vals, &n);
            for (unsigned j = 0; j < n; j++) {
                uint32_t v = 0;
                for (unsigned k = 0; k < width; k++)
                    v = v << 8 | vals[j * width + k];
                packed[i] = (uint64_t)v << 32 | f;
                if (packed[i] > max)
                    max = packed[i];
                i++;
            }
        }
        steno_radix_sort_u64(packed, tmp, npairs, max);
        for (i = 0; i < npairs; i++) {
            uint32_t v = (uint32_t)(packed[i] >> 32);
            for (unsigned k = 0; k < width; k++)
                keys[i * width + k] = (uint8_t)(v >> (8 * (width - 1 - k)));
            flows[i] = (uint32_t)packed[i];
        }
    } else {
        p16 = malloc(npairs * sizeof *p16);
        if (!p16)
            goto out;
        size_t i = 0;
        for (uint32_t f = 0; f < w->flows; f++) {
            uint32_t len;
            const uint8_t *key = steno_flows_key(&w->b->flows, w->oldid[f], &len);
            const uint8_t *vals;
            unsigned n;
            steno_flowkey_values(key, type, &vals, &n);
            for (unsigned j = 0; j < n; j++, i++) {
                memcpy(p16[i].key, vals + j * 16, 16);
                p16[i].flow = f;
            }
        }
        qsort(p16, npairs, sizeof *p16, cmp_pair16);
        for (i = 0; i < npairs; i++) {
            memcpy(keys + i * 16, p16[i].key, 16);
            flows[i] = p16[i].flow;
        }
    }
    rc = put_key_table(w, type, width, keys, flows, npairs);
out:
    free(keys);
    free(flows);
    free(packed);
    free(tmp);
    free(p16);
    return rc;
}

static void put_header(struct writer *w, uint64_t packet_file_size)
{
    uint8_t *h = w->out.p;
    const steno_index_builder *b = w->b;
    memset(h, 0, STENO_IDX_HEADER_LEN);
    memcpy(h, STENO_IDX_MAGIC, 8);
    h[STENO_IDX_H_MAJOR] = STENO_IDX_MAJOR;
    h[STENO_IDX_H_MINOR] = STENO_IDX_MINOR;
    steno_le32(h + STENO_IDX_H_HEADER_LEN, STENO_IDX_HEADER_LEN);
    steno_le32(h + STENO_IDX_H_BLOCK_SIZE, b->block_size);
    steno_le32(h + STENO_IDX_H_BLOCK_COUNT, (uint32_t)b->nblocks);
    steno_le64(h + STENO_IDX_H_FILE_SIZE, packet_file_size);
    steno_le64(h + STENO_IDX_H_PACKETS, b->packets);
    steno_le64(h + STENO_IDX_H_FIRST_NS, b->first_ns);
    steno_le64(h + STENO_IDX_H_LAST_NS, b->last_ns);
    steno_le32(h + STENO_IDX_H_FLOWS, w->flows);
    steno_le32(h + STENO_IDX_HEADER_LEN - 4, steno_crc32c(0, h, STENO_IDX_HEADER_LEN - 4));
}

/* Step 4's end: directory, trailer, checksums. */
static void put_directory_and_trailer(struct writer *w)
{
    struct steno_bytebuf *o = &w->out;
    steno_bytebuf_align8(o);
    uint64_t dir = o->len;
    for (unsigned i = 0; i < w->nsec && !o->err; i++) {
        const struct section *s = &w->sec[i];
        steno_bytebuf_u16(o, s->type);
        steno_bytebuf_u16(o, s->flags);
        steno_bytebuf_u32(o, o->err ? 0 : steno_crc32c(0, o->p + s->offset, s->length));
        steno_bytebuf_u64(o, s->offset);
        steno_bytebuf_u64(o, s->length);
    }
    if (o->err)
        return;
    uint64_t trailer = o->len;
    uint32_t crc = steno_crc32c(0, o->p, trailer);
    steno_bytebuf_u64(o, dir);
    steno_bytebuf_u32(o, w->nsec);
    steno_bytebuf_u32(o, crc);
    steno_bytebuf_u64(o, trailer + STENO_IDX_TRAILER_LEN);
    steno_bytebuf_put(o, STENO_IDX_END_MAGIC, 8);
}

int steno_index_serialize(steno_index_builder *b, uint64_t packet_file_size, uint8_t **out,
                          size_t *out_len)
{
    if (b->nblocks &&
        ((uint64_t)b->blocks[b->nblocks - 1].index + 1) * b->block_size > packet_file_size)
        return -ERANGE;
    struct writer w = {.b = b};
    /* The header is filled in last, once the flow count is known. */
    steno_bytebuf_reserve(&w.out, STENO_IDX_HEADER_LEN);
    if (!w.out.err)
        w.out.len = STENO_IDX_HEADER_LEN;

    put_blocks(&w);
    int rc = put_flows(&w);
    for (unsigned t = 1; t <= STENO_KEY_TYPES && !rc; t++)
        rc = put_keys(&w, t);
    if (!rc)
        rc = w.out.err;
    if (!rc) {
        put_header(&w, packet_file_size);
        put_directory_and_trailer(&w);
        rc = w.out.err;
    }
    free(w.newid);
    free(w.oldid);
    if (rc) {
        steno_bytebuf_free(&w.out);
        return rc;
    }
    *out = w.out.p;
    *out_len = w.out.len;
    return 0;
}
