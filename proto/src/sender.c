/* sender.c - one session of the report protocol, sending side. */
#define _GNU_SOURCE
#include "wire/sender.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* ---- a small open-addressing map: u64 key -> u32 index + 1 --------------------- */

typedef struct map {
    uint64_t *key;
    uint32_t *val;
    uint32_t cap, n;
} map_t;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint32_t *map_slot(map_t *m, uint64_t key)
{
    if ((uint64_t)(m->n + 1) * 4 > (uint64_t)m->cap * 3) {
        uint32_t cap = m->cap ? m->cap * 2 : 256;
        uint64_t *k = xcalloc(cap, sizeof(*k));
        uint32_t *v = xcalloc(cap, sizeof(*v));
        for (uint32_t i = 0; i < m->cap; i++) {
            if (!m->val[i])
                continue;
            uint32_t j = (uint32_t)mix(m->key[i]) & (cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            k[j] = m->key[i];
            v[j] = m->val[i];
        }
        free(m->key);
        free(m->val);
        m->key = k;
        m->val = v;
        m->cap = cap;
    }
    uint32_t j = (uint32_t)mix(key) & (m->cap - 1);
    while (m->val[j] && m->key[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->val[j])
        m->n++; /* every caller fills an empty slot it is given */
    m->key[j] = key;
    return &m->val[j];
}

static void map_free(map_t *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

/* Differences of values that may be absurd (they come from other
 * processes): wrapping, never undefined; the receiver checks the result. */
#define WSUB(a, b) ((int64_t)((uint64_t)(a) - (uint64_t)(b)))

/* ---- state ---------------------------------------------------------------------- */

typedef struct row {
    pf_counts_t c;
    uint64_t mpi_bytes;
} row_t;

typedef struct objtype {
    char *name;
    uint64_t v[7]; /* news, frees, frees_unborn, bytes_new, bytes_freed, lost, bytes_live */
} objtype_t;

typedef struct proc {
    int32_t pid;
    uint64_t start_time;
    row_t *last, *cur;        /* by name index: as last sent, and staged */
    uint32_t cap;             /* of both */
    objtype_t *types_last, *types_cur;
    uint32_t ntypes_last, ntypes_cur, types_cap_last, types_cap_cur;
    int in_report;
} proc_t;

typedef struct group {
    char *job;
    pf_counts_t *edges_last, *edges_cur;
    uint32_t edges_cap;
    struct pathv {
        uint64_t count;
        int64_t tottime, subtime;
    } *paths_last, *paths_cur;
    uint32_t paths_cap;
} group_t;

struct wire_sender {
    uint64_t session, seq, interval_ns;
    char *node_name, *host, *agent_version, *dir;
    uint32_t cpus;
    int32_t agent_pid;
    uint64_t agent_start_ns;
    /* dictionaries */
    struct name {
        char *file, *name, *qualname;
        uint32_t line, kind;
    } *names;
    uint32_t nnames, names_cap, names_sent;
    map_t name_map; /* label hash -> index + 1 (chained on collisions below) */
    uint32_t *name_next; /* same hash: next index + 1 */
    uint32_t name_next_cap;
    Ulma__Wire__EdgeName *edges;
    uint32_t nedges, edges_cap, edges_sent;
    map_t edge_map;
    Ulma__Wire__PathName *paths;
    uint32_t npaths, paths_cap, paths_sent;
    map_t path_map;
    /* processes and groups */
    proc_t **procs;
    uint32_t nprocs, procs_cap;
    map_t proc_map;
    group_t **groups;
    uint32_t ngroups, groups_cap;
    /* the report being made */
    wire_arena_t *a;
    Ulma__Wire__Report rep;
    Ulma__Wire__Process **out_procs;
    uint32_t nout_procs, out_procs_cap;
    Ulma__Wire__Group **out_groups;
    uint32_t nout_groups, out_groups_cap;
    int32_t *gone_pid;
    uint64_t *gone_st;
    uint32_t ngone, gone_cap;
    int snapshot, full_dict;
};

wire_sender_t *wire_sender_new(const wire_node_info_t *node, uint64_t session,
                               uint64_t interval_ns)
{
    wire_sender_t *s = xcalloc(1, sizeof(*s));
    if (!session) {
        if (getrandom(&session, sizeof(session), 0) != (ssize_t)sizeof(session)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            session = mix((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                          (uint64_t)node->agent_pid);
        }
        if (!session)
            session = 1;
    }
    s->session = session;
    s->interval_ns = interval_ns;
    s->node_name = xstrdup(node->name ? node->name : "");
    s->host = xstrdup(node->host ? node->host : "");
    s->agent_version = xstrdup(node->agent_version ? node->agent_version : "");
    s->dir = xstrdup(node->dir ? node->dir : "");
    s->cpus = node->cpus;
    s->agent_pid = node->agent_pid;
    s->agent_start_ns = node->agent_start_ns;
    return s;
}

static void proc_free(proc_t *p)
{
    free(p->last);
    free(p->cur);
    for (uint32_t i = 0; i < p->ntypes_last; i++)
        free(p->types_last[i].name);
    for (uint32_t i = 0; i < p->ntypes_cur; i++)
        free(p->types_cur[i].name);
    free(p->types_last);
    free(p->types_cur);
    free(p);
}

void wire_sender_destroy(wire_sender_t **s_p)
{
    if (!s_p || !*s_p)
        return;
    wire_sender_t *s = *s_p;
    for (uint32_t i = 0; i < s->nnames; i++) {
        free(s->names[i].file);
        free(s->names[i].name);
        free(s->names[i].qualname);
    }
    free(s->names);
    free(s->name_next);
    map_free(&s->name_map);
    free(s->edges);
    map_free(&s->edge_map);
    free(s->paths);
    map_free(&s->path_map);
    for (uint32_t i = 0; i < s->nprocs; i++)
        proc_free(s->procs[i]);
    free(s->procs);
    map_free(&s->proc_map);
    for (uint32_t i = 0; i < s->ngroups; i++) {
        free(s->groups[i]->job);
        free(s->groups[i]->edges_last);
        free(s->groups[i]->edges_cur);
        free(s->groups[i]->paths_last);
        free(s->groups[i]->paths_cur);
        free(s->groups[i]);
    }
    free(s->groups);
    free(s->out_procs);
    free(s->out_groups);
    free(s->gone_pid);
    free(s->gone_st);
    wire_arena_destroy(&s->a);
    free(s->node_name);
    free(s->host);
    free(s->agent_version);
    free(s->dir);
    free(s);
    *s_p = NULL;
}

uint64_t wire_sender_session(const wire_sender_t *s) { return s->session; }
uint64_t wire_sender_seq(const wire_sender_t *s) { return s->seq; }
uint32_t wire_sender_nnames(const wire_sender_t *s) { return s->nnames; }

/* ---- dictionaries --------------------------------------------------------------- */

static uint64_t label_hash(const pf_func_t *f)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < f->file.len; i++)
        h = (h ^ (unsigned char)f->file.s[i]) * 0x100000001b3ull;
    h = (h ^ f->line) * 0x100000001b3ull;
    for (uint32_t i = 0; i < f->name.len; i++)
        h = (h ^ (unsigned char)f->name.s[i]) * 0x100000001b3ull;
    return h;
}

static int name_is(const struct name *n, const pf_func_t *f)
{
    return n->line == f->line && strlen(n->file) == f->file.len &&
           strlen(n->name) == f->name.len && memcmp(n->file, f->file.s, f->file.len) == 0 &&
           memcmp(n->name, f->name.s, f->name.len) == 0;
}

uint32_t wire_sender_name(wire_sender_t *s, const pf_func_t *f)
{
    uint32_t *slot = map_slot(&s->name_map, label_hash(f));
    for (uint32_t i = *slot; i; i = s->name_next[i - 1])
        if (name_is(&s->names[i - 1], f))
            return i - 1;
    s->names = xgrow(s->names, &s->names_cap, s->nnames + 1, sizeof(*s->names));
    s->name_next = xgrow(s->name_next, &s->name_next_cap, s->nnames + 1, sizeof(uint32_t));
    uint32_t idx = s->nnames++;
    struct name *n = &s->names[idx];
    n->file = xstrndup(f->file.s, f->file.len);
    n->name = xstrndup(f->name.s, f->name.len);
    n->qualname = f->qualname.s != f->name.s ? xstrndup(f->qualname.s, f->qualname.len) : NULL;
    n->line = f->line;
    n->kind = f->kind;
    s->name_next[idx] = *slot;
    *slot = idx + 1;
    return idx;
}

uint32_t wire_sender_edge(wire_sender_t *s, uint32_t caller, uint32_t callee)
{
    uint32_t *slot = map_slot(&s->edge_map, (uint64_t)caller << 32 | callee);
    if (*slot)
        return *slot - 1;
    s->edges = xgrow(s->edges, &s->edges_cap, s->nedges + 1, sizeof(*s->edges));
    ulma__wire__edge_name__init(&s->edges[s->nedges]);
    s->edges[s->nedges].caller = caller;
    s->edges[s->nedges].callee = callee;
    *slot = ++s->nedges;
    return s->nedges - 1;
}

uint32_t wire_sender_path(wire_sender_t *s, uint32_t parent, uint32_t func)
{
    uint32_t *slot = map_slot(&s->path_map, (uint64_t)parent << 32 | func);
    if (*slot)
        return *slot - 1;
    s->paths = xgrow(s->paths, &s->paths_cap, s->npaths + 1, sizeof(*s->paths));
    ulma__wire__path_name__init(&s->paths[s->npaths]);
    s->paths[s->npaths].parent = parent;
    s->paths[s->npaths].func = func;
    *slot = ++s->npaths;
    return s->npaths - 1;
}

/* ---- a report ------------------------------------------------------------------- */

void wire_sender_begin(wire_sender_t *s, int snapshot, int full_dictionary)
{
    wire_arena_destroy(&s->a);
    s->a = wire_arena_new();
    ulma__wire__report__init(&s->rep);
    s->snapshot = snapshot || full_dictionary;
    s->full_dict = full_dictionary;
    s->nout_procs = s->nout_groups = s->ngone = 0;
    for (uint32_t i = 0; i < s->nprocs; i++)
        s->procs[i]->in_report = 0;
}

static proc_t *proc_get(wire_sender_t *s, int32_t pid, uint64_t start_time)
{
    uint32_t *slot = map_slot(&s->proc_map, mix((uint64_t)(uint32_t)pid << 40 ^ start_time));
    while (*slot) {
        proc_t *p = s->procs[*slot - 1];
        if (p->pid == pid && p->start_time == start_time)
            return p;
        /* a hash collision between two processes: probe on by hand */
        break;
    }
    for (uint32_t i = 0; i < s->nprocs; i++)
        if (s->procs[i]->pid == pid && s->procs[i]->start_time == start_time)
            return s->procs[i];
    proc_t *p = xcalloc(1, sizeof(*p));
    p->pid = pid;
    p->start_time = start_time;
    s->procs = xgrow(s->procs, &s->procs_cap, s->nprocs + 1, sizeof(*s->procs));
    s->procs[s->nprocs++] = p;
    if (!*slot)
        *slot = s->nprocs;
    return p;
}

static void proc_reserve(proc_t *p, uint32_t n)
{
    if (n <= p->cap)
        return;
    uint32_t cap = p->cap;
    p->last = xgrow(p->last, &cap, n, sizeof(*p->last));
    cap = p->cap;
    p->cur = xgrow(p->cur, &cap, n, sizeof(*p->cur));
    p->cap = cap;
}

static int row_eq(const row_t *a, const row_t *b) { return memcmp(a, b, sizeof(*a)) == 0; }

/* Grow-as-needed packed columns in the arena. */
typedef struct cols {
    uint32_t *idx;
    int64_t *v[4];
    size_t n;
} cols_t;

static void emit_process(wire_sender_t *s, proc_t *p, const pf_meta_t *m, const pf_drops_t *d,
                         uint32_t threads, uint32_t nrows_cap)
{
    uint32_t n = nrows_cap;
    /* which rows go: changed ones (delta) or non-zero ones (snapshot) */
    uint32_t nfn = 0, nmpi = 0;
    for (uint32_t i = 0; i < n; i++) {
        const row_t *c = &p->cur[i], *l = &p->last[i];
        int send = s->snapshot ? (c->c.ncalls || c->c.tottime_ns || c->c.cumtime_ns)
                               : !row_eq(c, l);
        if (!send)
            continue;
        nfn++;
        if (s->snapshot ? c->mpi_bytes != 0 : c->mpi_bytes != l->mpi_bytes)
            nmpi++;
    }
    Ulma__Wire__Process *o = WIRE_MSG(s->a, Ulma__Wire__Process, ulma__wire__process__descriptor);
    o->pid = m->pid;
    o->start_time = m->start_time;
    o->uid = m->uid;
    o->rank = m->rank;
    o->size = m->size;
    o->job = wire_strdup(s->a, m->job);
    o->exe = wire_strdup(s->a, m->exe);
    o->state = m->state;
    o->active_mode = m->active_mode;
    o->hook_status = m->hook_status;
    o->events = m->events;
    o->span_ns = m->span_ns;
    o->hz = m->hz;
    o->clock_drift_ppm = m->clock_drift_ppm;
    o->created_ns = m->created_ns;
    o->threads = threads;
    if (d) {
        Ulma__Wire__Drops *dr = WIRE_MSG(s->a, Ulma__Wire__Drops, ulma__wire__drops__descriptor);
        dr->records_lost = d->records_lost;
        dr->drop_events = d->drop_events;
        dr->stack_repairs = d->stack_repairs;
        dr->frames_discarded = d->frames_discarded;
        dr->return_mismatches = d->return_mismatches;
        dr->malformed_records = d->malformed_records;
        dr->ids_out_of_range = d->ids_out_of_range;
        dr->cct_overflows = d->cct_overflows;
        dr->stack_overflows = d->stack_overflows;
        dr->threads_dropped = d->threads_dropped;
        dr->threads_unended = d->threads_unended;
        dr->corrupt = d->corrupt;
        dr->threads_lost = d->threads_lost;
        dr->objects_untracked = d->objects_untracked;
        o->drops = dr;
    }
    o->fn_index = wire_alloc(s->a, sizeof(uint32_t) * (nfn ? nfn : 1));
    o->fn_ncalls = wire_alloc(s->a, sizeof(int64_t) * (nfn ? nfn : 1));
    o->fn_rcalls = wire_alloc(s->a, sizeof(int64_t) * (nfn ? nfn : 1));
    o->fn_tottime = wire_alloc(s->a, sizeof(int64_t) * (nfn ? nfn : 1));
    o->fn_subtime = wire_alloc(s->a, sizeof(int64_t) * (nfn ? nfn : 1));
    o->mpi_index = wire_alloc(s->a, sizeof(uint32_t) * (nmpi ? nmpi : 1));
    o->mpi_bytes = wire_alloc(s->a, sizeof(int64_t) * (nmpi ? nmpi : 1));
    uint32_t prev = 0, prev_mpi = 0;
    size_t k = 0, km = 0;
    for (uint32_t i = 0; i < n; i++) {
        const row_t *c = &p->cur[i], *l = &p->last[i];
        static const row_t zero;
        const row_t *base = s->snapshot ? &zero : l;
        int send = s->snapshot ? (c->c.ncalls || c->c.tottime_ns || c->c.cumtime_ns)
                               : !row_eq(c, l);
        if (!send)
            continue;
        o->fn_index[k] = k ? i - prev : i;
        prev = i;
        o->fn_ncalls[k] = (int64_t)(c->c.ncalls - base->c.ncalls);
        o->fn_rcalls[k] = (int64_t)((c->c.ncalls - c->c.pcalls) -
                                    (base->c.ncalls - base->c.pcalls));
        o->fn_tottime[k] = WSUB(c->c.tottime_ns, base->c.tottime_ns);
        o->fn_subtime[k] = WSUB(WSUB(c->c.cumtime_ns, c->c.tottime_ns),
                                WSUB(base->c.cumtime_ns, base->c.tottime_ns));
        k++;
        if (c->mpi_bytes != base->mpi_bytes) {
            o->mpi_index[km] = km ? i - prev_mpi : i;
            prev_mpi = i;
            o->mpi_bytes[km] = (int64_t)(c->mpi_bytes - base->mpi_bytes);
            km++;
        }
    }
    o->n_fn_index = o->n_fn_ncalls = o->n_fn_rcalls = o->n_fn_tottime = o->n_fn_subtime = k;
    o->n_mpi_index = o->n_mpi_bytes = km;
    /* object types: absolute, the changed ones (snapshot: all) */
    uint32_t nt = 0;
    Ulma__Wire__ObjType **ty =
        WIRE_MSGS(s->a, p->ntypes_cur, Ulma__Wire__ObjType, ulma__wire__obj_type__descriptor);
    for (uint32_t i = 0; i < p->ntypes_cur; i++) {
        const objtype_t *t = &p->types_cur[i];
        int same = 0;
        for (uint32_t j = 0; !s->snapshot && j < p->ntypes_last && !same; j++)
            same = strcmp(p->types_last[j].name, t->name) == 0 &&
                   memcmp(p->types_last[j].v, t->v, sizeof(t->v)) == 0;
        if (same)
            continue;
        Ulma__Wire__ObjType *d2 = ty[nt++];
        d2->name = wire_strdup(s->a, t->name);
        d2->news = t->v[0];
        d2->frees = t->v[1];
        d2->frees_unborn = t->v[2];
        d2->bytes_new = t->v[3];
        d2->bytes_freed = t->v[4];
        d2->lost = t->v[5];
        d2->bytes_live = t->v[6];
    }
    o->types = ty;
    o->n_types = nt;
    s->out_procs = xgrow(s->out_procs, &s->out_procs_cap, s->nout_procs + 1, sizeof(void *));
    s->out_procs[s->nout_procs++] = o;
    p->in_report = 1;
}

static void set_types(proc_t *p, const profile_t *prof)
{
    for (uint32_t i = 0; i < p->ntypes_cur; i++)
        free(p->types_cur[i].name);
    p->ntypes_cur = 0;
    uint32_t n = prof ? profile_ntypes(prof) : 0;
    p->types_cur = xgrow(p->types_cur, &p->types_cap_cur, n, sizeof(*p->types_cur));
    for (uint32_t i = 0; i < n; i++) {
        const pf_type_t *t = profile_type(prof, i);
        objtype_t *o = &p->types_cur[p->ntypes_cur++];
        o->name = xstrndup(t->name.s, t->name.len);
        o->v[0] = t->news;
        o->v[1] = t->frees;
        o->v[2] = t->frees_unborn;
        o->v[3] = t->bytes_new;
        o->v[4] = t->bytes_freed;
        o->v[5] = t->lost;
        o->v[6] = t->bytes_live;
    }
}

/* The open frames of a process: absolute, every time it is in a report. */
static void emit_open(wire_sender_t *s, Ulma__Wire__Process *o, const profile_t *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < profile_nfuncs(p); i++)
        n += profile_func(p, i)->open.calls != 0;
    if (!n)
        return;
    o->open_index = wire_alloc(s->a, sizeof(uint32_t) * n);
    o->open_calls = wire_alloc(s->a, sizeof(uint64_t) * n);
    o->open_tottime = wire_alloc(s->a, sizeof(int64_t) * n);
    o->open_cumtime = wire_alloc(s->a, sizeof(int64_t) * n);
    /* ascending name indices, delta-coded */
    uint32_t *idx = xmalloc(sizeof(uint32_t) * n * 2);
    uint32_t k = 0;
    for (uint32_t i = 0; i < profile_nfuncs(p); i++) {
        const pf_func_t *f = profile_func(p, i);
        if (!f->open.calls)
            continue;
        idx[2 * k] = wire_sender_name(s, f);
        idx[2 * k + 1] = i;
        k++;
    }
    /* insertion sort by name index (few open rows) */
    for (uint32_t i = 1; i < k; i++)
        for (uint32_t j = i; j > 0 && idx[2 * (j - 1)] > idx[2 * j]; j--) {
            uint32_t t0 = idx[2 * j], t1 = idx[2 * j + 1];
            idx[2 * j] = idx[2 * (j - 1)];
            idx[2 * j + 1] = idx[2 * (j - 1) + 1];
            idx[2 * (j - 1)] = t0;
            idx[2 * (j - 1) + 1] = t1;
        }
    uint32_t prev = 0, m = 0;
    for (uint32_t i = 0; i < k; i++) {
        if (m && idx[2 * i] == prev)
            continue; /* same label twice: the first counts (rows merge by label) */
        const pf_func_t *f = profile_func(p, idx[2 * i + 1]);
        o->open_index[m] = m ? idx[2 * i] - prev : idx[2 * i];
        prev = idx[2 * i];
        o->open_calls[m] = f->open.calls;
        o->open_tottime[m] = f->open.tottime_ns;
        o->open_cumtime[m] = f->open.cumtime_ns;
        m++;
    }
    o->n_open_index = o->n_open_calls = o->n_open_tottime = o->n_open_cumtime = m;
    free(idx);
}

void wire_sender_process(wire_sender_t *s, const pf_meta_t *m, const profile_t *p,
                         uint32_t threads)
{
    proc_t *pr = proc_get(s, m->pid, m->start_time);
    /* names first: the dictionary may grow */
    uint32_t nf = profile_nfuncs(p);
    uint32_t *name = xmalloc(sizeof(uint32_t) * (nf ? nf : 1));
    for (uint32_t i = 0; i < nf; i++)
        name[i] = wire_sender_name(s, profile_func(p, i));
    proc_reserve(pr, s->nnames);
    if (pr->cap)
        memset(pr->cur, 0, sizeof(*pr->cur) * pr->cap);
    for (uint32_t i = 0; i < nf; i++) {
        const pf_func_t *f = profile_func(p, i);
        row_t *r = &pr->cur[name[i]];
        pf_counts_add(&r->c, &f->c);
        r->mpi_bytes = pf_sat_addu(r->mpi_bytes, f->mpi_bytes);
    }
    free(name);
    set_types(pr, p);
    emit_process(s, pr, m, profile_drops(p), threads, s->nnames);
    emit_open(s, s->out_procs[s->nout_procs - 1], p);
}

void wire_sender_process_rows(wire_sender_t *s, const pf_meta_t *m, const pf_drops_t *d,
                              uint32_t n, const uint32_t *name, const pf_counts_t *c,
                              const uint64_t *mpi_bytes)
{
    proc_t *pr = proc_get(s, m->pid, m->start_time);
    proc_reserve(pr, s->nnames);
    if (pr->cap)
        memset(pr->cur, 0, sizeof(*pr->cur) * pr->cap);
    for (uint32_t i = 0; i < n; i++) {
        if (name[i] >= s->nnames)
            continue;
        row_t *r = &pr->cur[name[i]];
        pf_counts_add(&r->c, &c[i]);
        if (mpi_bytes)
            r->mpi_bytes += mpi_bytes[i];
    }
    set_types(pr, NULL);
    emit_process(s, pr, m, d, 1, s->nnames);
}

/* The row of frames whose identity was lost. */
static const pf_func_t unknown_func = {
    .file = {"~", 1}, .name = {"[unknown]", 9}, .qualname = {"[unknown]", 9},
    .kind = PF_KIND_UNKNOWN};

static group_t *group_get(wire_sender_t *s, const char *job)
{
    for (uint32_t i = 0; i < s->ngroups; i++)
        if (strcmp(s->groups[i]->job, job) == 0)
            return s->groups[i];
    group_t *g = xcalloc(1, sizeof(*g));
    g->job = xstrdup(job);
    s->groups = xgrow(s->groups, &s->groups_cap, s->ngroups + 1, sizeof(*s->groups));
    s->groups[s->ngroups++] = g;
    return g;
}

void wire_sender_group(wire_sender_t *s, const char *job, const profile_t *p)
{
    group_t *g = group_get(s, job ? job : "");
    uint32_t nf = profile_nfuncs(p);
    uint32_t *name = xmalloc(sizeof(uint32_t) * (nf ? nf : 1));
    for (uint32_t i = 0; i < nf; i++)
        name[i] = wire_sender_name(s, profile_func(p, i));
    /* edges and paths into this session's dictionaries */
    uint32_t ne = profile_nedges(p), np = profile_npaths(p);
    uint32_t *eidx = xmalloc(sizeof(uint32_t) * (ne ? ne : 1));
    for (uint32_t e = 0; e < ne; e++)
        eidx[e] = wire_sender_edge(s, name[profile_edge(p, e)->caller],
                                   name[profile_edge(p, e)->callee]);
    uint32_t *pidx = xmalloc(sizeof(uint32_t) * (np ? np : 1));
    pidx[0] = UINT32_MAX;
    for (uint32_t i = 1; i < np; i++) {
        const pf_path_t *pa = profile_path(p, i);
        uint32_t parent = pa->parent && pa->parent < i ? pidx[pa->parent] + 1 : 0;
        uint32_t func = pa->func < nf ? name[pa->func] : wire_sender_name(s, &unknown_func);
        pidx[i] = wire_sender_path(s, parent, func);
    }
    uint32_t cap = g->edges_cap;
    g->edges_last = xgrow(g->edges_last, &cap, s->nedges, sizeof(*g->edges_last));
    cap = g->edges_cap;
    g->edges_cur = xgrow(g->edges_cur, &cap, s->nedges, sizeof(*g->edges_cur));
    g->edges_cap = cap;
    cap = g->paths_cap;
    g->paths_last = xgrow(g->paths_last, &cap, s->npaths, sizeof(*g->paths_last));
    cap = g->paths_cap;
    g->paths_cur = xgrow(g->paths_cur, &cap, s->npaths, sizeof(*g->paths_cur));
    g->paths_cap = cap;
    if (g->edges_cap) /* (none yet: no buffer, and memset wants one) */
        memset(g->edges_cur, 0, sizeof(*g->edges_cur) * g->edges_cap);
    if (g->paths_cap)
        memset(g->paths_cur, 0, sizeof(*g->paths_cur) * g->paths_cap);
    for (uint32_t e = 0; e < ne; e++) {
        pf_counts_t *c = &g->edges_cur[eidx[e]];
        const pf_counts_t *src = &profile_edge(p, e)->c;
        pf_counts_add(c, src);
    }
    for (uint32_t i = 1; i < np; i++) {
        const pf_path_t *pa = profile_path(p, i);
        struct pathv *v = &g->paths_cur[pidx[i]];
        v->count = pf_sat_addu(v->count, pa->count);
        v->tottime = pf_sat_add(v->tottime, pa->tottime_ns);
        v->subtime = pf_sat_add(v->subtime, WSUB(pa->cumtime_ns, pa->tottime_ns));
    }
    free(name);
    free(eidx);
    free(pidx);
    /* the changed rows */
    uint32_t nce = 0, ncp = 0;
    for (uint32_t e = 0; e < s->nedges; e++)
        nce += s->snapshot ? g->edges_cur[e].ncalls != 0
                           : memcmp(&g->edges_cur[e], &g->edges_last[e], sizeof(pf_counts_t)) != 0;
    for (uint32_t i = 0; i < s->npaths; i++)
        ncp += s->snapshot ? (g->paths_cur[i].count || g->paths_cur[i].tottime)
                           : memcmp(&g->paths_cur[i], &g->paths_last[i], sizeof(struct pathv)) != 0;
    if (!s->snapshot && !nce && !ncp)
        return;
    Ulma__Wire__Group *o = WIRE_MSG(s->a, Ulma__Wire__Group, ulma__wire__group__descriptor);
    o->job = wire_strdup(s->a, g->job);
    o->edge_index = wire_alloc(s->a, sizeof(uint32_t) * (nce ? nce : 1));
    o->edge_ncalls = wire_alloc(s->a, sizeof(int64_t) * (nce ? nce : 1));
    o->edge_rcalls = wire_alloc(s->a, sizeof(int64_t) * (nce ? nce : 1));
    o->edge_tottime = wire_alloc(s->a, sizeof(int64_t) * (nce ? nce : 1));
    o->edge_subtime = wire_alloc(s->a, sizeof(int64_t) * (nce ? nce : 1));
    uint32_t prev = 0;
    size_t k = 0;
    static const pf_counts_t zc;
    for (uint32_t e = 0; e < s->nedges; e++) {
        const pf_counts_t *c = &g->edges_cur[e];
        const pf_counts_t *b = s->snapshot ? &zc : &g->edges_last[e];
        if (s->snapshot ? !c->ncalls : memcmp(c, b, sizeof(*c)) == 0)
            continue;
        o->edge_index[k] = k ? e - prev : e;
        prev = e;
        o->edge_ncalls[k] = (int64_t)(c->ncalls - b->ncalls);
        o->edge_rcalls[k] = (int64_t)((c->ncalls - c->pcalls) - (b->ncalls - b->pcalls));
        o->edge_tottime[k] = WSUB(c->tottime_ns, b->tottime_ns);
        o->edge_subtime[k] = WSUB(WSUB(c->cumtime_ns, c->tottime_ns), WSUB(b->cumtime_ns, b->tottime_ns));
        k++;
    }
    o->n_edge_index = o->n_edge_ncalls = o->n_edge_rcalls = o->n_edge_tottime =
        o->n_edge_subtime = k;
    o->path_index = wire_alloc(s->a, sizeof(uint32_t) * (ncp ? ncp : 1));
    o->path_count = wire_alloc(s->a, sizeof(int64_t) * (ncp ? ncp : 1));
    o->path_tottime = wire_alloc(s->a, sizeof(int64_t) * (ncp ? ncp : 1));
    o->path_subtime = wire_alloc(s->a, sizeof(int64_t) * (ncp ? ncp : 1));
    prev = 0;
    k = 0;
    static const struct pathv zp;
    for (uint32_t i = 0; i < s->npaths; i++) {
        const struct pathv *c = &g->paths_cur[i];
        const struct pathv *b = s->snapshot ? &zp : &g->paths_last[i];
        if (s->snapshot ? !(c->count || c->tottime) : memcmp(c, b, sizeof(*c)) == 0)
            continue;
        o->path_index[k] = k ? i - prev : i;
        prev = i;
        o->path_count[k] = (int64_t)(c->count - b->count);
        o->path_tottime[k] = WSUB(c->tottime, b->tottime);
        o->path_subtime[k] = WSUB(c->subtime, b->subtime);
        k++;
    }
    o->n_path_index = o->n_path_count = o->n_path_tottime = o->n_path_subtime = k;
    s->out_groups = xgrow(s->out_groups, &s->out_groups_cap, s->nout_groups + 1, sizeof(void *));
    s->out_groups[s->nout_groups++] = o;
}

void wire_sender_gone(wire_sender_t *s, int32_t pid, uint64_t start_time)
{
    uint32_t cap = s->gone_cap;
    s->gone_pid = xgrow(s->gone_pid, &cap, s->ngone + 1, sizeof(*s->gone_pid));
    cap = s->gone_cap;
    s->gone_st = xgrow(s->gone_st, &cap, s->ngone + 1, sizeof(*s->gone_st));
    s->gone_cap = cap;
    s->gone_pid[s->ngone] = pid;
    s->gone_st[s->ngone] = start_time;
    s->ngone++;
}

void wire_sender_end(wire_sender_t *s, const Ulma__Wire__AgentCounters *counters, sbuf_t *out)
{
    Ulma__Wire__Report *r = &s->rep;
    r->session = s->session;
    r->seq = s->seq + 1;
    r->snapshot = s->snapshot;
    Ulma__Wire__Node *n = WIRE_MSG(s->a, Ulma__Wire__Node, ulma__wire__node__descriptor);
    n->name = wire_strdup(s->a, s->node_name);
    n->host = wire_strdup(s->a, s->host);
    n->agent_version = wire_strdup(s->a, s->agent_version);
    n->cpus = s->cpus;
    n->agent_pid = s->agent_pid;
    n->dir = wire_strdup(s->a, s->dir);
    n->agent_start_ns = s->agent_start_ns;
    r->node = n;
    r->wall_ns = wall_ns();
    r->interval_ns = s->interval_ns;
    uint32_t nb = s->full_dict ? 0 : s->names_sent;
    r->name_base = nb;
    r->n_names = s->nnames - nb;
    r->names = WIRE_MSGS(s->a, r->n_names, Ulma__Wire__Name, ulma__wire__name__descriptor);
    for (uint32_t i = nb; i < s->nnames; i++) {
        Ulma__Wire__Name *o = r->names[i - nb];
        o->file = wire_strdup(s->a, s->names[i].file);
        o->line = s->names[i].line;
        o->name = wire_strdup(s->a, s->names[i].name);
        if (s->names[i].qualname)
            o->qualname = wire_strdup(s->a, s->names[i].qualname);
        o->kind = s->names[i].kind;
    }
    uint32_t eb = s->full_dict ? 0 : s->edges_sent;
    r->edge_base = eb;
    r->n_edge_names = s->nedges - eb;
    r->edge_names = wire_alloc(s->a, sizeof(void *) * (r->n_edge_names ? r->n_edge_names : 1));
    for (uint32_t i = eb; i < s->nedges; i++)
        r->edge_names[i - eb] = &s->edges[i];
    uint32_t pb = s->full_dict ? 0 : s->paths_sent;
    r->path_base = pb;
    r->n_path_names = s->npaths - pb;
    r->path_names = wire_alloc(s->a, sizeof(void *) * (r->n_path_names ? r->n_path_names : 1));
    for (uint32_t i = pb; i < s->npaths; i++)
        r->path_names[i - pb] = &s->paths[i];
    r->procs = s->out_procs;
    r->n_procs = s->nout_procs;
    r->groups = s->out_groups;
    r->n_groups = s->nout_groups;
    r->gone_pid = s->gone_pid;
    r->n_gone_pid = s->ngone;
    r->gone_start_time = s->gone_st;
    r->n_gone_start_time = s->ngone;
    if (counters)
        r->counters = (Ulma__Wire__AgentCounters *)counters;
    Ulma__Wire__AgentMsg msg = ULMA__WIRE__AGENT_MSG__INIT;
    msg.version = WIRE_VERSION;
    msg.body_case = ULMA__WIRE__AGENT_MSG__BODY_REPORT;
    msg.report = r;
    wire_pack(&msg.base, out);
}

void wire_sender_sent(wire_sender_t *s)
{
    s->seq++;
    s->names_sent = s->nnames;
    s->edges_sent = s->nedges;
    s->paths_sent = s->npaths;
    for (uint32_t i = 0; i < s->nprocs; i++) {
        proc_t *p = s->procs[i];
        if (!p->in_report)
            continue;
        row_t *t = p->last;
        p->last = p->cur;
        p->cur = t;
        objtype_t *ty = p->types_last;
        uint32_t n = p->ntypes_last, c = p->types_cap_last;
        p->types_last = p->types_cur;
        p->ntypes_last = p->ntypes_cur;
        p->types_cap_last = p->types_cap_cur;
        p->types_cur = ty;
        p->ntypes_cur = n;
        p->types_cap_cur = c;
    }
    for (uint32_t i = 0; i < s->ngroups; i++) {
        group_t *g = s->groups[i];
        pf_counts_t *e = g->edges_last;
        g->edges_last = g->edges_cur;
        g->edges_cur = e;
        struct pathv *pv = g->paths_last;
        g->paths_last = g->paths_cur;
        g->paths_cur = pv;
    }
    /* processes reported gone are forgotten */
    for (uint32_t k = 0; k < s->ngone; k++) {
        for (uint32_t i = 0; i < s->nprocs; i++) {
            if (s->procs[i]->pid != s->gone_pid[k] || s->procs[i]->start_time != s->gone_st[k])
                continue;
            proc_free(s->procs[i]);
            s->procs[i] = s->procs[--s->nprocs];
            break;
        }
    }
    if (s->ngone) { /* the map indexes positions: rebuild it */
        map_free(&s->proc_map);
        for (uint32_t i = 0; i < s->nprocs; i++) {
            uint32_t *slot = map_slot(&s->proc_map, mix((uint64_t)(uint32_t)s->procs[i]->pid << 40 ^
                                                        s->procs[i]->start_time));
            if (!*slot)
                *slot = i + 1;
        }
    }
    wire_arena_destroy(&s->a);
}

void wire_sender_unsent(wire_sender_t *s) { wire_arena_destroy(&s->a); }
