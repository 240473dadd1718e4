/* cffi declarations for pcapstream.h. */
struct steno_pcap_input {
    const uint8_t *data;
    size_t len;
    size_t off;
    uint32_t done;
};
enum steno_merge_status {
    STENO_MERGE_OUT_FULL,
    STENO_MERGE_NEED_INPUT,
    STENO_MERGE_END,
    ...
};
int steno_pcap_merge(struct steno_pcap_input *in, size_t n_in, uint8_t *out, size_t cap,
                     size_t *out_len, uint32_t *packets, int *status, size_t *which);
int64_t steno_pcap_limit(const uint8_t *data, size_t len, int64_t *packets_left,
                         int64_t *bytes_left, int *stop);
int64_t steno_pcapng_blocks(const uint8_t *records, size_t len, uint8_t *out, size_t cap);
