/* cffi declarations for c/sender.h (checked against it at build time). */
#define STENO_SEND_MMSG ...
#define STENO_SEND_RING ...
#define STENO_SEND_MAX_FRAME ...
#define STENO_SEND_MAX_BATCH ...

typedef struct steno_sender steno_sender;

struct steno_send_opts {
    uint64_t count;
    uint64_t rate_pps;
    uint64_t max_ns;
    uint64_t quantum_ns;
    uint32_t batch;
};

struct steno_send_result {
    uint64_t sent;
    uint64_t errors;
    uint64_t retries;
    uint64_t elapsed_ns;
    int last_error;
    int timed_out;
};

int steno_sender_open(const char *ifname, int method, steno_sender **out);
void steno_sender_close(steno_sender *s);
int steno_sender_send(steno_sender *s, const uint8_t *data, const uint64_t *offsets,
                      uint32_t nframes, const struct steno_send_opts *opts,
                      struct steno_send_result *res);
