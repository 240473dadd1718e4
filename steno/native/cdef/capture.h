/* cffi declarations for ring.h and capture.h (checked against them at build). */

struct steno_ring_config {
    const char *iface;
    uint32_t block_size;
    uint32_t block_count;
    uint32_t retire_tov_ms;
    uint32_t fanout;
    uint32_t fanout_type;
    uint32_t fanout_id;
    uint32_t promisc;
    uint32_t lock_memory;
    const uint8_t *filter;
    uint32_t filter_len;
};

typedef struct steno_capture steno_capture;
typedef struct steno_index_builder steno_index_builder;

struct steno_capture_config {
    struct steno_ring_config ring;
    uint32_t aio_depth;
    uint32_t max_blocks_per_file;
    uint32_t index;
    uint64_t index_budget_bytes;
    int64_t count;
};

enum steno_run_status {
    STENO_RUN_DEADLINE,
    STENO_RUN_FILE_FULL,
    STENO_RUN_INDEX_FULL,
    STENO_RUN_WRITE_ERROR,
    STENO_RUN_COUNT_REACHED,
    STENO_RUN_STOPPED,
    STENO_RUN_DRAINED,
    ...
};

#define STENO_RUN_DRAIN ...

struct steno_capture_stats {
    uint64_t packets;
    uint64_t blocks;
    uint64_t bytes_written;
    uint64_t polls;
    uint64_t kernel_packets;
    uint64_t kernel_drops;
    uint64_t kernel_freezes;
    uint64_t lost_packets;
    uint64_t lost_blocks;
    uint64_t write_errors;
    uint64_t unindexed_blocks;
    uint64_t writes;
    uint64_t write_ns_total;
    uint64_t write_ns_max;
    uint64_t write_latency_log2_us[24];
    uint32_t inflight_max;
    uint32_t direct_io;
};

struct steno_finished_file {
    int fd;
    uint64_t size;
    uint64_t packets;
    uint64_t blocks;
    uint64_t lost_packets;
    int write_error;
    steno_index_builder *index;
};

int steno_capture_open(const struct steno_capture_config *cfg, steno_capture **out,
                       const char **failed_step);
void steno_capture_close(steno_capture *c);
int steno_capture_start_file(steno_capture *c, const char *path, uint64_t preallocate_bytes,
                             int *direct_io, int *preallocate_error);
int steno_capture_run(steno_capture *c, int64_t deadline_ns, uint32_t flags, int *status);
int steno_capture_finish_file(steno_capture *c, struct steno_finished_file *out);
void steno_capture_request_stop(steno_capture *c);
int steno_capture_stats(steno_capture *c, struct steno_capture_stats *out);
