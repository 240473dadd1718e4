/*
 * index_lookup.c -- opening an index file and looking keys up (see
 * index_lookup.h; the format is docs/index-format.md).
 *
 * Open does all the checks that are O(sections + blocks + anchors): after it,
 * every offset the look-ups start from (section, key array, anchor) is known
 * to be inside the buffer.  What it does not do is decode lists; the list
 * decoders (postings.c) check their own bounds against the end of their
 * collection, and look-ups check that decoded flow ids are in range.  So a
 * malformed list costs its look-up an -EBADMSG and nothing else.
 */
#include "index_lookup.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytebuf.h"
#include "crc32c.h"
#include "flows.h"
#include "index_format.h"
#include "postings.h"
#include "radix.h"

struct collection {
    uint32_t count;
    unsigned chained;     /* STENO_IDX_COLL_CHAINED */
    unsigned shift;
    unsigned log2;        /* an anchor every 2^log2 lists */
    uint32_t nanchors;
    const uint8_t *anchors;
    const uint8_t *blob;
    uint32_t blob_len;
};

struct key_table {
    uint32_t type, width, count;
    const uint8_t *keys;
    struct collection lists;
};

struct steno_index_reader {
    struct steno_index_info info;
    const uint8_t *blocks;
    struct collection flows;
    struct key_table *tables;
    unsigned ntables;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Parses a list collection occupying exactly p[0..len); what names it in errors. */
static int parse_collection(const uint8_t *p, uint64_t len, struct collection *c,
                            const char *what, char *err, size_t errlen)
{
    if (len < STENO_IDX_COLLECTION_HEAD_LEN)
        return fail(err, errlen, -EBADMSG, "%s: list collection header cut short", what);
    c->count = steno_get_le32(p);
    c->shift = p[4];
    c->log2 = p[5];
    c->nanchors = steno_get_le32(p + 8);
    c->blob_len = steno_get_le32(p + 12);
    unsigned flags = steno_get_le16(p + 6);
    if (c->shift > 31 || c->log2 > 16 || (flags & ~STENO_IDX_COLL_CHAINED))
        return fail(err, errlen, -EBADMSG, "%s: list collection header is malformed", what);
    c->chained = flags & STENO_IDX_COLL_CHAINED;
    uint64_t want = ((uint64_t)c->count + (1u << c->log2) - 1) >> c->log2;
    if (c->nanchors != want)
        return fail(err, errlen, -EBADMSG, "%s: %u anchors for %u lists", what, c->nanchors,
                    c->count);
    if (STENO_IDX_COLLECTION_HEAD_LEN + 4 * (uint64_t)c->nanchors + c->blob_len != len)
        return fail(err, errlen, -EBADMSG, "%s: list collection does not fill its space", what);
    c->anchors = p + STENO_IDX_COLLECTION_HEAD_LEN;
    c->blob = c->anchors + 4 * (size_t)c->nanchors;
    uint32_t prev = 0;
    for (uint32_t i = 0; i < c->nanchors; i++) {
        uint32_t a = steno_get_le32(c->anchors + 4 * (size_t)i);
        if ((i == 0 && a != 0) || a < prev || a >= c->blob_len)
            return fail(err, errlen, -EBADMSG, "%s: anchor %u points outside its lists", what, i);
        prev = a;
    }
    return 0;
}

static int parse_blocks(steno_index_reader *r, const uint8_t *p, uint64_t len, char *err,
                        size_t errlen)
{
    const struct steno_index_info *in = &r->info;
    if (len != (uint64_t)in->blocks * STENO_IDX_BLOCK_ENTRY_LEN)
        return fail(err, errlen, -EBADMSG,
                    "block table is %llu bytes, the header's %u blocks need %llu",
                    (unsigned long long)len, in->blocks,
                    (unsigned long long)in->blocks * STENO_IDX_BLOCK_ENTRY_LEN);
    uint64_t packets = 0;
    for (uint32_t i = 0; i < in->blocks; i++) {
        const uint8_t *e = p + (size_t)i * STENO_IDX_BLOCK_ENTRY_LEN;
        uint32_t index = steno_get_le32(e);
        if (i > 0 && index <= steno_get_le32(e - STENO_IDX_BLOCK_ENTRY_LEN))
            return fail(err, errlen, -EBADMSG, "block table entry %u is out of order", i);
        if (((uint64_t)index + 1) * in->block_size > in->packet_file_size)
            return fail(err, errlen, -EBADMSG,
                        "block table entry %u lies beyond the packet file's end", i);
        if (steno_get_le64(e + 8) > steno_get_le64(e + 16))
            return fail(err, errlen, -EBADMSG, "block table entry %u ends before it starts", i);
        packets += steno_get_le32(e + 4);
    }
    if (packets != in->packets)
        return fail(err, errlen, -EBADMSG,
                    "block table counts %llu packets, the header says %llu",
                    (unsigned long long)packets, (unsigned long long)in->packets);
    r->blocks = p;
    return 0;
}

static int parse_key_table(steno_index_reader *r, const uint8_t *p, uint64_t len, char *err,
                           size_t errlen)
{
    if (len < STENO_IDX_KEY_TABLE_HEAD_LEN)
        return fail(err, errlen, -EBADMSG, "key table section too short");
    struct key_table t = {
        .type = steno_get_le32(p),
        .width = steno_get_le32(p + 4),
        .count = steno_get_le32(p + 8),
    };
    unsigned known = steno_key_width(t.type);
    if (t.width == 0 || t.width > 64 || (known && t.width != known))
        return fail(err, errlen, -EBADMSG, "key table of type %u has keys of %u bytes", t.type,
                    t.width);
    for (unsigned i = 0; i < r->ntables; i++)
        if (r->tables[i].type == t.type)
            return fail(err, errlen, -EBADMSG, "two key tables of type %u", t.type);
    uint64_t keys_len = ((uint64_t)t.count * t.width + 7) / 8 * 8;
    if (keys_len > len - STENO_IDX_KEY_TABLE_HEAD_LEN)
        return fail(err, errlen, -EBADMSG, "key table of type %u: %u keys do not fit", t.type,
                    t.count);
    t.keys = p + STENO_IDX_KEY_TABLE_HEAD_LEN;
    uint64_t rest = len - STENO_IDX_KEY_TABLE_HEAD_LEN - keys_len;
    char what[40];
    snprintf(what, sizeof what, "key table of type %u", t.type);
    int rc = parse_collection(t.keys + keys_len, rest, &t.lists, what, err, errlen);
    if (rc)
        return rc;
    if (t.lists.count != t.count || t.lists.shift != 0)
        return fail(err, errlen, -EBADMSG, "key table of type %u: lists do not match its keys",
                    t.type);
    r->tables[r->ntables++] = t;
    return 0;
}

static int parse_header(steno_index_reader *r, const uint8_t *buf, size_t len, char *err,
                        size_t errlen, uint32_t *header_len)
{
    struct steno_index_info *in = &r->info;
    *header_len = steno_get_le32(buf + STENO_IDX_H_HEADER_LEN);
    if (*header_len < STENO_IDX_HEADER_LEN || *header_len % 8 ||
        *header_len > len - STENO_IDX_TRAILER_LEN)
        return fail(err, errlen, -EBADMSG, "header length %u is impossible", *header_len);
    uint32_t crc = steno_get_le32(buf + *header_len - 4);
    if (crc != steno_crc32c(0, buf, *header_len - 4))
        return fail(err, errlen, -EBADMSG, "header checksum mismatch: the header is corrupted");
    in->major = steno_get_le16(buf + STENO_IDX_H_MAJOR);
    in->minor = steno_get_le16(buf + STENO_IDX_H_MINOR);
    in->block_size = steno_get_le32(buf + STENO_IDX_H_BLOCK_SIZE);
    in->blocks = steno_get_le32(buf + STENO_IDX_H_BLOCK_COUNT);
    in->packet_file_size = steno_get_le64(buf + STENO_IDX_H_FILE_SIZE);
    in->packets = steno_get_le64(buf + STENO_IDX_H_PACKETS);
    in->first_ns = steno_get_le64(buf + STENO_IDX_H_FIRST_NS);
    in->last_ns = steno_get_le64(buf + STENO_IDX_H_LAST_NS);
    in->flows = steno_get_le32(buf + STENO_IDX_H_FLOWS);
    if (in->block_size < 48)
        return fail(err, errlen, -EBADMSG, "block size %u is impossible", in->block_size);
    if (in->first_ns > in->last_ns)
        return fail(err, errlen, -EBADMSG, "header time range ends before it starts");
    return 0;
}

static int open_checked(steno_index_reader *r, const uint8_t *buf, size_t len, uint32_t flags,
                        char *err, size_t errlen)
{
    if (len < 8 || memcmp(buf, STENO_IDX_MAGIC, 8) != 0)
        return fail(err, errlen, -EBADMSG, "not a steno index file (no STENOIDX magic)");
    if (len < 12)
        return fail(err, errlen, -EBADMSG, "file too short (%zu bytes): torn", len);
    unsigned major = steno_get_le16(buf + 8), minor = steno_get_le16(buf + 10);
    if (major != STENO_IDX_MAJOR)
        return fail(err, errlen, -EPROTONOSUPPORT,
                    "index format version %u.%u is not readable by this reader (it reads %u.x)",
                    major, minor, STENO_IDX_MAJOR);
    if (len < STENO_IDX_HEADER_LEN + STENO_IDX_TRAILER_LEN)
        return fail(err, errlen, -EBADMSG, "file too short (%zu bytes): torn", len);
    const uint8_t *tr = buf + len - STENO_IDX_TRAILER_LEN;
    if (memcmp(tr + 24, STENO_IDX_END_MAGIC, 8) != 0)
        return fail(err, errlen, -EBADMSG,
                    "no trailer at the end: the file is torn (cut short while written)");
    uint64_t file_len = steno_get_le64(tr + 16);
    if (file_len != len)
        return fail(err, errlen, -EBADMSG,
                    "the trailer says the file has %llu bytes but it has %zu: torn or spliced",
                    (unsigned long long)file_len, len);
    uint64_t dir = steno_get_le64(tr);
    uint32_t nsec = steno_get_le32(tr + 8);
    uint64_t dir_end = len - STENO_IDX_TRAILER_LEN;
    if (dir % 8 || dir > dir_end || (dir_end - dir) != (uint64_t)nsec * STENO_IDX_DIR_ENTRY_LEN)
        return fail(err, errlen, -EBADMSG,
                    "the trailer is corrupted: a directory of %u entries at %llu does not end "
                    "where the trailer starts (%llu)",
                    nsec, (unsigned long long)dir, (unsigned long long)dir_end);
    if ((flags & STENO_INDEX_VERIFY_CRC) &&
        steno_get_le32(tr + 12) != steno_crc32c(0, buf, len - STENO_IDX_TRAILER_LEN))
        return fail(err, errlen, -EBADMSG, "file checksum mismatch: the file is corrupted");

    uint32_t header_len;
    int rc = parse_header(r, buf, len, err, errlen, &header_len);
    if (rc)
        return rc;

    if (dir < header_len)
        return fail(err, errlen, -EBADMSG, "the section directory overlaps the header");
    r->tables = calloc(nsec ? nsec : 1, sizeof *r->tables);
    if (!r->tables)
        return fail(err, errlen, -ENOMEM, "out of memory");

    int have_blocks = 0, have_flows = 0;
    uint64_t prev_end = header_len;
    for (uint32_t i = 0; i < nsec; i++) {
        const uint8_t *e = buf + dir + (size_t)i * STENO_IDX_DIR_ENTRY_LEN;
        unsigned type = steno_get_le16(e), sflags = steno_get_le16(e + 2);
        uint64_t off = steno_get_le64(e + 8), slen = steno_get_le64(e + 16);
        if (off % 8 || off < prev_end || off > dir || slen > dir - off)
            return fail(err, errlen, -EBADMSG, "section %u lies outside its place", i);
        prev_end = off + slen;
        const uint8_t *p = buf + off;
        switch (type) {
        case STENO_IDX_SEC_BLOCKS:
            if (have_blocks++)
                return fail(err, errlen, -EBADMSG, "two block tables");
            rc = parse_blocks(r, p, slen, err, errlen);
            break;
        case STENO_IDX_SEC_FLOWS:
            if (have_flows++)
                return fail(err, errlen, -EBADMSG, "two flow sections");
            rc = parse_collection(p, slen, &r->flows, "flows", err, errlen);
            if (!rc && r->flows.count != r->info.flows)
                rc = fail(err, errlen, -EBADMSG, "flows section has %u flows, the header says %u",
                          r->flows.count, r->info.flows);
            break;
        case STENO_IDX_SEC_KEYS:
            rc = parse_key_table(r, p, slen, err, errlen);
            break;
        default:
            if (sflags & STENO_IDX_SEC_REQUIRED)
                return fail(err, errlen, -EPROTONOSUPPORT,
                            "section type %u is required but unknown to this reader", type);
            break; /* a later minor version's section: skip it */
        }
        if (rc)
            return rc;
    }
    if (!have_blocks || !have_flows)
        return fail(err, errlen, -EBADMSG, "no %s section", have_blocks ? "flow" : "block");
    return 0;
}

int steno_index_reader_open(const uint8_t *buf, size_t len, uint32_t flags,
                            steno_index_reader **out, char *err, size_t errlen)
{
    steno_index_reader *r = calloc(1, sizeof *r);
    if (!r)
        return fail(err, errlen, -ENOMEM, "out of memory");
    int rc = open_checked(r, buf, len, flags, err, errlen);
    if (rc) {
        steno_index_reader_free(r);
        return rc;
    }
    if (err && errlen)
        err[0] = 0;
    *out = r;
    return 0;
}

void steno_index_reader_free(steno_index_reader *r)
{
    if (!r)
        return;
    free(r->tables);
    free(r);
}

void steno_index_reader_info(const steno_index_reader *r, struct steno_index_info *out)
{
    *out = r->info;
}

int steno_index_reader_block(const steno_index_reader *r, uint32_t i, struct steno_index_block *out)
{
    if (i >= r->info.blocks)
        return -ERANGE;
    const uint8_t *e = r->blocks + (size_t)i * STENO_IDX_BLOCK_ENTRY_LEN;
    out->index = steno_get_le32(e);
    out->packets = steno_get_le32(e + 4);
    out->first_ns = steno_get_le64(e + 8);
    out->last_ns = steno_get_le64(e + 16);
    return 0;
}

void steno_index_blocks_in_time(const steno_index_reader *r, uint64_t time_lo, uint64_t time_hi,
                                uint32_t *out, size_t *n)
{
    *n = 0;
    for (uint32_t i = 0; i < r->info.blocks; i++) {
        const uint8_t *e = r->blocks + (size_t)i * STENO_IDX_BLOCK_ENTRY_LEN;
        if (steno_get_le32(e + 4) == 0)
            continue;
        if (steno_get_le64(e + 16) >= time_lo && steno_get_le64(e + 8) < time_hi)
            out[(*n)++] = steno_get_le32(e);
    }
}

static const struct key_table *find_table(const steno_index_reader *r, uint32_t type)
{
    for (unsigned i = 0; i < r->ntables; i++)
        if (r->tables[i].type == type)
            return &r->tables[i];
    return NULL;
}

void steno_index_key_width(const steno_index_reader *r, uint32_t key_type, uint32_t *width)
{
    const struct key_table *t = find_table(r, key_type);
    *width = t ? t->width : 0;
}

/*
 * Sequential access to the lists of a collection: list j is found from the
 * anchor of its group, or from the cursor when that is earlier in the same
 * group (the usual case when ids come sorted).  In a chained collection the
 * cursor also carries the reference of the list it is at: the previous
 * list's first value, 0 at an anchor.
 */
struct cursor {
    const struct collection *c;
    uint32_t id;          /* the list at p; UINT32_MAX: no position yet */
    const uint8_t *p;
    uint32_t ref;         /* what list id's values are stored against */
};

/* Moves the cursor past its list, of size bytes and first stored value first. */
static int cursor_advance(struct cursor *cur, size_t size, uint32_t first)
{
    if (cur->c->chained) {
        if ((uint64_t)cur->ref + first > UINT32_MAX)
            return -EBADMSG;
        cur->ref += first;
    }
    cur->p += size;
    cur->id++;
    if ((cur->id & ((1u << cur->c->log2) - 1)) == 0)
        cur->ref = 0; /* the next list is at an anchor: absolute */
    return 0;
}

/* Steps over the list at the cursor. */
static int cursor_skip(struct cursor *cur)
{
    const uint8_t *end = cur->c->blob + cur->c->blob_len;
    uint32_t n, first;
    size_t size;
    if (steno_list_peek(cur->p, (size_t)(end - cur->p), &n, &size, &first))
        return -EBADMSG;
    return cursor_advance(cur, size, first);
}

static int cursor_seek(struct cursor *cur, uint32_t j)
{
    const struct collection *c = cur->c;
    uint32_t mask = (1u << c->log2) - 1;
    if (!(cur->id != UINT32_MAX && cur->id <= j && j - cur->id <= (j & mask))) {
        cur->id = j & ~mask;
        cur->p = c->blob + steno_get_le32(c->anchors + 4 * (size_t)(j >> c->log2));
        cur->ref = 0;
    }
    while (cur->id < j)
        if (cursor_skip(cur))
            return -EBADMSG;
    return 0;
}

/* Length of list j (cursor left at j). */
static int cursor_peek(struct cursor *cur, uint32_t j, uint32_t *n)
{
    if (cursor_seek(cur, j))
        return -EBADMSG;
    size_t size;
    return steno_list_peek(cur->p, (size_t)(cur->c->blob + cur->c->blob_len - cur->p), n, &size,
                           NULL);
}

/* Decodes list j into out (room for max_n), reference added; cursor left after it. */
static int cursor_decode(struct cursor *cur, uint32_t j, uint32_t *out, uint32_t max_n,
                         uint32_t *n)
{
    if (cursor_seek(cur, j))
        return -EBADMSG;
    const uint8_t *end = cur->c->blob + cur->c->blob_len;
    uint32_t len, first;
    size_t size;
    if (steno_list_peek(cur->p, (size_t)(end - cur->p), &len, &size, &first) ||
        steno_list_decode(cur->p, size, out, max_n, n))
        return -EBADMSG;
    first = out[0];
    uint32_t ref = cur->ref;
    if (ref) {
        if ((uint64_t)ref + out[*n - 1] > UINT32_MAX)
            return -EBADMSG;
        for (uint32_t i = 0; i < *n; i++)
            out[i] += ref;
    }
    return cursor_advance(cur, size, first);
}

/* Sorts v[0..*n) and drops repeats. */
static int sort_unique(uint32_t *v, size_t *n, uint32_t max)
{
    if (*n < 2)
        return 0;
    uint32_t *tmp = malloc(*n * sizeof *tmp);
    if (!tmp)
        return -ENOMEM;
    steno_radix_sort_u32(v, tmp, *n, max);
    free(tmp);
    size_t out = 1;
    for (size_t i = 1; i < *n; i++)
        if (v[i] != v[out - 1])
            v[out++] = v[i];
    *n = out;
    return 0;
}

int steno_index_lookup_flows(const steno_index_reader *r, uint32_t key_type, const uint8_t *lo,
                             const uint8_t *hi, uint32_t width, uint32_t **flows, size_t *n)
{
    *flows = NULL;
    *n = 0;
    const struct key_table *t = find_table(r, key_type);
    if (!t)
        return 0;
    if (width != t->width)
        return -EINVAL;
    if (memcmp(lo, hi, width) > 0)
        return 0;
    /* [a, b): the keys between lo and hi. */
    uint32_t a = 0, b = t->count;
    while (a < b) {
        uint32_t mid = a + (b - a) / 2;
        if (memcmp(t->keys + (size_t)mid * width, lo, width) < 0)
            a = mid + 1;
        else
            b = mid;
    }
    b = t->count;
    uint32_t l = a;
    while (l < b) {
        uint32_t mid = l + (b - l) / 2;
        if (memcmp(t->keys + (size_t)mid * width, hi, width) <= 0)
            l = mid + 1;
        else
            b = mid;
    }
    b = l;
    if (a == b)
        return 0;

    struct cursor cur = {.c = &t->lists, .id = UINT32_MAX};
    uint64_t total = 0;
    for (uint32_t j = a; j < b; j++) {
        uint32_t len;
        if (cursor_peek(&cur, j, &len))
            return -EBADMSG;
        total += len;
    }
    if (total > SIZE_MAX / sizeof(uint32_t))
        return -ENOMEM;
    uint32_t *out = malloc((size_t)total * sizeof *out);
    if (!out)
        return -ENOMEM;
    size_t got = 0;
    for (uint32_t j = a; j < b; j++) {
        uint32_t len;
        if (cursor_decode(&cur, j, out + got, (uint32_t)(total - got), &len))
            goto bad;
        got += len;
    }
    for (size_t i = 0; i < got; i++)
        if (out[i] >= r->info.flows)
            goto bad;
    int rc = sort_unique(out, &got, r->info.flows ? r->info.flows - 1 : 0);
    if (rc) {
        free(out);
        return rc;
    }
    *flows = out;
    *n = got;
    return 0;
bad:
    free(out);
    return -EBADMSG;
}

int steno_index_flow_positions(const steno_index_reader *r, const uint32_t *flows, size_t nflows,
                               uint32_t **positions, size_t *n)
{
    *positions = NULL;
    *n = 0;
    for (size_t i = 0; i < nflows; i++)
        if (flows[i] >= r->info.flows)
            return -EINVAL;
    if (nflows == 0)
        return 0;
    struct cursor cur = {.c = &r->flows, .id = UINT32_MAX};
    uint64_t total = 0;
    for (size_t i = 0; i < nflows; i++) {
        uint32_t len;
        if (cursor_peek(&cur, flows[i], &len))
            return -EBADMSG;
        total += len;
    }
    if (total > SIZE_MAX / sizeof(uint32_t))
        return -ENOMEM;
    uint32_t *out = malloc((size_t)total * sizeof *out);
    if (!out)
        return -ENOMEM;
    size_t got = 0;
    unsigned shift = r->flows.shift;
    uint32_t max = 0;
    for (size_t i = 0; i < nflows; i++) {
        uint32_t len;
        if (cursor_decode(&cur, flows[i], out + got, (uint32_t)(total - got), &len))
            goto bad;
        for (uint32_t k = 0; k < len; k++) {
            uint32_t v = out[got + k];
            if (v > (UINT32_MAX >> shift))
                goto bad;
            out[got + k] = v << shift;
        }
        if (len && out[got + len - 1] > max)
            max = out[got + len - 1];
        got += len;
    }
    if (nflows > 1) {
        int rc = sort_unique(out, &got, max);
        if (rc) {
            free(out);
            return rc;
        }
    }
    *positions = out;
    *n = got;
    return 0;
bad:
    free(out);
    return -EBADMSG;
}
