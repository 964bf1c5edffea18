/* query.c - JSON requests of the query endpoint: validate one, answer it
 * from the process table, bounded by what was asked. Requests are
 * documented in node-agent/README.md. */
#define _GNU_SOURCE
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jreq.h"
#include "profile/export.h"
#include "profile/table.h"
#include "ulma/segment.h"

#define MAX_LIMIT 100000u
#define DEFAULT_LIMIT 50u
#define MAX_CANDIDATES 50u /* listed in an "ambiguous name" answer */

/* What a command handler is given. */
typedef struct query {
    const agent_view_t *v;
    proctab_t *t;
    control_t *ctl;
    const jreq_t *q;
    const envelope_t *env;
    sbuf_t *ans, *data;
} query_t;

static query_rc_t fail(query_t *r, const char *msg)
{
    jreq_error(r->ans, msg);
    return QUERY_FAILED;
}

static void proc_summary(const aproc_t *p, jw_t *w)
{
    const ulma_seg_info_t *in = &p->info;
    uint32_t st = proctab_state(p);
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
    jw_kstrz(w, "mode", profile_mode_name(am));
    jw_kbool(w, "objects", (am & ULMA_CTL_OBJECTS) != 0);
    jw_ku64(w, "events", p->prof->events);
    jw_ku64(w, "functions", p->prof->nfuncs - 1);
    jw_ku64(w, "paths", p->prof->nnodes - 1);
    jw_ku64(w, "threads", p->prof->nthreads);
    jw_ku64(w, "records_lost", prof_total_dropped(p->prof));
    jw_ku64(w, "records_lost_handover", p->prof->handover_lost); /* of which */
    jw_knum(w, "seconds", prof_sec(p->prof, prof_span(p->prof)));
    jw_obj_end(w);
}

static query_rc_t cmd_list(query_t *r)
{
    const agent_view_t *v = r->v;
    uint64_t limit = 1000;
    if (jreq_uint(r->q, "limit", MAX_LIMIT, &limit) < 0)
        return fail(r, "limit: expected a non-negative integer");
    jw_t w;
    jw_init(&w, r->ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_key(&w, "agent");
    jw_obj(&w);
    jw_ki64(&w, "pid", v->pid);
    jw_kbool(&w, "private", v->private_mode);
    jw_kstrz(&w, "dir", v->dir);
    jw_ku64(&w, "requests", v->requests);
    jw_ku64(&w, "bad_requests", v->bad_requests);
    jw_ku64(&w, "claimed", v->claimed);
    jw_ku64(&w, "harvested", v->harvested);
    jw_ku64(&w, "skipped", v->skipped);
    jw_ku64(&w, "auth_accepted", v->auth_accepted);
    jw_ku64(&w, "auth_refused", v->auth_refused);
    jw_ku64(&w, "auth_failed", v->auth_failed);
    jw_ku64(&w, "controls_refused", v->controls_refused);
    jw_obj_end(&w);
    jw_key(&w, "processes");
    jw_arr(&w);
    uint64_t n = 0, total = 0;
    for (aproc_t *p = r->t->procs; p; p = p->next, total++) {
        if (limit && n >= limit)
            continue;
        n++;
        proc_summary(p, &w);
    }
    jw_arr_end(&w);
    jw_ku64(&w, "total", total);
    jw_obj_end(&w);
    return QUERY_ANSWERED;
}

/* The process a request names ("pid"), or NULL with an error answered. */
static aproc_t *req_proc(query_t *r)
{
    uint64_t pid;
    int rc = jreq_uint(r->q, "pid", INT32_MAX, &pid);
    if (rc <= 0) {
        fail(r, rc < 0 ? "pid: expected a process id" : "pid: missing");
        return NULL;
    }
    aproc_t *p = proctab_find(r->t, (int32_t)pid);
    if (!p) {
        char msg[96];
        snprintf(msg, sizeof(msg), "no profiled process with pid %llu", (unsigned long long)pid);
        fail(r, msg);
    }
    return p;
}

/* The "limit" of a request (DEFAULT_LIMIT when absent), or -1 with the
 * error answered. */
static int req_limit(query_t *r, uint64_t *limit)
{
    *limit = DEFAULT_LIMIT;
    if (jreq_uint(r->q, "limit", MAX_LIMIT, limit) < 0) {
        fail(r, "limit: expected an integer from 0 (all) to 100000");
        return -1;
    }
    return 0;
}

static query_rc_t cmd_top(query_t *r)
{
    aproc_t *p = req_proc(r);
    uint64_t limit;
    if (!p || req_limit(r, &limit))
        return QUERY_FAILED;
    const char *sort = jreq_str(r->q, "sort");
    if (jreq_has(r->q, "sort") && (!sort || !profile_sort_key(sort))) {
        char msg[256];
        snprintf(msg, sizeof(msg), "sort: unknown key (%s)", profile_sort_keys_list());
        return fail(r, msg);
    }
    sort = sort ? profile_sort_key(sort) : "cumulative";
    profile_t *pr = proctab_profile(p);
    uint32_t *order = profile_order(pr, sort);
    uint32_t n = profile_nfuncs(pr);
    int64_t total = profile_shown_total_ns(pr);
    jw_t w;
    jw_init(&w, r->ans);
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
    if (jreq_bool(r->q, "text", 0)) {
        sbuf_t t = {0};
        pf_table_opts_t o = {sort, (uint32_t)limit, 0};
        profile_table(pr, &o, &t);
        jw_kstr(&w, "text", t.data ? t.data : "", t.len);
        sbuf_free(&t);
    }
    jw_obj_end(&w);
    free(order);
    profile_destroy(&pr);
    return QUERY_ANSWERED;
}

static query_rc_t cmd_edges(query_t *r, int callees)
{
    aproc_t *p = req_proc(r);
    uint64_t limit;
    if (!p || req_limit(r, &limit))
        return QUERY_FAILED;
    const char *fn = jreq_str(r->q, "func");
    if (!fn)
        return fail(r, "func: missing (a name, or file:line(name) as in the table)");
    profile_t *pr = proctab_profile(p);
    uint32_t cand[MAX_CANDIDATES], nmatch;
    uint32_t row = profile_find(pr, fn, cand, MAX_CANDIDATES, &nmatch);
    query_rc_t rc = QUERY_FAILED;
    jw_t w;
    jw_init(&w, r->ans);
    if (row == UINT32_MAX && nmatch > 1) {
        /* ambiguous: say which rows the name could mean */
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
        fail(r, "func: no such function in this process");
    } else {
        jw_obj(&w);
        jw_kbool(&w, "ok", 1);
        jw_key(&w, "function");
        profile_func_json(pr, row, profile_shown_total_ns(pr), &w);
        jw_key(&w, callees ? "callees" : "callers");
        profile_edges_json(pr, row, callees, (uint32_t)limit, &w);
        jw_obj_end(&w);
        rc = QUERY_ANSWERED;
    }
    profile_destroy(&pr);
    return rc;
}

static query_rc_t cmd_simple(query_t *r, const char *what)
{
    aproc_t *p = req_proc(r);
    uint64_t limit;
    if (!p || req_limit(r, &limit))
        return QUERY_FAILED;
    profile_t *pr = proctab_profile(p);
    jw_t w;
    jw_init(&w, r->ans);
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
    return QUERY_ANSWERED;
}

static query_rc_t cmd_callers(query_t *r) { return cmd_edges(r, 0); }
static query_rc_t cmd_callees(query_t *r) { return cmd_edges(r, 1); }
static query_rc_t cmd_paths(query_t *r) { return cmd_simple(r, "paths"); }
static query_rc_t cmd_stacks(query_t *r) { return cmd_simple(r, "threads"); }
static query_rc_t cmd_objects(query_t *r) { return cmd_simple(r, "objects"); }
static query_rc_t cmd_mpi(query_t *r) { return cmd_simple(r, "mpi"); }

static query_rc_t cmd_drops(query_t *r)
{
    if (jreq_has(r->q, "pid"))
        return cmd_simple(r, "drops");
    jw_t w;
    jw_init(&w, r->ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_key(&w, "processes");
    jw_arr(&w);
    uint64_t lost = 0;
    for (aproc_t *p = r->t->procs; p; p = p->next) {
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
    return QUERY_ANSWERED;
}

static query_rc_t cmd_export(query_t *r)
{
    aproc_t *p = req_proc(r);
    if (!p)
        return QUERY_FAILED;
    const char *fmt = jreq_str(r->q, "format");
    int f = fmt ? profile_format_by_name(fmt) : -1;
    if (f < 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "format: one of %s", profile_formats_list());
        return fail(r, msg);
    }
    profile_t *pr = proctab_profile(p);
    int err = profile_export(pr, f, r->data);
    profile_destroy(&pr);
    if (err) {
        r->data->len = 0;
        return fail(r, "export failed");
    }
    jw_t w;
    jw_init(&w, r->ans);
    jw_obj(&w);
    jw_kbool(&w, "ok", 1);
    jw_ki64(&w, "pid", p->info.pid);
    jw_kstrz(&w, "format", profile_format_name(f));
    jw_ku64(&w, "bytes", r->data->len);
    jw_obj_end(&w);
    return QUERY_ANSWERED;
}

/* ---- control ---------------------------------------------------------------------- */

static query_rc_t cmd_control(query_t *r)
{
    const char *mode = jreq_str(r->q, "mode");
    if (!mode)
        return fail(r, "mode: missing (off, on, fast or full)");
    int m = control_mode(mode);
    if (m < 0)
        return fail(r, "mode: expected off, on, fast or full");
    uint32_t ctl = (uint32_t)m;
    if (jreq_bool(r->q, "objects", 0))
        ctl |= ULMA_CTL_OBJECTS;
    uint64_t pid = 0, wait_ms = 1500;
    int has_pid = jreq_uint(r->q, "pid", INT32_MAX, &pid);
    const char *job = jreq_str(r->q, "job");
    int all = jreq_bool(r->q, "all", 0);
    if (has_pid < 0 || jreq_uint(r->q, "wait_ms", 60000, &wait_ms) < 0)
        return fail(r, "pid / wait_ms: expected integers");
    if ((has_pid > 0) + (job != NULL) + (all != 0) != 1)
        return fail(r, "name exactly one target: pid, job or all");
    ctl_match_t match = {has_pid > 0 ? (int32_t)pid : 0, job, -1};
    if (!control_start(r->ctl, r->t, ctl, &match, (uint32_t)wait_ms, CTL_ANSWER_JSON, 0, r->env))
        return fail(r, "no running profiled process matches");
    return QUERY_DEFERRED;
}

/* ---- dispatch ------------------------------------------------------------------------ */

query_rc_t query_handle(const agent_view_t *v, proctab_t *t, control_t *ctl, const char *body,
                        size_t len, const envelope_t *env, sbuf_t *ans, sbuf_t *data)
{
    static const struct {
        const char *name;
        query_rc_t (*fn)(query_t *r);
    } cmds[] = {
        {"list", cmd_list},       {"top", cmd_top},         {"callers", cmd_callers},
        {"callees", cmd_callees}, {"paths", cmd_paths},     {"stacks", cmd_stacks},
        {"objects", cmd_objects}, {"mpi", cmd_mpi},         {"drops", cmd_drops},
        {"export", cmd_export},   {"control", cmd_control},
    };
    query_t r = {v, t, ctl, NULL, env, ans, data};
    jreq_t *q = xmalloc(sizeof(*q));
    query_rc_t rc = QUERY_FAILED;
    if (jreq_parse(q, body, len) != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "malformed request: %s", q->err);
        rc = fail(&r, msg);
        goto out;
    }
    r.q = q;
    const char *cmd = jreq_str(q, "cmd");
    if (!cmd) {
        rc = fail(&r, "cmd: missing (list, top, callers, callees, paths, stacks, objects, "
                      "mpi, drops, export, control)");
        goto out;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(cmd, cmds[i].name) == 0) {
            rc = cmds[i].fn(&r);
            goto out;
        }
    rc = fail(&r, "cmd: unknown command");
out:
    free(q);
    return rc;
}
