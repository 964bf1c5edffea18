/* ctl_collector.c - ulma-ctl's commands against the collector. */
#define _GNU_SOURCE
#include "ctl_collector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opts.h"
#include "profile/export.h"
#include "profile/table.h"
#include "profile/util.h"
#include "wire/client.h"

typedef struct ccmd {
    const char *name, *args, *help;
    Ulma__Wire__Kind kind;
    int scope;   /* 0 none, 1 optional SCOPE (default cluster), 2 required SCOPE */
    int func;    /* a FUNC argument follows the scope */
    int extra;   /* further arguments (export: FORMAT FILE; snapshot: FILE) */
    void (*print)(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r);
} ccmd_t;

static double sec(int64_t ns) { return (double)ns / 1e9; }

/* ---- printers ----------------------------------------------------------------------- */

static void print_summary(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    const Ulma__Wire__Summary *s = r->summary;
    if (!s)
        return;
    printf("nodes %u up, %u stale, %u gone; %u ranks live of %u processes; %u jobs; "
           "%.0f events/s; %llu records lost; profiling %s\n",
           s->nodes_up, s->nodes_stale, s->nodes_gone, s->ranks, s->processes, s->jobs,
           s->events_per_s, (unsigned long long)s->records_lost, s->mode);
    if (s->bad_messages)
        printf("%llu messages refused by the %s\n", (unsigned long long)s->bad_messages, s->source);
}

static void print_nodes(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    printf("%-20s %-8s %5s %5s %10s %10s %-6s %7s %-8s %s\n", "NODE", "STATE", "RANKS", "PROCS",
           "EVENTS/S", "LOST", "MODE", "AGE", "VERSION", "TOP FUNCTION");
    for (size_t i = 0; i < r->n_nodes; i++) {
        const Ulma__Wire__NodeInfo *n = r->nodes[i];
        printf("%-20s %-8s %5u %5u %10.0f %10llu %-6s %6.1fs %-8s %s\n", n->name, n->state,
               n->ranks, n->processes, n->events_per_s, (unsigned long long)n->records_lost,
               n->mode, n->age_s, n->agent_version, n->top_function);
    }
}

static void print_ranks(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    printf("%-16s %8s %5s %-12s %-7s %-5s %10s %8s %9s %6s %s\n", "NODE", "PID", "RANK", "JOB",
           "STATE", "MODE", "EVENTS", "LOST", "TIME", "%MPI", "EXE / TOP FUNCTION");
    for (size_t i = 0; i < r->n_ranks; i++) {
        const Ulma__Wire__RankInfo *k = r->ranks[i];
        double mpi = k->tottime_ns > 0 ? 100.0 * (double)k->mpi_ns / (double)k->tottime_ns : 0;
        printf("%-16s %8d %5d %-12s %-7s %-5s%s %10llu %8llu %9.3f %6.1f %s  %s\n", k->node,
               k->pid, k->rank, k->job, k->state, k->mode, k->objects ? "+" : " ",
               (unsigned long long)k->events, (unsigned long long)k->records_lost,
               sec(k->tottime_ns), mpi, k->exe, k->top_function);
    }
}

static void print_jobs(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    printf("%-20s %6s %6s %6s %10s %10s\n", "JOB", "RANKS", "LIVE", "NODES", "TIME", "LOST");
    for (size_t i = 0; i < r->n_jobs; i++) {
        const Ulma__Wire__JobInfo *j = r->jobs[i];
        printf("%-20s %6u %6u %6u %10.3f %10llu\n", j->job[0] ? j->job : "(none)", j->ranks,
               j->live, j->nodes, sec(j->tottime_ns), (unsigned long long)j->records_lost);
    }
}

static void ncalls_str(char *out, size_t len, uint64_t nc, uint64_t cc)
{
    if (nc != cc)
        snprintf(out, len, "%llu/%llu", (unsigned long long)nc, (unsigned long long)cc);
    else
        snprintf(out, len, "%llu", (unsigned long long)nc);
}

/* The cProfile-style table of a Table, with the spread over ranks. */
static void print_table(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    const Ulma__Wire__Table *t = r->table;
    if (!t)
        return;
    int64_t total = pf_sat_add(t->tottime_ns, t->open_tottime_ns);
    printf("         %llu function calls", (unsigned long long)t->calls);
    if (t->calls != t->pcalls)
        printf(" (%llu primitive calls)", (unsigned long long)t->pcalls);
    printf(" in %.3f seconds, %u process%s", sec(total), t->processes,
           t->processes == 1 ? "" : "es");
    if (t->records_lost)
        printf("; %llu records lost (" PF_LOST_WHY "): counts are incomplete",
               (unsigned long long)t->records_lost);
    printf("\n\n   Ordered by: %s\n", profile_sort_desc(t->sort));
    if (t->total_rows > t->n_rows)
        printf("\n   List reduced from %u to %zu\n", t->total_rows, t->n_rows);
    int spread = t->processes > 1;
    printf("\n   ncalls  tottime  percall  cumtime  percall      %%  %%DESC  %%PROC %s"
           "filename:lineno(function)\n", spread ? "   IMB  SLOWEST         " : "");
    int open = 0;
    for (size_t i = 0; i < t->n_rows; i++) {
        const Ulma__Wire__Row *w = t->rows[i];
        char nc[48];
        ncalls_str(nc, sizeof(nc), w->ncalls, w->pcalls);
        double tot = sec(pf_sat_add(w->tottime_ns, w->open_tottime_ns));
        double cum = sec(pf_sat_add(w->cumtime_ns, w->open_cumtime_ns));
        char mark = w->open_calls ? '*' : ' ';
        open |= w->open_calls != 0;
        printf("%9s %8.3f%c", nc, tot, mark);
        if (w->ncalls)
            printf("%8.3f ", sec(w->tottime_ns) / (double)w->ncalls);
        else
            printf("         ");
        printf("%8.3f%c", cum, mark);
        if (w->pcalls)
            printf("%8.3f ", sec(w->cumtime_ns) / (double)w->pcalls);
        else
            printf("         ");
        double pct = total > 0 ? 100.0 * cum / sec(total) : 0;
        double proc = cum > 0 ? 100.0 * tot / cum : 0;
        if (proc > 100)
            proc = 100;
        printf("%6.1f %6.1f %6.1f ", pct, cum > 0 ? 100.0 - proc : 0, proc);
        if (spread) {
            if (w->nranks > 1 && w->mean_ns > 0) {
                char who[64];
                snprintf(who, sizeof(who), "r%d@%s", w->slowest_rank, w->slowest_node);
                printf("%6.2f  %-16.16s", (double)w->max_ns / w->mean_ns, who);
            } else {
                printf("%6s  %-16s", "", "");
            }
        }
        printf("%s\n", w->std);
    }
    if (open)
        printf("\n   * times include frames still running (not yet counted in ncalls)\n");
    printf("\n");
}

static void print_edges_list(const char *title, Ulma__Wire__Edge *const *e, size_t n)
{
    printf("%s\n", title);
    printf("   ncalls  tottime  cumtime  function\n");
    for (size_t i = 0; i < n; i++) {
        char nc[48];
        ncalls_str(nc, sizeof(nc), e[i]->ncalls, e[i]->pcalls);
        printf("%9s %8.3f %8.3f  %s\n", nc, sec(e[i]->tottime_ns), sec(e[i]->cumtime_ns),
               e[i]->std);
    }
}

static void print_edges(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    const char *fn = r->table && r->table->n_rows ? r->table->rows[0]->std : "?";
    char title[1024];
    int callers = strcmp(a->cmd, "callers") == 0;
    snprintf(title, sizeof(title), "%s %s", fn, callers ? "was called by:" : "called:");
    print_edges_list(title, r->edges, r->n_edges);
}

static void print_function(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    const Ulma__Wire__FunctionDetail *f = r->function;
    if (!f || !f->row)
        return;
    const Ulma__Wire__Row *w = f->row;
    printf("%s\n  ncalls %llu (%llu primitive)  tottime %.6f s  cumtime %.6f s\n", w->std,
           (unsigned long long)w->ncalls, (unsigned long long)w->pcalls, sec(w->tottime_ns),
           sec(w->cumtime_ns));
    if (w->nranks)
        printf("  over %u ranks: min %.6f  mean %.6f  max %.6f  std %.6f s  max/mean %.2f  "
               "slowest rank %d on %s (pid %d)\n",
               w->nranks, sec(w->min_ns), w->mean_ns / 1e9, sec(w->max_ns), w->std_ns / 1e9,
               w->mean_ns > 0 ? (double)w->max_ns / w->mean_ns : 0, w->slowest_rank,
               w->slowest_node, w->slowest_pid);
    printf("\n  %5s %-16s %8s %12s %10s %10s\n", "RANK", "NODE", "PID", "NCALLS", "TOTTIME",
           "CUMTIME");
    for (size_t i = 0; i < f->n_ranks; i++)
        printf("  %5d %-16s %8d %12llu %10.6f %10.6f\n", f->ranks[i]->rank, f->ranks[i]->node,
               f->ranks[i]->pid, (unsigned long long)f->ranks[i]->ncalls,
               sec(f->ranks[i]->tottime_ns), sec(f->ranks[i]->cumtime_ns));
    printf("\n");
    print_edges_list("  called by:", f->callers, f->n_callers);
    print_edges_list("  calls:", f->callees, f->n_callees);
}

static void print_paths(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    printf("%10s %10s %10s  path id <- parent: function\n", "COUNT", "TOTTIME", "CUMTIME");
    for (size_t i = 0; i < r->n_paths; i++) {
        const Ulma__Wire__Path *p = r->paths[i];
        printf("%10llu %10.6f %10.6f  %u <- %u: %s\n", (unsigned long long)p->count,
               sec(p->tottime_ns), sec(p->cumtime_ns), p->id, p->parent, p->std);
    }
}

static void print_stacks(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    for (size_t i = 0; i < r->n_threads; i++) {
        const Ulma__Wire__Thread *t = r->threads[i];
        printf("thread %d %s%s: %llu records, depth %u\n", t->tid, t->name,
               t->ended ? " (ended)" : "", (unsigned long long)t->events, t->depth);
        for (size_t k = t->n_stack; k > 0; k--)
            printf("  %*s%10.6f s  %s\n", (int)(2 * (t->n_stack - k)), "",
                   sec(t->stack[k - 1]->for_ns), t->stack[k - 1]->std);
    }
}

static void print_objects(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    const Ulma__Wire__Objects *o = r->objects;
    if (!o)
        return;
    printf("%10s %10s %10s %12s %12s  %s\n", "NEW", "FREED", "LIVE", "BYTES NEW", "BYTES FREED",
           "TYPE");
    for (size_t i = 0; i < o->n_types; i++)
        printf("%10llu %10llu %10llu %12llu %12llu  %s\n", (unsigned long long)o->types[i]->news,
               (unsigned long long)o->types[i]->frees, (unsigned long long)o->types[i]->live,
               (unsigned long long)o->types[i]->bytes_new,
               (unsigned long long)o->types[i]->bytes_freed, o->types[i]->name);
    if (o->n_sites) {
        printf("\n%10s %12s  %-20s  %s\n", "COUNT", "BYTES", "TYPE", "FUNCTION");
        for (size_t i = 0; i < o->n_sites; i++)
            printf("%10llu %12llu  %-20s  %s\n", (unsigned long long)o->sites[i]->count,
                   (unsigned long long)o->sites[i]->bytes, o->sites[i]->type, o->sites[i]->std);
    }
    for (size_t i = 0; i < o->n_recent; i++)
        printf("%10.6f s ago  %8llu bytes  %-20s  %s\n", sec(o->recent[i]->ago_ns),
               (unsigned long long)o->recent[i]->size, o->recent[i]->type, o->recent[i]->std);
}

static void print_mpi(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    printf("%-28s %10s %12s %14s\n", "MPI CALL", "CALLS", "TIME", "BYTES");
    for (size_t i = 0; i < r->n_mpi; i++)
        printf("%-28s %10llu %12.6f %14llu\n", r->mpi[i]->name,
               (unsigned long long)r->mpi[i]->calls, sec(r->mpi[i]->time_ns),
               (unsigned long long)r->mpi[i]->bytes);
    if (r->n_mpi_ranks) {
        printf("\n%5s %-16s %8s %12s %12s %6s  %s\n", "RANK", "NODE", "PID", "MPI", "TOTAL",
               "%MPI", "TOP CALL");
        for (size_t i = 0; i < r->n_mpi_ranks; i++) {
            const Ulma__Wire__MpiRank *k = r->mpi_ranks[i];
            printf("%5d %-16s %8d %12.6f %12.6f %6.1f  %s\n", k->rank, k->node, k->pid,
                   sec(k->mpi_ns), sec(k->total_ns),
                   k->total_ns > 0 ? 100.0 * (double)k->mpi_ns / (double)k->total_ns : 0,
                   k->top_call);
        }
    }
}

static void print_drops(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    const Ulma__Wire__DropSummary *d = r->drops;
    if (!d)
        return;
    printf("records lost %llu, drop records %llu, stack repairs %llu, malformed %llu, "
           "corrupt %llu, threads without a slot %llu, reports lost %llu\n",
           (unsigned long long)d->records_lost, (unsigned long long)d->drop_events,
           (unsigned long long)d->stack_repairs, (unsigned long long)d->malformed_records,
           (unsigned long long)d->corrupt, (unsigned long long)d->threads_lost,
           (unsigned long long)d->reports_lost);
}

static void print_imbalance(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    const Ulma__Wire__Imbalance *im = r->imbalance;
    if (!im)
        return;
    printf("%-40s %6s", "FUNCTION (cumtime per rank, s)", "IMB");
    for (size_t k = 0; k < im->n_ranks; k++)
        printf(" %9s", "");
    printf("\n%-40s %6s", "", "");
    for (size_t k = 0; k < im->n_ranks; k++)
        printf(" %9d", im->ranks[k]->rank);
    printf("\n");
    for (size_t i = 0; i < im->n_rows; i++) {
        const Ulma__Wire__Row *w = im->rows[i];
        printf("%-40.40s %6.2f", w->std, w->mean_ns > 0 ? (double)w->max_ns / w->mean_ns : 0);
        for (size_t k = 0; k < im->n_ranks && i * im->n_ranks + k < im->n_cells; k++)
            printf(" %9.3f", sec(im->cells[i * im->n_ranks + k]));
        printf("\n");
    }
}

static void print_control(const ctl_collector_args_t *a, const Ulma__Wire__Reply *r)
{
    (void)a;
    const Ulma__Wire__ControlAnswer *c = r->control;
    if (!c)
        return;
    printf("%-16s %8s %5s %-8s %s\n", "NODE", "PID", "RANK", "APPLIED", "MODE");
    for (size_t i = 0; i < c->n_targets; i++)
        printf("%-16s %8d %5d %-8s %s\n", c->targets[i]->node, c->targets[i]->pid,
               c->targets[i]->rank, c->targets[i]->applied ? "yes" : "no", c->targets[i]->mode);
    printf("applied by %u of %u process%s; %u of %u node%s answered%s\n", c->applied,
           c->requested, c->requested == 1 ? "" : "es", c->nodes_answered, c->nodes,
           c->nodes == 1 ? "" : "s", c->timed_out ? " (timed out)" : "");
}

static const ccmd_t commands[] = {
    {"summary", "", "The header: nodes up, stale and gone, ranks, jobs, events/s, losses.",
     ULMA__WIRE__KIND__SUMMARY, 0, 0, 0, print_summary},
    {"nodes", "", "One row per node: state, ranks, events/s, records lost, mode, age of its "
     "last report, agent version, top function.", ULMA__WIRE__KIND__NODES, 0, 0, 0, print_nodes},
    {"ranks", "[SCOPE]", "The processes of SCOPE (default the cluster), like ps.",
     ULMA__WIRE__KIND__RANKS, 1, 0, 0, print_ranks},
    {"list", "[SCOPE]", "The same as ranks.", ULMA__WIRE__KIND__RANKS, 1, 0, 0, print_ranks},
    {"jobs", "", "One row per job.", ULMA__WIRE__KIND__JOBS, 0, 0, 0, print_jobs},
    {"top", "[SCOPE] [-s KEY] [-n ROWS]", "The top table of SCOPE (default the cluster, every "
     "function summed over every rank), with the spread over its ranks (max/mean, slowest).",
     ULMA__WIRE__KIND__TOP, 1, 0, 0, print_table},
    {"function", "SCOPE FUNC", "One function across the ranks of SCOPE: min, mean, max, "
     "standard deviation, the slowest rank, per-rank values, callers, callees.",
     ULMA__WIRE__KIND__FUNCTION, 2, 1, 0, print_function},
    {"callers", "SCOPE FUNC", "Who calls FUNC in SCOPE.", ULMA__WIRE__KIND__CALLERS, 2, 1, 0,
     print_edges},
    {"callees", "SCOPE FUNC", "What FUNC calls in SCOPE.", ULMA__WIRE__KIND__CALLEES, 2, 1, 0,
     print_edges},
    {"paths", "SCOPE [-n ROWS]", "The call paths with the most cumulative time.",
     ULMA__WIRE__KIND__PATHS, 2, 0, 0, print_paths},
    {"stacks", "RANK [-n FRAMES]", "Each thread's live call stack (asked of the rank's agent).",
     ULMA__WIRE__KIND__STACKS, 2, 0, 0, print_stacks},
    {"objects", "SCOPE [-n ROWS]", "Object statistics per type (a rank: and per constructing "
     "function).", ULMA__WIRE__KIND__OBJECTS, 2, 0, 0, print_objects},
    {"recent", "RANK [-n ROWS]", "A rank's most recent object constructions.",
     ULMA__WIRE__KIND__RECENT, 2, 0, 0, print_objects},
    {"mpi", "SCOPE", "MPI calls: calls, time, bytes; for a job, each rank's share of time in "
     "MPI.", ULMA__WIRE__KIND__MPI, 2, 0, 0, print_mpi},
    {"drops", "[SCOPE]", "What was lost in SCOPE.", ULMA__WIRE__KIND__DROPS, 1, 0, 0, print_drops},
    {"imbalance", "[SCOPE] [-n ROWS]", "The top functions x the ranks of SCOPE, cumulative time "
     "per rank.", ULMA__WIRE__KIND__IMBALANCE, 1, 0, 0, print_imbalance},
    {"export", "SCOPE FORMAT FILE", "Write SCOPE's profile to FILE (pstats, json, collapsed, "
     "speedscope, pprof, svg): a job's or the cluster's merged profile works like a process's.",
     ULMA__WIRE__KIND__EXPORT, 2, 0, 2, NULL},
    {"snapshot", "FILE", "Write the collector's merged view as one JSON document.",
     ULMA__WIRE__KIND__SNAPSHOT, 0, 0, 1, NULL},
    {"on", "SCOPE [--objects] [--wait MS]", "Switch profiling on (fast mode) in SCOPE.",
     ULMA__WIRE__KIND__CONTROL, 2, 0, 0, print_control},
    {"off", "SCOPE [--wait MS]", "Switch profiling off in SCOPE.", ULMA__WIRE__KIND__CONTROL, 2,
     0, 0, print_control},
    {"fast", "SCOPE [--objects] [--wait MS]", "Fast mode in SCOPE.", ULMA__WIRE__KIND__CONTROL, 2,
     0, 0, print_control},
    {"full", "SCOPE [--objects] [--wait MS]", "Full mode in SCOPE.", ULMA__WIRE__KIND__CONTROL, 2,
     0, 0, print_control},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void ctl_collector_help(FILE *out)
{
    fprintf(out, "COMMANDS WITH --collector\n"
                 "    SCOPE is cluster, node:NAME, job:ID, rank:NODE/PID or rank:JOB#RANK;\n"
                 "    --node N, --job J, --pid P (with --node) or --all say the same.\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fprintf(out, "    %s%s%s\n", commands[i].name, commands[i].args[0] ? " " : "",
                commands[i].args);
        opts_wrap(out, commands[i].help, 8, 80);
    }
}

/* The scope the options say, when no SCOPE argument is given. */
static const char *scope_of_options(const ctl_collector_args_t *a, char *buf, size_t len)
{
    if (a->pid && a->node)
        snprintf(buf, len, "rank:%s/%d", a->node, a->pid);
    else if (a->pid)
        snprintf(buf, len, "rank:%d", a->pid);
    else if (a->job)
        snprintf(buf, len, "job:%s", a->job);
    else if (a->node)
        snprintf(buf, len, "node:%s", a->node);
    else if (a->all)
        snprintf(buf, len, "cluster");
    else
        return NULL;
    return buf;
}

static int looks_like_scope(const char *s)
{
    return strcmp(s, "cluster") == 0 || strncmp(s, "node:", 5) == 0 ||
           strncmp(s, "job:", 4) == 0 || strncmp(s, "rank:", 5) == 0;
}

int ctl_collector_run(const ctl_collector_args_t *a)
{
    const ccmd_t *c = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, a->cmd) == 0)
            c = &commands[i];
    if (!c) {
        fprintf(stderr, "ulma-ctl: unknown command '%s' with --collector (see --help)\n", a->cmd);
        return 2;
    }
    wire_arena_t *ar = wire_arena_new();
    Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
    Ulma__Wire__Scope *sc = WIRE_MSG(ar, Ulma__Wire__Scope, ulma__wire__scope__descriptor);
    q.kind = c->kind;
    q.scope = sc;
    int k = 0, rc = 2;
    char err[256], opt_scope[512];
    const char *scope = NULL;
    if (c->scope) {
        if (k < a->npos && looks_like_scope(a->pos[k]))
            scope = a->pos[k++];
        else
            scope = scope_of_options(a, opt_scope, sizeof(opt_scope));
        if (!scope && c->scope == 2) {
            fprintf(stderr, "ulma-ctl: %s needs a SCOPE (usage: ulma-ctl --collector EP %s %s)\n",
                    c->name, c->name, c->args);
            goto out;
        }
    }
    if (wire_scope_parse(scope, sc, ar, err, sizeof(err)) != 0) {
        fprintf(stderr, "ulma-ctl: %s\n", err);
        goto out;
    }
    if (c->func) {
        if (k >= a->npos) {
            fprintf(stderr, "ulma-ctl: %s needs FUNC (usage: ulma-ctl --collector EP %s %s)\n",
                    c->name, c->name, c->args);
            goto out;
        }
        q.func = (char *)a->pos[k++];
    }
    if (a->npos - k != c->extra) {
        fprintf(stderr, "ulma-ctl: %s: %s (usage: ulma-ctl --collector EP %s %s)\n", c->name,
                a->npos - k < c->extra ? "missing arguments" : "too many arguments", c->name,
                c->args);
        goto out;
    }
    const char *file = NULL;
    if (c->kind == ULMA__WIRE__KIND__EXPORT) {
        q.format = (char *)a->pos[k];
        file = a->pos[k + 1];
        if (profile_format_by_name(q.format) < 0) {
            fprintf(stderr, "ulma-ctl: export: unknown format '%s' (%s)\n", q.format,
                    profile_formats_list());
            goto out;
        }
    } else if (c->kind == ULMA__WIRE__KIND__SNAPSHOT) {
        file = a->pos[k];
    }
    if (a->sort) {
        if (!profile_sort_key(a->sort)) {
            fprintf(stderr, "ulma-ctl: -s: unknown sort key '%s' (%s)\n", a->sort,
                    profile_sort_keys_list());
            goto out;
        }
        q.sort = (char *)a->sort;
    }
    q.limit = a->rows_given ? (a->rows ? a->rows : 100000) : 0;
    q.frames = a->rows_given ? a->rows : 0;
    int timeout = a->timeout_ms;
    if (c->kind == ULMA__WIRE__KIND__CONTROL) {
        q.mode = strcmp(c->name, "off") == 0 ? 0 : strcmp(c->name, "full") == 0 ? 2 : 1;
        q.objects = a->objects;
        q.wait_ms = a->wait_ms;
        if ((int)a->wait_ms + 1000 > timeout)
            timeout = (int)a->wait_ms + 1000;
    }
    wire_client_t *cl = wire_client_new(a->endpoint, a->curve, err, sizeof(err));
    if (!cl) {
        fprintf(stderr, "ulma-ctl: %s\n", err);
        goto out;
    }
    Ulma__Wire__Reply *r = NULL;
    int e = wire_client_ask(cl, &q, timeout, &r, err, sizeof(err));
    rc = 1;
    if (e != 0) {
        fprintf(stderr, "ulma-ctl: %s\n", err);
    } else {
        if (a->json) {
            sbuf_t b = {0};
            jw_t w;
            jw_init(&w, &b);
            wire_json(&r->base, &w);
            printf("%s\n", b.data ? b.data : "{}");
            sbuf_free(&b);
        }
        if (!r->ok) {
            fprintf(stderr, "ulma-ctl: collector: %s\n", r->error);
            if (r->n_candidates) {
                fprintf(stderr, "ulma-ctl: candidates:\n");
                for (size_t i = 0; i < r->n_candidates; i++)
                    fprintf(stderr, "    %s\n", r->candidates[i]);
            }
        } else if (file) {
            const void *d = c->kind == ULMA__WIRE__KIND__EXPORT ? (const void *)r->data.data
                                                                 : (const void *)r->json;
            size_t n = c->kind == ULMA__WIRE__KIND__EXPORT ? r->data.len
                                                           : (r->json ? strlen(r->json) : 0);
            int we = write_file(file, d ? d : "", n);
            if (we)
                fprintf(stderr, "ulma-ctl: cannot write %s: %s\n", file, strerror(-we));
            else if (!a->json)
                printf("wrote %s (%zu bytes)\n", file, n);
            rc = we ? 1 : 0;
        } else {
            if (!a->json && c->print)
                c->print(a, r);
            rc = 0;
        }
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    wire_client_destroy(&cl);
out:
    wire_arena_destroy(&ar);
    return rc;
}
