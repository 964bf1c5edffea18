/*
 * one_mapping.h - for tests whose writer and reader are threads of one
 * process: the reader's mapping of a segment is the writer's own mapping
 * again, not a second one at another address. ThreadSanitizer knows memory
 * by address; with two mappings it would take the two sides' accesses for
 * different memory and check nothing of the ring's orderings.
 *
 * The test binary is linked with -Wl,--wrap=mmap -Wl,--wrap=munmap
 * (CMake: ulma_one_mapping(TARGET)); a mmap at offset 0 of the file of the
 * segment given to one_mapping_of(), no longer than its mapping, returns
 * that mapping, and its munmap is a no-op. Everything else is mapped as
 * usual.
 */
#ifndef ULMA_TEST_ONE_MAPPING_H
#define ULMA_TEST_ONE_MAPPING_H

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "check.h"
#include "ulma/segment.h"

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

static struct {
    void *base; /* the writer's mapping of the segment */
    size_t len;
    dev_t dev;
    ino_t ino;
    int refs;   /* mappings handed out again, not yet unmapped */
} one_map;

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    struct stat sb;
    if (one_map.base && !addr && off == 0 && len <= one_map.len && fd >= 0
        && fstat(fd, &sb) == 0 && sb.st_dev == one_map.dev && sb.st_ino == one_map.ino) {
        one_map.refs++;
        return one_map.base;
    }
    return __real_mmap(addr, len, prot, flags, fd, off);
}

int __wrap_munmap(void *addr, size_t len)
{
    if (addr == one_map.base && one_map.refs > 0) {
        one_map.refs--;
        return 0;
    }
    return __real_munmap(addr, len);
}

/* Readers of `seg` opened from now on read its writer's mapping; NULL: no
 * segment any more. */
static inline void one_mapping_of(ulma_segment_t *seg)
{
    struct stat sb;
    if (!seg) {
        one_map.base = NULL;
        return;
    }
    CHECK(stat(ulma_segment_path(seg), &sb) == 0);
    one_map.base = ulma_segment_header(seg); /* the header opens the mapping */
    one_map.len = (size_t)sb.st_size;
    one_map.dev = sb.st_dev;
    one_map.ino = sb.st_ino;
}

/* Mappings handed out again and not yet unmapped. */
static inline int one_mapping_refs(void)
{
    return one_map.refs;
}

#endif
