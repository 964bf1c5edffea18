/* query.c - the local query endpoint: validate a JSON request, answer it
 * from the aggregates, bounded by what was asked. Requests are documented
 * in node-agent/README.md. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "jreq.h"
#include "profile/export.h"
#include "profile/table.h"
#include "snapshot.h"
#include "ulma/segment.h"

#define MAX_LIMIT 100000u
#define DEFAULT_LIMIT 50u
#define MAX_CANDIDATES 50u /* listed in an "ambiguous name" answer */

static int fail(agent_t *a, sbuf_t *ans, const char *msg)
{
    a->bad_requests++;
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 0);
    jw_kstrz(&w, "error", msg);
    jw_obj_end(&w);
    return 0;
}

static const char *mode_name(uint32_t m) { return profile_mode_name(m); }

/* The profile of a process now. Caller owns the return value. */
static profile_t *proc_profile(aproc_t *p)
{
    return snapshot_process(p->prof, p->rd, &p->info, p->finished);
}

static void proc_summary(const aproc_t *p, jw_t *w)
{
    const ulma_seg_info_t *in = &p->info;
    uint32_t st = p->finished ? ULMA_SEG_EXITED : ulma_reader_state(p->rd);
    uint32_t am = ulma_reader_active_mode(p->rd);
    jw_obj(w);
    jw_ki64(w, "pid", in->pid);
    jw_ku64(w, "uid", in->uid);
    jw_ki64(w, "rank", in->mpi_rank);
    jw_ki64(w, "size", in->mpi_size);
    jw_kstrz(w, "job", in->job);
    jw_kstrz(w, "host", in->host);
    jw_kstrz(w, "exe", in->exe);
    jw_ku64(w, "start_time", in->start_time);
    jw_kstrz(w, "state", profile_state_name(st));
    jw_kstrz(w, "mode", mode_name(am));
    jw_kbool(w, "objects", (am & ULMA_CTL_OBJECTS) != 0);
    jw_ku64(w, "events", p->prof->events);
    jw_ku64(w, "functions", p->prof->nfuncs - 1);
    jw_ku64(w, "paths", p->prof->nnodes - 1);
    jw_ku64(w, "threads", p->prof->nthreads);
    jw_ku64(w, "records_lost", prof_total_dropped(p->prof));
    jw_knum(w, "seconds", prof_sec(p->prof, prof_span(p->prof)));
    jw_obj_end(w);
}

static int cmd_list(agent_t *a, const jreq_t *q, sbuf_t *ans)
{
    uint64_t limit = 1000;
    if (jreq_uint(q, "limit", MAX_LIMIT, &limit) < 0)
        return fail(a, ans, "limit: expected a non-negative integer");
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_key(&w, "agent");
    jw_obj(&w);
    jw_ki64(&w, "pid", a->self);
    jw_kbool(&w, "private", a->private_mode);
    jw_kstrz(&w, "dir", a->cfg.dir);
    jw_ku64(&w, "requests", a->requests);
    jw_ku64(&w, "bad_requests", a->bad_requests);
    jw_ku64(&w, "claimed", a->segments_claimed);
    jw_ku64(&w, "harvested", a->segments_finished);
    jw_ku64(&w, "skipped", a->segments_skipped);
    jw_obj_end(&w);
    jw_key(&w, "processes");
    jw_arr(&w);
    uint64_t n = 0, total = 0;
    for (aproc_t *p = a->procs; p; p = p->next, total++) {
        if (limit && n >= limit)
            continue;
        n++;
        proc_summary(p, &w);
    }
    jw_arr_end(&w);
    jw_ku64(&w, "total", total);
    jw_obj_end(&w);
    return 0;
}

/* The process a request names ("pid"), or NULL with an error answered. */
static aproc_t *req_proc(agent_t *a, const jreq_t *q, sbuf_t *ans)
{
    uint64_t pid;
    int rc = jreq_uint(q, "pid", INT32_MAX, &pid);
    if (rc <= 0) {
        fail(a, ans, rc < 0 ? "pid: expected a process id" : "pid: missing");
        return NULL;
    }
    aproc_t *p = agent_find_proc(a, (int32_t)pid);
    if (!p) {
        char msg[96];
        snprintf(msg, sizeof(msg), "no profiled process with pid %llu", (unsigned long long)pid);
        fail(a, ans, msg);
    }
    return p;
}

static int req_limit(agent_t *a, const jreq_t *q, sbuf_t *ans, uint64_t *limit)
{
    *limit = DEFAULT_LIMIT;
    if (jreq_uint(q, "limit", MAX_LIMIT, limit) < 0) {
        fail(a, ans, "limit: expected an integer from 0 (all) to 100000");
        return -1;
    }
    return 0;
}

static int cmd_top(agent_t *a, const jreq_t *q, sbuf_t *ans)
{
    aproc_t *p = req_proc(a, q, ans);
    uint64_t limit;
    if (!p || req_limit(a, q, ans, &limit))
        return 0;
    const char *sort = jreq_str(q, "sort");
    if (jreq_has(q, "sort") && (!sort || !profile_sort_key(sort))) {
        char msg[256];
        snprintf(msg, sizeof(msg), "sort: unknown key (%s)", profile_sort_keys_list());
        return fail(a, ans, msg);
    }
    sort = sort ? profile_sort_key(sort) : "cumulative";
    profile_t *pr = proc_profile(p);
    uint32_t *order = profile_order(pr, sort);
    uint32_t n = profile_nfuncs(pr);
    int64_t total = profile_shown_total_ns(pr);
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_key(&w, "process");
    profile_process_json(pr, &w);
    jw_key(&w, "drops");
    profile_drops_json(pr, &w);
    jw_kstrz(&w, "sort", sort);
    jw_ku64(&w, "total_rows", n);
    jw_key(&w, "rows");
    jw_arr(&w);
    for (uint32_t i = 0; i < n && (!limit || i < limit); i++)
        profile_func_json(pr, order[i], total, &w);
    jw_arr_end(&w);
    if (jreq_bool(q, "text", 0)) {
        sbuf_t t = {0};
        pf_table_opts_t o = {sort, (uint32_t)limit, 0};
        profile_table(pr, &o, &t);
        jw_kstr(&w, "text", t.data ? t.data : "", t.len);
        sbuf_free(&t);
    }
    jw_obj_end(&w);
    free(order);
    profile_destroy(&pr);
    return 0;
}

static int cmd_edges(agent_t *a, const jreq_t *q, sbuf_t *ans, int callees)
{
    aproc_t *p = req_proc(a, q, ans);
    uint64_t limit;
    if (!p || req_limit(a, q, ans, &limit))
        return 0;
    const char *fn = jreq_str(q, "func");
    if (!fn)
        return fail(a, ans, "func: missing (a name, or file:line(name) as in the table)");
    profile_t *pr = proc_profile(p);
    uint32_t cand[MAX_CANDIDATES], nmatch;
    uint32_t row = profile_find(pr, fn, cand, MAX_CANDIDATES, &nmatch);
    jw_t w;
    jw_init(&w, ans);
    if (row == UINT32_MAX && nmatch > 1) {
        /* ambiguous: say which rows the name could mean */
        a->bad_requests++;
        jw_obj(&w);
        jw_kbool(&w, "ok", 0);
        char msg[160];
        snprintf(msg, sizeof(msg), "func: ambiguous name '%.60s': %u functions match; name one "
                 "as file:line(name)", fn, nmatch);
        jw_kstrz(&w, "error", msg);
        jw_key(&w, "candidates");
        jw_arr(&w);
        for (uint32_t i = 0; i < nmatch && i < MAX_CANDIDATES; i++)
            jw_strz(&w, profile_func(pr, cand[i])->std);
        jw_arr_end(&w);
        jw_ku64(&w, "total_candidates", nmatch);
        jw_obj_end(&w);
    } else if (row == UINT32_MAX) {
        fail(a, ans, "func: no such function in this process");
    } else {
        jw_obj(&w);
        jw_kbool(&w, "ok", 1);
        jw_key(&w, "function");
        profile_func_json(pr, row, profile_shown_total_ns(pr), &w);
        jw_key(&w, callees ? "callees" : "callers");
        profile_edges_json(pr, row, callees, (uint32_t)limit, &w);
        jw_obj_end(&w);
    }
    profile_destroy(&pr);
    return 0;
}

static int cmd_simple(agent_t *a, const jreq_t *q, sbuf_t *ans, const char *what)
{
    aproc_t *p = req_proc(a, q, ans);
    uint64_t limit;
    if (!p || req_limit(a, q, ans, &limit))
        return 0;
    profile_t *pr = proc_profile(p);
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_ki64(&w, "pid", p->info.pid);
    jw_key(&w, what);
    if (strcmp(what, "paths") == 0)
        profile_paths_json(pr, (uint32_t)limit, &w);
    else if (strcmp(what, "threads") == 0)
        profile_threads_json(pr, (uint32_t)limit, &w);
    else if (strcmp(what, "objects") == 0)
        profile_objects_json(pr, (uint32_t)limit, &w);
    else if (strcmp(what, "mpi") == 0)
        profile_mpi_json(pr, &w);
    else
        profile_drops_json(pr, &w);
    jw_obj_end(&w);
    profile_destroy(&pr);
    return 0;
}

static int cmd_drops(agent_t *a, const jreq_t *q, sbuf_t *ans)
{
    if (jreq_has(q, "pid"))
        return cmd_simple(a, q, ans, "drops");
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_key(&w, "processes");
    jw_arr(&w);
    uint64_t lost = 0;
    for (aproc_t *p = a->procs; p; p = p->next) {
        uint64_t d = prof_total_dropped(p->prof);
        lost += d;
        if (!d && !ulma_reader_total_corrupt(p->rd))
            continue;
        jw_obj(&w);
        jw_ki64(&w, "pid", p->info.pid);
        jw_ku64(&w, "records_lost", d);
        jw_ku64(&w, "corrupt", ulma_reader_total_corrupt(p->rd));
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_ku64(&w, "records_lost", lost);
    jw_obj_end(&w);
    return 0;
}

static int cmd_export(agent_t *a, const jreq_t *q, sbuf_t *ans, sbuf_t *data)
{
    aproc_t *p = req_proc(a, q, ans);
    if (!p)
        return 0;
    const char *fmt = jreq_str(q, "format");
    int f = fmt ? profile_format_by_name(fmt) : -1;
    if (f < 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "format: one of %s", profile_formats_list());
        return fail(a, ans, msg);
    }
    profile_t *pr = proc_profile(p);
    int err = profile_export(pr, f, data);
    profile_destroy(&pr);
    if (err) {
        data->len = 0;
        return fail(a, ans, "export failed");
    }
    jw_t w;
    jw_init(&w, ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_ki64(&w, "pid", p->info.pid);
    jw_kstrz(&w, "format", profile_format_name(f));
    jw_ku64(&w, "bytes", data->len);
    jw_obj_end(&w);
    return 0;
}

/* ---- control ---------------------------------------------------------------------- */

static int cmd_control(agent_t *a, const jreq_t *q, void *const *env, const size_t *env_len,
                       int nenv, sbuf_t *ans)
{
    const char *mode = jreq_str(q, "mode");
    if (!mode)
        return fail(a, ans, "mode: missing (off, on, fast or full)");
    int m = control_mode(mode);
    if (m < 0)
        return fail(a, ans, "mode: expected off, on, fast or full");
    uint32_t ctl = (uint32_t)m;
    if (jreq_bool(q, "objects", 0))
        ctl |= ULMA_CTL_OBJECTS;
    uint64_t pid = 0, wait_ms = 1500;
    int has_pid = jreq_uint(q, "pid", INT32_MAX, &pid);
    const char *job = jreq_str(q, "job");
    int all = jreq_bool(q, "all", 0);
    if (has_pid < 0 || jreq_uint(q, "wait_ms", 60000, &wait_ms) < 0)
        return fail(a, ans, "pid / wait_ms: expected integers");
    if ((has_pid > 0) + (job != NULL) + (all != 0) != 1)
        return fail(a, ans, "name exactly one target: pid, job or all");
    ctl_match_t match = {has_pid > 0 ? (int32_t)pid : 0, job, -1};
    if (!control_start(a, ctl, &match, (uint32_t)wait_ms, CTL_ANSWER_JSON, 0, env, env_len,
                       nenv))
        return fail(a, ans, "no running profiled process matches");
    return 1;
}

/* ---- dispatch ------------------------------------------------------------------------ */

int query_handle(agent_t *a, const char *body, size_t len, void *const *env,
                 const size_t *env_len, int nenv, sbuf_t *ans, sbuf_t *data)
{
    jreq_t *q = xmalloc(sizeof(*q));
    int rc = 0;
    if (jreq_parse(q, body, len) != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "malformed request: %s", q->err);
        rc = fail(a, ans, msg);
        goto out;
    }
    const char *cmd = jreq_str(q, "cmd");
    if (!cmd)
        rc = fail(a, ans, "cmd: missing (list, top, callers, callees, paths, stacks, objects, "
                          "mpi, drops, export, control)");
    else if (strcmp(cmd, "list") == 0)
        rc = cmd_list(a, q, ans);
    else if (strcmp(cmd, "top") == 0)
        rc = cmd_top(a, q, ans);
    else if (strcmp(cmd, "callers") == 0)
        rc = cmd_edges(a, q, ans, 0);
    else if (strcmp(cmd, "callees") == 0)
        rc = cmd_edges(a, q, ans, 1);
    else if (strcmp(cmd, "paths") == 0)
        rc = cmd_simple(a, q, ans, "paths");
    else if (strcmp(cmd, "stacks") == 0)
        rc = cmd_simple(a, q, ans, "threads");
    else if (strcmp(cmd, "objects") == 0)
        rc = cmd_simple(a, q, ans, "objects");
    else if (strcmp(cmd, "mpi") == 0)
        rc = cmd_simple(a, q, ans, "mpi");
    else if (strcmp(cmd, "drops") == 0)
        rc = cmd_drops(a, q, ans);
    else if (strcmp(cmd, "export") == 0)
        rc = cmd_export(a, q, ans, data);
    else if (strcmp(cmd, "control") == 0)
        rc = cmd_control(a, q, env, env_len, nenv, ans);
    else
        rc = fail(a, ans, "cmd: unknown command");
out:
    free(q);
    return rc;
}
