/*
 * fuzz_segment.c - the segment reader against arbitrary segment files.
 * Oracle: no crash, no sanitizer report, no leak, and every record handed
 * out lies inside the ring that was published.
 *
 * Built two ways: with -DULMA_LIBFUZZER under clang's libFuzzer
 * (LLVMFuzzerTestOneInput only), and as a standalone driver that applies
 * random mutations to a valid segment for a bounded number of rounds
 * (`fuzz_segment [ROUNDS] [SEED]`), which CTest runs (bounded in time in
 * sanitizer builds: fuzz/budget.h).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fuzz/budget.h"
#include "ulma/reader.h"
#include "ulma/ring.h"
#include "ulma/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static uint8_t *tmpl;
static size_t tmpl_len;

/* A valid segment with a little of everything in its two rings. */
static void make_template(void)
{
    make_tmpdir(dir, sizeof(dir), "fuzz");
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = dir;
    o.nslots = 2;
    o.ring_bytes = 4096;
    o.calib_window_ns = 100000;
    ulma_segment_t *seg;
    CHECK(ulma_segment_create(&o, &seg) == 0);
    for (int s = 0; s < 2; s++) {
        ulma_producer_t p;
        CHECK(ulma_producer_attach(seg, &p, 100 + s, "fuzz") == 0);
        ulma_put_def_code(&p, ULMA_EV_DEF_CODE, 1, 10, "f", 1, "x.py", 4);
        for (uint32_t i = 0; i < 100; i++)
            ulma_put(&p, i, i & 1 ? ULMA_EV_RETURN : ULMA_EV_CALL, 1, (uint16_t)(i & 3));
        ulma_obj_payload_t ob = {64, 0x1000};
        ulma_put_payload(&p, 5, ULMA_EV_OBJ_NEW, 3, 1, &ob, sizeof(ob));
        ulma_put_payload(&p, 6, ULMA_EV_DEF_TYPE, 3, 0, "list", 4);
        if (s == 1)
            ulma_producer_detach(&p);
    }
    char path[512];
    snprintf(path, sizeof(path), "%s", ulma_segment_path(seg));
    ulma_segment_destroy(&seg, 0);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    tmpl_len = (size_t)ftell(f);
    rewind(f);
    tmpl = malloc(tmpl_len);
    CHECK(tmpl && fread(tmpl, 1, tmpl_len, f) == tmpl_len);
    fclose(f);
    unlink(path);
}

typedef struct walk {
    const ulma_rec_t *lo, *hi; /* the mapping: everything must lie inside */
    uint64_t records;
} walk_t;

static int on_batch(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    walk_t *w = ctx;
    (void)slot;
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        /* touch every payload byte: ASan checks the bounds */
        const volatile uint8_t *b = pl;
        uint8_t x = 0;
        for (uint32_t i = 0; i < plen; i++)
            x ^= b[i];
        (void)x;
        w->records++;
    }
    return it.bad ? -1 : 0;
}

static void run_file(const uint8_t *img, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/ulma.0.1.1.seg", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(!len || write(fd, img, len) == (ssize_t)len);
    close(fd);
    ulma_reader_t *r = NULL;
    if (ulma_reader_open(path, &r) == 0) {
        walk_t w = {0};
        for (int i = 0; i < 3; i++)
            ulma_reader_drain(r, on_batch, &w, i == 1 ? 7 : 0);
        char name[40];
        ulma_reader_thread_name(r, 0, name, sizeof(name));
        (void)ulma_reader_hz(r);
        (void)ulma_reader_info(r);
        (void)ulma_reader_total_dropped(r);
        (void)ulma_reader_writer_alive(r);
        ulma_reader_destroy(&r);
    }
    unlink(path);
}

/* libFuzzer input: a list of (offset, bytes) patches on the template, or,
 * with a leading 0xff, a whole file. Seeds of both kinds: tests/fuzz/seeds/segment. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmpl)
        make_template();
    if (size && data[0] == 0xff) {
        run_file(data + 1, size - 1);
        return 0;
    }
    uint8_t *img = malloc(tmpl_len);
    if (!img)
        return 0;
    memcpy(img, tmpl, tmpl_len);
    size_t len = tmpl_len;
    size_t i = 0;
    while (i + 4 <= size) {
        size_t off = ((size_t)data[i] << 16 | (size_t)data[i + 1] << 8 | data[i + 2]) % tmpl_len;
        size_t n = data[i + 3] & 15;
        i += 4;
        for (size_t k = 0; k < n && i < size && off + k < tmpl_len; k++, i++)
            img[off + k] = data[i];
        if (n == 0 && i < size) /* truncate */
            len = off;
    }
    run_file(img, len);
    free(img);
    return 0;
}

#ifndef ULMA_LIBFUZZER
/* Places worth hitting: header words, slot positions, record headers. */
static size_t pick_offset(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed);
    switch (r % 4) {
    case 0: return (size_t)(r >> 3) % 512;                              /* header */
    case 1: return 4096 + ((r >> 3) % 2) * (256 + 4096) + ((r >> 5) % 256); /* slot headers */
    default: return (size_t)(r >> 3) % tmpl_len;                        /* anywhere */
    }
}

int main(int argc, char **argv)
{
    unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
    unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 20261122u;
    make_template();
    uint8_t *img = malloc(tmpl_len);
    CHECK(img);
    fuzz_budget_t bud;
    fuzz_budget_init(&bud, (long)rounds, (long)rounds / 10);
    unsigned long round;
    for (round = 0; fuzz_budget_more(&bud, (long)round); round++) {
        memcpy(img, tmpl, tmpl_len);
        size_t len = tmpl_len;
        int muts = 1 + rand_r(&seed) % 8;
        for (int m = 0; m < muts; m++) {
            size_t off = pick_offset(&seed);
            unsigned what = (unsigned)rand_r(&seed) % 10;
            if (what < 6) {
                img[off] = (uint8_t)rand_r(&seed);
            } else if (what < 8) {
                uint64_t v = (uint64_t)rand_r(&seed) << 33 ^ (uint64_t)rand_r(&seed);
                if (off + 8 <= tmpl_len)
                    memcpy(img + (off & ~(size_t)7), &v, 8);
            } else if (what < 9) {
                uint64_t v = (uint64_t)-1;
                if (off + 8 <= tmpl_len)
                    memcpy(img + (off & ~(size_t)7), &v, 8);
            } else {
                len = off; /* truncated file */
            }
        }
        run_file(img, len);
    }
    free(img);
    free(tmpl);
    rmdir(dir);
    fuzz_budget_report(&bud, "fuzz_segment", (long)round);
    fprintf(stderr, "fuzz_segment: %lu rounds, no crash\n", round);
    return 0;
}
#endif
