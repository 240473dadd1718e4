/*
 * ring.c -- TPACKET_V3 receive ring set-up, block handoff and statistics.
 * See ring.h for who owns a block when.
 */
#include "ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER 44
#endif

static int fail(const char **failed_step, const char *step)
{
    int err = errno ? errno : EINVAL;
    if (failed_step)
        *failed_step = step;
    return -err;
}

static int set_version(int fd)
{
    int version = TPACKET_V3;
    return setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version);
}

/* The filter goes on before bind, so no unfiltered packet reaches the ring;
 * it is then locked so a compromised process cannot widen it. */
static int attach_filter(int fd, const struct steno_ring_config *cfg)
{
    if (cfg->filter_len == 0)
        return 0;
    struct sock_fprog prog = {
        .len = (unsigned short)cfg->filter_len,
        .filter = (struct sock_filter *)(void *)cfg->filter,
    };
    if (cfg->filter_len > 0xffff) {
        errno = EINVAL;
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof one) < 0 && errno != ENOPROTOOPT)
        return -1;
    return 0;
}

/* One "frame" per block, as upstream: V3 ignores frames, but the kernel still
 * checks that frame_nr * frame_size covers the blocks. */
static int request_ring(int fd, const struct steno_ring_config *cfg)
{
    struct tpacket_req3 req;
    memset(&req, 0, sizeof req);
    req.tp_block_size = cfg->block_size;
    req.tp_block_nr = cfg->block_count;
    req.tp_frame_size = cfg->block_size;
    req.tp_frame_nr = cfg->block_count;
    req.tp_retire_blk_tov = cfg->retire_tov_ms;
    return setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req);
}

/* A socket-scoped promiscuous membership: unlike upstream's SIOCSIFFLAGS it is
 * counted by the kernel and dropped when the socket closes, so the interface
 * does not stay promiscuous after we exit. */
static int join_promisc(int fd, int ifindex)
{
    struct packet_mreq mreq;
    memset(&mreq, 0, sizeof mreq);
    mreq.mr_ifindex = ifindex;
    mreq.mr_type = PACKET_MR_PROMISC;
    return setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq);
}

static int bind_iface(int fd, int ifindex)
{
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    return bind(fd, (struct sockaddr *)&sll, sizeof sll);
}

static int join_fanout(int fd, const struct steno_ring_config *cfg)
{
    int arg = (int)((cfg->fanout_type << 16) | (cfg->fanout_id & 0xffff));
    return setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg);
}

int steno_ring_open(const struct steno_ring_config *cfg, struct steno_ring *ring,
                    const char **failed_step)
{
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
    errno = 0;

    if (cfg->block_size == 0 || cfg->block_count == 0) {
        errno = EINVAL;
        return fail(failed_step, "ring geometry");
    }
    int ifindex = (int)if_nametoindex(cfg->iface);
    if (ifindex == 0)
        return fail(failed_step, "if_nametoindex");

    /* Protocol 0: nothing is queued until bind, which comes last. */
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(failed_step, "socket(AF_PACKET)");

    const char *step = NULL;
    if (set_version(fd) < 0) {
        step = "setsockopt(PACKET_VERSION)";
        goto out_close;
    }
    if (attach_filter(fd, cfg) < 0) {
        step = "setsockopt(SO_ATTACH_FILTER)";
        goto out_close;
    }
    if (request_ring(fd, cfg) < 0) {
        step = "setsockopt(PACKET_RX_RING)";
        goto out_close;
    }
    size_t len = (size_t)cfg->block_size * cfg->block_count;
    int flags = MAP_SHARED | MAP_NORESERVE | (cfg->lock_memory ? MAP_LOCKED : 0);
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (map == MAP_FAILED) {
        step = cfg->lock_memory ? "mmap(MAP_LOCKED)" : "mmap";
        goto out_close;
    }
    if (cfg->promisc && join_promisc(fd, ifindex) < 0) {
        step = "setsockopt(PACKET_ADD_MEMBERSHIP)";
        goto out_unmap;
    }
    if (bind_iface(fd, ifindex) < 0) {
        step = "bind";
        goto out_unmap;
    }
    if (cfg->fanout && join_fanout(fd, cfg) < 0) {
        step = "setsockopt(PACKET_FANOUT)";
        goto out_unmap;
    }

    ring->fd = fd;
    ring->map = map;
    ring->map_len = len;
    ring->block_size = cfg->block_size;
    ring->block_count = cfg->block_count;
    ring->ifindex = ifindex;
    return 0;

out_unmap: {
    int err = errno;
    munmap(map, len);
    errno = err;
}
out_close: {
    int err = errno;
    close(fd);
    errno = err;
    return fail(failed_step, step);
}
}

void steno_ring_close(struct steno_ring *ring)
{
    if (ring->map)
        munmap(ring->map, ring->map_len);
    if (ring->fd >= 0)
        close(ring->fd);
    ring->map = NULL;
    ring->fd = -1;
}

static uint32_t *block_status(const struct steno_ring *ring, uint32_t i)
{
    struct tpacket_block_desc *desc = (struct tpacket_block_desc *)(void *)steno_ring_block(ring, i);
    return &desc->hdr.bh1.block_status;
}

int steno_ring_block_ready(const struct steno_ring *ring, uint32_t i)
{
    return (__atomic_load_n(block_status(ring, i), __ATOMIC_ACQUIRE) & TP_STATUS_USER) != 0;
}

void steno_ring_block_release(const struct steno_ring *ring, uint32_t i)
{
    __atomic_store_n(block_status(ring, i), TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

int steno_ring_update_stats(struct steno_ring *ring)
{
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof st;
    memset(&st, 0, sizeof st);
    if (getsockopt(ring->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
        return -errno;
    /* For TPACKET_V3 the kernel counts dropped packets in tp_packets too. */
    ring->kernel_packets += st.tp_packets;
    ring->kernel_drops += st.tp_drops;
    ring->kernel_freezes += st.tp_freeze_q_cnt;
    return 0;
}
