/*
 * ring.h -- one AF_PACKET TPACKET_V3 receive ring.
 *
 * Who owns a block when: the kernel fills block i while its block_status is
 * TP_STATUS_KERNEL, then retires it (full, or on the retire timeout) by setting
 * TP_STATUS_USER.  From then on the block is ours: we index it, hand it to the
 * writer and, only once its write has completed, give it back by storing
 * TP_STATUS_KERNEL.  The kernel moves through blocks in ring order and stops
 * ("freezes", dropping packets) when the next block is still ours, so the ring
 * length is the slack that absorbs a slow disk.  The status word is the only
 * thing shared with the kernel; it is read with acquire and written with
 * release ordering so the block's contents are seen whole and handed back whole.
 *
 * Set-up reads as steps (socket, version, filter, ring, mmap, membership, bind,
 * fanout), in the order the kernel needs: the filter goes on before bind so no
 * unfiltered packet is ever seen, fanout after bind.
 */
#ifndef STENO_RING_H
#define STENO_RING_H

#include <stddef.h>
#include <stdint.h>

struct steno_ring_config {
    const char *iface;
    uint32_t block_size;     /* bytes; a multiple of the page size */
    uint32_t block_count;
    uint32_t retire_tov_ms;  /* a partly filled block is retired after this */
    uint32_t fanout;         /* nonzero: join fanout group fanout_id */
    uint32_t fanout_type;    /* PACKET_FANOUT_* mode | PACKET_FANOUT_FLAG_* */
    uint32_t fanout_id;      /* 16 bits */
    uint32_t promisc;        /* nonzero: promiscuous membership for this socket */
    uint32_t lock_memory;    /* nonzero: MAP_LOCKED (needs CAP_IPC_LOCK for big rings) */
    const uint8_t *filter;   /* classic BPF: filter_len instructions of 8 bytes */
    uint32_t filter_len;     /* 0: no filter */
};

struct steno_ring {
    int fd;
    uint8_t *map;
    size_t map_len;
    uint32_t block_size;
    uint32_t block_count;
    int ifindex;
    /* PACKET_STATISTICS resets on every read; these accumulate it. */
    uint64_t kernel_packets;
    uint64_t kernel_drops;
    uint64_t kernel_freezes;
};

/*
 * Opens the ring.  Returns 0, or -errno with *failed_step naming the step that
 * failed (a static string such as "bind"); every resource acquired before the
 * failure is released again.
 */
int steno_ring_open(const struct steno_ring_config *cfg, struct steno_ring *ring,
                    const char **failed_step);
void steno_ring_close(struct steno_ring *ring);

static inline uint8_t *steno_ring_block(const struct steno_ring *ring, uint32_t i)
{
    return ring->map + (size_t)i * ring->block_size;
}

/* Nonzero when block i has been retired by the kernel and is ours. */
int steno_ring_block_ready(const struct steno_ring *ring, uint32_t i);
/* Gives block i back to the kernel; the caller must not touch it afterwards. */
void steno_ring_block_release(const struct steno_ring *ring, uint32_t i);

/* Folds the kernel's PACKET_STATISTICS into the ring's counters. 0 or -errno. */
int steno_ring_update_stats(struct steno_ring *ring);

#endif
