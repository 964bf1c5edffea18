/*
 * ulma-dump - list, drain and print ULMA segments: the debugging view of
 * what hooked processes write, record by record.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ulma/clock.h"
#include "ulma/reader.h"

static const char usage[] =
    "Usage: ulma-dump [OPTION]... [SEGMENT]...\n"
    "Print the records of ULMA shared-memory segments, or list them.\n"
    "\n"
    "With no SEGMENT, every segment (ulma.*.seg) in the directory is used.\n"
    "Reading a segment consumes its records: do not run this beside an agent.\n"
    "\n"
    "  -d, --dir DIR      segment directory (default: $ULMA_DIR, else /dev/shm)\n"
    "  -l, --list         list segments (pid, rank, state, threads, drops); read nothing\n"
    "  -s, --summary      drain and print counts per kind instead of every record\n"
    "  -f, --follow       keep draining until interrupted (Ctrl-C)\n"
    "  -c, --clean        remove segments whose process is gone, after draining them\n"
    "  -h, --help         show this help and exit\n"
    "\n"
    "Exit status: 0 on success, 1 if a segment could not be read, 2 on bad usage.\n";

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

typedef struct dump_ctx {
    int summary;
    uint64_t hz;
    uint64_t t0;
    uint64_t counts[256];
} dump_ctx_t;

static const char *kind_name(unsigned k)
{
    switch (k) {
    case ULMA_EV_PAD: return "PAD";
    case ULMA_EV_CALL: return "CALL";
    case ULMA_EV_RETURN: return "RETURN";
    case ULMA_EV_UNWIND: return "UNWIND";
    case ULMA_EV_C_CALL: return "C_CALL";
    case ULMA_EV_C_RETURN: return "C_RETURN";
    case ULMA_EV_DROP: return "DROP";
    case ULMA_EV_MODE: return "MODE";
    case ULMA_EV_THREAD_END: return "THREAD_END";
    case ULMA_EV_OBJ_NEW: return "OBJ_NEW";
    case ULMA_EV_OBJ_FREE: return "OBJ_FREE";
    case ULMA_EV_MPI: return "MPI";
    case ULMA_EV_DEF_CODE: return "DEF_CODE";
    case ULMA_EV_DEF_CFUNC: return "DEF_CFUNC";
    case ULMA_EV_DEF_TYPE: return "DEF_TYPE";
    case ULMA_EV_DEF_THREAD: return "DEF_THREAD";
    case ULMA_EV_DEF_MPI: return "DEF_MPI";
    default: return "?";
    }
}

/* Print up to `len` bytes of untrusted text, escaping what is not printable. */
static void put_text(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
            putchar(s[i]);
        else
            printf("\\x%02x", s[i]);
    }
}

static int on_batch(void *vctx, unsigned slot, const ulma_rec_t *recs, size_t nunits)
{
    dump_ctx_t *c = vctx;
    ulma_iter_t it;
    ulma_rec_t h;
    const void *pl;
    uint32_t plen;
    ulma_iter_init(&it, recs, nunits);
    while (ulma_iter_next(&it, &h, &pl, &plen)) {
        c->counts[h.kind]++;
        if (c->summary || h.kind == ULMA_EV_PAD)
            continue;
        if (!c->t0)
            c->t0 = h.tsc;
        double us = ulma_cycles_to_sec(h.tsc - c->t0, c->hz) * 1e6;
        printf("slot %-3u %12.3f us  %-10s id=%-8" PRIu32 " depth=%-5u", slot, us,
               kind_name(h.kind), h.id, (unsigned)h.depth);
        const uint8_t *p = pl;
        if ((h.kind == ULMA_EV_DEF_CODE || h.kind == ULMA_EV_DEF_CFUNC) &&
            plen >= sizeof(ulma_def_code_t)) {
            ulma_def_code_t d;
            memcpy(&d, p, sizeof(d));
            size_t room = plen - sizeof(d);
            size_t nl = d.name_len < room ? d.name_len : room;
            size_t fl = d.file_len < room - nl ? d.file_len : room - nl;
            printf(" ");
            put_text(p + sizeof(d), nl);
            printf(" (");
            put_text(p + sizeof(d) + nl, fl);
            printf(":%" PRIu32 ")", d.firstline);
        } else if (h.kind >= ULMA_EV_DEF_TYPE && h.kind <= ULMA_EV_DEF_MPI) {
            printf(" ");
            put_text(p, strnlen((const char *)p, plen));
        } else if ((h.kind == ULMA_EV_OBJ_NEW || h.kind == ULMA_EV_OBJ_FREE) &&
                   plen >= sizeof(ulma_obj_payload_t)) {
            ulma_obj_payload_t o;
            memcpy(&o, p, sizeof(o));
            printf(" size=%" PRIu64, o.size);
        } else if (h.kind == ULMA_EV_MPI && plen >= sizeof(ulma_mpi_payload_t)) {
            ulma_mpi_payload_t m;
            memcpy(&m, p, sizeof(m));
            printf(" %.3f us bytes=%" PRIu64 " peer=%" PRId32,
                   ulma_cycles_to_sec(m.duration, c->hz) * 1e6, m.bytes, m.peer);
        }
        putchar('\n');
    }
    return it.bad ? -1 : 0;
}

static const char *state_name(uint32_t s)
{
    return s == ULMA_SEG_LIVE ? "live" : s == ULMA_SEG_EXITED ? "exited" : "init";
}

static int list_one(ulma_reader_t *r)
{
    const ulma_seg_info_t *in = ulma_reader_info(r);
    printf("%-8" PRId32 " %-6" PRId32 " %-6s %-5s %-16s %-12s %s\n", in->pid, in->mpi_rank,
           state_name(ulma_reader_state(r)), ulma_reader_writer_alive(r) ? "yes" : "no",
           in->host, in->job[0] ? in->job : "-", in->exe);
    return 0;
}

static int dump_one(const char *path, int list, int summary, int follow, int clean)
{
    ulma_reader_t *r = NULL;
    int err = ulma_reader_open(path, &r);
    if (err) {
        fprintf(stderr, "ulma-dump: %s: %s\n", path, strerror(-err));
        return 1;
    }
    if (list) {
        list_one(r);
        ulma_reader_destroy(&r);
        return 0;
    }
    dump_ctx_t c;
    memset(&c, 0, sizeof(c));
    c.summary = summary;
    c.hz = ulma_reader_hz(r);
    const ulma_seg_info_t *in = ulma_reader_info(r);
    printf("# %s: pid %" PRId32 " rank %" PRId32 "/%" PRId32 " host %s exe %s hz %" PRIu64 "\n",
           path, in->pid, in->mpi_rank, in->mpi_size, in->host, in->exe, c.hz);
    int rc = 0;
    do {
        long n = ulma_reader_drain(r, on_batch, &c, 0);
        if (n < 0) {
            fprintf(stderr, "ulma-dump: %s: segment faulted (truncated?)\n", path);
            rc = 1;
            break;
        }
        if (follow && n == 0) {
            if (!ulma_reader_writer_alive(r) && ulma_reader_state(r) != ULMA_SEG_LIVE)
                break;
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
    } while (follow && !stop);
    if (summary) {
        for (unsigned k = 0; k < 256; k++)
            if (c.counts[k])
                printf("%-10s %" PRIu64 "\n", kind_name(k), c.counts[k]);
    }
    printf("# units %" PRIu64 " dropped %" PRIu64 " corrupt %" PRIu64 "\n",
           ulma_reader_total_units(r), ulma_reader_total_dropped(r), ulma_reader_total_corrupt(r));
    if (clean && !ulma_reader_writer_alive(r)) {
        int e = ulma_reader_unlink(r);
        if (e)
            fprintf(stderr, "ulma-dump: cannot remove %s: %s\n", path, strerror(-e));
    }
    ulma_reader_destroy(&r);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'}, {"list", no_argument, 0, 'l'},
        {"summary", no_argument, 0, 's'},   {"follow", no_argument, 0, 'f'},
        {"clean", no_argument, 0, 'c'},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *dir = NULL;
    int list = 0, summary = 0, follow = 0, clean = 0, ch;
    while ((ch = getopt_long(argc, argv, "d:lsfch", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': dir = optarg; break;
        case 'l': list = 1; break;
        case 's': summary = 1; break;
        case 'f': follow = 1; break;
        case 'c': clean = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    signal(SIGINT, on_sig);
    signal(SIGTERM, on_sig);
    if (!dir)
        dir = ulma_default_dir();
    if (list)
        printf("%-8s %-6s %-6s %-5s %-16s %-12s %s\n", "PID", "RANK", "STATE", "ALIVE", "HOST",
               "JOB", "EXE");
    int rc = 0;
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            rc |= dump_one(argv[i], list, summary, follow, clean);
        return rc;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "ulma-dump: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        uint32_t uid;
        int32_t pid;
        uint64_t st;
        if (ulma_segment_parse_name(e->d_name, &uid, &pid, &st) != 0)
            continue;
        char path[4096];
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
            continue;
        rc |= dump_one(path, list, summary, follow, clean);
    }
    closedir(d);
    return rc;
}
