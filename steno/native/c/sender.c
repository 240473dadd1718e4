/*
 * sender.c -- sending prepared frames with pacing (see sender.h).
 *
 * Pacing: frame k (0-based) of a send is due at t0 + k / rate.  The loop
 * sends whatever is due, in batches; when nothing is due it sleeps until a
 * quantum's worth (50 us by default) is, then sends that as one batch.  The
 * average rate is exact whatever the sleep's overshoot, because what is due is
 * computed from t0, not from the previous wake-up; bursts last at most a
 * quantum (or a batch).  Time is CLOCK_MONOTONIC throughout.
 */
#include "sender.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NSEC 1000000000ull
#define DEFAULT_BATCH 64u
#define DEFAULT_QUANTUM_NS 50000ull
#define RING_FRAME_SIZE 16384u            /* holds a 9216-byte frame and its header */
#define RING_BLOCK_SIZE (4u * RING_FRAME_SIZE)
#define RING_FRAMES 256u
#define RING_DATA_OFF TPACKET_ALIGN(sizeof(struct tpacket2_hdr))

_Static_assert(STENO_SEND_MAX_FRAME + RING_DATA_OFF <= RING_FRAME_SIZE, "ring frame too small");

struct steno_sender {
    int fd;
    int method;
    uint8_t *ring;        /* STENO_SEND_RING: the mmapped TX ring */
    size_t ring_len;
    uint32_t head;        /* next ring slot to fill */
    struct mmsghdr msgs[STENO_SEND_MAX_BATCH];
    struct iovec iov[STENO_SEND_MAX_BATCH];
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
    struct timespec ts = { .tv_sec = (time_t)(t / NSEC), .tv_nsec = (long)(t % NSEC) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Number of frames due at elapsed time t (frame 0 is due at t = 0). */
static uint64_t due_at(uint64_t t, uint64_t rate)
{
    return (uint64_t)(((unsigned __int128)t * rate) / NSEC) + 1;
}

/* Elapsed time at which frame k is due. */
static uint64_t time_of(uint64_t k, uint64_t rate)
{
    return (uint64_t)(((unsigned __int128)k * NSEC + rate - 1) / rate);
}

static int setup_ring(steno_sender *s)
{
    int version = TPACKET_V2, one = 1;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0)
        return -errno;
    /* A malformed frame is marked TP_STATUS_WRONG_FORMAT and skipped. */
    if (setsockopt(s->fd, SOL_PACKET, PACKET_LOSS, &one, sizeof one) < 0)
        return -errno;
    struct tpacket_req req = {
        .tp_block_size = RING_BLOCK_SIZE,
        .tp_block_nr = RING_FRAMES * RING_FRAME_SIZE / RING_BLOCK_SIZE,
        .tp_frame_size = RING_FRAME_SIZE,
        .tp_frame_nr = RING_FRAMES,
    };
    if (setsockopt(s->fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) < 0)
        return -errno;
    size_t len = (size_t)req.tp_block_size * req.tp_block_nr;
    void *ring = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
    if (ring == MAP_FAILED)
        return -errno;
    s->ring = ring;
    s->ring_len = len;
    return 0;
}

int steno_sender_open(const char *ifname, int method, steno_sender **out)
{
    if (method != STENO_SEND_MMSG && method != STENO_SEND_RING)
        return -EINVAL;
    unsigned ifindex = if_nametoindex(ifname);
    if (ifindex == 0)
        return -ENODEV;
    steno_sender *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->method = method;
    /* Protocol 0: this socket receives nothing. */
    s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    int err = 0;
    if (s->fd < 0) {
        err = -errno;
        free(s);
        return err;
    }
    int one = 1;
    if (setsockopt(s->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)
        err = -errno;
    if (!err && method == STENO_SEND_RING)
        err = setup_ring(s);
    if (!err) {
        struct sockaddr_ll addr = {
            .sll_family = AF_PACKET,
            .sll_protocol = 0,
            .sll_ifindex = (int)ifindex,
        };
        if (bind(s->fd, (struct sockaddr *)&addr, sizeof addr) < 0)
            err = -errno;
    }
    if (err) {
        steno_sender_close(s);
        return err;
    }
    for (unsigned i = 0; i < STENO_SEND_MAX_BATCH; i++) {
        s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
        s->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    *out = s;
    return 0;
}

void steno_sender_close(steno_sender *s)
{
    if (!s)
        return;
    if (s->ring)
        munmap(s->ring, s->ring_len);
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* What to do with an errno from a send: retry the frame, skip it, or give up. */
enum verdict { RETRY, SKIP, FAIL };

static enum verdict classify(int err)
{
    switch (err) {
    case ENOBUFS:
    case EAGAIN:
    case EINTR:
        return RETRY;
    case EMSGSIZE:
    case EINVAL:
        return SKIP;
    default:
        return FAIL;
    }
}

struct cursor {
    const uint8_t *data;
    const uint64_t *offsets;
    uint32_t nframes;
    uint32_t idx;         /* next frame of the buffer */
};

static inline void advance(struct cursor *c, uint32_t n)
{
    c->idx = (uint32_t)(((uint64_t)c->idx + n) % c->nframes);
}

/* Sends up to n frames with one sendmmsg; *done counts frames attempted. */
static int send_mmsg(steno_sender *s, struct cursor *c, uint32_t n,
                     struct steno_send_result *res, uint64_t *done)
{
    uint32_t j = c->idx;
    for (uint32_t k = 0; k < n; k++) {
        s->iov[k].iov_base = (void *)(c->data + c->offsets[j]);
        s->iov[k].iov_len = c->offsets[j + 1] - c->offsets[j];
        j = j + 1 == c->nframes ? 0 : j + 1;
    }
    int r = sendmmsg(s->fd, s->msgs, n, 0);
    if (r > 0) {
        advance(c, (uint32_t)r);
        res->sent += (uint64_t)r;
        *done += (uint64_t)r;
        return 0;
    }
    int err = r < 0 ? errno : EAGAIN;
    switch (classify(err)) {
    case RETRY:
        if (err != EINTR)
            res->retries++;
        sched_yield();
        return 0;
    case SKIP:
        res->errors++;
        res->last_error = err;
        advance(c, 1);
        *done += 1;
        return 0;
    default:
        return -err;
    }
}

/* Queues n frames on the TX ring and flushes them with one blocking send(). */
static int send_ring(steno_sender *s, struct cursor *c, uint32_t n,
                     struct steno_send_result *res, uint64_t *done)
{
    uint32_t queued = 0;
    for (; queued < n && queued < RING_FRAMES; queued++) {
        uint8_t *slot = s->ring + (size_t)s->head * RING_FRAME_SIZE;
        struct tpacket2_hdr *h = (struct tpacket2_hdr *)slot;
        uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        if (status & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING))
            break;  /* still the kernel's: flush what we have */
        if (status == TP_STATUS_WRONG_FORMAT) {
            res->errors++;
            res->sent--;  /* counted as sent when it was queued */
            res->last_error = EINVAL;
        }
        uint32_t len = (uint32_t)(c->offsets[c->idx + 1] - c->offsets[c->idx]);
        memcpy(slot + RING_DATA_OFF, c->data + c->offsets[c->idx], len);
        h->tp_len = len;
        h->tp_snaplen = len;
        __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
        s->head = s->head + 1 == RING_FRAMES ? 0 : s->head + 1;
        advance(c, 1);
    }
    for (;;) {
        ssize_t r = send(s->fd, NULL, 0, 0);
        if (r >= 0)
            break;
        int err = errno;
        if (err == EINTR)
            continue;
        if (classify(err) == RETRY) {
            res->retries++;  /* some frame of this flush was dropped */
            break;
        }
        return -err;
    }
    res->sent += queued;
    *done += queued;
    return 0;
}

static int check_buffer(const uint64_t *offsets, uint32_t nframes)
{
    if (nframes == 0)
        return -EINVAL;
    for (uint32_t i = 0; i < nframes; i++) {
        if (offsets[i + 1] < offsets[i])
            return -EINVAL;
        uint64_t len = offsets[i + 1] - offsets[i];
        if (len < ETH_HLEN || len > STENO_SEND_MAX_FRAME)
            return -EINVAL;
    }
    return 0;
}

int steno_sender_send(steno_sender *s, const uint8_t *data, const uint64_t *offsets,
                      uint32_t nframes, const struct steno_send_opts *opts,
                      struct steno_send_result *res)
{
    memset(res, 0, sizeof *res);
    if (opts->max_ns == 0)
        return -EINVAL;
    int err = check_buffer(offsets, nframes);
    if (err)
        return err;
    uint32_t batch = opts->batch ? opts->batch : DEFAULT_BATCH;
    if (batch > STENO_SEND_MAX_BATCH)
        batch = STENO_SEND_MAX_BATCH;
    uint64_t rate = opts->rate_pps;
    uint64_t quantum = opts->quantum_ns ? opts->quantum_ns : DEFAULT_QUANTUM_NS;
    uint64_t per_wake = rate ? (uint64_t)(((unsigned __int128)quantum * rate) / NSEC) : 0;
    if (per_wake < 1)
        per_wake = 1;
    struct cursor c = { .data = data, .offsets = offsets, .nframes = nframes, .idx = 0 };
    uint64_t done = 0, count = opts->count;
    uint64_t t0 = mono_ns(), now = t0;

    while (done < count) {
        now = mono_ns();
        if (now - t0 >= opts->max_ns) {
            res->timed_out = 1;
            break;
        }
        uint64_t n = count - done;
        if (n > batch)
            n = batch;
        if (rate) {
            uint64_t due = due_at(now - t0, rate);
            if (due <= done) {
                uint64_t wake = t0 + time_of(done + per_wake - 1, rate);
                if (wake > t0 + opts->max_ns)
                    wake = t0 + opts->max_ns;
                sleep_until(wake);
                continue;
            }
            if (n > due - done)
                n = due - done;
        }
        err = s->method == STENO_SEND_RING ? send_ring(s, &c, (uint32_t)n, res, &done)
                                           : send_mmsg(s, &c, (uint32_t)n, res, &done);
        if (err)
            break;
    }
    res->elapsed_ns = mono_ns() - t0;
    return err;
}
