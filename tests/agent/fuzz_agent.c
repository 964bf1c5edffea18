/* fuzz_agent.c - fuzz target over the segment reader + aggregator + reports
 * and the request parser. Oracle: no crash, no leak (run it under ASan).
 *
 * Input: first byte chooses the target
 *   0: records for prof_consume (slot = second byte), then the open part
 *      (prof_derive_open) at several times and every report
 *   1: a query request for jreq_parse
 *   2: a whole segment file: opened with ulma_reader_open, drained into a
 *      profile, reported
 * LLVMFuzzerTestOneInput is the libFuzzer entry (build with clang
 * -fsanitize=fuzzer -DAGENT_LIBFUZZER); without it, main() runs N random
 * mutations of valid seeds (argv[1], default 2000) for the CTest run. */
#include <fcntl.h>
#include <sys/syscall.h>

#include "fuzz/budget.h"
#include "jreq.h"
#include "profile.h"
#include "profile/export.h"
#include "profile/table.h"
#include "snapshot.h"
#include "synth.h"
#include "ulma/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[256];

/* The open part of whatever is on the stacks: at the last records, at a
 * time from the input, at the largest time; every path looked up. */
static void open_all(prof_t *p, uint64_t now)
{
    uint64_t nows[3] = {0, now, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        prof_derive_open(p, nows[i]);
        int64_t sum = 0;
        for (uint32_t nd = 0; nd < p->nnodes + 1; nd++) {
            const prof_open_node_t *o = prof_node_open(p, nd);
            if (o)
                sum += o->own;
        }
        for (uint32_t f = 0; f < p->nfuncs + 1; f++)
            sum += prof_func_open(p, f)->own;
        for (uint32_t e = 0; e < p->nsubs + 1; e++)
            sum += prof_sub_open(p, e)->cum;
        (void)sum;
        (void)prof_total_open_own(p);
    }
}

static void report_all(prof_t *p)
{
    pf_meta_t m;
    memset(&m, 0, sizeof(m));
    open_all(p, p->last_tsc / 2);
    /* a live snapshot first (frames still open), then the finished one */
    for (int live = 1; live >= 0; live--) {
        if (!live) {
            prof_finish(p);
            open_all(p, p->last_tsc);
        }
        profile_t *r = snapshot_take(p, &m, 0, 0, live ? p->last_tsc + 1000 : 0);
        sbuf_t s = {0};
        pf_table_opts_t o = {"cumulative", 0, 0};
        profile_table(r, &o, &s);
        for (int f = PROFILE_JSON; f <= PROFILE_SVG; f++)
            profile_export(r, f, &s);
        jw_t w;
        jw_init(&w, &s);
        profile_threads_json(r, 0, &w);
        profile_objects_json(r, 3, &w);
        profile_paths_json(r, 3, &w);
        for (uint32_t i = 0; i < profile_nfuncs(r) && i < 4; i++) {
            profile_edges_json(r, i, 0, 0, &w);
            profile_edges_json(r, i, 1, 2, &w);
        }
        profile_t *merged = profile_new();
        profile_merge(merged, r);
        profile_merge(merged, r);
        profile_destroy(&merged);
        sbuf_free(&s);
        profile_destroy(&r);
    }
}

static int consume_cb(void *ctx, unsigned slot, const ulma_rec_t *recs, size_t n)
{
    return prof_consume(ctx, slot, recs, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    prof_limits_t lim;
    prof_limits_default(&lim);
    lim.max_id = 1u << 16; /* keep memory small under the fuzzer */
    lim.max_cct_nodes = 1u << 12;
    lim.max_stack = 1u << 10;
    lim.max_threads = 16;
    lim.max_live_objects = 64; /* reach the object limits too */
    lim.max_pending_frees = 8;
    lim.max_sites = 32;
    if (data[0] % 3 == 0) {
        size_t n = (size - 2) / ULMA_UNIT;
        ulma_rec_t *recs = malloc((n ? n : 1) * sizeof(*recs));
        memcpy(recs, data + 2, n * ULMA_UNIT);
        prof_t *p = prof_new(&lim, 4);
        p->hz = 1000000;
        prof_consume(p, data[1] % 5, recs, n); /* slot 4 is out of range: refused */
        prof_consume(p, (data[1] + 1) % 4, recs, n);
        report_all(p);
        prof_destroy(&p);
        free(recs);
    } else if (data[0] % 3 == 1) {
        jreq_t *q = malloc(sizeof(*q));
        if (jreq_parse(q, (const char *)data + 1, size - 1) == 0) {
            uint64_t v;
            jreq_str(q, "cmd");
            jreq_uint(q, "pid", INT32_MAX, &v);
            jreq_bool(q, "all", 0);
        }
        free(q);
    } else {
        char path[400];
        snprintf(path, sizeof(path), "%s/ulma.0.1.1.seg", tmpdir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return 0;
        if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
            close(fd);
            return 0;
        }
        close(fd);
        ulma_reader_t *rd = NULL;
        if (ulma_reader_open(path, &rd) == 0) {
            prof_t *p = prof_new(&lim, ulma_reader_info(rd)->nslots);
            p->hz = ulma_reader_hz(rd);
            for (int i = 0; i < 3; i++)
                ulma_reader_drain(rd, consume_cb, p, 4096);
            report_all(p);
            prof_destroy(&p);
            ulma_reader_destroy(&rd);
        }
        unlink(path);
    }
    return 0;
}

#ifndef AGENT_LIBFUZZER
/* ---- the standalone driver: seeds, mutations ------------------------------------ */

typedef struct blob {
    uint8_t *d;
    size_t n;
} blob_t;

static blob_t seed_records(void)
{
    recbuf_t b = {0};
    rb_def(&b, ULMA_EV_DEF_CODE, 1, 1, "<module>", "s.py");
    rb_def(&b, ULMA_EV_DEF_CODE, 2, 5, "f", "s.py");
    rb_def(&b, ULMA_EV_DEF_CFUNC, 1, 0, "<built-in method builtins.len>", "builtins");
    uint64_t t = 10;
    rb_put(&b, t++, ULMA_EV_CALL, 1, 1);
    for (int i = 0; i < 20; i++) {
        rb_put(&b, t++, ULMA_EV_CALL, 2, 2);
        rb_put(&b, t++, ULMA_EV_C_CALL, 1, 3);
        rb_put(&b, t++, ULMA_EV_C_RETURN, 1, 3);
        ulma_obj_payload_t op = {32, 0x10 + 16u * (uint64_t)(i % 6)};
        rb_payload(&b, t++, ULMA_EV_OBJ_NEW, 4, 2, &op, sizeof(op));
        op.addr = 0x10 + 16u * (uint64_t)(i % 4);
        rb_payload(&b, t++, ULMA_EV_OBJ_FREE, (uint32_t)(4 + i % 2), 2, &op, sizeof(op));
        ulma_mpi_payload_t mp = {3, 8, 0, 2, 0};
        rb_payload(&b, t++, ULMA_EV_MPI, 7, 2, &mp, sizeof(mp));
        if (i % 7 == 3)
            rb_put(&b, t++, ULMA_EV_DROP, 3, 2);
        if (i % 9 == 4)
            rb_put(&b, t++, ULMA_EV_MODE, (uint32_t)(i % 3), 2);
        rb_put(&b, t++, i % 5 ? ULMA_EV_RETURN : ULMA_EV_UNWIND, 2, 2);
    }
    rb_put(&b, t++, ULMA_EV_CALL, 2, 2); /* left open */
    rb_put(&b, t++, ULMA_EV_MODE, 2, 2);
    rb_put(&b, t++, ULMA_EV_CALL, 2, 3);
    blob_t s = {malloc(2 + b.n * ULMA_UNIT), 2 + b.n * ULMA_UNIT};
    s.d[0] = 0;
    s.d[1] = 0;
    memcpy(s.d + 2, b.r, b.n * ULMA_UNIT);
    free(b.r);
    return s;
}

static blob_t seed_segment(void)
{
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = tmpdir;
    o.nslots = 2;
    o.ring_bytes = 4096;
    ulma_segment_t *seg = NULL;
    CHECK(ulma_segment_create(&o, &seg) == 0);
    ulma_producer_t pr;
    CHECK(ulma_producer_attach(seg, &pr, 1, "t") == 0);
    synth_stream(&pr, 8);
    char path[4096];
    snprintf(path, sizeof(path), "%s", ulma_segment_path(seg));
    ulma_segment_destroy(&seg, 0);
    size_t n;
    char *d = slurp(path, &n);
    CHECK(d);
    unlink(path);
    blob_t s = {malloc(n + 1), n + 1};
    s.d[0] = 2;
    memcpy(s.d + 1, d, n);
    free(d);
    return s;
}

static blob_t seed_request(void)
{
    const char *r = "{\"cmd\":\"top\",\"pid\":12,\"sort\":\"tottime\",\"limit\":20,\"s\":\"\\u00e9\"}";
    blob_t s = {malloc(strlen(r) + 1), strlen(r) + 1};
    s.d[0] = 1;
    memcpy(s.d + 1, r, strlen(r));
    return s;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000;
    make_tmpdir(tmpdir, sizeof(tmpdir), "fuzz");
    blob_t seeds[3] = {seed_records(), seed_request(), seed_segment()};
    for (int i = 0; i < 3; i++)
        LLVMFuzzerTestOneInput(seeds[i].d, seeds[i].n); /* the seeds themselves */
    uint8_t *buf = malloc(1 << 16);
    fuzz_budget_t bud;
    fuzz_budget_init(&bud, iters, iters / 10);
    long it;
    for (it = 0; fuzz_budget_more(&bud, it); it++) {
        blob_t *s = &seeds[it % 3];
        size_t n = s->n < (1 << 16) ? s->n : (1 << 16);
        memcpy(buf, s->d, n);
        int muts = 1 + (int)(next_rand() % 8);
        for (int m = 0; m < muts && n >= 2; m++) {
            size_t at = 1 + (size_t)(next_rand() % (n - 1));
            switch (next_rand() % 5) {
            case 0: buf[at] ^= (uint8_t)(1u << (next_rand() % 8)); break;
            case 1: buf[at] = (uint8_t)next_rand(); break;
            case 2: buf[at] = (uint8_t[]){0, 1, 0xff, 0x7f, 0x80}[next_rand() % 5]; break;
            case 3:
                if (s == &seeds[2]) /* segment: hit the header and slot headers more often */
                    buf[1 + next_rand() % 4600] = (uint8_t)next_rand();
                else
                    buf[at] = (uint8_t)(next_rand() % 40);
                break;
            case 4:
                if (next_rand() % 4 == 0)
                    n = 1 + (size_t)(next_rand() % n); /* truncate */
                break;
            }
        }
        LLVMFuzzerTestOneInput(buf, n);
    }
    free(buf);
    for (int i = 0; i < 3; i++)
        free(seeds[i].d);
    rm_tree(tmpdir);
    fuzz_budget_report(&bud, "fuzz_agent", it);
    printf("fuzz_agent: %ld inputs, no crash\n", it);
    return 0;
}
#endif
