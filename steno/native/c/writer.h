/*
 * writer.h -- whole-block writes with many in flight (Linux native AIO).
 *
 * Why AIO: a capture thread must never wait for the disk.  Blocks are written
 * straight from the mmap'd ring (zero copy; O_DIRECT needs the alignment the
 * ring already has), up to `depth` at once, and each completion hands its
 * block back to the kernel.  Completions are signalled on an eventfd so the
 * capture loop can sleep in one poll() on both the ring and the disk.
 *
 * The kernel ABI is used through syscall(2): no libaio dependency.
 */
#ifndef STENO_WRITER_H
#define STENO_WRITER_H

#include <linux/aio_abi.h>
#include <stdint.h>

struct steno_write_done {
    uint64_t cookie;  /* what the submitter passed */
    int64_t result;   /* bytes written, or -errno */
    uint64_t latency_ns;
};

struct steno_writer {
    aio_context_t ctx;
    int eventfd;          /* readable when completions are waiting */
    uint32_t depth;
    uint32_t inflight;
    struct iocb *slots;   /* depth control blocks */
    uint64_t *submitted_ns;
    uint32_t *free_slots; /* stack of unused slot numbers */
    uint32_t free_count;
};

/* Creates the AIO context and eventfd.  0 or -errno. */
int steno_writer_open(struct steno_writer *w, uint32_t depth);
void steno_writer_close(struct steno_writer *w);

/*
 * Queues one write of len bytes from buf at offset of fd.  Returns 0, -EAGAIN
 * when `depth` writes are already in flight, or -errno from io_submit.
 */
int steno_writer_submit(struct steno_writer *w, int fd, const void *buf, uint32_t len,
                        uint64_t offset, uint64_t cookie);

/*
 * Collects up to `max` completed writes into done[], waiting at most
 * timeout_ns (0: do not wait; negative: wait for at least one).  Returns the
 * number collected or -errno.
 */
int steno_writer_reap(struct steno_writer *w, struct steno_write_done *done, uint32_t max,
                      int64_t timeout_ns);

#endif
