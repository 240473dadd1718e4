/*
 * capture.h -- one capture thread's native loop: ring → index → disk.
 *
 * A capture owns one ring, one AIO writer and (while a file is open) one
 * packet file and its index builder.  steno_capture_run() is the hot loop: it
 * takes each block the kernel retires, adds its packets to the index, submits
 * the whole block as one write and gives the block back to the kernel when
 * that write completes.  It returns to Python only on events that need a
 * decision -- a deadline (so Python can rotate by time, log stats, notice
 * cancellation), a full file, an index over budget, a failed write, the packet
 * count reached, or a stop request -- never per block or per packet.
 *
 * Policy stays in Python: when to rotate, how files are named, what to do on
 * a write error.  steno_capture_finish_file() detaches the finished file (fd,
 * size of the good prefix, index builder) and hands its ownership to the
 * caller, who seals it off the capture path.
 *
 * Threading: one thread at a time may call these, except
 * steno_capture_request_stop(), which any thread may call at any time.
 * Errors: functions return 0 or -errno; results go to out-parameters.
 */
#ifndef STENO_CAPTURE_H
#define STENO_CAPTURE_H

#include <stdint.h>

#include "index_build.h"
#include "ring.h"

typedef struct steno_capture steno_capture;

struct steno_capture_config {
    struct steno_ring_config ring;
    uint32_t aio_depth;            /* writes in flight at most */
    uint32_t max_blocks_per_file;  /* FILE_FULL when reached */
    uint32_t index;                /* nonzero: build an index per file */
    uint64_t index_budget_bytes;   /* INDEX_FULL when the builder holds more; 0: none */
    int64_t count;                 /* COUNT_REACHED after this many packets; <0: never */
};

enum steno_run_status {
    STENO_RUN_DEADLINE = 0,       /* the deadline passed */
    STENO_RUN_FILE_FULL = 1,      /* max_blocks_per_file blocks are in the file */
    STENO_RUN_INDEX_FULL = 2,     /* the index builder is over its budget */
    STENO_RUN_WRITE_ERROR = 3,    /* a write failed; finish the file */
    STENO_RUN_COUNT_REACHED = 4,  /* `count` packets were captured */
    STENO_RUN_STOPPED = 5,        /* steno_capture_request_stop() was called */
    STENO_RUN_DRAINED = 6,        /* (drain mode) nothing more is pending */
};

/* Flags for steno_capture_run(). */
#define STENO_RUN_DRAIN 1u  /* finish what the kernel holds, then return DRAINED */

struct steno_capture_stats {
    uint64_t packets;          /* packets in blocks taken from the ring */
    uint64_t blocks;
    uint64_t bytes_written;    /* completed, successful writes */
    uint64_t polls;            /* waits for a block that was not ready */
    uint64_t kernel_packets;   /* PACKET_STATISTICS, accumulated */
    uint64_t kernel_drops;
    uint64_t kernel_freezes;
    uint64_t lost_packets;     /* taken from the ring but not stored (write error, no file) */
    uint64_t lost_blocks;
    uint64_t write_errors;
    uint64_t unindexed_blocks; /* the indexer rejected the block (never for kernel blocks) */
    uint64_t writes;
    uint64_t write_ns_total;
    uint64_t write_ns_max;
    uint64_t write_latency_log2_us[24]; /* bucket i: latency < 2^i µs (last: the rest) */
    uint32_t inflight_max;
    uint32_t direct_io;        /* the current file is written with O_DIRECT */
};

struct steno_finished_file {
    int fd;                      /* the caller truncates, syncs and closes it */
    uint64_t size;               /* bytes of good data at the start of the file */
    uint64_t packets;            /* packets stored in those bytes */
    uint64_t blocks;
    uint64_t lost_packets;       /* taken for this file but not stored */
    int write_error;             /* 0, or -errno of the first failed write */
    steno_index_builder *index;  /* NULL without indexing; the caller frees it */
};

int steno_capture_open(const struct steno_capture_config *cfg, steno_capture **out,
                       const char **failed_step);
/* Waits for writes in flight, closes the ring; a file still open is closed
 * unsealed (its fd and index are freed). */
void steno_capture_close(steno_capture *c);

/*
 * Creates a new packet file at path (which must not exist) and starts a new
 * index.  Tries O_DIRECT first; *direct_io says whether it was possible.  If
 * preallocate_bytes > 0 the file is extended to that size with fallocate();
 * failure there is only reported in *preallocate_error (0 or -errno).
 * Returns 0, -EBUSY if a file is already open, or -errno from open().
 */
int steno_capture_start_file(steno_capture *c, const char *path, uint64_t preallocate_bytes,
                             int *direct_io, int *preallocate_error);

/* Runs the loop until an event (enum steno_run_status in *status) or until
 * CLOCK_MONOTONIC reaches deadline_ns.  0, or -errno on a ring failure. */
int steno_capture_run(steno_capture *c, int64_t deadline_ns, uint32_t flags, int *status);

/* Waits for the current file's writes, then detaches it into *out.
 * -ENOENT when no file is open. */
int steno_capture_finish_file(steno_capture *c, struct steno_finished_file *out);

/* Makes a running (or the next) steno_capture_run() return STOPPED soon. */
void steno_capture_request_stop(steno_capture *c);

int steno_capture_stats(steno_capture *c, struct steno_capture_stats *out);

#endif
