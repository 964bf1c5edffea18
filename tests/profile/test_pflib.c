/* test_pflib.c - the profile library: building and merging profiles
 * exactly, sort keys as pstats takes them, finding rows (and saying when
 * a name is ambiguous), the JSON writer, the table (open frames marked,
 * the objects section, drops), every export read back by Python. */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "marshal.h"
#include "profile/export.h"
#include "profile/profile.h"
#include "profile/table.h"
#include "profile/util.h"

/* A small profile: <module> -> work -> helper (x n), plus a C row. */
static profile_t *sample(int32_t pid, int32_t rank, uint64_t n, int64_t unit_ns)
{
    profile_t *p = profile_new();
    pf_meta_t *m = profile_meta(p);
    m->pid = pid;
    m->rank = rank;
    m->size = 2;
    snprintf(m->job, sizeof(m->job), "job1");
    snprintf(m->host, sizeof(m->host), "node%d", rank);
    m->state = PF_STATE_EXITED;
    m->active_mode = 1;
    m->nprocs = 1;
    uint32_t mod = profile_add_func(p, "app.py", 6, 1, "<module>", 8, NULL, 0, PF_KIND_PYTHON);
    uint32_t work = profile_add_func(p, "app.py", 6, 10, "work", 4, "Solver.work", 11,
                                     PF_KIND_PYTHON);
    uint32_t help = profile_add_func(p, "app.py", 6, 20, "helper", 6, NULL, 0, PF_KIND_PYTHON);
    uint32_t len = profile_add_func(p, "~", 1, 0, "<built-in method builtins.len>", 30, NULL, 0,
                                    PF_KIND_C);
    pf_func_t *f = profile_func_w(p, mod);
    f->c = (pf_counts_t){1, 1, 5 * unit_ns, (int64_t)(10 + 3 * n) * unit_ns};
    f = profile_func_w(p, work);
    f->c = (pf_counts_t){1, 1, 4 * unit_ns, (int64_t)(4 + 3 * n) * unit_ns};
    f = profile_func_w(p, help);
    f->c = (pf_counts_t){n, n, (int64_t)(2 * n) * unit_ns, (int64_t)(3 * n) * unit_ns};
    f = profile_func_w(p, len);
    f->c = (pf_counts_t){n, n, (int64_t)n * unit_ns, (int64_t)n * unit_ns};
    profile_edge_w(p, profile_add_edge(p, mod, work))->c = profile_func(p, work)->c;
    profile_edge_w(p, profile_add_edge(p, work, help))->c = profile_func(p, help)->c;
    profile_edge_w(p, profile_add_edge(p, help, len))->c = profile_func(p, len)->c;
    uint32_t a = profile_add_path(p, 0, mod);
    uint32_t b = profile_add_path(p, a, work);
    uint32_t c = profile_add_path(p, b, help);
    uint32_t d = profile_add_path(p, c, len);
    uint32_t ids[4] = {a, b, c, d}, fs[4] = {mod, work, help, len};
    for (int i = 0; i < 4; i++) {
        pf_path_t *pa = profile_path_w(p, ids[i]);
        const pf_func_t *g = profile_func(p, fs[i]);
        pa->count = g->c.ncalls;
        pa->tottime_ns = g->c.tottime_ns;
        pa->cumtime_ns = g->c.cumtime_ns;
    }
    uint32_t ty = profile_add_type(p, "builtins.list", 13);
    pf_type_t *t = profile_type_w(p, ty);
    t->news = 10 * n;
    t->frees = 4 * n;
    t->frees_unborn = 3;
    t->bytes_new = 560 * n;
    t->bytes_freed = 224 * n;
    pf_site_t *s = profile_site_w(p, profile_add_site(p, help, ty));
    s->count = 10 * n;
    s->bytes = 560 * n;
    s->live = 6 * n;
    s->bytes_live = 336 * n;
    t->bytes_live = 336 * n;
    profile_drops_w(p)->records_lost = rank == 1 ? 7 : 0;
    return p;
}

static uint32_t find(const profile_t *p, const char *what)
{
    uint32_t cand[8], n;
    return profile_find(p, what, cand, 8, &n);
}

/* Merging adds rows with equal labels, exactly, and keeps edges, paths,
 * types and sites apart by their labels. */
static void test_merge(void)
{
    profile_t *r0 = sample(100, 0, 1000, 333);
    profile_t *r1 = sample(200, 1, 3000, 777);
    profile_t *job = profile_new();
    profile_merge(job, r0);
    profile_merge(job, r1);
    CHECK_EQ_U(profile_nfuncs(job), 4);
    CHECK_EQ_U(profile_nedges(job), 3);
    CHECK_EQ_U(profile_npaths(job), 5);
    uint32_t h = find(job, "helper");
    CHECK(h != UINT32_MAX);
    const pf_func_t *f = profile_func(job, h);
    CHECK_EQ_U(f->c.ncalls, 4000);
    CHECK_EQ_I(f->c.tottime_ns, 2 * 1000 * 333 + 2 * 3000 * 777);
    CHECK_EQ_I(f->c.cumtime_ns, 3 * 1000 * 333 + 3 * 3000 * 777);
    CHECK_EQ_U(profile_meta_c(job)->nprocs, 2);
    CHECK_EQ_I(profile_meta_c(job)->rank, -1);
    CHECK_EQ_U(profile_drops(job)->records_lost, 7);
    CHECK_EQ_U(profile_type(job, 0)->news, 40000);
    CHECK_EQ_U(profile_type(job, 0)->frees_unborn, 6);
    CHECK_EQ_U(profile_site(job, 0)->count, 40000);
    CHECK_EQ_U(profile_site(job, 0)->live, 24000);
    CHECK_EQ_U(pf_type_live(profile_type(job, 0)), 24000);
    /* the job's total is the ranks' totals, to the nanosecond */
    pf_totals_t t0, t1, tj;
    profile_totals(r0, &t0);
    profile_totals(r1, &t1);
    profile_totals(job, &tj);
    CHECK_EQ_I(tj.tottime_ns, t0.tottime_ns + t1.tottime_ns);
    CHECK_EQ_U(tj.calls, t0.calls + t1.calls);
    /* a copy is the same profile */
    profile_t *c = profile_copy(job);
    CHECK_EQ_U(profile_nfuncs(c), 4);
    CHECK_EQ_I(profile_func(c, h)->c.cumtime_ns, f->c.cumtime_ns);
    profile_destroy(&c);
    CHECK(c == NULL);
    profile_destroy(&job);
    profile_destroy(&r0);
    profile_destroy(&r1);
    profile_destroy(&r1); /* NULL-safe */
}

static void test_sort_keys(void)
{
    CHECK(strcmp(profile_sort_key("cumulative"), "cumulative") == 0);
    CHECK(strcmp(profile_sort_key("tottime"), "tottime") == 0);
    CHECK(strcmp(profile_sort_key("std"), "stdname") == 0); /* unique prefix */
    CHECK(profile_sort_key("cum") == NULL);                 /* cumulative or cumtime */
    CHECK(profile_sort_key("c") == NULL);
    CHECK(profile_sort_key("badkey") == NULL);
    CHECK(profile_sort_key("") == NULL);
    CHECK(profile_sort_key(NULL) == NULL);
    profile_t *p = sample(1, 0, 10, 1000);
    uint32_t *o = profile_order(p, "tottime");
    CHECK(strcmp(profile_func(p, o[0])->std, "app.py:20(helper)") == 0);
    free(o);
    o = profile_order(p, "ncalls");
    CHECK(profile_func(p, o[0])->c.ncalls == 10);
    free(o);
    o = profile_order(p, "name");
    CHECK(strcmp(profile_func(p, o[0])->name.s, "<built-in method builtins.len>") == 0);
    free(o);
    profile_destroy(&p);
}

static void test_find(void)
{
    profile_t *p = sample(1, 0, 10, 1000);
    /* the same name in two files */
    profile_add_func(p, "other.py", 8, 5, "helper", 6, NULL, 0, PF_KIND_PYTHON);
    uint32_t cand[8], n;
    CHECK(profile_find(p, "helper", cand, 8, &n) == UINT32_MAX);
    CHECK_EQ_U(n, 2);
    CHECK(strcmp(profile_func(p, cand[0])->std, "app.py:20(helper)") == 0);
    CHECK(strcmp(profile_func(p, cand[1])->std, "other.py:5(helper)") == 0);
    CHECK(profile_find(p, "app.py:20(helper)", cand, 8, &n) != UINT32_MAX && n == 1);
    CHECK(profile_find(p, "Solver.work", cand, 8, &n) == find(p, "work"));
    CHECK(profile_find(p, "{built-in method builtins.len}", cand, 8, &n) != UINT32_MAX);
    CHECK(profile_find(p, "nothing", cand, 8, &n) == UINT32_MAX && n == 0);
    profile_destroy(&p);
}

static void test_json_writer(void)
{
    sbuf_t b = {0};
    jw_t w;
    jw_init(&w, &b);
    jw_obj(&w);
    jw_kstrz(&w, "s", "a\"b\\c\n\xff");
    jw_key(&w, "a");
    jw_arr(&w);
    jw_u64(&w, 1);
    jw_i64(&w, -2);
    jw_sec(&w, 1500000000);
    jw_sec(&w, 1);
    jw_sec(&w, -2000000000);
    jw_sec(&w, 0);
    jw_num(&w, NAN);
    jw_null(&w);
    jw_bool(&w, 1);
    jw_arr_end(&w);
    jw_key(&w, "o");
    jw_obj(&w);
    jw_obj_end(&w);
    jw_obj_end(&w);
    CHECK(strcmp(b.data, "{\"s\":\"a\\\"b\\\\c\\u000a\\ufffd\",\"a\":[1,-2,1.5,0.000000001,-2,0,0,"
                         "null,true],\"o\":{}}") == 0);
    sbuf_free(&b);
}

static void test_table(void)
{
    profile_t *p = sample(1, 1, 1000, 1000);
    /* an open frame: <module> still running, 2 s so far */
    pf_func_t *m = profile_func_w(p, find(p, "<module>"));
    m->open.calls = 1;
    m->open.tottime_ns = 500000000;
    m->open.cumtime_ns = 2000000000;
    sbuf_t t = {0};
    pf_table_opts_t o = {"cumulative", 0, 0};
    profile_table(p, &o, &t);
    CHECK(strstr(t.data, "         2002 function calls in 0.503 seconds; 7 records lost (ring "
                         "full or agent restart): counts are incomplete\n\n"));
    CHECK(strstr(t.data, "   Dropped: 7 records lost by the writer"));
    CHECK(strstr(t.data, "   * times include frames still running"));
    CHECK(strstr(t.data, "        1    0.500*   0.000    2.003*   0.003  398.2   75.0   25.0 app.py:1(<module>)\n"));
    CHECK(strstr(t.data, "   Objects made while profiling, by type"));
    CHECK(strstr(t.data, "       10000       4000       6000       560000       224000            "
                         "3  builtins.list\n"));
    CHECK(strstr(t.data, "       10000       560000       6000  builtins.list         app.py:20(helper)\n"));
    /* the first row is the one running longest */
    const char *hdr = strstr(t.data, "filename:lineno(function)\n");
    CHECK(hdr && strstr(hdr, "app.py:1(<module>)") < strstr(hdr, "app.py:10(work)"));
    sbuf_free(&t);
    /* the program's own profile function displaced ours twice, no more now */
    profile_meta(p)->hook_status = 2u << PF_HOOK_COUNT_SHIFT;
    profile_table(p, &o, &t);
    CHECK(strstr(t.data, "   Note: the program installed its own profile function (sys.setprofile, "
                         "cProfile, ...) 2 time(s); full-mode profiling was paused"));
    sbuf_free(&t);
    profile_meta(p)->hook_status = 0;
    /* limit */
    pf_table_opts_t o2 = {"tottime", 2, 0};
    profile_table(p, &o2, &t);
    CHECK(strstr(t.data, "List reduced from 4 to 2 due to restriction <2>"));
    sbuf_free(&t);
    profile_destroy(&p);
}

static void test_marshal(void)
{
    char dir[] = "/tmp/ulma-marshal-XXXXXX", path[300], cmd[1024];
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/m.bin", dir);
    sbuf_t b = {0};
    marshal_tuple(&b, 7);
    marshal_int(&b, 0);
    marshal_int(&b, -5);
    marshal_int(&b, 3000000000ll);
    marshal_int(&b, -9000000000000000000ll);
    marshal_float(&b, 0.125);
    marshal_str(&b, "h\xc3\xa9llo", 6);
    marshal_str(&b, "bad\xff", 4);
    CHECK(write_file(path, b.data, b.len) == 0);
    snprintf(cmd, sizeof(cmd),
             "%s -c \"import marshal,sys; v=marshal.load(open(sys.argv[1],'rb')); "
             "assert v==(0,-5,3000000000,-9000000000000000000,0.125,'h\\u00e9llo','bad?'), v\" %s",
             PYTHON, path);
    CHECK(run(cmd) == 0);
    sbuf_free(&b);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(run(cmd) == 0);
}

/* Every export of a merged profile, read back by the reader it is for. */
static void test_exports(void)
{
    profile_t *r0 = sample(100, 0, 1000, 333), *r1 = sample(200, 1, 3000, 777);
    profile_t *job = profile_new();
    profile_merge(job, r0);
    profile_merge(job, r1);
    char dir[] = "/tmp/ulma-pfexport-XXXXXX", path[300], cmd[4096];
    CHECK(mkdtemp(dir));
    const char *checks[PROFILE_NFORMATS] = {
        /* json: version 2, names for modes, exact seconds, merged counts */
        "import json,sys; d=json.load(open(sys.argv[1])); assert d['format']=='ulma-profile' "
        "and d['version']==2; pr=d['process']; assert pr['active_mode']=='fast' and "
        "pr['processes']==2 and pr['state']=='exited', pr; f={x['name']:x for x in "
        "d['functions']}; h=f['helper']; assert h['ncalls']==4000 and "
        "round(h['tottime']*1e9)==2*1000*333+2*3000*777, h; assert len(d['paths'])==4; "
        "o=d['objects']['types'][0]; assert o['live']==24000 and o['freed_older']==6, o",
        /* pstats */
        "import pstats,sys; s=pstats.Stats(sys.argv[1]); k=('app.py',20,'helper'); "
        "cc,nc,tt,ct,callers=s.stats[k]; assert nc==4000 and abs(tt-(2*1000*333+2*3000*777)/1e9)"
        "<1e-12; assert ('app.py',10,'work') in callers",
        /* collapsed */
        "import sys; L=open(sys.argv[1]).read().split(chr(10)); "
        "assert any(l.startswith('app.py:1(<module>);app.py:10(work);app.py:20(helper) ') "
        "for l in L), L",
        /* speedscope */
        "import json,sys; d=json.load(open(sys.argv[1])); p=d['profiles'][0]; "
        "assert p['type']=='sampled' and len(p['samples'])==len(p['weights'])==4; "
        "assert d['name']=='2 processes, job job1', d['name']",
        /* pprof: gzip, then the string table has the names */
        "import gzip,sys; d=gzip.open(sys.argv[1]).read(); assert d[:1]==bytes([0x0a]) and "
        "b'app.py:20(helper)' in d and b'Solver.work' in d",
        /* svg: well formed, one group per frame, the script's three controls */
        "import xml.dom.minidom,sys; t=open(sys.argv[1]).read(); d=xml.dom.minidom.parseString(t); "
        "g=[e for e in d.getElementsByTagName('g') if e.getAttribute('class')=='f']; "
        "assert len(g)==4, len(g); s=d.getElementsByTagName('script'); assert len(s)==1; "
        "js=s[0].firstChild.data; assert 'function zoom' in js and 'function reset' in js and "
        "'function search' in js; ids=[e.getAttribute('id') for e in "
        "d.getElementsByTagName('text')]; assert 'reset' in ids and 'search' in ids and "
        "'matched' in ids",
    };
    for (int f = 0; f < PROFILE_NFORMATS; f++) {
        sbuf_t s = {0};
        CHECK(profile_export(job, f, &s) == 0);
        snprintf(path, sizeof(path), "%s/out.%s", dir, profile_format_name(f));
        CHECK(write_file(path, s.data, s.len) == 0);
        snprintf(cmd, sizeof(cmd), "%s -c \"%s\" %s", PYTHON, checks[f], path);
        if (run(cmd) != 0) {
            fprintf(stderr, "export %s failed its check\n", profile_format_name(f));
            exit(1);
        }
        sbuf_free(&s);
    }
    sbuf_t s = {0};
    CHECK(profile_export(job, PROFILE_NFORMATS, &s) < 0);
    CHECK(profile_format_by_name("svg") == PROFILE_SVG && profile_format_by_name("x") < 0);
    sbuf_free(&s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(run(cmd) == 0);
    profile_destroy(&job);
    profile_destroy(&r0);
    profile_destroy(&r1);
}

int main(void)
{
    RUN(test_merge);
    RUN(test_sort_keys);
    RUN(test_find);
    RUN(test_json_writer);
    RUN(test_table);
    RUN(test_marshal);
    RUN(test_exports);
    fprintf(stderr, "test_pflib: all passed\n");
    return 0;
}
