/* export.c - the JSON profile and its pieces, the pstats file, dispatch. */
#define _GNU_SOURCE
#include "profile/export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_int.h"
#include "marshal.h"
#include "profile/table.h"

static const char *format_names[PROFILE_NFORMATS] = {"json",       "pstats", "collapsed",
                                                     "speedscope", "pprof",  "svg"};

int profile_format_by_name(const char *name)
{
    for (int i = 0; name && i < PROFILE_NFORMATS; i++)
        if (strcmp(name, format_names[i]) == 0)
            return i;
    return -1;
}

const char *profile_format_name(int format)
{
    return format >= 0 && format < PROFILE_NFORMATS ? format_names[format] : "?";
}

const char *profile_formats_list(void) { return "json, pstats, collapsed, speedscope, pprof, svg"; }

/* ---- JSON pieces ---------------------------------------------------------------- */

void profile_process_json(const profile_t *p, jw_t *w)
{
    const pf_meta_t *m = profile_meta_c(p);
    pf_totals_t t;
    profile_totals(p, &t);
    jw_obj(w);
    jw_ki64(w, "pid", m->pid);
    jw_ku64(w, "uid", m->uid);
    jw_kstrz(w, "host", m->host);
    jw_kstrz(w, "exe", m->exe);
    jw_ki64(w, "rank", m->rank);
    jw_ki64(w, "size", m->size);
    jw_kstrz(w, "job", m->job);
    jw_ku64(w, "start_time", m->start_time);
    jw_ku64(w, "created_ns", m->created_ns);
    jw_kstrz(w, "state", profile_state_name(m->state));
    jw_kstrz(w, "active_mode", profile_mode_name(m->active_mode));
    jw_kbool(w, "objects", (m->active_mode & 0x4u) != 0);
    jw_kbool(w, "profile_hook_displaced", (m->hook_status & PF_HOOK_DISPLACED) != 0);
    jw_ku64(w, "profile_hook_displacements", pf_hook_displacements(m->hook_status));
    jw_ku64(w, "processes", m->nprocs ? m->nprocs : 1);
    jw_ku64(w, "hz", m->hz);
    jw_ki64(w, "clock_drift_ppm", m->clock_drift_ppm);
    jw_ku64(w, "events", m->events);
    jw_ksec(w, "span", m->span_ns);
    jw_kbool(w, "live", m->live);
    jw_ku64(w, "calls", t.calls);
    jw_ku64(w, "primitive_calls", t.pcalls);
    jw_ksec(w, "tottime", t.tottime_ns);
    if (t.open_tottime_ns)
        jw_ksec(w, "open_tottime", t.open_tottime_ns);
    jw_obj_end(w);
}

void profile_drops_json(const profile_t *p, jw_t *w)
{
    const pf_drops_t *d = profile_drops(p);
    jw_obj(w);
    jw_ku64(w, "records_lost", d->records_lost);
    jw_ku64(w, "drop_events", d->drop_events);
    jw_ku64(w, "stack_repairs", d->stack_repairs);
    jw_ku64(w, "frames_discarded", d->frames_discarded);
    jw_ku64(w, "return_mismatches", d->return_mismatches);
    jw_ku64(w, "malformed_records", d->malformed_records);
    jw_ku64(w, "ids_out_of_range", d->ids_out_of_range);
    jw_ku64(w, "cct_overflows", d->cct_overflows);
    jw_ku64(w, "stack_overflows", d->stack_overflows);
    jw_ku64(w, "threads_dropped", d->threads_dropped);
    jw_ku64(w, "threads_unended", d->threads_unended);
    jw_ku64(w, "corrupt", d->corrupt);
    jw_ku64(w, "threads_lost", d->threads_lost);
    jw_ku64(w, "objects_untracked", d->objects_untracked);
    jw_obj_end(w);
}

void profile_threads_json(const profile_t *p, uint32_t max_frames, jw_t *w)
{
    jw_arr(w);
    for (uint32_t i = 0; i < profile_nthreads(p); i++) {
        const pf_thread_t *t = profile_thread(p, i);
        jw_obj(w);
        jw_ki64(w, "tid", t->tid);
        jw_ku64(w, "slot", t->slot);
        jw_kstr(w, "name", t->name, strnlen(t->name, sizeof(t->name)));
        jw_kbool(w, "ended", t->ended);
        jw_kstrz(w, "mode", profile_mode_name(t->mode));
        jw_ku64(w, "events", t->events);
        jw_ku64(w, "records_lost", t->records_lost);
        jw_ku64(w, "stack_repairs", t->stack_repairs);
        jw_ku64(w, "depth", t->depth);
        jw_ksec(w, "time", t->time_ns);
        jw_key(w, "stack");
        jw_arr(w);
        for (uint32_t k = 0; k < t->nstack && (!max_frames || k < max_frames); k++) {
            const pf_frame_t *f = &t->stack[k];
            jw_obj(w);
            jw_key(w, "row");
            if (f->func < profile_nfuncs(p))
                jw_u64(w, f->func);
            else
                jw_null(w);
            jw_kstrz(w, "std", profile_func_std(p, f->func));
            jw_ksec(w, "for", f->for_ns);
            jw_obj_end(w);
        }
        jw_arr_end(w);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static int site_count_cmp(const void *x, const void *y, void *arg)
{
    const profile_t *p = arg;
    const pf_site_t *a = profile_site(p, *(const uint32_t *)x);
    const pf_site_t *b = profile_site(p, *(const uint32_t *)y);
    if (a->count != b->count)
        return a->count < b->count ? 1 : -1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

void profile_objects_json(const profile_t *p, uint32_t limit, jw_t *w)
{
    jw_obj(w);
    jw_key(w, "types");
    jw_arr(w);
    for (uint32_t i = 0; i < profile_ntypes(p); i++) {
        const pf_type_t *ty = profile_type(p, i);
        jw_obj(w);
        jw_ku64(w, "type", i);
        jw_kstr(w, "name", ty->name.s, ty->name.len);
        jw_ku64(w, "new", ty->news);
        jw_ku64(w, "freed", ty->frees);
        jw_ku64(w, "live", pf_type_live(ty));
        jw_ku64(w, "freed_older", ty->frees_unborn);
        jw_ku64(w, "lost", ty->lost);
        jw_ku64(w, "bytes_new", ty->bytes_new);
        jw_ku64(w, "bytes_freed", ty->bytes_freed);
        jw_ku64(w, "bytes_live", ty->bytes_live);
        jw_obj_end(w);
    }
    jw_arr_end(w);
    jw_key(w, "sites");
    jw_arr(w);
    uint32_t n = profile_nsites(p);
    uint32_t *ix = xmalloc(sizeof(*ix) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++)
        ix[i] = i;
    qsort_r(ix, n, sizeof(*ix), site_count_cmp, (void *)p);
    for (uint32_t i = 0; i < n && (!limit || i < limit); i++) {
        const pf_site_t *s = profile_site(p, ix[i]);
        const pf_type_t *ty = profile_type(p, s->type);
        jw_obj(w);
        jw_key(w, "row");
        if (s->func < profile_nfuncs(p))
            jw_u64(w, s->func);
        else
            jw_null(w);
        jw_kstrz(w, "std", profile_func_std(p, s->func));
        jw_ku64(w, "type", s->type);
        jw_kstr(w, "type_name", ty->name.s, ty->name.len);
        jw_ku64(w, "count", s->count);
        jw_ku64(w, "bytes", s->bytes);
        jw_ku64(w, "live", s->live);
        jw_ku64(w, "bytes_live", s->bytes_live);
        jw_obj_end(w);
    }
    free(ix);
    jw_arr_end(w);
    jw_obj_end(w);
}

void profile_mpi_json(const profile_t *p, jw_t *w)
{
    jw_arr(w);
    for (uint32_t i = 0; i < profile_nfuncs(p); i++) {
        const pf_func_t *f = profile_func(p, i);
        if (f->kind != PF_KIND_MPI)
            continue;
        jw_obj(w);
        jw_ku64(w, "row", i);
        jw_kstr(w, "name", f->name.s, f->name.len);
        jw_ku64(w, "calls", f->c.ncalls);
        jw_ksec(w, "time", f->c.cumtime_ns);
        jw_ku64(w, "bytes", f->mpi_bytes);
        jw_obj_end(w);
    }
    jw_arr_end(w);
}

static int path_ct_cmp(const void *x, const void *y, void *arg)
{
    const profile_t *p = arg;
    int64_t a = export_path_cumtime(profile_path(p, *(const uint32_t *)x));
    int64_t b = export_path_cumtime(profile_path(p, *(const uint32_t *)y));
    if (a != b)
        return a < b ? 1 : -1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

void profile_paths_json(const profile_t *p, uint32_t limit, jw_t *w)
{
    uint32_t n = profile_npaths(p) > 1 ? profile_npaths(p) - 1 : 0;
    uint32_t *ix = xmalloc(sizeof(*ix) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++)
        ix[i] = i + 1;
    if (limit && limit < n) {
        qsort_r(ix, n, sizeof(*ix), path_ct_cmp, (void *)p);
        n = limit;
    }
    jw_arr(w);
    for (uint32_t i = 0; i < n; i++) {
        const pf_path_t *pa = profile_path(p, ix[i]);
        jw_obj(w);
        jw_ku64(w, "id", ix[i]);
        jw_ku64(w, "parent", pa->parent);
        jw_key(w, "row");
        if (pa->func < profile_nfuncs(p))
            jw_u64(w, pa->func);
        else
            jw_null(w);
        jw_kstrz(w, "std", profile_func_std(p, pa->func));
        jw_ku64(w, "count", pa->count);
        jw_ksec(w, "tottime", pa->tottime_ns);
        jw_ksec(w, "cumtime", pa->cumtime_ns);
        if (pa->open.calls) {
            jw_ku64(w, "open_calls", pa->open.calls);
            jw_ksec(w, "open_tottime", pa->open.tottime_ns);
            jw_ksec(w, "open_cumtime", pa->open.cumtime_ns);
        }
        jw_obj_end(w);
    }
    jw_arr_end(w);
    free(ix);
}

static void export_json(const profile_t *p, sbuf_t *out)
{
    jw_t w;
    jw_init(&w, out);
    jw_obj(&w);
    jw_kstrz(&w, "format", "ulma-profile");
    jw_ku64(&w, "version", 2);
    jw_key(&w, "process");
    profile_process_json(p, &w);
    jw_key(&w, "drops");
    profile_drops_json(p, &w);
    jw_key(&w, "functions");
    jw_arr(&w);
    int64_t total = profile_shown_total_ns(p);
    for (uint32_t i = 0; i < profile_nfuncs(p); i++) {
        jw_obj(&w);
        profile_func_fields(p, i, total, &w);
        jw_key(&w, "callers");
        profile_edges_json(p, i, 0, 0, &w);
        jw_key(&w, "callees");
        profile_edges_json(p, i, 1, 0, &w);
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "paths");
    profile_paths_json(p, 0, &w);
    jw_key(&w, "threads");
    profile_threads_json(p, 0, &w);
    jw_key(&w, "objects");
    profile_objects_json(p, 0, &w);
    jw_key(&w, "mpi");
    profile_mpi_json(p, &w);
    jw_obj_end(&w);
    sbuf_addc(out, '\n');
}

/* ---- pstats --------------------------------------------------------------------- */

static void label_tuple(sbuf_t *out, const pf_func_t *f)
{
    marshal_tuple(out, 3);
    marshal_str(out, f->file.s, f->file.len);
    marshal_int(out, f->line);
    marshal_str(out, f->name.s, f->name.len);
}

void profile_pstats(const profile_t *p, sbuf_t *out)
{
    marshal_dict_begin(out);
    for (uint32_t i = 0; i < profile_nfuncs(p); i++) {
        const pf_func_t *f = profile_func(p, i);
        label_tuple(out, f);
        marshal_tuple(out, 5);
        marshal_int(out, (int64_t)f->c.pcalls);
        marshal_int(out, (int64_t)f->c.ncalls);
        marshal_float(out, pf_sec(pf_sat_add(f->c.tottime_ns, f->open.tottime_ns)));
        marshal_float(out, pf_sec(pf_sat_add(f->c.cumtime_ns, f->open.cumtime_ns)));
        pf_edge_sum_t *acc = NULL;
        uint32_t n = profile_edge_sums(p, i, 0, &acc);
        marshal_dict_begin(out);
        for (uint32_t k = 0; k < n; k++) {
            label_tuple(out, profile_func(p, acc[k].other));
            marshal_tuple(out, 4);
            marshal_int(out, (int64_t)acc[k].c.ncalls);
            marshal_int(out, (int64_t)acc[k].c.pcalls);
            marshal_float(out, pf_sec(acc[k].c.tottime_ns));
            marshal_float(out, pf_sec(acc[k].c.cumtime_ns));
        }
        marshal_dict_end(out);
        free(acc);
    }
    marshal_dict_end(out);
}

int profile_export(const profile_t *p, int format, sbuf_t *out)
{
    switch (format) {
    case PROFILE_JSON: export_json(p, out); return 0;
    case PROFILE_PSTATS: profile_pstats(p, out); return 0;
    case PROFILE_COLLAPSED: export_collapsed(p, out); return 0;
    case PROFILE_SPEEDSCOPE: export_speedscope(p, out); return 0;
    case PROFILE_PPROF: return export_pprof(p, out);
    case PROFILE_SVG: export_svg(p, out); return 0;
    default: return -EINVAL;
    }
}
