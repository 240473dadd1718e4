/*
 * pcapstream.c -- merging and limiting pcap record streams (see pcapstream.h).
 */
#include "pcapstream.h"

#include <errno.h>
#include <string.h>

#define RECORD_HEADER 16u

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Length of the record at in->off, or 0 if it is truncated. */
static size_t record_len(const struct steno_pcap_input *in)
{
    if (in->len - in->off < RECORD_HEADER)
        return 0;
    size_t total = RECORD_HEADER + (size_t)le32(in->data + in->off + 8);
    return total <= in->len - in->off ? total : 0;
}

static inline uint64_t record_time(const uint8_t *rec)
{
    /* Seconds above, fraction below: orders micro- and nanosecond records alike. */
    return (uint64_t)le32(rec) << 32 | le32(rec + 4);
}

int steno_pcap_merge(struct steno_pcap_input *in, size_t n_in, uint8_t *out, size_t cap,
                     size_t *out_len, uint32_t *packets, int *status, size_t *which)
{
    *out_len = 0;
    *packets = 0;
    *which = 0;
    for (;;) {
        size_t best = n_in;
        uint64_t best_t = 0;
        for (size_t i = 0; i < n_in; i++) {
            if (in[i].off >= in[i].len) {
                if (!in[i].done) {
                    *status = STENO_MERGE_NEED_INPUT;
                    *which = i;
                    return 0;
                }
                continue;
            }
            uint64_t t = record_time(in[i].data + in[i].off);
            if (best == n_in || t < best_t) {
                best = i;
                best_t = t;
            }
        }
        if (best == n_in) {
            *status = STENO_MERGE_END;
            return 0;
        }
        size_t len = record_len(&in[best]);
        if (!len)
            return -EBADMSG;
        if (cap - *out_len < len) {
            *status = STENO_MERGE_OUT_FULL;
            return 0;
        }
        memcpy(out + *out_len, in[best].data + in[best].off, len);
        *out_len += len;
        in[best].off += len;
        (*packets)++;
    }
}

int64_t steno_pcap_limit(const uint8_t *data, size_t len, int64_t *packets_left,
                         int64_t *bytes_left, int *stop)
{
    *stop = 0;
    size_t off = 0;
    while (off < len) {
        if (*packets_left <= 0 || *bytes_left <= 0) {
            *stop = 1;
            break;
        }
        if (len - off < RECORD_HEADER)
            return -EBADMSG;
        uint32_t incl = le32(data + off + 8);
        if (len - off - RECORD_HEADER < incl)
            return -EBADMSG;
        off += RECORD_HEADER + incl;
        /* "No limit" is INT64_MAX: decrementing it is harmless and lets the
         * caller count what went out. */
        (*packets_left)--;
        *bytes_left -= (int64_t)RECORD_HEADER + incl;
        if (*packets_left <= 0 || *bytes_left <= 0)
            *stop = 1;
        if (*stop)
            break;
    }
    return (int64_t)off;
}

static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int64_t steno_pcapng_blocks(const uint8_t *records, size_t len, uint8_t *out, size_t cap)
{
    size_t in = 0, o = 0;
    while (in < len) {
        if (len - in < RECORD_HEADER)
            return -EBADMSG;
        uint32_t sec = le32(records + in);
        uint32_t nsec = le32(records + in + 4);
        uint32_t incl = le32(records + in + 8);
        uint32_t orig = le32(records + in + 12);
        if (len - in - RECORD_HEADER < incl)
            return -EBADMSG;
        size_t padded = ((size_t)incl + 3) & ~(size_t)3;
        size_t total = 32 + padded;
        if (cap - o < total)
            return -ENOSPC;
        uint64_t ts = (uint64_t)sec * 1000000000u + nsec;
        uint8_t *b = out + o;
        put32(b, 6);                        /* Enhanced Packet Block */
        put32(b + 4, (uint32_t)total);
        put32(b + 8, 0);                    /* interface 0 */
        put32(b + 12, (uint32_t)(ts >> 32));
        put32(b + 16, (uint32_t)ts);
        put32(b + 20, incl);
        put32(b + 24, orig);
        memcpy(b + 28, records + in + RECORD_HEADER, incl);
        memset(b + 28 + incl, 0, padded - incl);
        put32(b + 28 + padded, (uint32_t)total);
        o += total;
        in += RECORD_HEADER + incl;
    }
    return (int64_t)o;
}
