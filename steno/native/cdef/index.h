/* cffi declarations for ../c/index_build.h and ../c/index_lookup.h. */
typedef struct steno_index_builder steno_index_builder;

struct steno_index_builder_stats {
    uint64_t packets;
    uint64_t blocks;
    uint64_t flows;
    uint64_t memory_bytes;
    uint64_t first_ns;
    uint64_t last_ns;
};

int steno_index_builder_new(uint32_t block_size, steno_index_builder **out);
void steno_index_builder_free(steno_index_builder *b);
int steno_index_builder_set_hash_mask(steno_index_builder *b, uint32_t mask);
int steno_index_add_block(steno_index_builder *b, const uint8_t *block, uint64_t file_offset);
int steno_index_add_kernel_block(steno_index_builder *b, const uint8_t *block,
                                 uint64_t file_offset);
int steno_index_truncate(steno_index_builder *b, uint64_t file_offset);
void steno_index_builder_stats(const steno_index_builder *b, struct steno_index_builder_stats *out);
int steno_index_serialize(steno_index_builder *b, uint64_t packet_file_size,
                          uint8_t **out, size_t *out_len);
void steno_free(void *p);

typedef struct steno_index_reader steno_index_reader;

#define STENO_INDEX_VERIFY_CRC ...

struct steno_index_info {
    uint32_t major;
    uint32_t minor;
    uint32_t block_size;
    uint32_t blocks;
    uint32_t flows;
    uint64_t packet_file_size;
    uint64_t packets;
    uint64_t first_ns;
    uint64_t last_ns;
};

struct steno_index_block {
    uint32_t index;
    uint32_t packets;
    uint64_t first_ns;
    uint64_t last_ns;
};

int steno_index_reader_open(const uint8_t *buf, size_t len, uint32_t flags,
                            steno_index_reader **out, char *err, size_t errlen);
void steno_index_reader_free(steno_index_reader *r);
void steno_index_reader_info(const steno_index_reader *r, struct steno_index_info *out);
int steno_index_reader_block(const steno_index_reader *r, uint32_t i,
                             struct steno_index_block *out);
void steno_index_blocks_in_time(const steno_index_reader *r, uint64_t time_lo, uint64_t time_hi,
                                uint32_t *out, size_t *n);
void steno_index_key_width(const steno_index_reader *r, uint32_t key_type, uint32_t *width);
int steno_index_lookup_flows(const steno_index_reader *r, uint32_t key_type, const uint8_t *lo,
                             const uint8_t *hi, uint32_t width, uint32_t **flows, size_t *n);
int steno_index_flow_positions(const steno_index_reader *r, const uint32_t *flows,
                               size_t nflows, uint32_t **positions, size_t *n);
