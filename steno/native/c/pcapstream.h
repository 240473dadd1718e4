/*
 * pcapstream.h -- operations on streams of pcap records: merging the
 * per-thread streams of a query into one in time order, and cutting a stream
 * at the query's limits.
 *
 * A stream is records back to back as extract.h writes them: a 16-byte
 * little-endian header (seconds, fraction, incl_len, orig_len) and incl_len
 * bytes.  The fraction is micro- or nanoseconds; within one query every
 * stream uses the same, so records compare as (seconds, fraction).
 *
 * Why in C: a broad query returns millions of packets; choosing the oldest
 * head among the threads' streams, or counting packets against a limit, is
 * per-packet work, which stays out of Python.
 */
#ifndef STENO_PCAPSTREAM_H
#define STENO_PCAPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct steno_pcap_input {
    const uint8_t *data;
    size_t len;
    size_t off;       /* advanced past the records taken */
    uint32_t done;    /* nonzero: no more data will come after len */
};

enum steno_merge_status {
    STENO_MERGE_OUT_FULL = 0,   /* out cannot take the next record */
    STENO_MERGE_NEED_INPUT = 1, /* input *which is used up but not done: refill it */
    STENO_MERGE_END = 2,        /* every input is used up and done */
};

/*
 * Moves records from the inputs to out (cap bytes), oldest first (ties go to
 * the lower input index), until out is full, an input that is not done runs
 * dry (its next record could be older than everything else), or all inputs
 * are finished.  Records must lie wholly inside their input.
 * Returns 0 with *status, *out_len bytes and *packets records written, and
 * *which set for NEED_INPUT; -EBADMSG if an input holds a truncated record.
 */
int steno_pcap_merge(struct steno_pcap_input *in, size_t n_in, uint8_t *out, size_t cap,
                     size_t *out_len, uint32_t *packets, int *status, size_t *which);

/*
 * How much of a record stream fits the limits, with upstream Stenographer's
 * semantics: after each record, one packet and 16 + incl_len bytes are
 * charged; the record that brings a budget to zero or below is the last one
 * kept.  Budgets are decremented in place (INT64_MAX for no limit, which
 * leaves room to count any stream); *stop is
 * set when one ran out.  Returns the number of bytes to keep, or -EBADMSG
 * (as a negative value) for a truncated record.
 */
int64_t steno_pcap_limit(const uint8_t *data, size_t len, int64_t *packets_left,
                         int64_t *bytes_left, int *stop);

/*
 * Rewrites a record stream with nanosecond fractions as pcapng Enhanced
 * Packet Blocks for interface 0 (whose if_tsresol the caller declared as 9:
 * nanoseconds).  out needs room for 2 * len + 4 * (number of records) bytes
 * at most (a block is 32 bytes plus the data padded to 4; a record is 16 plus
 * the data).  Returns the bytes written, or -EBADMSG / -ENOSPC as a negative
 * value.
 */
int64_t steno_pcapng_blocks(const uint8_t *records, size_t len, uint8_t *out, size_t cap);

#endif
