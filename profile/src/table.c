/* table.c - pstats sort keys, the cProfile-style table, rows as JSON. */
#define _GNU_SOURCE
#include "profile/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sort keys ------------------------------------------------------------------ */

enum { F_PCALLS, F_NCALLS, F_TOTTIME, F_CUMTIME, F_FILE, F_LINE, F_NAME, F_STD, F_NFL };

static const struct {
    const char *key, *desc;
    int field;
} sort_keys[] = {
    {"calls", "call count", F_NCALLS},
    {"cumulative", "cumulative time", F_CUMTIME},
    {"cumtime", "cumulative time", F_CUMTIME},
    {"filename", "file name", F_FILE},
    {"line", "line number", F_LINE},
    {"module", "file name", F_FILE},
    {"name", "function name", F_NAME},
    {"ncalls", "call count", F_NCALLS},
    {"nfl", "name/file/line", F_NFL},
    {"pcalls", "primitive call count", F_PCALLS},
    {"stdname", "standard name", F_STD},
    {"time", "internal time", F_TOTTIME},
    {"tottime", "internal time", F_TOTTIME},
};
#define NKEYS (sizeof(sort_keys) / sizeof(sort_keys[0]))

const char *profile_sort_key(const char *key)
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
                return NULL; /* a prefix of two keys: ambiguous, as in pstats */
            found = sort_keys[i].key;
        }
    }
    return found;
}

const char *profile_sort_desc(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (key && strcmp(key, sort_keys[i].key) == 0)
            return sort_keys[i].desc;
    return "standard name";
}

const char *profile_sort_keys_list(void)
{
    return "calls, cumulative, cumtime, filename, line, module, name, ncalls, nfl, pcalls, "
           "stdname, time, tottime";
}

static int key_field(const char *key)
{
    key = profile_sort_key(key);
    for (size_t i = 0; key && i < NKEYS; i++)
        if (strcmp(key, sort_keys[i].key) == 0)
            return sort_keys[i].field;
    return F_STD;
}

/* ---- sorting ------------------------------------------------------------------- */

/* What a person sees: completed calls plus the part of frames still open. */
static int64_t shown_tottime(const pf_func_t *f)
{
    return pf_sat_add(f->c.tottime_ns, f->open.tottime_ns);
}
static int64_t shown_cumtime(const pf_func_t *f)
{
    return pf_sat_add(f->c.cumtime_ns, f->open.cumtime_ns);
}

static int cmp_str(const pf_str_t *a, const pf_str_t *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

#define DESC(x, y) ((x) < (y) ? 1 : (x) > (y) ? -1 : 0)

typedef struct sort_ctx {
    const profile_t *p;
    int field;
} sort_ctx_t;

static int row_cmp(const void *x, const void *y, void *arg)
{
    const sort_ctx_t *sc = arg;
    const pf_func_t *a = profile_func(sc->p, *(const uint32_t *)x);
    const pf_func_t *b = profile_func(sc->p, *(const uint32_t *)y);
    int c = 0;
    switch (sc->field) {
    case F_PCALLS: c = DESC(a->c.pcalls, b->c.pcalls); break;
    case F_NCALLS: c = DESC(a->c.ncalls, b->c.ncalls); break;
    case F_TOTTIME: c = DESC(shown_tottime(a), shown_tottime(b)); break;
    case F_CUMTIME: c = DESC(shown_cumtime(a), shown_cumtime(b)); break;
    case F_FILE: c = cmp_str(&a->file, &b->file); break;
    case F_LINE: c = a->line < b->line ? -1 : a->line > b->line; break;
    case F_NAME: c = cmp_str(&a->name, &b->name); break;
    case F_NFL:
        c = cmp_str(&a->name, &b->name);
        if (!c)
            c = cmp_str(&a->file, &b->file);
        if (!c)
            c = a->line < b->line ? -1 : a->line > b->line;
        break;
    default: break;
    }
    if (!c)
        c = strcmp(a->std, b->std); /* ties: standard name, so output is stable */
    return c;
}

uint32_t *profile_order(const profile_t *p, const char *key)
{
    uint32_t n = profile_nfuncs(p);
    uint32_t *order = xmalloc(sizeof(*order) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++)
        order[i] = i;
    sort_ctx_t sc = {p, key_field(key)};
    qsort_r(order, n, sizeof(*order), row_cmp, &sc);
    return order;
}

/* ---- the table ------------------------------------------------------------------ */

static void f8(sbuf_t *out, double v, char after) { sbuf_printf(out, "%8.3f%c", v, after); }

static void objects_section(const profile_t *p, uint32_t limit, sbuf_t *out);

void profile_table(const profile_t *p, const pf_table_opts_t *o, sbuf_t *out)
{
    static const pf_table_opts_t defaults = {NULL, 0, 0};
    if (!o)
        o = &defaults;
    const char *k = profile_sort_key(o->sort ? o->sort : "cumulative");
    if (!k)
        k = "stdname";
    const pf_meta_t *m = profile_meta_c(p);
    const pf_drops_t *d = profile_drops(p);
    pf_totals_t t;
    profile_totals(p, &t);
    int64_t total_tot = pf_sat_add(t.tottime_ns, t.open_tottime_ns);
    sbuf_printf(out, "         %llu function calls", (unsigned long long)t.calls);
    if (t.calls != t.pcalls)
        sbuf_printf(out, " (%llu primitive calls)", (unsigned long long)t.pcalls);
    sbuf_printf(out, " in %.3f seconds", pf_sec(total_tot));
    if (d->records_lost)
        sbuf_printf(out, "; %llu records lost (" PF_LOST_WHY "): counts are incomplete",
                    (unsigned long long)d->records_lost);
    sbuf_adds(out, "\n\n");
    if (d->records_lost || d->malformed_records || d->cct_overflows || d->stack_overflows) {
        sbuf_printf(out,
                    "   Dropped: %llu records lost by the writer, %llu stack repairs, "
                    "%llu malformed records: counts and times of the functions active "
                    "then are low\n\n",
                    (unsigned long long)d->records_lost, (unsigned long long)d->stack_repairs,
                    (unsigned long long)d->malformed_records);
    }
    if ((m->hook_status & PF_HOOK_DISPLACED) || pf_hook_displacements(m->hook_status))
        sbuf_printf(out, "   Note: the program installed its own profile function "
                    "(sys.setprofile, cProfile, ...) %u time(s)%s; full-mode profiling was "
                    "paused on those threads meanwhile: their counts are incomplete\n\n",
                    pf_hook_displacements(m->hook_status),
                    (m->hook_status & PF_HOOK_DISPLACED) ? ", and still holds a thread" : "");
    int slow = m->clock_drift_ppm < 0;
    double drift = slow ? -(double)m->clock_drift_ppm : (double)m->clock_drift_ppm;
    if (drift >= PF_CLOCK_DRIFT_WARN_PPM)
        sbuf_printf(out, "   Clock: the cycle counter ran %.1f%% %s than the monotonic clock "
                    "during this run (a paused or migrated virtual machine, or an "
                    "unstable TSC): times are %s by as much\n\n",
                    drift / 1e4, slow ? "slower" : "faster", slow ? "low" : "high");
    if (t.open_tottime_ns > 0)
        sbuf_adds(out, "   * times include frames still running (not yet counted in "
                       "ncalls)\n\n");
    sbuf_printf(out, "   Ordered by: %s\n\n", profile_sort_desc(k));
    uint32_t n = profile_nfuncs(p);
    if (o->limit && o->limit < n) {
        sbuf_printf(out, "   List reduced from %u to %u due to restriction <%u>\n\n", n,
                    o->limit, o->limit);
        n = o->limit;
    }
    if (n) {
        uint32_t *order = profile_order(p, k);
        sbuf_adds(out, "   ncalls  tottime  percall  cumtime  percall      %  %DESC  %PROC "
                       "filename:lineno(function)\n");
        for (uint32_t i = 0; i < n; i++) {
            const pf_func_t *f = profile_func(p, order[i]);
            char c[48];
            if (f->c.ncalls != f->c.pcalls)
                snprintf(c, sizeof(c), "%llu/%llu", (unsigned long long)f->c.ncalls,
                         (unsigned long long)f->c.pcalls);
            else
                snprintf(c, sizeof(c), "%llu", (unsigned long long)f->c.ncalls);
            double tot = pf_sec(shown_tottime(f)), cum = pf_sec(shown_cumtime(f));
            char mark = f->open.calls ? '*' : ' ';
            sbuf_printf(out, "%9s ", c);
            f8(out, tot, mark);
            if (f->c.ncalls)
                f8(out, pf_sec(f->c.tottime_ns) / (double)f->c.ncalls, ' ');
            else
                sbuf_adds(out, "         ");
            f8(out, cum, mark);
            if (f->c.pcalls)
                f8(out, pf_sec(f->c.cumtime_ns) / (double)f->c.pcalls, ' ');
            else
                sbuf_adds(out, "         ");
            double pct = total_tot > 0 ? 100.0 * cum / pf_sec(total_tot) : 0.0;
            double proc = cum > 0 ? 100.0 * tot / cum : 0.0;
            if (proc > 100.0)
                proc = 100.0;
            double desc = cum > 0 ? 100.0 - proc : 0.0;
            sbuf_printf(out, "%6.1f %6.1f %6.1f %s\n", pct, desc, proc, f->std);
        }
        free(order);
        sbuf_adds(out, "\n\n");
    }
    if (profile_ntypes(p))
        objects_section(p, o->objects ? o->objects : 20, out);
}

/* ---- objects ----------------------------------------------------------------------- */

static int type_cmp(const void *x, const void *y, void *arg)
{
    const profile_t *p = arg;
    const pf_type_t *a = profile_type(p, *(const uint32_t *)x);
    const pf_type_t *b = profile_type(p, *(const uint32_t *)y);
    int c = DESC(a->news, b->news);
    return c ? c : cmp_str(&a->name, &b->name);
}

static int site_cmp(const void *x, const void *y, void *arg)
{
    const profile_t *p = arg;
    const pf_site_t *a = profile_site(p, *(const uint32_t *)x);
    const pf_site_t *b = profile_site(p, *(const uint32_t *)y);
    int c = DESC(a->count, b->count);
    return c ? c : (*(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1);
}

static void objects_section(const profile_t *p, uint32_t limit, sbuf_t *out)
{
    uint32_t nt = profile_ntypes(p), ns = profile_nsites(p);
    uint32_t *ix = xmalloc(sizeof(*ix) * (nt > ns ? nt : ns) + 1);
    uint64_t unborn = 0;
    for (uint32_t i = 0; i < nt; i++) {
        ix[i] = i;
        unborn += profile_type(p, i)->frees_unborn;
    }
    qsort_r(ix, nt, sizeof(*ix), type_cmp, (void *)p);
    sbuf_adds(out, "   Objects made while profiling, by type\n\n"
                   "         new      freed       live    bytes new  bytes freed");
    sbuf_adds(out, unborn ? "  older freed  type\n" : "  type\n");
    uint32_t shown = limit && limit < nt ? limit : nt;
    for (uint32_t i = 0; i < shown; i++) {
        const pf_type_t *ty = profile_type(p, ix[i]);
        uint64_t live = pf_type_live(ty);
        sbuf_printf(out, "  %10llu %10llu %10llu %12llu %12llu", (unsigned long long)ty->news,
                    (unsigned long long)ty->frees, (unsigned long long)live,
                    (unsigned long long)ty->bytes_new, (unsigned long long)ty->bytes_freed);
        if (unborn)
            sbuf_printf(out, " %12llu", (unsigned long long)ty->frees_unborn);
        sbuf_printf(out, "  %.*s\n", (int)ty->name.len, ty->name.s);
    }
    if (shown < nt)
        sbuf_printf(out, "  ... %u more types\n", nt - shown);
    if (unborn)
        sbuf_adds(out, "\n   older freed: objects made before profiling started, freed "
                       "while it ran (not in freed or live)\n");
    uint64_t lost = 0;
    for (uint32_t i = 0; i < nt; i++)
        lost += profile_type(p, i)->lost;
    if (lost)
        sbuf_printf(out, "   %llu objects made while profiling ended unseen (their address was "
                    "reused, or they were not tracked): not in freed or live\n",
                    (unsigned long long)lost);
    sbuf_adds(out, "\n");
    if (ns) {
        for (uint32_t i = 0; i < ns; i++)
            ix[i] = i;
        qsort_r(ix, ns, sizeof(*ix), site_cmp, (void *)p);
        sbuf_adds(out, "   Objects by constructing function\n\n"
                       "       count        bytes       live  type                  function\n");
        shown = limit && limit < ns ? limit : ns;
        for (uint32_t i = 0; i < shown; i++) {
            const pf_site_t *s = profile_site(p, ix[i]);
            const pf_type_t *ty = profile_type(p, s->type);
            const char *fn = s->func < profile_nfuncs(p) ? profile_func(p, s->func)->std
                                                         : "[unknown]";
            sbuf_printf(out, "  %10llu %12llu %10llu  %-20.*s  %s\n", (unsigned long long)s->count,
                        (unsigned long long)s->bytes, (unsigned long long)s->live,
                        (int)ty->name.len, ty->name.s, fn);
        }
        if (shown < ns)
            sbuf_printf(out, "  ... %u more\n", ns - shown);
        sbuf_adds(out, "\n");
    }
    free(ix);
}

/* ---- JSON ---------------------------------------------------------------------------- */

int64_t profile_shown_total_ns(const profile_t *p)
{
    pf_totals_t t;
    profile_totals(p, &t);
    return pf_sat_add(t.tottime_ns, t.open_tottime_ns);
}

void profile_func_json(const profile_t *p, uint32_t row, int64_t total, jw_t *w)
{
    jw_obj(w);
    profile_func_fields(p, row, total, w);
    jw_obj_end(w);
}

void profile_func_fields(const profile_t *p, uint32_t row, int64_t total, jw_t *w)
{
    const pf_func_t *f = profile_func(p, row);
    double tot = pf_sec(shown_tottime(f)), cum = pf_sec(shown_cumtime(f));
    double proc = cum > 0 ? 100.0 * tot / cum : 0.0;
    if (proc > 100.0)
        proc = 100.0;
    jw_ku64(w, "row", row);
    jw_kstrz(w, "kind", profile_kind_name(f->kind));
    jw_kstr(w, "name", f->name.s, f->name.len);
    jw_kstr(w, "qualname", f->qualname.s, f->qualname.len);
    jw_kstr(w, "file", f->file.s, f->file.len);
    jw_ku64(w, "line", f->line);
    jw_kstrz(w, "std", f->std);
    jw_ku64(w, "ncalls", f->c.ncalls);
    jw_ku64(w, "pcalls", f->c.pcalls);
    jw_ksec(w, "tottime", f->c.tottime_ns);
    jw_ksec(w, "cumtime", f->c.cumtime_ns);
    if (f->open.calls) {
        jw_ku64(w, "open_calls", f->open.calls);
        jw_ksec(w, "open_tottime", f->open.tottime_ns);
        jw_ksec(w, "open_cumtime", f->open.cumtime_ns);
    }
    jw_knum(w, "pct", total > 0 ? 100.0 * cum / pf_sec(total) : 0.0);
    jw_knum(w, "pct_desc", cum > 0 ? 100.0 - proc : 0.0);
    jw_knum(w, "pct_proc", proc);
    jw_knum(w, "rate_calls", f->rate_calls);
    jw_knum(w, "rate_tottime", f->rate_tottime);
    if (f->kind == PF_KIND_MPI)
        jw_ku64(w, "mpi_bytes", f->mpi_bytes);
}

static int edge_sum_cmp(const void *x, const void *y)
{
    const pf_edge_sum_t *a = x, *b = y;
    return a->other < b->other ? -1 : a->other > b->other;
}

uint32_t profile_edge_sums(const profile_t *p, uint32_t row, int callees, pf_edge_sum_t **out)
{
    uint32_t n = 0;
    const uint32_t *list = callees ? profile_callees(p, row, &n) : profile_callers(p, row, &n);
    pf_edge_sum_t *acc = xmalloc(sizeof(*acc) * (n ? n : 1));
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const pf_edge_t *e = profile_edge(p, list[i]);
        if (!e->c.ncalls)
            continue;
        acc[k].other = callees ? e->callee : e->caller;
        acc[k].c = e->c;
        k++;
    }
    qsort(acc, k, sizeof(*acc), edge_sum_cmp);
    uint32_t m = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (m && acc[m - 1].other == acc[i].other) {
            pf_counts_add(&acc[m - 1].c, &acc[i].c);
        } else {
            acc[m++] = acc[i];
        }
    }
    *out = acc;
    return m;
}

void profile_edges_json(const profile_t *p, uint32_t row, int callees, uint32_t limit, jw_t *w)
{
    pf_edge_sum_t *acc = NULL;
    uint32_t n = row < profile_nfuncs(p) ? profile_edge_sums(p, row, callees, &acc) : 0;
    jw_arr(w);
    for (uint32_t i = 0; i < n && (!limit || i < limit); i++) {
        jw_obj(w);
        jw_ku64(w, "row", acc[i].other);
        jw_kstrz(w, "std", profile_func(p, acc[i].other)->std);
        jw_ku64(w, "ncalls", acc[i].c.ncalls);
        jw_ku64(w, "pcalls", acc[i].c.pcalls);
        jw_ksec(w, "tottime", acc[i].c.tottime_ns);
        jw_ksec(w, "cumtime", acc[i].c.cumtime_ns);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    free(acc);
}

/* ---- finding a row ------------------------------------------------------------------ */

uint32_t profile_find(const profile_t *p, const char *what, uint32_t *cand, uint32_t cap,
                      uint32_t *nmatch)
{
    uint32_t n = profile_nfuncs(p);
    size_t len = strlen(what);
    *nmatch = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(profile_func(p, i)->std, what) == 0) {
            *nmatch = 1;
            return i; /* standard names are unique */
        }
    }
    /* then the qualified or the bare name: it must name one row only */
    uint32_t found = UINT32_MAX, k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const pf_func_t *f = profile_func(p, i);
        int q = f->qualname.len == len && memcmp(f->qualname.s, what, len) == 0;
        int b = f->name.len == len && memcmp(f->name.s, what, len) == 0;
        if (!q && !b)
            continue;
        if (k < cap)
            cand[k] = i;
        if (found == UINT32_MAX)
            found = i;
        k++;
    }
    *nmatch = k;
    if (k == 1)
        return found;
    return UINT32_MAX;
}
