/* metrics.c - /metrics: the text (built in the main loop) and its server. */
#define _GNU_SOURCE
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile/table.h"
#include "view.h"

struct metrics {
    struct MHD_Daemon *d;
    pthread_mutex_t lock;
    char *text;
    size_t len;
    uint64_t scrapes;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **ctx)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)ctx;
    metrics_t *m = cls;
    struct MHD_Response *r;
    unsigned status = MHD_HTTP_OK;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char msg[] = "only GET\n";
        r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        MHD_add_response_header(r, "Allow", "GET, HEAD");
    } else if (strcmp(url, "/metrics") != 0) {
        static const char msg[] = "not found: the metrics are at /metrics\n";
        r = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
        status = MHD_HTTP_NOT_FOUND;
    } else {
        pthread_mutex_lock(&m->lock);
        r = MHD_create_response_from_buffer(m->len, m->text ? m->text : (char *)"",
                                            MHD_RESPMEM_MUST_COPY);
        m->scrapes++;
        pthread_mutex_unlock(&m->lock);
        MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    }
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

metrics_t *metrics_new(const char *addr, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host)) {
        snprintf(err, errlen, "--metrics: '%s' is not HOST:PORT", addr);
        return NULL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (*end || port <= 0 || port > 65535 ||
        inet_pton(AF_INET, strcmp(host, "*") == 0 || !host[0] ? "0.0.0.0" : host,
                  &sa.sin_addr) != 1) {
        snprintf(err, errlen, "--metrics: '%s' is not an IPv4 HOST:PORT", addr);
        return NULL;
    }
    metrics_t *m = xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                            NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!m->d) {
        snprintf(err, errlen, "--metrics: cannot serve HTTP on %s (address in use?)", addr);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

void metrics_destroy(metrics_t **m_p)
{
    if (!m_p || !*m_p)
        return;
    metrics_t *m = *m_p;
    MHD_stop_daemon(m->d);
    pthread_mutex_destroy(&m->lock);
    free(m->text);
    free(m);
    *m_p = NULL;
}

void metrics_publish(metrics_t *m, const char *text, size_t len)
{
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    pthread_mutex_lock(&m->lock);
    char *old = m->text;
    m->text = copy;
    m->len = len;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

uint64_t metrics_scrapes(metrics_t *m)
{
    pthread_mutex_lock(&m->lock);
    uint64_t n = m->scrapes;
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* ---- the text ------------------------------------------------------------------------ */

/* A label value: backslash, quote and newline escaped. */
static void label(sbuf_t *o, const char *v)
{
    sbuf_addc(o, '"');
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sbuf_addc(o, '\\'), sbuf_addc(o, *v);
        else if (*v == '\n')
            sbuf_adds(o, "\\n");
        else
            sbuf_addc(o, *v);
    }
    sbuf_addc(o, '"');
}

static void head(sbuf_t *o, const char *name, const char *type, const char *help)
{
    sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void node_line(sbuf_t *o, const char *name, const node_t *n, int decimals, double v)
{
    sbuf_printf(o, "%s{node=", name);
    label(o, n->name);
    sbuf_adds(o, "} ");
    sbuf_printf(o, "%.*f", decimals, v);
    sbuf_addc(o, '\n');
}

typedef struct top {
    uint32_t gid;
    int64_t tottime;
} top_t;

static int top_cmp(const void *x, const void *y)
{
    const top_t *a = x, *b = y;
    if (a->tottime != b->tottime)
        return a->tottime < b->tottime ? 1 : -1;
    return a->gid < b->gid ? -1 : a->gid > b->gid;
}

void metrics_build(const store_t *s, const metrics_extra_t *x, sbuf_t *o)
{
    uint32_t up = 0, stale = 0, gone = 0, refused = 0, ranks = 0;
    uint64_t lost = 0;
    for (uint32_t i = 0; i < s->nnodes; i++) {
        const node_t *n = s->nodes[i];
        up += n->state == NODE_UP;
        stale += n->state == NODE_STALE;
        gone += n->state == NODE_GONE;
        refused += n->state == NODE_REFUSED;
        for (uint32_t k = 0; k < n->nprocs; k++) {
            ranks += store_proc_live(n->procs[k]);
            lost += n->procs[k]->drops.records_lost;
        }
    }
    head(o, "ulma_cluster_nodes", "gauge", "Nodes by state.");
    sbuf_printf(o, "ulma_cluster_nodes{state=\"up\"} %u\nulma_cluster_nodes{state=\"stale\"} %u\n"
                   "ulma_cluster_nodes{state=\"gone\"} %u\nulma_cluster_nodes{state=\"refused\"} %u\n",
                up, stale, gone, refused);
    head(o, "ulma_cluster_ranks", "gauge", "Live profiled processes.");
    sbuf_printf(o, "ulma_cluster_ranks %u\n", ranks);
    head(o, "ulma_cluster_events_per_second", "gauge", "Records drained per second, all nodes.");
    sbuf_printf(o, "ulma_cluster_events_per_second %.3f\n", s->events_per_s);
    head(o, "ulma_cluster_records_lost", "gauge", "Records the writers could not store (rings full).");
    sbuf_printf(o, "ulma_cluster_records_lost %llu\n", (unsigned long long)lost);
    head(o, "ulma_cluster_jobs", "gauge", "Jobs held.");
    sbuf_printf(o, "ulma_cluster_jobs %u\n", s->njobs);

    head(o, "ulma_node_up", "gauge", "1 if the node reported within 3 intervals.");
    for (uint32_t i = 0; i < s->nnodes; i++)
        node_line(o, "ulma_node_up", s->nodes[i], 0, s->nodes[i]->state == NODE_UP);
    head(o, "ulma_node_events_per_second", "gauge", "Records drained per second on the node.");
    for (uint32_t i = 0; i < s->nnodes; i++)
        node_line(o, "ulma_node_events_per_second", s->nodes[i], 3, s->nodes[i]->events_per_s);
    head(o, "ulma_node_negative_times_total", "counter",
         "Rows the node sent with a negative time (accepted: cycle counters of its cores not "
         "quite in step).");
    for (uint32_t i = 0; i < s->nnodes; i++)
        node_line(o, "ulma_node_negative_times_total", s->nodes[i], 0,
                  (double)s->nodes[i]->negative_times);
    head(o, "ulma_node_reports_refused_total", "counter",
         "The node's reports the collector refused (ulma_node_refused says why, while it lasts).");
    for (uint32_t i = 0; i < s->nnodes; i++)
        node_line(o, "ulma_node_reports_refused_total", s->nodes[i], 0,
                  (double)s->nodes[i]->refused);
    head(o, "ulma_node_refused", "gauge",
         "1 while the node's reports are refused (none applied since), by the last reason.");
    for (uint32_t i = 0; i < s->nnodes; i++) {
        const node_t *n = s->nodes[i];
        if (n->state != NODE_REFUSED)
            continue;
        sbuf_adds(o, "ulma_node_refused{node=");
        label(o, n->name);
        sbuf_printf(o, ",reason=\"%s\"} 1\n", store_bad_name(n->refused_why));
    }
    static const char *fams[3][2] = {
        {"ulma_node_records_lost", "Records lost by the node's writers."},
        {"ulma_node_ranks", "Live profiled processes on the node."},
        {"ulma_node_profiling", "Live processes on the node by profiling mode."}};
    for (int fam = 0; fam < 3; fam++) {
        head(o, fams[fam][0], "gauge", fams[fam][1]);
        for (uint32_t i = 0; i < s->nnodes; i++) {
            const node_t *n = s->nodes[i];
            uint64_t nl = 0;
            uint32_t live = 0, mode[3] = {0, 0, 0};
            for (uint32_t k = 0; k < n->nprocs; k++) {
                nl += n->procs[k]->drops.records_lost;
                if (store_proc_live(n->procs[k])) {
                    live++;
                    mode[(n->procs[k]->m.active_mode & 3u) % 3]++;
                }
            }
            if (fam == 0)
                node_line(o, "ulma_node_records_lost", n, 0, (double)nl);
            else if (fam == 1)
                node_line(o, "ulma_node_ranks", n, 0, live);
            else {
                static const char *mn[3] = {"off", "fast", "full"};
                for (int k = 0; k < 3; k++) {
                    sbuf_adds(o, "ulma_node_profiling{node=");
                    label(o, n->name);
                    sbuf_printf(o, ",mode=\"%s\"} %u\n", mn[k], mode[k]);
                }
            }
        }
    }
    top_t *t = xmalloc(sizeof(*t) * 1);
    for (int which = 0; which < 2; which++) {
        if (which)
            head(o, "ulma_job_function_calls", "gauge", "Calls of a job's top functions.");
        else
            head(o, "ulma_job_function_seconds", "gauge",
                 "Own time (tottime) of a job's top functions, summed over its ranks.");
        for (uint32_t i = 0; i < s->njobs && x->metrics_top; i++) {
            const job_t *j = s->jobs[i];
            t = xrealloc(t, sizeof(*t) * (j->fn.n + 1));
            for (uint32_t k = 0; k < j->fn.n; k++) {
                t[k].gid = j->fn.key[k];
                t[k].tottime = ((const arow_t *)j->fn.rows)[k].c.tottime_ns;
            }
            qsort(t, j->fn.n, sizeof(*t), top_cmp);
            uint32_t n = j->fn.n < x->metrics_top ? j->fn.n : x->metrics_top;
            for (uint32_t k = 0; k < n && t[k].tottime > 0; k++) {
                char std[1200];
                view_func_std(s, t[k].gid, std, sizeof(std));
                const arow_t *a = store_job_row(j, t[k].gid);
                sbuf_adds(o, which ? "ulma_job_function_calls{job_id=" : "ulma_job_function_seconds{job_id=");
                label(o, j->name);
                sbuf_adds(o, ",function=");
                label(o, std);
                if (which)
                    sbuf_printf(o, "} %llu\n", (unsigned long long)a->c.ncalls);
                else
                    sbuf_printf(o, "} %.9f\n", pf_sec(a->c.tottime_ns));
            }
        }
    }
    free(t);
    const store_stats_t *st = &s->st;
    struct {
        const char *name, *help;
        uint64_t v;
    } c[] = {
        {"ulma_collector_reports_total", "Reports received.", st->reports},
        {"ulma_collector_snapshots_total", "Snapshots applied.", st->snapshots},
        {"ulma_collector_deltas_total", "Deltas applied.", st->deltas},
        {"ulma_collector_duplicates_total", "Duplicate or older reports ignored.", st->duplicates},
        {"ulma_collector_gaps_total", "Sequence gaps seen.", st->gaps},
        {"ulma_collector_snapshot_requests_total", "Snapshots asked for.", st->snapshot_requests},
        {"ulma_collector_unknown_sessions_total", "Deltas of sessions not held.", st->unknown_sessions},
        {"ulma_collector_agent_restarts_total", "Agents replaced by a new session.", st->restarts},
        {"ulma_collector_reports_lost_total", "Reports never applied (gaps, waits, restarts).",
         st->reports_lost},
        {"ulma_collector_queries_total", "Queries answered.", x->queries},
        {"ulma_collector_bad_queries_total", "Queries refused.", x->bad_queries},
        {"ulma_collector_forwarded_queries_total", "Queries forwarded to agents.", x->forwarded},
        {"ulma_collector_forward_timeouts_total", "Forwarded queries not answered in time.",
         x->forward_timeouts},
        {"ulma_collector_forwards_refused_total", "Forwards refused (too many pending).",
         x->forwards_refused},
        {"ulma_collector_controls_total", "Control requests routed.", x->controls},
        {"ulma_collector_auth_accepted_total", "Peers let in by their CURVE key.",
         x->auth_accepted},
        {"ulma_collector_auth_refused_total", "Peers refused: key not allowed.", x->auth_refused},
        {"ulma_collector_auth_failed_total",
         "Handshakes failed (plain-text peers, another server key).", x->auth_failed},
        {"ulma_collector_controls_refused_total",
         "Control requests refused: key not in the control list.", x->controls_refused},
        {"ulma_collector_send_failures_total", "Messages not queued (peer gone or over its mark).",
         x->send_failures},
        {"ulma_collector_processes_expired_total", "Processes aged out.", st->procs_expired},
        {"ulma_collector_nodes_expired_total", "Nodes aged out.", st->nodes_expired},
        {"ulma_collector_jobs_expired_total", "Jobs aged out.", st->jobs_expired},
        {"ulma_collector_negative_times_total", "Rows accepted with a negative time.",
         st->negative_times},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        head(o, c[i].name, "counter", c[i].help);
        sbuf_printf(o, "%s %llu\n", c[i].name, (unsigned long long)c[i].v);
    }
    head(o, "ulma_collector_bad_messages_total", "counter", "Messages refused, by reason.");
    for (int b = 0; b < BAD_NREASONS; b++)
        sbuf_printf(o, "ulma_collector_bad_messages_total{reason=\"%s\"} %llu\n",
                    store_bad_name((store_bad_t)b), (unsigned long long)st->bad[b]);
    head(o, "ulma_collector_functions", "gauge", "Distinct function labels held.");
    sbuf_printf(o, "ulma_collector_functions %u\n", s->nfuncs);
    head(o, "ulma_collector_rss_bytes", "gauge", "Resident memory of the collector.");
    sbuf_printf(o, "ulma_collector_rss_bytes %llu\n", (unsigned long long)x->rss_bytes);
    sbuf_adds(o, "# EOF\n");
}
