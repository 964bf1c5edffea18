/* export.c - JSON profile, collapsed stacks, speedscope, pprof, SVG. */
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *format_names[] = {"json", "pstats", "collapsed", "speedscope", "pprof", "svg"};

int export_format_by_name(const char *name)
{
    for (int i = 0; i < (int)(sizeof(format_names) / sizeof(format_names[0])); i++)
        if (strcmp(name, format_names[i]) == 0)
            return i;
    return -1;
}

static uint32_t node_row(const rep_t *r, uint32_t node)
{
    return r->row_of[r->p->nodes[node].fidx];
}

static const char *row_std(const rep_t *r, uint32_t row)
{
    return row < r->n ? r->rows[row].std : "[unknown]";
}

/* ---- JSON pieces ------------------------------------------------------------- */

void export_process_json(const rep_t *r, const export_meta_t *m, sbuf_t *out)
{
    const ulma_seg_info_t *in = m ? m->info : NULL;
    sbuf_addc(out, '{');
    if (in) {
        sbuf_printf(out, "\"pid\":%d,\"uid\":%u,\"host\":", in->pid, in->uid);
        sbuf_json_str(out, in->host, strlen(in->host));
        sbuf_adds(out, ",\"exe\":");
        sbuf_json_str(out, in->exe, strlen(in->exe));
        sbuf_printf(out, ",\"rank\":%d,\"size\":%d,\"job\":", in->mpi_rank, in->mpi_size);
        sbuf_json_str(out, in->job, strlen(in->job));
        sbuf_printf(out, ",\"start_time\":%llu,\"created_ns\":%llu,",
                    (unsigned long long)in->start_time, (unsigned long long)in->created_ns);
    }
    sbuf_printf(out, "\"state\":\"%s\",\"active_mode\":%u,\"hz\":%llu,\"events\":%llu,\"span\":",
                m && m->state == ULMA_SEG_EXITED ? "exited"
                : m && m->state == ULMA_SEG_LIVE ? "live" : "init",
                m ? m->active_mode : 0, (unsigned long long)r->p->hz,
                (unsigned long long)r->p->events);
    sbuf_json_num(out, prof_sec(r->p, prof_span(r->p)));
    sbuf_printf(out, ",\"calls\":%llu,\"primitive_calls\":%llu,\"tottime\":",
                (unsigned long long)r->total_calls, (unsigned long long)r->prim_calls);
    sbuf_json_num(out, r->total_tt);
    sbuf_addc(out, '}');
}

void export_drops_json(const rep_t *r, const export_meta_t *m, sbuf_t *out)
{
    const prof_t *p = r->p;
    uint64_t drop_events = 0, discarded = 0, mism = 0;
    for (const prof_thread_t *t = p->threads; t; t = t->next) {
        drop_events += t->drop_events;
        discarded += t->discarded;
        mism += t->mismatches;
    }
    sbuf_printf(out,
                "{\"records_lost\":%llu,\"drop_events\":%llu,\"stack_repairs\":%llu,"
                "\"frames_discarded\":%llu,\"return_mismatches\":%llu,\"malformed_records\":%llu,"
                "\"ids_out_of_range\":%llu,\"cct_overflows\":%llu,\"stack_overflows\":%llu,"
                "\"threads_dropped\":%llu,\"corrupt\":%llu,\"threads_lost\":%u}",
                (unsigned long long)prof_total_dropped(p), (unsigned long long)drop_events,
                (unsigned long long)prof_total_resyncs(p), (unsigned long long)discarded,
                (unsigned long long)mism, (unsigned long long)p->bad_records,
                (unsigned long long)p->ids_out_of_range, (unsigned long long)p->cct_overflows,
                (unsigned long long)p->stack_overflows, (unsigned long long)p->threads_dropped,
                (unsigned long long)(m ? m->corrupt : 0), m ? m->threads_lost : 0u);
}

void export_threads_json(const rep_t *r, uint32_t max_frames, sbuf_t *out)
{
    const prof_t *p = r->p;
    sbuf_addc(out, '[');
    int first = 1;
    for (const prof_thread_t *t = p->threads; t; t = t->next) {
        if (!first)
            sbuf_addc(out, ',');
        first = 0;
        sbuf_printf(out, "{\"tid\":%d,\"slot\":%u,\"name\":", t->tid, t->slot);
        sbuf_json_str(out, t->name, strlen(t->name));
        sbuf_printf(out,
                    ",\"ended\":%s,\"mode\":%u,\"events\":%llu,\"records_lost\":%llu,"
                    "\"stack_repairs\":%llu,\"depth\":%u,\"time\":",
                    t->ended ? "true" : "false", t->mode, (unsigned long long)t->events,
                    (unsigned long long)t->dropped, (unsigned long long)t->resyncs, t->depth);
        sbuf_json_num(out, prof_sec(p, t->last_tsc > t->first_tsc
                                            ? (int64_t)(t->last_tsc - t->first_tsc) : 0));
        /* the current stack, innermost first, at most max_frames */
        sbuf_adds(out, ",\"stack\":[");
        uint32_t shown = 0;
        for (uint32_t i = t->depth; i > 0 && (!max_frames || shown < max_frames); i--, shown++) {
            const prof_frame_t *f = &t->stack[i - 1];
            if (shown)
                sbuf_addc(out, ',');
            if (f->flags & PROF_FRAME_PLACEHOLDER) {
                sbuf_adds(out, "{\"row\":null,\"std\":\"[unknown]\",\"for\":");
            } else {
                uint32_t row = r->row_of[f->fidx];
                sbuf_printf(out, "{\"row\":%u,\"std\":", row);
                sbuf_json_str(out, row_std(r, row), strlen(row_std(r, row)));
                sbuf_adds(out, ",\"for\":");
            }
            sbuf_json_num(out, prof_sec(p, t->last_tsc > f->t0 ? (int64_t)(t->last_tsc - f->t0) : 0));
            sbuf_addc(out, '}');
        }
        sbuf_adds(out, "]}");
    }
    sbuf_addc(out, ']');
}

void export_objects_json(const rep_t *r, uint32_t limit, sbuf_t *out)
{
    const prof_t *p = r->p;
    sbuf_adds(out, "{\"types\":[");
    int first = 1;
    for (uint32_t i = 0; i < p->types_cap; i++) {
        const prof_type_t *ty = &p->types[i];
        if (!ty->news && !ty->frees)
            continue;
        if (!first)
            sbuf_addc(out, ',');
        first = 0;
        size_t nl;
        const char *nm = prof_type_name(p, i, &nl);
        sbuf_printf(out, "{\"type\":%u,\"name\":", i);
        sbuf_json_str(out, nm, nl);
        sbuf_printf(out,
                    ",\"new\":%llu,\"freed\":%llu,\"live\":%lld,\"bytes_new\":%llu,"
                    "\"bytes_freed\":%llu}",
                    (unsigned long long)ty->news, (unsigned long long)ty->frees,
                    (long long)(ty->news - ty->frees), (unsigned long long)ty->bytes_new,
                    (unsigned long long)ty->bytes_free);
    }
    sbuf_adds(out, "],\"sites\":[");
    /* by constructing function: the `limit` biggest counts */
    uint32_t n = p->nsites > 0 ? p->nsites - 1 : 0;
    uint32_t *idx = xmalloc(sizeof(*idx) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i + 1;
    /* selection of the top `limit` by count (n is small in practice) */
    uint32_t shown = limit && limit < n ? limit : n;
    for (uint32_t i = 0; i < shown; i++) {
        uint32_t best = i;
        for (uint32_t j = i + 1; j < n; j++)
            if (p->sites[idx[j]].count > p->sites[idx[best]].count)
                best = j;
        uint32_t tmp = idx[i];
        idx[i] = idx[best];
        idx[best] = tmp;
        const prof_objsite_t *s = &p->sites[idx[i]];
        uint32_t row = r->row_of[s->fidx];
        size_t nl;
        const char *nm = prof_type_name(p, s->type_id, &nl);
        if (i)
            sbuf_addc(out, ',');
        sbuf_adds(out, "{\"row\":");
        if (row == UINT32_MAX)
            sbuf_adds(out, "null");
        else
            sbuf_printf(out, "%u", row);
        sbuf_adds(out, ",\"std\":");
        sbuf_json_str(out, row_std(r, row), strlen(row_std(r, row)));
        sbuf_printf(out, ",\"type\":%u,\"type_name\":", s->type_id);
        sbuf_json_str(out, nm, nl);
        sbuf_printf(out, ",\"count\":%llu,\"bytes\":%llu}", (unsigned long long)s->count,
                    (unsigned long long)s->bytes);
    }
    free(idx);
    sbuf_adds(out, "]}");
}

void export_mpi_json(const rep_t *r, sbuf_t *out)
{
    sbuf_addc(out, '[');
    int first = 1;
    for (uint32_t i = 0; i < r->n; i++) {
        const rep_row_t *row = &r->rows[i];
        if (row->kind != PROF_NS_MPI)
            continue;
        if (!first)
            sbuf_addc(out, ',');
        first = 0;
        sbuf_printf(out, "{\"row\":%u,\"name\":", i);
        sbuf_json_str(out, row->lab.name, row->lab.name_len);
        sbuf_printf(out, ",\"calls\":%llu,\"time\":", (unsigned long long)row->nc);
        sbuf_json_num(out, row->ct);
        sbuf_printf(out, ",\"bytes\":%llu}", (unsigned long long)row->mpi_bytes);
    }
    sbuf_addc(out, ']');
}

static const prof_t *paths_prof;
static int node_ct_cmp(const void *x, const void *y)
{
    const prof_node_t *a = &paths_prof->nodes[*(const uint32_t *)x];
    const prof_node_t *b = &paths_prof->nodes[*(const uint32_t *)y];
    if (a->ct != b->ct)
        return a->ct < b->ct ? 1 : -1;
    return *(const uint32_t *)x < *(const uint32_t *)y ? -1 : 1;
}

void export_paths_json(const rep_t *r, uint32_t limit, sbuf_t *out)
{
    const prof_t *p = r->p;
    uint32_t n = p->nnodes > 1 ? p->nnodes - 1 : 0;
    uint32_t *idx = xmalloc(sizeof(*idx) * (n ? n : 1));
    for (uint32_t i = 0; i < n; i++)
        idx[i] = i + 1;
    if (limit && limit < n) {
        paths_prof = p;
        qsort(idx, n, sizeof(*idx), node_ct_cmp);
        n = limit;
    }
    sbuf_addc(out, '[');
    for (uint32_t i = 0; i < n; i++) {
        const prof_node_t *nd = &p->nodes[idx[i]];
        uint32_t row = node_row(r, idx[i]);
        if (i)
            sbuf_addc(out, ',');
        sbuf_printf(out, "{\"id\":%u,\"parent\":%u,\"row\":", idx[i], nd->parent);
        if (row == UINT32_MAX)
            sbuf_adds(out, "null");
        else
            sbuf_printf(out, "%u", row);
        sbuf_adds(out, ",\"std\":");
        sbuf_json_str(out, row_std(r, row), strlen(row_std(r, row)));
        sbuf_printf(out, ",\"count\":%llu,\"tottime\":", (unsigned long long)nd->count);
        sbuf_json_num(out, prof_sec(p, nd->it));
        sbuf_adds(out, ",\"cumtime\":");
        sbuf_json_num(out, prof_sec(p, nd->ct));
        sbuf_addc(out, '}');
    }
    sbuf_addc(out, ']');
    free(idx);
}

static void export_json(const rep_t *r, const export_meta_t *m, sbuf_t *out)
{
    sbuf_adds(out, "{\"format\":\"ulma-profile\",\"version\":1,\"process\":");
    export_process_json(r, m, out);
    sbuf_adds(out, ",\"drops\":");
    export_drops_json(r, m, out);
    sbuf_adds(out, ",\"functions\":[");
    for (uint32_t i = 0; i < r->n; i++) {
        if (i)
            sbuf_addc(out, ',');
        rep_row_json(r, &r->rows[i], out);
        out->len--; /* reopen the object to add its edges */
        sbuf_adds(out, ",\"callers\":");
        rep_edges_json(r, i, 0, 0, out);
        sbuf_adds(out, ",\"callees\":");
        rep_edges_json(r, i, 1, 0, out);
        sbuf_addc(out, '}');
    }
    sbuf_adds(out, "],\"paths\":");
    export_paths_json(r, 0, out);
    sbuf_adds(out, ",\"threads\":");
    export_threads_json(r, 0, out);
    sbuf_adds(out, ",\"objects\":");
    export_objects_json(r, 0, out);
    sbuf_adds(out, ",\"mpi\":");
    export_mpi_json(r, out);
    sbuf_adds(out, "}\n");
}

/* ---- stacks of the CCT --------------------------------------------------------- */

/* Rows from the root to `node` into path[] (at most cap); returns the count. */
static uint32_t node_path(const rep_t *r, uint32_t node, uint32_t *path, uint32_t cap)
{
    uint32_t n = 0;
    const prof_t *p = r->p;
    while (node != 0 && n < cap) {
        path[n++] = node;
        node = p->nodes[node].parent;
    }
    for (uint32_t i = 0; i < n / 2; i++) {
        uint32_t t = path[i];
        path[i] = path[n - 1 - i];
        path[n - 1 - i] = t;
    }
    return n;
}

#define PATH_MAX_FRAMES 4096u

static void export_collapsed(const rep_t *r, sbuf_t *out)
{
    const prof_t *p = r->p;
    uint32_t *path = xmalloc(sizeof(*path) * PATH_MAX_FRAMES);
    for (uint32_t nd = 1; nd < p->nnodes; nd++) {
        double us = prof_sec(p, p->nodes[nd].it) * 1e6;
        if (us < 0.5)
            continue;
        uint32_t n = node_path(r, nd, path, PATH_MAX_FRAMES);
        for (uint32_t i = 0; i < n; i++) {
            const char *s = row_std(r, node_row(r, path[i]));
            if (i)
                sbuf_addc(out, ';');
            size_t at = out->len;
            sbuf_adds(out, s);
            for (size_t k = at; k < out->len; k++)
                if (out->data[k] == ';' || out->data[k] == '\n')
                    out->data[k] = ':';
        }
        sbuf_printf(out, " %.0f\n", us);
    }
    free(path);
}

static void export_speedscope(const rep_t *r, const export_meta_t *m, sbuf_t *out)
{
    const prof_t *p = r->p;
    sbuf_adds(out, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
                   "\"exporter\":\"ulma-agent\",\"name\":");
    char title[128];
    snprintf(title, sizeof(title), "pid %d", m && m->info ? m->info->pid : 0);
    sbuf_json_str(out, title, strlen(title));
    sbuf_adds(out, ",\"activeProfileIndex\":0,\"shared\":{\"frames\":[");
    for (uint32_t i = 0; i <= r->n; i++) {
        if (i)
            sbuf_addc(out, ',');
        if (i == r->n) {
            sbuf_adds(out, "{\"name\":\"[unknown]\"}");
            break;
        }
        const rep_row_t *row = &r->rows[i];
        sbuf_adds(out, "{\"name\":");
        sbuf_json_str(out, row->lab.qualname, row->lab.qualname_len);
        sbuf_adds(out, ",\"file\":");
        sbuf_json_str(out, row->lab.file, row->lab.file_len);
        sbuf_printf(out, ",\"line\":%u}", row->lab.line);
    }
    sbuf_adds(out, "]},\"profiles\":[{\"type\":\"sampled\",\"name\":");
    sbuf_json_str(out, title, strlen(title));
    sbuf_adds(out, ",\"unit\":\"seconds\",\"startValue\":0,\"endValue\":");
    sbuf_json_num(out, r->total_tt);
    uint32_t *path = xmalloc(sizeof(*path) * PATH_MAX_FRAMES);
    sbuf_adds(out, ",\"samples\":[");
    int first = 1;
    for (uint32_t nd = 1; nd < p->nnodes; nd++) {
        if (p->nodes[nd].it <= 0)
            continue;
        uint32_t n = node_path(r, nd, path, PATH_MAX_FRAMES);
        sbuf_adds(out, first ? "[" : ",[");
        first = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t row = node_row(r, path[i]);
            sbuf_printf(out, i ? ",%u" : "%u", row == UINT32_MAX ? r->n : row);
        }
        sbuf_addc(out, ']');
    }
    sbuf_adds(out, "],\"weights\":[");
    first = 1;
    for (uint32_t nd = 1; nd < p->nnodes; nd++) {
        if (p->nodes[nd].it <= 0)
            continue;
        if (!first)
            sbuf_addc(out, ',');
        first = 0;
        sbuf_json_num(out, prof_sec(p, p->nodes[nd].it));
    }
    sbuf_adds(out, "]}]}\n");
    free(path);
}

/* ---- pprof: profile.proto by hand ------------------------------------------------ */

static void pb_varint(sbuf_t *b, uint64_t v)
{
    unsigned char x[10];
    int n = 0;
    do {
        x[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    sbuf_add(b, x, (size_t)n);
}

static void pb_key(sbuf_t *b, unsigned field, unsigned wire) { pb_varint(b, (uint64_t)field << 3 | wire); }
static void pb_uint(sbuf_t *b, unsigned field, uint64_t v)
{
    pb_key(b, field, 0);
    pb_varint(b, v);
}
static void pb_bytes(sbuf_t *b, unsigned field, const void *d, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    sbuf_add(b, d, n);
}

/* String table with linear de-duplication of the few fixed strings; rows
 * add their own (names are mostly unique). */
typedef struct strtab {
    sbuf_t enc; /* encoded string_table fields */
    uint64_t n;
} strtab_t;

static uint64_t st_add(strtab_t *st, const char *s, size_t n)
{
    pb_bytes(&st->enc, 6, s, n);
    return st->n++;
}

static int gzip_buf(const sbuf_t *in, sbuf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    size_t bound = deflateBound(&z, in->len) + 64;
    sbuf_reserve(out, bound);
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&z);
        return -EIO;
    }
    out->len += bound - z.avail_out;
    deflateEnd(&z);
    return 0;
}

static int export_pprof(const rep_t *r, sbuf_t *out)
{
    const prof_t *p = r->p;
    sbuf_t msg = {0}, sub = {0}, packed = {0};
    strtab_t st = {{0}, 0};
    st_add(&st, "", 0);
    uint64_t s_calls = st_add(&st, "calls", 5), s_count = st_add(&st, "count", 5);
    uint64_t s_time = st_add(&st, "time", 4), s_ns = st_add(&st, "nanoseconds", 11);
    /* sample_type = 1: [calls/count, time/nanoseconds] */
    uint64_t types[2][2] = {{s_calls, s_count}, {s_time, s_ns}};
    for (int i = 0; i < 2; i++) {
        sub.len = 0;
        pb_uint(&sub, 1, types[i][0]);
        pb_uint(&sub, 2, types[i][1]);
        pb_bytes(&msg, 1, sub.data, sub.len);
    }
    /* sample = 2: one per CCT node with calls; locations leaf first */
    uint32_t *path = xmalloc(sizeof(*path) * PATH_MAX_FRAMES);
    for (uint32_t nd = 1; nd < p->nnodes; nd++) {
        const prof_node_t *n = &p->nodes[nd];
        if (!n->count && n->it <= 0)
            continue;
        uint32_t k = node_path(r, nd, path, PATH_MAX_FRAMES);
        sub.len = 0;
        packed.len = 0;
        for (uint32_t i = k; i > 0; i--) {
            uint32_t row = node_row(r, path[i - 1]);
            pb_varint(&packed, (uint64_t)(row == UINT32_MAX ? r->n : row) + 1);
        }
        pb_bytes(&sub, 1, packed.data, packed.len);
        packed.len = 0;
        pb_varint(&packed, n->count);
        double ns = prof_sec(p, n->it) * 1e9;
        pb_varint(&packed, ns > 0 ? (uint64_t)(ns + 0.5) : 0);
        pb_bytes(&sub, 2, packed.data, packed.len);
        pb_bytes(&msg, 2, sub.data, sub.len);
    }
    free(path);
    /* location = 4 and function = 5: one per row, ids row + 1; the last is [unknown] */
    for (uint32_t i = 0; i <= r->n; i++) {
        const char *name = i < r->n ? r->rows[i].lab.qualname : "[unknown]";
        size_t name_len = i < r->n ? r->rows[i].lab.qualname_len : 9;
        const char *file = i < r->n ? r->rows[i].lab.file : "~";
        size_t file_len = i < r->n ? r->rows[i].lab.file_len : 1;
        uint32_t line = i < r->n ? r->rows[i].lab.line : 0;
        uint64_t s_name = st_add(&st, name, name_len);
        uint64_t s_std = st_add(&st, row_std(r, i), strlen(row_std(r, i)));
        uint64_t s_file = st_add(&st, file, file_len);
        sub.len = 0;
        pb_uint(&sub, 1, i + 1u);
        pb_uint(&sub, 2, s_name);
        pb_uint(&sub, 3, s_std);
        pb_uint(&sub, 4, s_file);
        pb_uint(&sub, 5, line);
        pb_bytes(&msg, 5, sub.data, sub.len);
        sub.len = 0;
        packed.len = 0;
        pb_uint(&packed, 1, i + 1u); /* Line.function_id */
        pb_uint(&packed, 2, line);   /* Line.line */
        pb_uint(&sub, 1, i + 1u);    /* Location.id */
        pb_bytes(&sub, 4, packed.data, packed.len);
        pb_bytes(&msg, 4, sub.data, sub.len);
    }
    sbuf_add(&msg, st.enc.data, st.enc.len);
    double span_ns = prof_sec(p, prof_span(p)) * 1e9;
    pb_uint(&msg, 10, span_ns > 0 ? (uint64_t)span_ns : 0); /* duration_nanos */
    sub.len = 0;
    pb_uint(&sub, 1, s_time);
    pb_uint(&sub, 2, s_ns);
    pb_bytes(&msg, 11, sub.data, sub.len); /* period_type */
    pb_uint(&msg, 12, 1);                  /* period */
    pb_uint(&msg, 14, s_time);             /* default_sample_type */
    int rc = gzip_buf(&msg, out);
    sbuf_free(&msg);
    sbuf_free(&sub);
    sbuf_free(&packed);
    sbuf_free(&st.enc);
    return rc;
}

/* ---- SVG flame graph ------------------------------------------------------------ */

static void svg_text(sbuf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '<')
            sbuf_adds(out, "&lt;");
        else if (c == '>')
            sbuf_adds(out, "&gt;");
        else if (c == '&')
            sbuf_adds(out, "&amp;");
        else if (c == '"')
            sbuf_adds(out, "&quot;");
        else if ((unsigned char)c < 0x20)
            sbuf_addc(out, ' ');
        else
            sbuf_addc(out, c);
    }
}

static void export_svg(const rep_t *r, const export_meta_t *m, sbuf_t *out)
{
    const prof_t *p = r->p;
    const double W = 1200.0, H = 16.0, top = 40.0;
    uint32_t nn = p->nnodes;
    double *x = xcalloc(nn, sizeof(double)), *next = xcalloc(nn, sizeof(double));
    uint32_t *depth = xcalloc(nn, sizeof(uint32_t));
    double total = 0;
    for (uint32_t nd = 1; nd < nn; nd++)
        if (p->nodes[nd].parent == 0 && p->nodes[nd].ct > 0)
            total += (double)p->nodes[nd].ct;
    uint32_t maxd = 0;
    /* parents are created before their children: one pass lays out the tree */
    for (uint32_t nd = 1; nd < nn; nd++) {
        uint32_t par = p->nodes[nd].parent;
        depth[nd] = depth[par] + 1;
        x[nd] = next[par];
        double w = total > 0 && p->nodes[nd].ct > 0 ? (double)p->nodes[nd].ct / total * W : 0;
        next[par] += w;
        next[nd] = x[nd];
        if (w >= 0.5 && depth[nd] > maxd)
            maxd = depth[nd];
    }
    if (maxd > 2000)
        maxd = 2000;
    double height = top + (maxd + 1) * H + 10;
    sbuf_printf(out,
                "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                "xmlns=\"http://www.w3.org/2000/svg\">\n"
                "<style>text{font-family:monospace;font-size:11px;fill:#000}"
                "rect:hover{stroke:#000;stroke-width:0.5}</style>\n"
                "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdfdf5\"/>\n"
                "<text x=\"%.0f\" y=\"20\" text-anchor=\"middle\" style=\"font-size:15px\">"
                "ulma flame graph: pid %d, %.3f s in %llu calls (width = cumulative time; "
                "hover for details)</text>\n",
                W + 20, height, W + 20, height, (W + 20) / 2, m && m->info ? m->info->pid : 0,
                r->total_tt, (unsigned long long)r->total_calls);
    for (uint32_t nd = 1; nd < nn; nd++) {
        const prof_node_t *n = &p->nodes[nd];
        double w = total > 0 && n->ct > 0 ? (double)n->ct / total * W : 0;
        if (w < 0.5 || depth[nd] > maxd)
            continue;
        uint32_t row = node_row(r, nd);
        const char *s = row_std(r, row);
        const char *label = row < r->n ? r->rows[row].lab.qualname : "[unknown]";
        size_t label_len = row < r->n ? r->rows[row].lab.qualname_len : 9;
        uint32_t h = 2166136261u;
        for (const char *c = s; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        double y = height - 10 - depth[nd] * H;
        sbuf_adds(out, "<g><title>");
        svg_text(out, s, strlen(s));
        sbuf_printf(out, " (%llu calls, %.6f s, %.2f%%)</title>", (unsigned long long)n->count,
                    prof_sec(p, n->ct), 100.0 * (double)n->ct / total);
        sbuf_printf(out,
                    "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" "
                    "fill=\"rgb(%u,%u,%u)\" rx=\"2\"/>",
                    10 + x[nd], y, w, H - 1, 205 + h % 50, 80 + (h >> 8) % 120, 40 + (h >> 16) % 40);
        size_t fit = (size_t)((w - 4) / 6.6);
        if (fit >= 3) {
            sbuf_printf(out, "<text x=\"%.2f\" y=\"%.1f\">", 10 + x[nd] + 2, y + H - 4);
            if (label_len > fit) {
                svg_text(out, label, fit - 2);
                sbuf_adds(out, "..");
            } else {
                svg_text(out, label, label_len);
            }
            sbuf_adds(out, "</text>");
        }
        sbuf_adds(out, "</g>\n");
    }
    sbuf_adds(out, "</svg>\n");
    free(x);
    free(next);
    free(depth);
}

int export_write(const rep_t *r, const export_meta_t *m, int format, sbuf_t *out)
{
    switch (format) {
    case EXPORT_JSON: export_json(r, m, out); return 0;
    case EXPORT_PSTATS: rep_pstats(r, out); return 0;
    case EXPORT_COLLAPSED: export_collapsed(r, out); return 0;
    case EXPORT_SPEEDSCOPE: export_speedscope(r, m, out); return 0;
    case EXPORT_PPROF: return export_pprof(r, out);
    case EXPORT_SVG: export_svg(r, m, out); return 0;
    default: return -EINVAL;
    }
}
