/*
 * index_format.h -- constants of the index file format, shared by the writer
 * (index_write.c) and the reader (index_lookup.c).  The format itself, byte
 * by byte and with the reasons, is docs/index-format.md; the pure-Python
 * reader steno/store/index_format.py is the second implementation of it.
 */
#ifndef STENO_INDEX_FORMAT_H
#define STENO_INDEX_FORMAT_H

#define STENO_IDX_MAGIC "STENOIDX"       /* first 8 bytes */
#define STENO_IDX_END_MAGIC "STENOEND"   /* last 8 bytes */
#define STENO_IDX_MAJOR 1u
#define STENO_IDX_MINOR 0u

#define STENO_IDX_HEADER_LEN 72u         /* as written by 1.0; readers use the field */
#define STENO_IDX_DIR_ENTRY_LEN 24u
#define STENO_IDX_TRAILER_LEN 32u
#define STENO_IDX_BLOCK_ENTRY_LEN 24u
#define STENO_IDX_COLLECTION_HEAD_LEN 16u
#define STENO_IDX_KEY_TABLE_HEAD_LEN 16u

/* Header field offsets. */
#define STENO_IDX_H_MAJOR 8
#define STENO_IDX_H_MINOR 10
#define STENO_IDX_H_HEADER_LEN 12
#define STENO_IDX_H_BLOCK_SIZE 16
#define STENO_IDX_H_BLOCK_COUNT 20
#define STENO_IDX_H_FILE_SIZE 24
#define STENO_IDX_H_PACKETS 32
#define STENO_IDX_H_FIRST_NS 40
#define STENO_IDX_H_LAST_NS 48
#define STENO_IDX_H_FLOWS 56
#define STENO_IDX_H_FLAGS 60
/* 64: reserved u32; the header CRC is the last 4 bytes of the header. */

/* Section types (directory entry, u16). */
#define STENO_IDX_SEC_BLOCKS 1u
#define STENO_IDX_SEC_FLOWS 2u
#define STENO_IDX_SEC_KEYS 3u
/* Directory entry flag: a reader that does not know this section type must
 * refuse the file instead of skipping the section. */
#define STENO_IDX_SEC_REQUIRED 1u

/* Lists are located through an anchor every 2^6 lists. */
#define STENO_IDX_ANCHOR_LOG2 6u
/* List collection flag: each list is stored relative to the previous list's
 * first value, except lists at an anchor, which are absolute. */
#define STENO_IDX_COLL_CHAINED 1u

#endif
