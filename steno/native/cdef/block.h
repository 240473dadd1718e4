/* cffi declarations for block.h (checked against it at build). */

struct steno_block_info {
    uint32_t num_pkts;
    uint32_t blk_len;
    uint32_t first_offset;
    uint64_t seq_num;
    uint64_t first_ns;
    uint64_t last_ns;
};

int steno_block_check(const uint8_t *block, uint32_t block_size,
                      struct steno_block_info *info);
