/*
 * collector_query.c - a small query client for tests: one Query to a
 * collector (or agent) query endpoint, the Reply printed as one JSON line.
 *
 *   collector_query EP KIND [scope=cluster|node:N|job:J|rank:NODE/PID]
 *       [sort=K] [filter=S] [limit=N] [offset=N] [func=NAME] [format=F]
 *       [mode=N] [objects=1] [wait_ms=N] [frames=N] [points=N] [ranks=N]
 *       [window=N] [id=N] [timeout_ms=N] [socket=dealer|delim|req]
 *       [out=FILE (EXPORT data)] [raw=HEX (send these bytes instead)]
 *       [repeat=N (ask N times on one connection; the last reply is
 *       printed, and on standard error "TIMES n N median_ms M p99_ms P
 *       max_ms X": each round trip, the first one, connecting, left out)]
 *       [flood=SECONDS (a hostile client: send the query as fast as the
 *       socket takes it for SECONDS and never read an answer; prints
 *       "FLOOD sent N refused_by_own_socket M")]
 * Exit status: 0 answered (ok or not; flood: sent), 1 no answer in time,
 * 2 usage.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "wire/wire.h"

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int kind_by_name(const char *s)
{
    for (int k = 0; k <= 18; k++)
        if (strcasecmp(s, wire_kind_name((Ulma__Wire__Kind)k)) == 0)
            return k;
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: collector_query EP KIND [key=value...]\n");
        return 2;
    }
    wire_arena_t *a = wire_arena_new();
    Ulma__Wire__Query q = ULMA__WIRE__QUERY__INIT;
    Ulma__Wire__Scope sc = ULMA__WIRE__SCOPE__INIT;
    q.version = WIRE_VERSION;
    q.id = 42;
    q.scope = &sc;
    int k = kind_by_name(argv[2]);
    if (k < 0) {
        fprintf(stderr, "collector_query: unknown kind %s\n", argv[2]);
        return 2;
    }
    q.kind = (Ulma__Wire__Kind)k;
    long timeout = 5000, repeat = 1;
    double flood_s = 0;
    const char *socktype = "dealer", *out = NULL, *raw = NULL;
    for (int i = 3; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "collector_query: '%s' is not key=value\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        const char *key = argv[i], *v = eq + 1;
        unsigned long n = strtoul(v, NULL, 10);
        if (!strcmp(key, "scope")) {
            char err[256];
            if (wire_scope_parse(v, &sc, a, err, sizeof(err)) != 0) {
                fprintf(stderr, "collector_query: %s\n", err);
                return 2;
            }
        } else if (!strcmp(key, "sort")) q.sort = (char *)v;
        else if (!strcmp(key, "filter")) q.filter = (char *)v;
        else if (!strcmp(key, "func")) q.func = (char *)v;
        else if (!strcmp(key, "format")) q.format = (char *)v;
        else if (!strcmp(key, "limit")) q.limit = (uint32_t)n;
        else if (!strcmp(key, "offset")) q.offset = (uint32_t)n;
        else if (!strcmp(key, "mode")) q.mode = (uint32_t)n;
        else if (!strcmp(key, "objects")) q.objects = n != 0;
        else if (!strcmp(key, "wait_ms")) q.wait_ms = (uint32_t)n;
        else if (!strcmp(key, "frames")) q.frames = (uint32_t)n;
        else if (!strcmp(key, "points")) q.points = (uint32_t)n;
        else if (!strcmp(key, "ranks")) q.ranks = (uint32_t)n;
        else if (!strcmp(key, "window")) q.window = (uint32_t)n;
        else if (!strcmp(key, "id")) q.id = n;
        else if (!strcmp(key, "version")) q.version = (uint32_t)n;
        else if (!strcmp(key, "timeout_ms")) timeout = (long)n;
        else if (!strcmp(key, "repeat")) repeat = n ? (long)n : 1;
        else if (!strcmp(key, "flood")) flood_s = strtod(v, NULL);
        else if (!strcmp(key, "socket")) socktype = v;
        else if (!strcmp(key, "out")) out = v;
        else if (!strcmp(key, "raw")) raw = v;
        else {
            fprintf(stderr, "collector_query: unknown key %s\n", key);
            return 2;
        }
    }
    void *ctx = zmq_ctx_new();
    int req = !strcmp(socktype, "req"), delim = !strcmp(socktype, "delim");
    void *s = zmq_socket(ctx, req ? ZMQ_REQ : ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(s, argv[1]) != 0) {
        fprintf(stderr, "collector_query: cannot connect %s\n", argv[1]);
        return 2;
    }
    sbuf_t b = {0};
    if (raw) {
        for (const char *p = raw; p[0] && p[1]; p += 2) {
            char h[3] = {p[0], p[1], 0};
            sbuf_addc(&b, (char)strtoul(h, NULL, 16));
        }
    } else {
        wire_pack(&q.base, &b);
    }
    if (flood_s > 0) {
        /* its answers pile up unread: the collector's queue for it fills,
         * what does not fit is the collector's to count */
        int small = 16;
        zmq_setsockopt(s, ZMQ_RCVHWM, &small, sizeof(small));
        unsigned long long sent = 0, refused = 0;
        double end = mono_ms() + flood_s * 1e3;
        while (mono_ms() < end) {
            if ((delim && zmq_send(s, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) ||
                zmq_send(s, b.data ? b.data : "", b.len, ZMQ_DONTWAIT) < 0) {
                refused++;
                struct timespec ts = {0, 100000};
                nanosleep(&ts, NULL);
                continue;
            }
            sent++;
        }
        printf("FLOOD sent %llu refused_by_own_socket %llu\n", sent, refused);
        sbuf_free(&b);
        zmq_close(s);
        zmq_ctx_term(ctx);
        wire_arena_destroy(&a);
        return sent ? 0 : 1;
    }
    double *ms = calloc((size_t)repeat + 1, sizeof(double));
    int rc = 1;
    for (long rep = 0; rep < repeat; rep++) {
        double t0 = mono_ms();
        if (delim)
            zmq_send(s, "", 0, ZMQ_SNDMORE);
        zmq_send(s, b.data ? b.data : "", b.len, 0);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        rc = 1;
        for (;;) {
            if (zmq_poll(&it, 1, timeout) <= 0) {
                fprintf(stderr, "collector_query: no answer within %ld ms\n", timeout);
                break;
            }
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, s, 0);
            if (delim && zmq_msg_size(&m) == 0 && zmq_msg_more(&m)) {
                zmq_msg_close(&m);
                continue;
            }
            ms[rep] = mono_ms() - t0;
            wire_refusal_t why;
            Ulma__Wire__Reply *r = wire_reply(zmq_msg_data(&m), zmq_msg_size(&m), &why);
            zmq_msg_close(&m);
            if (!r) {
                fprintf(stderr, "collector_query: bad reply (%s)\n", wire_refusal_name(why));
                break;
            }
            if (rep == repeat - 1) {
                sbuf_t j = {0};
                jw_t w;
                jw_init(&w, &j);
                wire_json(&r->base, &w);
                printf("%s\n", j.data ? j.data : "{}");
                sbuf_free(&j);
                if (out && r->data.len)
                    write_file(out, r->data.data, r->data.len);
            }
            protobuf_c_message_free_unpacked(&r->base, NULL);
            rc = 0;
            break;
        }
        if (rc)
            break;
    }
    sbuf_free(&b);
    if (!rc && repeat > 1) {
        long n = repeat - 1; /* the first round trip also connected */
        qsort(ms + 1, (size_t)n, sizeof(double), dcmp);
        long p99 = (long)(n * 0.99);
        if (p99 >= n)
            p99 = n - 1;
        fprintf(stderr, "TIMES n %ld median_ms %.3f p99_ms %.3f max_ms %.3f\n", n, ms[1 + n / 2],
                ms[1 + p99], ms[n]);
    }
    free(ms);
    zmq_close(s);
    zmq_ctx_term(ctx);
    wire_arena_destroy(&a);
    return rc;
}
