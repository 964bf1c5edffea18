/* fuzz_agent.c - fuzz target over the agent's segment reader, record
 * parser and aggregator, reports, and its JSON query endpoint. Oracle: no
 * crash, no leak, no sanitizer report (run it under ASan+UBSan).
 *
 * Input: first byte chooses the target
 *   0: records for prof_consume (slot = second byte), then the open part
 *      (prof_derive_open) at several times and every report
 *   1: a JSON request, answered by query_handle (the endpoint's parser and
 *      every command) from a process table that holds one process (pid
 *      FUZZ_PID, a short synthetic run)
 *   2: a whole segment file: opened with ulma_reader_open, drained into a
 *      profile, reported
 * LLVMFuzzerTestOneInput is the libFuzzer entry (-DULMA_LIBFUZZER, clang;
 * tests/fuzz/run); without it, main() runs the committed seeds
 * (tests/fuzz/seeds/agent, made by `fuzz_agent --write-seeds DIR`) and N
 * rounds of their mutations (argv[1], default 2000) for the CTest run. */
#include <fcntl.h>
#include <sys/syscall.h>

#include "control.h"
#include "fuzz/seeds.h"
#include "proctab.h"
#include "profile.h"
#include "query.h"
#include "profile/export.h"
#include "profile/table.h"
#include "snapshot.h"
#include "synth.h"
#include "ulma/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmpdir[256];

/* the process the JSON requests ask about */
#define FUZZ_PID 4242

static void tmpdir_gone(void) { rm_tree(tmpdir); }

static void tmpdir_make(void)
{
    if (tmpdir[0])
        return;
    make_tmpdir(tmpdir, sizeof(tmpdir), "fuzz");
    atexit(tmpdir_gone);
}

/* A process table of one process, made once: a segment written by
 * synth_stream (frames open, threads, a few functions), its header's pid
 * set to FUZZ_PID, drained. */
static proctab_t *fixture(void)
{
    static proctab_t *tab;
    if (tab)
        return tab;
    tmpdir_make();
    ulma_segment_opts_t o;
    ulma_segment_opts_init(&o);
    o.dir = tmpdir;
    o.nslots = 2;
    o.ring_bytes = 1u << 16;
    o.exe = "synth.py";
    o.job = "fuzzjob";
    o.mpi_rank = 1;
    o.mpi_size = 2;
    ulma_segment_t *seg = NULL;
    CHECK(ulma_segment_create(&o, &seg) == 0);
    ulma_segment_header(seg)->pid = FUZZ_PID;
    ulma_producer_t pr;
    CHECK(ulma_producer_attach(seg, &pr, 7, "main") == 0);
    synth_stream(&pr, 40);
    ulma_reader_t *rd = NULL;
    CHECK(ulma_reader_open(ulma_segment_path(seg), &rd) == 0);
    prof_limits_t lim;
    prof_limits_default(&lim);
    tab = proctab_new(&lim, 0);
    CHECK(proctab_add(tab, ulma_segment_path(seg), rd, 1) != NULL);
    int pace = 0;
    for (int i = 0; i < 3; i++)
        proctab_drain(tab, &pace);
    ulma_segment_destroy(&seg, 0); /* the reader keeps its own mapping */
    return tab;
}

static void answer(const uint8_t *body, size_t len)
{
    proctab_t *tab = fixture();
    agent_view_t v = {FUZZ_PID + 1, tmpdir, "fuzznode", 0, 1000};
    control_t *ctl = control_new("fuzznode");
    envelope_t env = {{NULL}, {0}, 0};
    sbuf_t ans = {0}, data = {0};
    query_handle(&v, tab, ctl, (const char *)body, len, &env, &ans, &data);
    sbuf_free(&ans);
    sbuf_free(&data);
    control_destroy(&ctl);
}

/* The open part of whatever is on the stacks: at the last records, at a
 * time from the input, at the largest time; every path looked up. */
static void open_all(prof_t *p, uint64_t now)
{
    uint64_t nows[3] = {0, now, UINT64_MAX};
    for (int i = 0; i < 3; i++) {
        prof_derive_open(p, nows[i]);
        uint64_t sum = 0; /* read every field; wraps (times from hostile clocks) */
        for (uint32_t nd = 0; nd < p->nnodes + 1; nd++) {
            const prof_open_node_t *o = prof_node_open(p, nd);
            if (o)
                sum += (uint64_t)o->own;
        }
        for (uint32_t f = 0; f < p->nfuncs + 1; f++)
            sum += (uint64_t)prof_func_open(p, f)->own;
        for (uint32_t e = 0; e < p->nsubs + 1; e++)
            sum += (uint64_t)prof_sub_open(p, e)->cum;
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
        answer(data + 1, size - 1);
    } else {
        tmpdir_make();
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

#ifndef ULMA_LIBFUZZER
/* ---- seeds: a record stream, requests, a segment file ---------------------------- */

static void put_seed(const char *dir, const char *name, uint8_t kind, const void *d, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
    uint8_t *b = malloc(n + 1);
    CHECK(b);
    b[0] = kind;
    memcpy(b + 1, d, n);
    CHECK(write_file(path, b, n + 1) == 0);
    free(b);
}

static void seed_records(const char *dir)
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
    uint8_t *d = malloc(1 + b.n * ULMA_UNIT);
    CHECK(d);
    d[0] = 0; /* the slot */
    memcpy(d + 1, b.r, b.n * ULMA_UNIT);
    put_seed(dir, "records", 0, d, 1 + b.n * ULMA_UNIT);
    free(d);
    free(b.r);
}

static void seed_segment(const char *dir)
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
    put_seed(dir, "segment", 2, d, n);
    free(d);
}

/* one of every command, with the options each takes */
static const char *const requests[] = {
    "{\"cmd\":\"list\"}",
    "{\"cmd\":\"top\",\"pid\":4242,\"sort\":\"tottime\",\"limit\":20,\"s\":\"\\u00e9\"}",
    "{\"cmd\":\"top\",\"pid\":4242,\"sort\":\"ncalls\",\"text\":true,\"limit\":3}",
    "{\"cmd\":\"callers\",\"pid\":4242,\"func\":\"synth.py:3(f)\"}",
    "{\"cmd\":\"callees\",\"pid\":4242,\"func\":\"<module>\",\"limit\":5}",
    "{\"cmd\":\"paths\",\"pid\":4242,\"limit\":10}",
    "{\"cmd\":\"stacks\",\"pid\":4242}",
    "{\"cmd\":\"objects\",\"pid\":4242,\"limit\":4}",
    "{\"cmd\":\"mpi\",\"pid\":4242}",
    "{\"cmd\":\"drops\"}",
    "{\"cmd\":\"drops\",\"pid\":4242}",
    "{\"cmd\":\"export\",\"pid\":4242,\"format\":\"pstats\"}",
    "{\"cmd\":\"export\",\"pid\":4242,\"format\":\"speedscope\"}",
    "{\"cmd\":\"control\",\"job\":\"fuzzjob\",\"mode\":\"full\",\"wait_ms\":0}",
    "{\"cmd\":\"control\",\"all\":true,\"mode\":\"off\",\"objects\":false}",
};

static int write_seeds(const char *dir)
{
    tmpdir_make();
    seed_records(dir);
    seed_segment(dir);
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        char name[32];
        snprintf(name, sizeof(name), "request%02zu", i);
        put_seed(dir, name, 1, requests[i], strlen(requests[i]));
    }
    return 0;
}

/* 3: a small byte (a record kind, a digit, a quote), 4: a segment
 * header or slot header byte (the first 4,600 bytes), 5: truncate. */
static size_t agent_mutation(uint8_t *buf, size_t n, size_t cap, size_t at, unsigned op,
                             uint64_t st)
{
    (void)cap;
    if (n < 2)
        return n;
    if (op == 3)
        buf[1 + at % (n - 1)] = (uint8_t)((st >> 48) % 40);
    else if (op == 4 && buf[0] % 3 == 2)
        buf[1 + (st >> 40) % (n - 1 < 4600 ? n - 1 : 4600)] = (uint8_t)(st >> 24);
    else if (op == 5 && (st >> 56) % 4 == 0)
        n = 1 + (size_t)((st >> 20) % n);
    return n;
}

#ifndef SEED_DIR
#define SEED_DIR "tests/fuzz/seeds/agent"
#endif

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        return write_seeds(argv[2]);
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    fuzz_seed_t seeds[32];
    int ns = fuzz_seeds_load(SEED_DIR, "fuzz_agent", seeds, 32);
    if (ns < 3)
        return 1;
    for (int i = 0; i < ns; i++)
        LLVMFuzzerTestOneInput(seeds[i].d, seeds[i].n); /* the seeds themselves */
    fuzz_budget_t bud;
    fuzz_budget_init(&bud, rounds, rounds / 10);
    long r = fuzz_mutate_rounds(seeds, ns, &bud, 88172645463325252ull, 8, 6, agent_mutation,
                                LLVMFuzzerTestOneInput);
    fuzz_seeds_free(seeds, ns);
    fuzz_budget_report(&bud, "fuzz_agent", r);
    printf("fuzz_agent: %d seeds, %ld inputs, no crash\n", ns, r);
    return 0;
}
#endif
