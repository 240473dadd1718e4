/*
 * capture.c -- the per-thread capture loop (see capture.h for the contract).
 *
 * Block lifecycle, in ring order:
 *   kernel fills → retired (TP_STATUS_USER) → indexed → write submitted →
 *   write completed → released (TP_STATUS_KERNEL).
 * `cur` is the next ring block we expect the kernel to retire.  Writes may
 * complete out of order; each block goes back to the kernel as soon as its own
 * write is done.  The loop sleeps in one poll() on the ring, the writer's
 * eventfd and a wake-up eventfd used by steno_capture_request_stop().
 *
 * Write errors: the file's "good prefix" ends at the first block whose write
 * failed.  The loop keeps releasing blocks and reports WRITE_ERROR; finishing
 * the file truncates the index to the good prefix, so an index never points
 * past what is on disk.
 */
#include "capture.h"

#include "block.h"
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct steno_capture {
    struct steno_ring ring;
    struct steno_writer writer;
    int wake_fd;
    int stop;                 /* set by request_stop, read with atomics */
    uint32_t cur;             /* next ring block to take */
    uint32_t index_on;
    uint64_t index_budget;
    int64_t count;
    uint32_t max_blocks;

    /* The open packet file, if any. */
    int fd;
    uint32_t blocks_in_file;
    uint32_t *block_pkts;     /* packets per block of the file, max_blocks entries */
    uint64_t first_bad;       /* offset of the first failed write, or UINT64_MAX */
    int write_error;
    steno_index_builder *index;

    struct steno_capture_stats stats;
};

static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A write's cookie remembers which ring block to release and where in the
 * file the block went. */
static inline uint64_t make_cookie(uint32_t ring_block, uint32_t file_block)
{
    return ((uint64_t)file_block << 32) | ring_block;
}

int steno_capture_open(const struct steno_capture_config *cfg, steno_capture **out,
                       const char **failed_step)
{
    *out = NULL;
    if (cfg->aio_depth == 0 || cfg->max_blocks_per_file == 0 ||
        cfg->aio_depth > cfg->ring.block_count) {
        if (failed_step)
            *failed_step = "capture geometry";
        return -EINVAL;
    }
    steno_capture *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->wake_fd = -1;
    c->ring.fd = -1;
    c->writer.eventfd = -1;
    c->first_bad = UINT64_MAX;
    c->index_on = cfg->index;
    c->index_budget = cfg->index_budget_bytes;
    c->count = cfg->count;
    c->max_blocks = cfg->max_blocks_per_file;

    int err;
    c->block_pkts = calloc(cfg->max_blocks_per_file, sizeof *c->block_pkts);
    if (!c->block_pkts) {
        err = -ENOMEM;
        goto fail;
    }
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0) {
        err = -errno;
        if (failed_step)
            *failed_step = "eventfd";
        goto fail;
    }
    err = steno_writer_open(&c->writer, cfg->aio_depth);
    if (err < 0) {
        if (failed_step)
            *failed_step = "io_setup";
        goto fail;
    }
    err = steno_ring_open(&cfg->ring, &c->ring, failed_step);
    if (err < 0)
        goto fail;
    /* The kernel starts filling at block 0. */
    c->cur = 0;
    *out = c;
    return 0;

fail:
    steno_writer_close(&c->writer);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    free(c->block_pkts);
    free(c);
    return err;
}

static void record_latency(struct steno_capture_stats *s, uint64_t ns)
{
    s->writes++;
    s->write_ns_total += ns;
    if (ns > s->write_ns_max)
        s->write_ns_max = ns;
    uint64_t us = ns / 1000;
    unsigned bucket = 0;
    while (bucket < 23 && us >= (1ull << bucket))
        bucket++;
    s->write_latency_log2_us[bucket]++;
}

static void complete(steno_capture *c, const struct steno_write_done *d)
{
    uint32_t ring_block = (uint32_t)d->cookie;
    uint32_t file_block = (uint32_t)(d->cookie >> 32);
    uint32_t bs = c->ring.block_size;

    if (d->result == (int64_t)bs) {
        c->stats.bytes_written += bs;
        record_latency(&c->stats, d->latency_ns);
    } else {
        uint64_t offset = (uint64_t)file_block * bs;
        if (offset < c->first_bad)
            c->first_bad = offset;
        if (!c->write_error)
            c->write_error = d->result < 0 ? (int)d->result : -EIO; /* short write */
        c->stats.write_errors++;
    }
    steno_ring_block_release(&c->ring, ring_block);
}

/* Collects every completion available within timeout_ns (0: none waiting). */
static int reap(steno_capture *c, int64_t timeout_ns)
{
    struct steno_write_done done[64];
    for (;;) {
        int n = steno_writer_reap(&c->writer, done, 64, timeout_ns);
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++)
            complete(c, &done[i]);
        if (n < 64)
            return 0;
        timeout_ns = 0;
    }
}

static void discard(steno_capture *c, uint32_t num_pkts)
{
    c->stats.lost_packets += num_pkts;
    c->stats.lost_blocks++;
    steno_ring_block_release(&c->ring, c->cur);
}

/* Takes block `cur` (already ours): index it, write it, or discard it. */
static int take_block(steno_capture *c)
{
    uint8_t *block = steno_ring_block(&c->ring, c->cur);
    const struct tpacket_block_desc *desc = (const void *)block;
    uint32_t num_pkts = desc->hdr.bh1.num_pkts;
    uint32_t bs = c->ring.block_size;

    c->stats.packets += num_pkts;
    c->stats.blocks++;

    if (c->fd < 0 || c->write_error) {
        /* No file to write to (between files after a disk error), or the
         * file already failed: the block cannot be stored. */
        discard(c, num_pkts);
        return 0;
    }
    uint32_t file_block = c->blocks_in_file;
    uint64_t offset = (uint64_t)file_block * bs;
    if (c->index && steno_index_add_kernel_block(c->index, block, offset) < 0)
        c->stats.unindexed_blocks++;

    int err = steno_writer_submit(&c->writer, c->fd, block, bs, offset,
                                  make_cookie(c->cur, file_block));
    if (err < 0) {
        /* io_submit itself refused: treat like a failed write at this offset. */
        if (offset < c->first_bad)
            c->first_bad = offset;
        if (!c->write_error)
            c->write_error = err;
        c->stats.write_errors++;
        steno_ring_block_release(&c->ring, c->cur);
    } else if (c->writer.inflight > c->stats.inflight_max) {
        c->stats.inflight_max = c->writer.inflight;
    }
    c->block_pkts[file_block] = num_pkts;
    c->blocks_in_file++;
    return 0;
}

/* A hint, read from a block the kernel still owns: does it hold packets
 * that have not been retired yet?  Used only to decide whether a drain must
 * wait for the retire timeout. */
static int kernel_block_has_packets(const steno_capture *c)
{
    const struct tpacket_block_desc *desc = (const void *)steno_ring_block(&c->ring, c->cur);
    return __atomic_load_n(&desc->hdr.bh1.num_pkts, __ATOMIC_RELAXED) != 0;
}

static int wait_events(steno_capture *c, int64_t timeout_ns)
{
    struct pollfd fds[3] = {
        {.fd = c->ring.fd, .events = POLLIN},
        {.fd = c->writer.eventfd, .events = POLLIN},
        {.fd = c->wake_fd, .events = POLLIN},
    };
    struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
    int n = ppoll(fds, 3, &ts, NULL);
    if (n < 0 && errno != EINTR)
        return -errno;
    if (n > 0 && (fds[2].revents & POLLIN)) {
        uint64_t v;
        if (read(c->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
            return -errno;
    }
    if (n > 0 && (fds[0].revents & (POLLERR | POLLNVAL)))
        return -ENETDOWN;
    return 0;
}

int steno_capture_run(steno_capture *c, int64_t deadline_ns, uint32_t flags, int *status)
{
    int drain = (flags & STENO_RUN_DRAIN) != 0;
    for (;;) {
        int err = reap(c, 0);
        if (err < 0)
            return err;
        if (c->write_error) {
            *status = STENO_RUN_WRITE_ERROR;
            return 0;
        }
        if (!drain && __atomic_exchange_n(&c->stop, 0, __ATOMIC_ACQ_REL)) {
            *status = STENO_RUN_STOPPED;
            return 0;
        }
        if (c->fd >= 0 && c->blocks_in_file >= c->max_blocks) {
            *status = STENO_RUN_FILE_FULL;
            return 0;
        }
        if (c->index && c->index_budget) {
            struct steno_index_builder_stats st;
            steno_index_builder_stats(c->index, &st);
            if (st.memory_bytes > c->index_budget) {
                *status = STENO_RUN_INDEX_FULL;
                return 0;
            }
        }
        if (c->count >= 0 && c->stats.packets >= (uint64_t)c->count) {
            *status = STENO_RUN_COUNT_REACHED;
            return 0;
        }
        int64_t now = mono_ns();
        if (now >= deadline_ns) {
            *status = STENO_RUN_DEADLINE;
            return 0;
        }

        if (steno_ring_block_ready(&c->ring, c->cur)) {
            if (c->fd >= 0 && c->writer.inflight >= c->writer.depth) {
                /* Every write slot is busy: wait for the disk, not the ring. */
                err = reap(c, deadline_ns - now);
                if (err < 0)
                    return err;
                continue;
            }
            take_block(c);
            c->cur = (c->cur + 1) % c->ring.block_count;
            continue;
        }
        if (drain && !kernel_block_has_packets(c)) {
            *status = STENO_RUN_DRAINED;
            return 0;
        }
        c->stats.polls++;
        err = wait_events(c, deadline_ns - now);
        if (err < 0)
            return err;
    }
}

int steno_capture_start_file(steno_capture *c, const char *path, uint64_t preallocate_bytes,
                             int *direct_io, int *preallocate_error)
{
    *direct_io = 0;
    *preallocate_error = 0;
    if (c->fd >= 0)
        return -EBUSY;
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
    int fd = open(path, flags | O_DIRECT, 0600);
    if (fd >= 0) {
        *direct_io = 1;
    } else if (errno == EINVAL) {
        /* The file system cannot do O_DIRECT (some FUSE, old tmpfs): write
         * through the page cache and rely on the fsync at sealing. */
        unlink(path);
        fd = open(path, flags, 0600);
    }
    if (fd < 0)
        return -errno;
    if (preallocate_bytes > 0 && fallocate(fd, 0, 0, (off_t)preallocate_bytes) < 0)
        *preallocate_error = -errno;

    steno_index_builder *index = NULL;
    if (c->index_on) {
        int err = steno_index_builder_new(c->ring.block_size, &index);
        if (err < 0) {
            close(fd);
            unlink(path);
            return err;
        }
    }
    c->fd = fd;
    c->index = index;
    c->blocks_in_file = 0;
    c->first_bad = UINT64_MAX;
    c->write_error = 0;
    c->stats.direct_io = (uint32_t)*direct_io;
    return 0;
}

static int drain_writes(steno_capture *c)
{
    while (c->writer.inflight) {
        int err = reap(c, -1);
        if (err < 0)
            return err;
    }
    return 0;
}

int steno_capture_finish_file(steno_capture *c, struct steno_finished_file *out)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    if (c->fd < 0)
        return -ENOENT;
    int err = drain_writes(c);
    if (err < 0)
        return err;

    uint32_t bs = c->ring.block_size;
    uint64_t all = (uint64_t)c->blocks_in_file * bs;
    uint64_t good = c->first_bad < all ? c->first_bad : all;
    uint32_t good_blocks = (uint32_t)(good / bs);
    uint64_t stored = 0, total = 0;
    for (uint32_t i = 0; i < c->blocks_in_file; i++) {
        total += c->block_pkts[i];
        if (i < good_blocks)
            stored += c->block_pkts[i];
    }
    if (c->index && good < all) {
        err = steno_index_truncate(c->index, good);
        if (err < 0)
            return err;
    }
    /* Blocks past the good prefix are lost even if their own writes went
     * fine: the file is cut at the first hole. */
    c->stats.lost_packets += total - stored;
    c->stats.lost_blocks += c->blocks_in_file - good_blocks;
    out->fd = c->fd;
    out->size = good;
    out->packets = stored;
    out->blocks = good_blocks;
    out->lost_packets = total - stored;
    out->write_error = c->write_error;
    out->index = c->index;

    c->fd = -1;
    c->index = NULL;
    c->blocks_in_file = 0;
    c->first_bad = UINT64_MAX;
    c->write_error = 0;
    return 0;
}

void steno_capture_request_stop(steno_capture *c)
{
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    /* The eventfd only wakes a sleeping poll(); the flag is what counts. */
    if (write(c->wake_fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is already non-zero, the wake-up is pending. */
    }
}

int steno_capture_stats(steno_capture *c, struct steno_capture_stats *out)
{
    int err = steno_ring_update_stats(&c->ring);
    c->stats.kernel_packets = c->ring.kernel_packets;
    c->stats.kernel_drops = c->ring.kernel_drops;
    c->stats.kernel_freezes = c->ring.kernel_freezes;
    *out = c->stats;
    return err;
}

void steno_capture_close(steno_capture *c)
{
    if (!c)
        return;
    drain_writes(c);
    steno_writer_close(&c->writer);
    if (c->fd >= 0)
        close(c->fd);
    if (c->index)
        steno_index_builder_free(c->index);
    steno_ring_close(&c->ring);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    free(c->block_pkts);
    free(c);
}
