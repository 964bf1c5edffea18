/* report.c - cProfile-style rows, sorting, table, pstats file. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marshal.h"

/* ---- building ----------------------------------------------------------- */

static int label_cmp(const prof_label_t *a, const prof_label_t *b)
{
    size_t n = a->file_len < b->file_len ? a->file_len : b->file_len;
    int c = memcmp(a->file, b->file, n);
    if (c || a->file_len != b->file_len)
        return c ? c : (a->file_len < b->file_len ? -1 : 1);
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    n = a->name_len < b->name_len ? a->name_len : b->name_len;
    c = memcmp(a->name, b->name, n);
    if (c || a->name_len != b->name_len)
        return c ? c : (a->name_len < b->name_len ? -1 : 1);
    return 0;
}

static const prof_t *sort_prof; /* qsort has no context argument */
static rep_row_t *sort_rows;

static int fidx_label_cmp(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    prof_label_t la, lb;
    prof_func_label(sort_prof, a, &la);
    prof_func_label(sort_prof, b, &lb);
    int c = label_cmp(&la, &lb);
    return c ? c : (a < b ? -1 : a > b);
}

/* pstats.func_std_string */
static void std_string(rep_row_t *row)
{
    const prof_label_t *l = &row->lab;
    if (l->file_len == 1 && l->file[0] == '~' && l->line == 0) {
        if (l->name_len >= 2 && l->name[0] == '<' && l->name[l->name_len - 1] == '>')
            snprintf(row->std, sizeof(row->std), "{%.*s}", (int)(l->name_len - 2), l->name + 1);
        else
            snprintf(row->std, sizeof(row->std), "%.*s", (int)l->name_len, l->name);
    } else {
        snprintf(row->std, sizeof(row->std), "%.*s:%u(%.*s)", (int)l->file_len, l->file, l->line,
                 (int)l->name_len, l->name);
    }
}

rep_t *rep_new(prof_t *p)
{
    prof_derive(p);
    rep_t *r = xcalloc(1, sizeof(*r));
    r->p = p;
    uint32_t *fl = xmalloc(sizeof(*fl) * (p->nfuncs + 1));
    uint32_t nf = 0;
    for (uint32_t f = 0; f < p->nfuncs; f++)
        if (p->funcs[f].callcount || f != PROF_FIDX_UNKNOWN)
            fl[nf++] = f;
    sort_prof = p;
    qsort(fl, nf, sizeof(*fl), fidx_label_cmp);
    r->rows = xcalloc(nf ? nf : 1, sizeof(*r->rows));
    r->row_of = xmalloc(sizeof(*r->row_of) * (p->nfuncs ? p->nfuncs : 1));
    for (uint32_t f = 0; f < p->nfuncs; f++)
        r->row_of[f] = UINT32_MAX;
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t f = fl[i];
        const prof_func_t *fn = &p->funcs[f];
        prof_label_t lab;
        prof_func_label(p, f, &lab);
        rep_row_t *row;
        if (r->n && label_cmp(&r->rows[r->n - 1].lab, &lab) == 0) {
            row = &r->rows[r->n - 1]; /* same label: pstats keeps one entry */
        } else {
            row = &r->rows[r->n++];
            row->lab = lab;
            if (lab.name == lab.buf || lab.qualname == lab.buf) {
                /* the label points into itself: re-point after the copy */
                row->lab.name = row->lab.qualname = row->lab.buf;
            }
            row->fidx = f;
            row->kind = fn->ns;
            std_string(row);
        }
        row->nc += fn->callcount;
        row->cc += fn->callcount - fn->reccallcount;
        row->tt += prof_sec(p, fn->it);
        row->ct += prof_sec(p, fn->tt);
        row->rate_calls += fn->rate_calls;
        row->rate_tt += fn->rate_it;
        row->mpi_bytes += fn->mpi_bytes;
        r->row_of[f] = r->n - 1;
    }
    free(fl);
    /* edges by callee row and by caller row, so that edge queries are linear */
    r->in_start = xcalloc(r->n + 2, sizeof(uint32_t));
    r->out_start = xcalloc(r->n + 2, sizeof(uint32_t));
    r->in_subs = xmalloc(sizeof(uint32_t) * (p->nsubs ? p->nsubs : 1));
    r->out_subs = xmalloc(sizeof(uint32_t) * (p->nsubs ? p->nsubs : 1));
    for (uint32_t s = 1; s < p->nsubs; s++) {
        uint32_t a = r->row_of[p->subs[s].callee], b = r->row_of[p->subs[s].caller];
        if (a != UINT32_MAX && b != UINT32_MAX) {
            r->in_start[a + 2]++;
            r->out_start[b + 2]++;
        }
    }
    for (uint32_t i = 2; i < r->n + 2; i++) {
        r->in_start[i] += r->in_start[i - 1];
        r->out_start[i] += r->out_start[i - 1];
    }
    for (uint32_t s = 1; s < p->nsubs; s++) {
        uint32_t a = r->row_of[p->subs[s].callee], b = r->row_of[p->subs[s].caller];
        if (a != UINT32_MAX && b != UINT32_MAX) {
            r->in_subs[r->in_start[a + 1]++] = s;
            r->out_subs[r->out_start[b + 1]++] = s;
        }
    }
    r->order = xmalloc(sizeof(*r->order) * (r->n ? r->n : 1));
    for (uint32_t i = 0; i < r->n; i++) {
        r->order[i] = i;
        r->total_calls += r->rows[i].nc;
        r->prim_calls += r->rows[i].cc;
        r->total_tt += r->rows[i].tt;
    }
    return r;
}

void rep_destroy(rep_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    rep_t *r = *r_p;
    free(r->rows);
    free(r->row_of);
    free(r->order);
    free(r->in_start);
    free(r->in_subs);
    free(r->out_start);
    free(r->out_subs);
    free(r);
    *r_p = NULL;
}

/* ---- sorting ------------------------------------------------------------- */

static const struct {
    const char *key, *desc;
} sort_keys[] = {
    {"calls", "call count"},         {"cumulative", "cumulative time"},
    {"cumtime", "cumulative time"},  {"filename", "file name"},
    {"line", "line number"},         {"module", "file name"},
    {"name", "function name"},       {"ncalls", "call count"},
    {"nfl", "name/file/line"},       {"pcalls", "primitive call count"},
    {"stdname", "standard name"},    {"time", "internal time"},
    {"tottime", "internal time"},
};
#define NKEYS (sizeof(sort_keys) / sizeof(sort_keys[0]))

const char *rep_sort_key(const char *key)
{
    if (!key || !*key)
        return NULL;
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(key, sort_keys[i].key) == 0)
            return sort_keys[i].key;
    const char *found = NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < NKEYS; i++) {
        if (strncmp(key, sort_keys[i].key, n) == 0) {
            if (found)
                return NULL; /* ambiguous prefix */
            found = sort_keys[i].key;
        }
    }
    return found;
}

const char *rep_sort_desc(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(key, sort_keys[i].key) == 0)
            return sort_keys[i].desc;
    return "standard name";
}

static int sort_field; /* 0 cc,1 nc,2 tt,3 ct,4 file,5 line,6 name,7 std,8 nfl */

static int cmp_str(const char *a, size_t an, const char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = memcmp(a, b, n);
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int row_cmp(const void *x, const void *y)
{
    const rep_row_t *a = &sort_rows[*(const uint32_t *)x], *b = &sort_rows[*(const uint32_t *)y];
    int c = 0;
    switch (sort_field) {
    case 0: c = a->cc < b->cc ? 1 : a->cc > b->cc ? -1 : 0; break;
    case 1: c = a->nc < b->nc ? 1 : a->nc > b->nc ? -1 : 0; break;
    case 2: c = a->tt < b->tt ? 1 : a->tt > b->tt ? -1 : 0; break;
    case 3: c = a->ct < b->ct ? 1 : a->ct > b->ct ? -1 : 0; break;
    case 4: c = cmp_str(a->lab.file, a->lab.file_len, b->lab.file, b->lab.file_len); break;
    case 5: c = a->lab.line < b->lab.line ? -1 : a->lab.line > b->lab.line; break;
    case 6: c = cmp_str(a->lab.name, a->lab.name_len, b->lab.name, b->lab.name_len); break;
    case 8:
        c = cmp_str(a->lab.name, a->lab.name_len, b->lab.name, b->lab.name_len);
        if (!c)
            c = cmp_str(a->lab.file, a->lab.file_len, b->lab.file, b->lab.file_len);
        if (!c)
            c = a->lab.line < b->lab.line ? -1 : a->lab.line > b->lab.line;
        break;
    default: break;
    }
    if (!c)
        c = strcmp(a->std, b->std); /* ties: standard name, so output is stable */
    return c;
}

void rep_sort(rep_t *r, const char *key)
{
    key = rep_sort_key(key);
    if (!key)
        key = "stdname";
    static const struct {
        const char *k;
        int f;
    } fields[] = {{"calls", 1},    {"ncalls", 1},  {"cumulative", 3}, {"cumtime", 3},
                  {"filename", 4}, {"module", 4},  {"line", 5},       {"name", 6},
                  {"nfl", 8},      {"pcalls", 0},  {"stdname", 7},    {"time", 2},
                  {"tottime", 2}};
    sort_field = 7;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcmp(fields[i].k, key) == 0)
            sort_field = fields[i].f;
    sort_rows = r->rows;
    qsort(r->order, r->n, sizeof(*r->order), row_cmp);
}

/* ---- the table ------------------------------------------------------------ */

static void f8(sbuf_t *out, double v) { sbuf_printf(out, "%8.3f ", v); }

void rep_table(const rep_t *r, const char *key, uint32_t limit, sbuf_t *out)
{
    const prof_t *p = r->p;
    const char *k = rep_sort_key(key);
    if (!k)
        k = "stdname";
    sbuf_printf(out, "         %llu function calls", (unsigned long long)r->total_calls);
    if (r->total_calls != r->prim_calls)
        sbuf_printf(out, " (%llu primitive calls)", (unsigned long long)r->prim_calls);
    sbuf_printf(out, " in %.3f seconds", r->total_tt);
    uint64_t dropped = prof_total_dropped(p);
    if (dropped)
        sbuf_printf(out, "; %llu records lost (ring full): counts are incomplete",
                    (unsigned long long)dropped);
    sbuf_adds(out, "\n\n");
    if (dropped || p->bad_records || p->cct_overflows || p->stack_overflows) {
        sbuf_printf(out,
                    "   Dropped: %llu records lost by the writer, %llu stack repairs, "
                    "%llu malformed records: counts and times of the functions active "
                    "then are low\n\n",
                    (unsigned long long)dropped, (unsigned long long)prof_total_resyncs(p),
                    (unsigned long long)p->bad_records);
    }
    sbuf_printf(out, "   Ordered by: %s\n\n", rep_sort_desc(k));
    uint32_t n = r->n;
    if (limit && limit < n) {
        sbuf_printf(out, "   List reduced from %u to %u due to restriction <%u>\n\n", r->n, limit,
                    limit);
        n = limit;
    }
    if (!n)
        return;
    sbuf_adds(out, "   ncalls  tottime  percall  cumtime  percall      %  %DESC  %PROC "
                   "filename:lineno(function)\n");
    for (uint32_t i = 0; i < n; i++) {
        const rep_row_t *row = &r->rows[r->order[i]];
        char c[48];
        if (row->nc != row->cc)
            snprintf(c, sizeof(c), "%llu/%llu", (unsigned long long)row->nc,
                     (unsigned long long)row->cc);
        else
            snprintf(c, sizeof(c), "%llu", (unsigned long long)row->nc);
        sbuf_printf(out, "%9s ", c);
        f8(out, row->tt);
        if (row->nc)
            f8(out, row->tt / (double)row->nc);
        else
            sbuf_adds(out, "         ");
        f8(out, row->ct);
        if (row->cc)
            f8(out, row->ct / (double)row->cc);
        else
            sbuf_adds(out, "         ");
        double pct = r->total_tt > 0 ? 100.0 * row->ct / r->total_tt : 0.0;
        double proc = row->ct > 0 ? 100.0 * row->tt / row->ct : 0.0;
        if (proc > 100.0)
            proc = 100.0;
        double desc = row->ct > 0 ? 100.0 - proc : 0.0;
        sbuf_printf(out, "%6.1f %6.1f %6.1f %s\n", pct, desc, proc, row->std);
    }
    sbuf_adds(out, "\n\n");
}

void rep_row_json(const rep_t *r, const rep_row_t *row, sbuf_t *out)
{
    static const char *kinds[] = {"python", "c", "mpi", "unknown"};
    double proc = row->ct > 0 ? 100.0 * row->tt / row->ct : 0.0;
    if (proc > 100.0)
        proc = 100.0;
    sbuf_printf(out, "{\"row\":%u,\"kind\":\"%s\",\"name\":", (unsigned)(row - r->rows),
                kinds[row->kind < 3 ? row->kind : 3]);
    sbuf_json_str(out, row->lab.name, row->lab.name_len);
    sbuf_adds(out, ",\"qualname\":");
    sbuf_json_str(out, row->lab.qualname, row->lab.qualname_len);
    sbuf_adds(out, ",\"file\":");
    sbuf_json_str(out, row->lab.file, row->lab.file_len);
    sbuf_printf(out, ",\"line\":%u,\"std\":", row->lab.line);
    sbuf_json_str(out, row->std, strlen(row->std));
    sbuf_printf(out, ",\"ncalls\":%llu,\"pcalls\":%llu,\"tottime\":", (unsigned long long)row->nc,
                (unsigned long long)row->cc);
    sbuf_json_num(out, row->tt);
    sbuf_adds(out, ",\"cumtime\":");
    sbuf_json_num(out, row->ct);
    sbuf_adds(out, ",\"pct\":");
    sbuf_json_num(out, r->total_tt > 0 ? 100.0 * row->ct / r->total_tt : 0.0);
    sbuf_adds(out, ",\"pct_desc\":");
    sbuf_json_num(out, row->ct > 0 ? 100.0 - proc : 0.0);
    sbuf_adds(out, ",\"pct_proc\":");
    sbuf_json_num(out, proc);
    sbuf_adds(out, ",\"rate_calls\":");
    sbuf_json_num(out, row->rate_calls);
    sbuf_adds(out, ",\"rate_tottime\":");
    sbuf_json_num(out, row->rate_tt);
    if (row->kind == PROF_NS_MPI)
        sbuf_printf(out, ",\"mpi_bytes\":%llu", (unsigned long long)row->mpi_bytes);
    sbuf_addc(out, '}');
}

/* ---- edges ------------------------------------------------------------------ */

typedef struct edge_acc {
    uint32_t other; /* row */
    uint64_t nc, cc;
    double tt, ct;
} edge_acc_t;

static int edge_cmp(const void *x, const void *y)
{
    const edge_acc_t *a = x, *b = y;
    return a->other < b->other ? -1 : a->other > b->other;
}

/* Edges into (callees=0) or out of (callees=1) `row`, merged per other row.
 * Returns the count; caller frees *out. */
static uint32_t edges_of(const rep_t *r, uint32_t row, int callees, edge_acc_t **out)
{
    const prof_t *p = r->p;
    edge_acc_t *acc = NULL;
    uint32_t n = 0, cap = 0;
    const uint32_t *start = callees ? r->out_start : r->in_start;
    const uint32_t *subs = callees ? r->out_subs : r->in_subs;
    for (uint32_t k = start[row]; k < start[row + 1]; k++) {
        const prof_sub_t *e = &p->subs[subs[k]];
        uint32_t other = r->row_of[callees ? e->callee : e->caller];
        if (!e->callcount)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            acc = xrealloc(acc, sizeof(*acc) * cap);
        }
        acc[n].other = other;
        acc[n].nc = e->callcount;
        acc[n].cc = e->callcount - e->reccallcount;
        acc[n].tt = prof_sec(p, e->it);
        acc[n].ct = prof_sec(p, e->tt);
        n++;
    }
    if (n > 1)
        qsort(acc, n, sizeof(*acc), edge_cmp);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m && acc[m - 1].other == acc[i].other) {
            acc[m - 1].nc += acc[i].nc;
            acc[m - 1].cc += acc[i].cc;
            acc[m - 1].tt += acc[i].tt;
            acc[m - 1].ct += acc[i].ct;
        } else {
            acc[m++] = acc[i];
        }
    }
    *out = acc;
    return m;
}

void rep_edges_json(const rep_t *r, uint32_t row, int callees, uint32_t limit, sbuf_t *out)
{
    edge_acc_t *acc = NULL;
    uint32_t n = row < r->n ? edges_of(r, row, callees, &acc) : 0;
    sbuf_addc(out, '[');
    for (uint32_t i = 0; i < n && (!limit || i < limit); i++) {
        const rep_row_t *o = &r->rows[acc[i].other];
        if (i)
            sbuf_addc(out, ',');
        sbuf_printf(out, "{\"row\":%u,\"std\":", acc[i].other);
        sbuf_json_str(out, o->std, strlen(o->std));
        sbuf_printf(out, ",\"ncalls\":%llu,\"pcalls\":%llu,\"tottime\":",
                    (unsigned long long)acc[i].nc, (unsigned long long)acc[i].cc);
        sbuf_json_num(out, acc[i].tt);
        sbuf_adds(out, ",\"cumtime\":");
        sbuf_json_num(out, acc[i].ct);
        sbuf_addc(out, '}');
    }
    sbuf_addc(out, ']');
    free(acc);
}

uint32_t rep_find_all(const rep_t *r, const char *what, uint32_t *cand, uint32_t max,
                      uint32_t *nmatch)
{
    uint32_t found = UINT32_MAX, n_found = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        if (strcmp(r->rows[i].std, what) == 0) {
            found = i; /* std strings are unique: rows merge equal labels */
            n_found = 1;
            if (cand && max)
                cand[0] = i;
            break;
        }
    }
    /* a qualified or bare name: every row it names, so that two functions
     * of one name are reported, never one of them picked */
    size_t n = strlen(what);
    uint32_t by_std = n_found;
    for (uint32_t i = 0; !by_std && i < r->n; i++) {
        const prof_label_t *l = &r->rows[i].lab;
        if ((l->qualname_len == n && memcmp(l->qualname, what, n) == 0) ||
            (l->name_len == n && memcmp(l->name, what, n) == 0)) {
            found = i;
            if (cand && n_found < max)
                cand[n_found] = i;
            n_found++;
        }
    }
    if (nmatch)
        *nmatch = n_found;
    return n_found > 1 ? REP_AMBIGUOUS : found;
}

/* ---- pstats ------------------------------------------------------------------- */

static void label_tuple(sbuf_t *out, const prof_label_t *l)
{
    marshal_tuple(out, 3);
    marshal_str(out, l->file, l->file_len);
    marshal_int(out, l->line);
    marshal_str(out, l->name, l->name_len);
}

void rep_pstats(const rep_t *r, sbuf_t *out)
{
    marshal_dict_begin(out);
    for (uint32_t i = 0; i < r->n; i++) {
        const rep_row_t *row = &r->rows[i];
        label_tuple(out, &row->lab);
        marshal_tuple(out, 5);
        marshal_int(out, (int64_t)row->cc);
        marshal_int(out, (int64_t)row->nc);
        marshal_float(out, row->tt);
        marshal_float(out, row->ct);
        edge_acc_t *acc = NULL;
        uint32_t n = edges_of(r, i, 0, &acc);
        marshal_dict_begin(out);
        for (uint32_t k = 0; k < n; k++) {
            label_tuple(out, &r->rows[acc[k].other].lab);
            marshal_tuple(out, 4);
            marshal_int(out, (int64_t)acc[k].nc);
            marshal_int(out, (int64_t)acc[k].cc);
            marshal_float(out, acc[k].tt);
            marshal_float(out, acc[k].ct);
        }
        marshal_dict_end(out);
        free(acc);
    }
    marshal_dict_end(out);
}
