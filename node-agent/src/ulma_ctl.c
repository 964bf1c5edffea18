/* ulma_ctl.c - ulma-ctl: query the node agent and switch processes on,
 * off or between modes through it. A thin client: every command is one
 * JSON request on the agent's ROUTER socket (see node-agent/README.md). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "jreq.h"
#include "ulma/segment.h"
#include "profile/util.h"

static void usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    ulma-ctl - query the ULMA node agent, switch profiling of processes\n\n"
            "SYNOPSIS\n"
            "    ulma-ctl [--dir DIR | --endpoint EP] [--timeout MS] [--json] COMMAND [ARGS]\n\n"
            "COMMANDS\n"
            "    list                       processes the agent profiles\n"
            "    top PID [-s KEY] [-n ROWS] the top table of PID (default: cumulative, 30 rows)\n"
            "    callers PID FUNC [-n ROWS] who calls FUNC (a name, or file:line(name))\n"
            "    callees PID FUNC [-n ROWS] what FUNC calls\n"
            "    paths PID [-n ROWS]        call paths with the most cumulative time\n"
            "    stacks PID [-n FRAMES]     each thread's current stack\n"
            "    objects PID [-n ROWS]      object statistics per type and constructing function\n"
            "    mpi PID                    MPI statistics per call\n"
            "    drops [PID]                records lost, per process\n"
            "    export PID FORMAT FILE     FORMAT: pstats, json, collapsed, speedscope, pprof,\n"
            "                               svg\n"
            "    on|off|fast|full (--pid PID | --job JOB | --all) [--objects] [--wait MS]\n"
            "                               switch processes; prints what the agent did and\n"
            "                               whether each process applied it\n"
            "    raw JSON                   send a request as is\n\n"
            "OPTIONS\n"
            "    -d, --dir DIR      agent directory (default $ULMA_DIR, else /dev/shm): the\n"
            "                       endpoint is ipc://DIR/ulma-agent.ipc\n"
            "    -e, --endpoint EP  the agent's endpoint, e.g. tcp://127.0.0.1:5555\n"
            "    -t, --timeout MS   wait this long for the answer (default 5000)\n"
            "    -j, --json         print the agent's JSON answer as is\n"
            "    -h, --help         this text\n\n"
            "EXIT STATUS\n"
            "    0 the agent answered ok; 1 it answered an error or did not answer;\n"
            "    2 usage error.\n");
}

/* Send `req`, receive [answer, data]. Returns 0 or -1. */
static int ask(const char *ep, int timeout_ms, const char *req, sbuf_t *ans, sbuf_t *data)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    int rc = -1;
    if (zmq_connect(s, ep) != 0) {
        fprintf(stderr, "ulma-ctl: cannot connect to %s: %s\n", ep, zmq_strerror(zmq_errno()));
        goto out;
    }
    zmq_send(s, "", 0, ZMQ_SNDMORE);
    zmq_send(s, req, strlen(req), 0);
    int part = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) {
            zmq_msg_close(&m);
            fprintf(stderr, "ulma-ctl: no answer from %s within %d ms (is ulma-agent running?)\n",
                    ep, timeout_ms);
            goto out;
        }
        more = zmq_msg_more(&m);
        if (part == 1)
            sbuf_add(ans, zmq_msg_data(&m), zmq_msg_size(&m));
        else if (part == 2)
            sbuf_add(data, zmq_msg_data(&m), zmq_msg_size(&m));
        part++;
        zmq_msg_close(&m);
    }
    rc = part >= 2 ? 0 : -1;
out:
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc;
}

/* The value of "key": in a JSON answer, as text (first occurrence). Enough
 * for the fields ulma-ctl shows; scripts should use --json. */
static int answer_field(const char *ans, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(ans, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    if (*p == '"') {
        /* decode a JSON string */
        jreq_t *q = xmalloc(sizeof(*q));
        const char *e = p + 1;
        while (*e && *e != '"')
            e += (*e == '\\' && e[1]) ? 2 : 1;
        size_t n = (size_t)(e - p) + 1;
        sbuf_t tmp = {0};
        sbuf_adds(&tmp, "{\"v\":");
        sbuf_add(&tmp, p, n);
        sbuf_addc(&tmp, '}');
        int rc = -1;
        if (jreq_parse(q, tmp.data, tmp.len) == 0 && jreq_str(q, "v")) {
            snprintf(out, len, "%s", jreq_str(q, "v"));
            rc = 0;
        }
        sbuf_free(&tmp);
        free(q);
        return rc;
    }
    size_t n = strcspn(p, ",}]");
    snprintf(out, len, "%.*s", (int)n, p);
    return 0;
}

/* A long text field (the table) decoded. */
static void print_text_field(const char *ans, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = strstr(ans, pat);
    if (!p)
        return;
    p += strlen(pat);
    for (; *p && *p != '"'; p++) {
        if (*p != '\\') {
            putchar(*p);
            continue;
        }
        p++;
        switch (*p) {
        case 'n': putchar('\n'); break;
        case 't': putchar('\t'); break;
        case 'u': {
            unsigned v = 0;
            if (sscanf(p + 1, "%4x", &v) == 1)
                putchar(v < 0x80 ? (int)v : '?');
            p += 4;
            break;
        }
        case '\0': return;
        default: putchar(*p); break;
        }
    }
}

int main(int argc, char **argv)
{
    const char *dir = ulma_default_dir();
    const char *ep = NULL;
    int timeout = 5000, raw_json = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        } else if ((!strcmp(o, "-d") || !strcmp(o, "--dir")) && i + 1 < argc) {
            dir = argv[++i];
        } else if ((!strcmp(o, "-e") || !strcmp(o, "--endpoint")) && i + 1 < argc) {
            ep = argv[++i];
        } else if ((!strcmp(o, "-t") || !strcmp(o, "--timeout")) && i + 1 < argc) {
            timeout = atoi(argv[++i]);
        } else if (!strcmp(o, "-j") || !strcmp(o, "--json")) {
            raw_json = 1;
        } else {
            fprintf(stderr, "ulma-ctl: unknown option '%s'\n", o);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    char epbuf[4200];
    if (!ep) {
        snprintf(epbuf, sizeof(epbuf), "ipc://%s/ulma-agent.ipc", dir);
        ep = epbuf;
    }
    const char *cmd = argv[i++];
    /* common trailing options */
    const char *sort = NULL, *job = NULL, *outfile = NULL, *func = NULL, *format = NULL;
    long rows = -1, pid = -1, wait_ms = -1;
    int all = 0, objects = 0;
    for (int k = i; k < argc; k++) {
        const char *o = argv[k];
        if (!strcmp(o, "-s") && k + 1 < argc)
            sort = argv[++k];
        else if (!strcmp(o, "-n") && k + 1 < argc)
            rows = atol(argv[++k]);
        else if (!strcmp(o, "--pid") && k + 1 < argc)
            pid = atol(argv[++k]);
        else if (!strcmp(o, "--job") && k + 1 < argc)
            job = argv[++k];
        else if (!strcmp(o, "--all"))
            all = 1;
        else if (!strcmp(o, "--objects"))
            objects = 1;
        else if (!strcmp(o, "--wait") && k + 1 < argc)
            wait_ms = atol(argv[++k]);
        else if (pid < 0 && strspn(o, "0123456789") == strlen(o) && *o && strcmp(cmd, "raw"))
            pid = atol(o);
        else if (!func && (!strcmp(cmd, "callers") || !strcmp(cmd, "callees")))
            func = o;
        else if (!format && !strcmp(cmd, "export"))
            format = o;
        else if (!outfile && !strcmp(cmd, "export"))
            outfile = o;
        else if (!strcmp(cmd, "raw") && !outfile)
            outfile = o; /* the request */
        else {
            fprintf(stderr, "ulma-ctl: unexpected argument '%s'\n", o);
            return 2;
        }
    }
    sbuf_t req = {0};
    int needs_pid = !strcmp(cmd, "top") || !strcmp(cmd, "callers") || !strcmp(cmd, "callees") ||
                    !strcmp(cmd, "paths") || !strcmp(cmd, "stacks") || !strcmp(cmd, "objects") ||
                    !strcmp(cmd, "mpi") || !strcmp(cmd, "export");
    if (needs_pid && pid < 0) {
        fprintf(stderr, "ulma-ctl: %s needs a PID\n", cmd);
        return 2;
    }
    if (!strcmp(cmd, "list")) {
        sbuf_adds(&req, "{\"cmd\":\"list\"}");
    } else if (!strcmp(cmd, "top")) {
        sbuf_printf(&req, "{\"cmd\":\"top\",\"pid\":%ld,\"limit\":%ld,\"text\":true", pid,
                    rows >= 0 ? rows : 30);
        if (sort) {
            sbuf_adds(&req, ",\"sort\":");
            sbuf_json_str(&req, sort, strlen(sort));
        }
        sbuf_addc(&req, '}');
    } else if (!strcmp(cmd, "callers") || !strcmp(cmd, "callees")) {
        if (!func) {
            fprintf(stderr, "ulma-ctl: %s needs a function\n", cmd);
            return 2;
        }
        sbuf_printf(&req, "{\"cmd\":\"%s\",\"pid\":%ld,\"limit\":%ld,\"func\":", cmd, pid,
                    rows >= 0 ? rows : 50);
        sbuf_json_str(&req, func, strlen(func));
        sbuf_addc(&req, '}');
    } else if (needs_pid && strcmp(cmd, "export")) {
        sbuf_printf(&req, "{\"cmd\":\"%s\",\"pid\":%ld,\"limit\":%ld}", cmd, pid,
                    rows >= 0 ? rows : 50);
    } else if (!strcmp(cmd, "drops")) {
        if (pid >= 0)
            sbuf_printf(&req, "{\"cmd\":\"drops\",\"pid\":%ld}", pid);
        else
            sbuf_adds(&req, "{\"cmd\":\"drops\"}");
    } else if (!strcmp(cmd, "export")) {
        if (!format || !outfile) {
            fprintf(stderr, "ulma-ctl: export needs PID FORMAT FILE\n");
            return 2;
        }
        sbuf_printf(&req, "{\"cmd\":\"export\",\"pid\":%ld,\"format\":", pid);
        sbuf_json_str(&req, format, strlen(format));
        sbuf_addc(&req, '}');
    } else if (!strcmp(cmd, "on") || !strcmp(cmd, "off") || !strcmp(cmd, "fast") ||
               !strcmp(cmd, "full")) {
        if ((pid >= 0) + (job != NULL) + all != 1) {
            fprintf(stderr, "ulma-ctl: %s needs exactly one of --pid PID, --job JOB, --all\n", cmd);
            return 2;
        }
        sbuf_printf(&req, "{\"cmd\":\"control\",\"mode\":\"%s\",\"objects\":%s", cmd,
                    objects ? "true" : "false");
        if (pid >= 0)
            sbuf_printf(&req, ",\"pid\":%ld", pid);
        if (job) {
            sbuf_adds(&req, ",\"job\":");
            sbuf_json_str(&req, job, strlen(job));
        }
        if (all)
            sbuf_adds(&req, ",\"all\":true");
        if (wait_ms >= 0)
            sbuf_printf(&req, ",\"wait_ms\":%ld", wait_ms);
        sbuf_addc(&req, '}');
        if (wait_ms > timeout)
            timeout = (int)wait_ms + 1000;
    } else if (!strcmp(cmd, "raw")) {
        if (!outfile) {
            fprintf(stderr, "ulma-ctl: raw needs a JSON request\n");
            return 2;
        }
        sbuf_adds(&req, outfile);
        outfile = NULL;
    } else {
        fprintf(stderr, "ulma-ctl: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    sbuf_t ans = {0}, data = {0};
    int rc = ask(ep, timeout, req.data, &ans, &data);
    sbuf_free(&req);
    if (rc != 0)
        return 1;
    char okv[16] = "";
    answer_field(ans.data, "ok", okv, sizeof(okv));
    int ok = strcmp(okv, "true") == 0;
    if (!ok) {
        char msg[512] = "?";
        answer_field(ans.data, "error", msg, sizeof(msg));
        fprintf(stderr, "ulma-ctl: agent: %s\n", msg);
        rc = 1;
    } else if (!strcmp(cmd, "export")) {
        int err = write_file(outfile, data.data ? data.data : "", data.len);
        if (err) {
            fprintf(stderr, "ulma-ctl: cannot write %s: %s\n", outfile, strerror(-err));
            rc = 1;
        } else {
            printf("wrote %s (%zu bytes, %s)\n", outfile, data.len, format);
        }
    } else if (!strcmp(cmd, "top") && !raw_json) {
        print_text_field(ans.data, "text");
    } else {
        printf("%s\n", ans.data);
    }
    sbuf_free(&ans);
    sbuf_free(&data);
    return rc;
}
