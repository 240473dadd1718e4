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
