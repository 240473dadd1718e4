/*
 * fuzz_reader.c -- libFuzzer harness for opening and querying index files
 * that are not to be trusted.
 *
 * The input is a whole index file; the reader opens it without the CRC check
 * (so that mutations reach the structural checks and the list decoders
 * instead of all dying at the checksum) and, if it opens, every kind of
 * look-up runs over it.  Errors are fine; reading outside the buffer,
 * crashing or hanging is not.  Seeds are real files from the builder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index_lookup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    steno_index_reader *r;
    char err[200];
    if (steno_index_reader_open(data, size, 0, &r, err, sizeof err) != 0)
        return 0;
    struct steno_index_info info;
    steno_index_reader_info(r, &info);
    for (uint32_t i = 0; i < info.blocks && i < 4096; i++) {
        struct steno_index_block blk;
        if (steno_index_reader_block(r, i, &blk) != 0)
            abort();
    }
    uint32_t *in_time = malloc(((size_t)info.blocks + 1) * sizeof *in_time);
    if (in_time) {
        size_t nb;
        steno_index_blocks_in_time(r, 0, UINT64_MAX, in_time, &nb);
        for (size_t i = 0; i < nb; i++)
            if (nb > info.blocks || (i && in_time[i - 1] >= in_time[i]))
                abort();
        free(in_time);
    }
    for (uint32_t type = 1; type <= 8; type++) {
        uint32_t w;
        steno_index_key_width(r, type, &w);
        if (!w)
            continue;
        uint8_t lo[64], hi[64];
        memset(lo, 0, sizeof lo);
        memset(hi, 0xff, sizeof hi);
        uint32_t *flows, *pos;
        size_t nf, np;
        if (steno_index_lookup_flows(r, type, lo, hi, w, &flows, &nf) == 0) {
            for (size_t i = 0; i < nf; i++)
                if (flows[i] >= info.flows || (i && flows[i - 1] >= flows[i]))
                    abort();
            if (steno_index_flow_positions(r, flows, nf, &pos, &np) == 0) {
                for (size_t i = 1; i < np; i++)
                    if (pos[i - 1] >= pos[i])
                        abort();
                steno_free(pos);
            }
            steno_free(flows);
        }
        /* A point look-up at a key made of input bytes. */
        if (size >= w) {
            if (steno_index_lookup_flows(r, type, data + size - w, data + size - w, w, &flows,
                                         &nf) == 0)
                steno_free(flows);
        }
    }
    uint32_t n = info.flows < 100000 ? info.flows : 100000;
    uint32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
    if (ids) {
        for (uint32_t i = 0; i < n; i++)
            ids[i] = n - 1 - i; /* descending: exercises the anchor jumps */
        uint32_t *pos;
        size_t np;
        if (steno_index_flow_positions(r, ids, n, &pos, &np) == 0)
            steno_free(pos);
        free(ids);
    }
    steno_index_reader_free(r);
    return 0;
}
