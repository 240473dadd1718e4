/*
 * writer.c -- Linux native AIO for whole-block writes (see writer.h).
 */
#include "writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int sys_io_setup(unsigned nr, aio_context_t *ctx)
{
    return (int)syscall(SYS_io_setup, nr, ctx);
}

static int sys_io_destroy(aio_context_t ctx)
{
    return (int)syscall(SYS_io_destroy, ctx);
}

static int sys_io_submit(aio_context_t ctx, long n, struct iocb **iocbs)
{
    return (int)syscall(SYS_io_submit, ctx, n, iocbs);
}

static int sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *events,
                            struct timespec *timeout)
{
    return (int)syscall(SYS_io_getevents, ctx, min, max, events, timeout);
}

int steno_writer_open(struct steno_writer *w, uint32_t depth)
{
    memset(w, 0, sizeof *w);
    w->eventfd = -1;
    if (depth == 0)
        return -EINVAL;
    w->slots = calloc(depth, sizeof *w->slots);
    w->submitted_ns = calloc(depth, sizeof *w->submitted_ns);
    w->free_slots = calloc(depth, sizeof *w->free_slots);
    if (!w->slots || !w->submitted_ns || !w->free_slots) {
        steno_writer_close(w);
        return -ENOMEM;
    }
    /* io_setup may fail with EAGAIN when the system-wide aio-max-nr is used
     * up by other processes; the caller reports it. */
    if (sys_io_setup(depth, &w->ctx) < 0) {
        int err = errno;
        w->ctx = 0;
        steno_writer_close(w);
        return -err;
    }
    w->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->eventfd < 0) {
        int err = errno;
        steno_writer_close(w);
        return -err;
    }
    w->depth = depth;
    for (uint32_t i = 0; i < depth; i++)
        w->free_slots[i] = depth - 1 - i;
    w->free_count = depth;
    return 0;
}

void steno_writer_close(struct steno_writer *w)
{
    /* io_destroy waits for writes still in flight, so no completion can
     * land in memory we are about to free. */
    if (w->ctx)
        sys_io_destroy(w->ctx);
    if (w->eventfd >= 0)
        close(w->eventfd);
    free(w->slots);
    free(w->submitted_ns);
    free(w->free_slots);
    memset(w, 0, sizeof *w);
    w->eventfd = -1;
}

int steno_writer_submit(struct steno_writer *w, int fd, const void *buf, uint32_t len,
                        uint64_t offset, uint64_t cookie)
{
    if (w->free_count == 0)
        return -EAGAIN;
    uint32_t slot = w->free_slots[w->free_count - 1];
    struct iocb *cb = &w->slots[slot];
    memset(cb, 0, sizeof *cb);
    cb->aio_lio_opcode = IOCB_CMD_PWRITE;
    cb->aio_fildes = (uint32_t)fd;
    cb->aio_buf = (uint64_t)(uintptr_t)buf;
    cb->aio_nbytes = len;
    cb->aio_offset = (int64_t)offset;
    cb->aio_data = cookie;
    cb->aio_flags = IOCB_FLAG_RESFD;
    cb->aio_resfd = (uint32_t)w->eventfd;

    struct iocb *list[1] = {cb};
    w->submitted_ns[slot] = mono_ns();
    int n = sys_io_submit(w->ctx, 1, list);
    if (n != 1)
        return n < 0 ? -errno : -EAGAIN;
    w->free_count--;
    w->inflight++;
    return 0;
}

int steno_writer_reap(struct steno_writer *w, struct steno_write_done *done, uint32_t max,
                      int64_t timeout_ns)
{
    if (w->inflight == 0 || max == 0)
        return 0;
    struct io_event events[64];
    if (max > 64)
        max = 64;
    if (max > w->inflight)
        max = w->inflight;

    struct timespec ts, *tsp = &ts;
    long min = 1;
    if (timeout_ns == 0) {
        min = 0;
        ts.tv_sec = 0;
        ts.tv_nsec = 0;
    } else if (timeout_ns < 0) {
        tsp = NULL;
    } else {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
    }
    int n;
    do {
        n = sys_io_getevents(w->ctx, min, max, events, tsp);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;

    /* Drain the eventfd counter; completions are authoritative, the eventfd
     * is only a wake-up. */
    uint64_t ignored;
    if (n > 0 && read(w->eventfd, &ignored, sizeof ignored) < 0 && errno != EAGAIN)
        return -errno;

    uint64_t now = mono_ns();
    for (int i = 0; i < n; i++) {
        struct iocb *cb = (struct iocb *)(uintptr_t)events[i].obj;
        uint32_t slot = (uint32_t)(cb - w->slots);
        done[i].cookie = events[i].data;
        done[i].result = events[i].res;
        done[i].latency_ns = now - w->submitted_ns[slot];
        w->free_slots[w->free_count++] = slot;
        w->inflight--;
    }
    return n;
}
