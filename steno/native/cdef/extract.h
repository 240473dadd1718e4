/* cffi declarations for c/extract.h (checked against it at build time). */
#define STENO_PCAP_FILE_HEADER_LEN ...
#define STENO_PCAP_RECORD_HEADER_LEN ...
#define STENO_PCAP_NANO ...

struct steno_extract_result {
    uint32_t packets;
    uint32_t vlan_restored;
    size_t out_len;
    size_t consumed;
};

struct steno_extract_block_info {
    uint32_t num_pkts;
    uint32_t blk_len;
    uint64_t seq_num;
    uint64_t first_ns;
    uint64_t last_ns;
};

void steno_pcap_file_header(uint8_t out[24], uint32_t flags, uint32_t snaplen, uint32_t linktype);
int steno_extract_block_info(const uint8_t *block, uint32_t block_size,
                             struct steno_extract_block_info *info);
int steno_extract_block(const uint8_t *block, uint32_t block_size, uint64_t block_pos,
                        const uint64_t *positions, size_t n_positions,
                        uint32_t flags, uint32_t snaplen,
                        uint8_t *out, size_t out_cap, struct steno_extract_result *res);

struct steno_points_result {
    size_t consumed;
    uint32_t packets;
    uint32_t vlan_restored;
    uint32_t out_of_time;
    size_t out_len;
    uint32_t past_span;
};

int steno_extract_points(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                         const uint32_t *positions, size_t n_positions,
                         uint64_t time_lo, uint64_t time_hi, uint32_t flags, uint32_t snaplen,
                         uint8_t *out, size_t out_cap, struct steno_points_result *res);
int steno_extract_span(const uint8_t *span, uint64_t span_off, uint64_t span_len,
                       uint32_t block_size, const uint32_t *positions, size_t n_positions,
                       uint64_t time_lo, uint64_t time_hi, uint32_t flags, uint32_t snaplen,
                       uint8_t *out, size_t out_cap, struct steno_points_result *res);
struct steno_scan_result {
    uint64_t next;
    uint32_t packets;
    uint32_t vlan_restored;
    uint32_t out_of_time;
    size_t out_len;
    uint32_t past_span;
};

int steno_extract_scan(const uint8_t *span, uint64_t span_off, uint64_t span_len,
                       uint32_t block_size, uint64_t from, uint64_t to, uint64_t time_lo,
                       uint64_t time_hi, uint32_t flags, uint32_t snaplen, uint8_t *out,
                       size_t out_cap, struct steno_scan_result *res);
int steno_packet_positions(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                           uint32_t **out, size_t *n);
int steno_positions_in_time(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                            const uint32_t *positions, size_t n_positions, uint64_t time_lo,
                            uint64_t time_hi, uint32_t *kept, size_t *n_kept);
void steno_blocks_in_time(const uint8_t *file, uint64_t file_size, uint32_t block_size,
                          uint64_t time_lo, uint64_t time_hi, uint64_t slack_ns,
                          uint64_t *first, uint64_t *end);
