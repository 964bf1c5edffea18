/* query.c - the local query endpoint: validate a JSON request, answer it
 * from the aggregates, bounded by what was asked. Requests are documented
 * in node-agent/README.md. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "export.h"
#include "jreq.h"
#include "report.h"
#include "ulma/segment.h"

#define MAX_LIMIT 100000u
#define DEFAULT_LIMIT 50u
#define MAX_CANDIDATES 50u /* listed in an "ambiguous name" answer */

static int fail(agent_t *a, sbuf_t *ans, const char *msg)
{
    a->bad_requests++;
    sbuf_adds(ans, "{\"ok\":false,\"error\":");
    sbuf_json_str(ans, msg, strlen(msg));
    sbuf_addc(ans, '}');
    return 0;
}

static const char *state_name(uint32_t st, int finished)
{
    if (finished || st == ULMA_SEG_EXITED)
        return "exited";
    return st == ULMA_SEG_LIVE ? "live" : "init";
}

static const char *mode_name(uint32_t m)
{
    switch (m & ULMA_CTL_MODE_MASK) {
    case ULMA_MODE_OFF: return "off";
    case ULMA_MODE_FAST: return "fast";
    case ULMA_MODE_FULL: return "full";
    default: return "?";
    }
}

static void proc_summary(const aproc_t *p, sbuf_t *ans)
{
    const ulma_seg_info_t *in = &p->info;
    uint32_t st = p->finished ? ULMA_SEG_EXITED : ulma_reader_state(p->rd);
    uint32_t am = ulma_reader_active_mode(p->rd);
    sbuf_printf(ans, "{\"pid\":%d,\"uid\":%u,\"rank\":%d,\"size\":%d,\"job\":", in->pid, in->uid,
                in->mpi_rank, in->mpi_size);
    sbuf_json_str(ans, in->job, strlen(in->job));
    sbuf_adds(ans, ",\"host\":");
    sbuf_json_str(ans, in->host, strlen(in->host));
    sbuf_adds(ans, ",\"exe\":");
    sbuf_json_str(ans, in->exe, strlen(in->exe));
    sbuf_printf(ans,
                ",\"start_time\":%llu,\"state\":\"%s\",\"mode\":\"%s\",\"objects\":%s,"
                "\"events\":%llu,\"functions\":%u,\"paths\":%u,\"threads\":%u,"
                "\"records_lost\":%llu,\"seconds\":",
                (unsigned long long)in->start_time, state_name(st, p->finished), mode_name(am),
                (am & ULMA_CTL_OBJECTS) ? "true" : "false", (unsigned long long)p->prof->events,
                p->prof->nfuncs - 1, p->prof->nnodes - 1, p->prof->nthreads,
                (unsigned long long)prof_total_dropped(p->prof));
    sbuf_json_num(ans, prof_sec(p->prof, prof_span(p->prof)));
    sbuf_addc(ans, '}');
}

static int cmd_list(agent_t *a, const jreq_t *q, sbuf_t *ans)
{
    uint64_t limit = 1000;
    if (jreq_uint(q, "limit", MAX_LIMIT, &limit) < 0)
        return fail(a, ans, "limit: expected a non-negative integer");
    sbuf_printf(ans,
                "{\"ok\":true,\"agent\":{\"pid\":%d,\"private\":%s,\"dir\":", (int)a->self,
                a->private_mode ? "true" : "false");
    sbuf_json_str(ans, a->cfg.dir, strlen(a->cfg.dir));
    sbuf_printf(ans,
                ",\"requests\":%llu,\"bad_requests\":%llu,\"claimed\":%llu,\"harvested\":%llu,"
                "\"skipped\":%llu},\"processes\":[",
                (unsigned long long)a->requests, (unsigned long long)a->bad_requests,
                (unsigned long long)a->segments_claimed, (unsigned long long)a->segments_finished,
                (unsigned long long)a->segments_skipped);
    uint64_t n = 0, total = 0;
    for (aproc_t *p = a->procs; p; p = p->next, total++) {
        if (limit && n >= limit)
            continue;
        if (n++)
            sbuf_addc(ans, ',');
        proc_summary(p, ans);
    }
    sbuf_printf(ans, "],\"total\":%llu}", (unsigned long long)total);
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

static void meta_of(aproc_t *p, export_meta_t *m)
{
    memset(m, 0, sizeof(*m));
    m->info = &p->info;
    m->corrupt = ulma_reader_total_corrupt(p->rd);
    m->threads_lost = ulma_reader_threads_lost(p->rd);
    m->state = p->finished ? ULMA_SEG_EXITED : ulma_reader_state(p->rd);
    m->active_mode = ulma_reader_active_mode(p->rd);
}

static int cmd_top(agent_t *a, const jreq_t *q, sbuf_t *ans)
{
    aproc_t *p = req_proc(a, q, ans);
    uint64_t limit;
    if (!p || req_limit(a, q, ans, &limit))
        return 0;
    const char *sort = jreq_str(q, "sort");
    if (jreq_has(q, "sort") && (!sort || !rep_sort_key(sort)))
        return fail(a, ans, "sort: unknown key (calls, cumulative, cumtime, time, tottime, "
                            "ncalls, pcalls, name, filename, module, line, nfl, stdname)");
    sort = sort ? rep_sort_key(sort) : "cumulative";
    rep_t *r = rep_new(p->prof);
    rep_sort(r, sort);
    export_meta_t m;
    meta_of(p, &m);
    sbuf_adds(ans, "{\"ok\":true,\"process\":");
    export_process_json(r, &m, ans);
    sbuf_adds(ans, ",\"drops\":");
    export_drops_json(r, &m, ans);
    sbuf_printf(ans, ",\"sort\":\"%s\",\"total_rows\":%u,\"rows\":[", sort, r->n);
    for (uint32_t i = 0; i < r->n && (!limit || i < limit); i++) {
        if (i)
            sbuf_addc(ans, ',');
        rep_row_json(r, &r->rows[r->order[i]], ans);
    }
    sbuf_addc(ans, ']');
    if (jreq_bool(q, "text", 0)) {
        sbuf_t t = {0};
        rep_table(r, sort, (uint32_t)limit, &t);
        sbuf_adds(ans, ",\"text\":");
        sbuf_json_str(ans, t.data ? t.data : "", t.len);
        sbuf_free(&t);
    }
    sbuf_addc(ans, '}');
    rep_destroy(&r);
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
    rep_t *r = rep_new(p->prof);
    uint32_t cand[MAX_CANDIDATES], ncand = 0;
    uint32_t row = rep_find_all(r, fn, cand, MAX_CANDIDATES, &ncand);
    if (row == UINT32_MAX) {
        rep_destroy(&r);
        return fail(a, ans, "func: no such function in this process");
    }
    if (row == REP_AMBIGUOUS) {
        /* never pick one: say which, so that the caller can name one */
        a->bad_requests++;
        sbuf_printf(ans, "{\"ok\":false,\"error\":");
        sbuf_t msg = {0};
        sbuf_printf(&msg, "func: ambiguous name '%s': %u functions match; name one as "
                          "file:line(name)", fn, ncand);
        sbuf_json_str(ans, msg.data, msg.len);
        sbuf_free(&msg);
        sbuf_adds(ans, ",\"candidates\":[");
        for (uint32_t i = 0; i < ncand && i < MAX_CANDIDATES; i++) {
            if (i)
                sbuf_addc(ans, ',');
            sbuf_json_str(ans, r->rows[cand[i]].std, strlen(r->rows[cand[i]].std));
        }
        sbuf_printf(ans, "],\"total_candidates\":%u}", ncand);
        rep_destroy(&r);
        return 0;
    }
    sbuf_adds(ans, "{\"ok\":true,\"function\":");
    rep_row_json(r, &r->rows[row], ans);
    sbuf_printf(ans, ",\"%s\":", callees ? "callees" : "callers");
    rep_edges_json(r, row, callees, (uint32_t)limit, ans);
    sbuf_addc(ans, '}');
    rep_destroy(&r);
    return 0;
}

static int cmd_simple(agent_t *a, const jreq_t *q, sbuf_t *ans, const char *what)
{
    aproc_t *p = req_proc(a, q, ans);
    uint64_t limit;
    if (!p || req_limit(a, q, ans, &limit))
        return 0;
    rep_t *r = rep_new(p->prof);
    export_meta_t m;
    meta_of(p, &m);
    sbuf_printf(ans, "{\"ok\":true,\"pid\":%d,\"%s\":", p->info.pid, what);
    if (strcmp(what, "paths") == 0)
        export_paths_json(r, (uint32_t)limit, ans);
    else if (strcmp(what, "threads") == 0)
        export_threads_json(r, (uint32_t)limit, ans);
    else if (strcmp(what, "objects") == 0)
        export_objects_json(r, (uint32_t)limit, ans);
    else if (strcmp(what, "mpi") == 0)
        export_mpi_json(r, ans);
    else
        export_drops_json(r, &m, ans);
    sbuf_addc(ans, '}');
    rep_destroy(&r);
    return 0;
}

static int cmd_drops(agent_t *a, const jreq_t *q, sbuf_t *ans)
{
    if (jreq_has(q, "pid"))
        return cmd_simple(a, q, ans, "drops");
    sbuf_adds(ans, "{\"ok\":true,\"processes\":[");
    int first = 1;
    uint64_t lost = 0;
    for (aproc_t *p = a->procs; p; p = p->next) {
        uint64_t d = prof_total_dropped(p->prof);
        lost += d;
        if (!d && !ulma_reader_total_corrupt(p->rd))
            continue;
        if (!first)
            sbuf_addc(ans, ',');
        first = 0;
        sbuf_printf(ans, "{\"pid\":%d,\"records_lost\":%llu,\"corrupt\":%llu}", p->info.pid,
                    (unsigned long long)d,
                    (unsigned long long)ulma_reader_total_corrupt(p->rd));
    }
    sbuf_printf(ans, "],\"records_lost\":%llu}", (unsigned long long)lost);
    return 0;
}

static int cmd_export(agent_t *a, const jreq_t *q, sbuf_t *ans, sbuf_t *data)
{
    aproc_t *p = req_proc(a, q, ans);
    if (!p)
        return 0;
    const char *fmt = jreq_str(q, "format");
    int f = fmt ? export_format_by_name(fmt) : -1;
    if (f < 0)
        return fail(a, ans, "format: one of json, pstats, collapsed, speedscope, pprof, svg");
    rep_t *r = rep_new(p->prof);
    export_meta_t m;
    meta_of(p, &m);
    int err = export_write(r, &m, f, data);
    rep_destroy(&r);
    if (err) {
        data->len = 0;
        return fail(a, ans, "export failed");
    }
    sbuf_printf(ans, "{\"ok\":true,\"pid\":%d,\"format\":\"%s\",\"bytes\":%zu}", p->info.pid, fmt,
                data->len);
    return 0;
}

/* ---- control ---------------------------------------------------------------------- */

static void control_answer(const ctl_wait_t *w, sbuf_t *ans, int timed_out)
{
    uint32_t applied = 0;
    sbuf_printf(ans, "{\"ok\":true,\"mode\":\"%s\",\"objects\":%s,\"targets\":[",
                mode_name(w->control), (w->control & ULMA_CTL_OBJECTS) ? "true" : "false");
    for (uint32_t i = 0; i < w->n; i++) {
        aproc_t *p = w->t[i].proc;
        uint32_t seq = w->t[i].seq;
        int ok = (int32_t)(ulma_reader_applied_seq(p->rd) - seq) >= 0;
        applied += (uint32_t)ok;
        if (i)
            sbuf_addc(ans, ',');
        sbuf_printf(ans,
                    "{\"pid\":%d,\"rank\":%d,\"seq\":%u,\"applied\":%s,\"active_mode\":\"%s\"}",
                    p->info.pid, p->info.mpi_rank, seq, ok ? "true" : "false",
                    mode_name(ulma_reader_active_mode(p->rd)));
    }
    sbuf_printf(ans, "],\"requested\":%u,\"applied\":%u,\"timed_out\":%s}", w->n, applied,
                timed_out ? "true" : "false");
}

static int cmd_control(agent_t *a, const jreq_t *q, void *const *env, const size_t *env_len,
                       int nenv, sbuf_t *ans)
{
    const char *mode = jreq_str(q, "mode");
    uint32_t ctl;
    if (!mode)
        return fail(a, ans, "mode: missing (off, on, fast or full)");
    if (strcmp(mode, "off") == 0)
        ctl = ULMA_MODE_OFF;
    else if (strcmp(mode, "on") == 0 || strcmp(mode, "fast") == 0)
        ctl = ULMA_MODE_FAST;
    else if (strcmp(mode, "full") == 0)
        ctl = ULMA_MODE_FULL;
    else
        return fail(a, ans, "mode: expected off, on, fast or full");
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
    ctl_wait_t *w = xcalloc(1, sizeof(*w));
    for (aproc_t *p = a->procs; p && w->n < CTL_MAX_TARGETS; p = p->next) {
        if (p->finished)
            continue;
        if (has_pid > 0 && p->info.pid != (int32_t)pid)
            continue;
        if (job && strcmp(p->info.job, job) != 0)
            continue;
        w->t[w->n].proc = p;
        w->t[w->n].seq = ulma_reader_request(p->rd, ctl);
        w->n++;
    }
    if (!w->n) {
        free(w);
        return fail(a, ans, "no running profiled process matches");
    }
    w->control = ctl;
    w->deadline_ns = now_ns() + wait_ms * 1000000u;
    w->nenv = nenv;
    for (int i = 0; i < nenv; i++) {
        w->env[i] = xmalloc(env_len[i] ? env_len[i] : 1);
        memcpy(w->env[i], env[i], env_len[i]);
        w->env_len[i] = env_len[i];
    }
    w->next = a->waits;
    a->waits = w;
    query_check_waits(a, 0); /* answers at once if wait_ms is 0 */
    return 1;
}

void query_check_waits(agent_t *a, int force)
{
    uint64_t now = now_ns();
    for (ctl_wait_t **wp = &a->waits; *wp;) {
        ctl_wait_t *w = *wp;
        int all = 1;
        for (uint32_t i = 0; i < w->n && all; i++)
            all = (int32_t)(ulma_reader_applied_seq(w->t[i].proc->rd) - w->t[i].seq) >= 0;
        if (!all && !force && now < w->deadline_ns) {
            wp = &w->next;
            continue;
        }
        sbuf_t ans = {0};
        control_answer(w, &ans, !all);
        agent_send(a, w->env, w->env_len, w->nenv, &ans, NULL);
        sbuf_free(&ans);
        *wp = w->next;
        for (int i = 0; i < w->nenv; i++)
            free(w->env[i]);
        free(w);
    }
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
