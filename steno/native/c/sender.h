/*
 * sender.h -- sending prepared Ethernet frames on an interface, for the lab
 * and the benchmark (never used by capture).
 *
 * Frames sit back to back in one buffer: frame i is data[offsets[i] ..
 * offsets[i+1]).  A send goes round that buffer until `count` frames have been
 * attempted, optionally paced at `rate_pps`, and always bounded by `max_ns`.
 * The socket is an AF_PACKET raw socket with PACKET_QDISC_BYPASS: frames go
 * straight to the driver, as a capture benchmark wants.
 *
 * Two ways to hand frames to the kernel: sendmmsg() batches (STENO_SEND_MMSG)
 * or a TPACKET_V2 transmit ring flushed by send() (STENO_SEND_RING).  With
 * sendmmsg a frame the kernel refuses with ENOBUFS (the receiver's backlog is
 * full) is retried, so counts are exact; the ring cannot say which frame was
 * dropped, so it only counts such drops.
 *
 * Error contract: functions return 0 or a negative errno; results go to
 * out-parameters.  A sender is used by one thread at a time.
 */
#ifndef STENO_SENDER_H
#define STENO_SENDER_H

#include <stdint.h>

#define STENO_SEND_MMSG 0
#define STENO_SEND_RING 1
#define STENO_SEND_MAX_FRAME 9216u   /* longest frame a sender accepts */
#define STENO_SEND_MAX_BATCH 256u

typedef struct steno_sender steno_sender;

struct steno_send_opts {
    uint64_t count;        /* frames to attempt, going round the buffer */
    uint64_t rate_pps;     /* 0: as fast as possible */
    uint64_t max_ns;       /* stop after this long; must be > 0 */
    uint64_t quantum_ns;   /* pacing: sleep until this much is due (0: 50 us) */
    uint32_t batch;        /* frames per system call (0: 64; at most MAX_BATCH) */
};

struct steno_send_result {
    uint64_t sent;         /* frames the kernel accepted */
    uint64_t errors;       /* frames refused for good (e.g. EMSGSIZE), skipped */
    uint64_t retries;      /* ENOBUFS/EAGAIN answers (mmsg: frame retried; ring: frame lost) */
    uint64_t elapsed_ns;   /* from the first send to the last */
    int last_error;        /* errno of the last refused frame, 0 if none */
    int timed_out;         /* 1 if max_ns stopped the send before count */
};

/*
 * Opens a sender on interface ifname with method STENO_SEND_MMSG or
 * STENO_SEND_RING.  Needs CAP_NET_RAW.  Returns 0 and *out, or -ENODEV (no
 * such interface), -EINVAL (bad method), -ENOMEM, or the socket's -errno.
 */
int steno_sender_open(const char *ifname, int method, steno_sender **out);
void steno_sender_close(steno_sender *s);

/*
 * Sends as described above.  Returns 0 and fills *res (also when frames were
 * refused or time ran out: see res); -EINVAL for an empty or inconsistent
 * buffer (offsets not increasing, a frame longer than STENO_SEND_MAX_FRAME or
 * shorter than 14 bytes) or max_ns == 0; another -errno if the socket fails.
 */
int steno_sender_send(steno_sender *s, const uint8_t *data, const uint64_t *offsets,
                      uint32_t nframes, const struct steno_send_opts *opts,
                      struct steno_send_result *res);

#endif
