/* curve.c - key files, CURVE socket options, and the ZAP handler's
 * thread (one REP socket on inproc://zeromq.zap.01 and one monitor per
 * watched server socket). */
#define _GNU_SOURCE
#include "wire/curve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "profile/util.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define AUTH_MAX_WATCH 4
#define ZAP_FRAMES 8
#define LOG_FIRST 10 /* refusals logged at once; then one in LOG_EVERY */
#define LOG_EVERY 1000

int wire_endpoint_is_net(const char *ep)
{
    return ep && ep[0] && strncmp(ep, "ipc://", 6) != 0 && strncmp(ep, "inproc://", 9) != 0;
}

/* ---- key files -------------------------------------------------------------------- */

/* The first line of `text` that is not empty or a comment, trimmed, as a
 * checked Z85 key. 0, or -1. */
static int key_parse(const char *text, char key[WIRE_Z85_KEY])
{
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        const char *s = p, *e = p + n;
        while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (e > s && *s != '#') {
            if (e - s != WIRE_Z85_KEY - 1)
                return -1;
            memcpy(key, s, WIRE_Z85_KEY - 1);
            key[WIRE_Z85_KEY - 1] = 0;
            uint8_t bin[32];
            return zmq_z85_decode(bin, key) ? 0 : -1;
        }
        p = eol ? eol + 1 : p + n;
    }
    return -1;
}

/* Read at most 4 KiB of an open file. */
static int fd_text(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t r = read(fd, buf + got, len - 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    return 0;
}

int wire_key_read_public(const char *path, char key[WIRE_Z85_KEY], char *err, size_t errlen)
{
    /* Z85 has '/' and '.' in its alphabet: a key is 40 characters that
     * name no file */
    if (strlen(path) == WIRE_Z85_KEY - 1 && access(path, F_OK) != 0 && key_parse(path, key) == 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the key %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[4096];
    int rc = fd_text(fd, buf, sizeof(buf));
    close(fd);
    if (rc != 0 || key_parse(buf, key) != 0) {
        snprintf(err, errlen, "%s holds no public key (a line of 40 Z85 characters)", path);
        return -1;
    }
    return 0;
}

int wire_key_read_secret(const char *path, char pub[WIRE_Z85_KEY], char sec[WIRE_Z85_KEY],
                         char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the secret key %s: %s%s", path, strerror(errno),
                 errno == ELOOP ? " (a symbolic link: refused)" : "");
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read the secret key %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "the secret key %s is not a regular file: refused", path);
    } else if (st.st_uid != geteuid()) {
        snprintf(err, errlen,
                 "the secret key %s is owned by uid %u, not by this user (uid %u): refused "
                 "(chown it, or run as its owner)",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
    } else if (st.st_mode & 077) {
        snprintf(err, errlen,
                 "the secret key %s has mode %04o: group or others may read or write it, "
                 "refused (a secret key must be owner-only: chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
    } else {
        char buf[4096];
        if (fd_text(fd, buf, sizeof(buf)) != 0 || key_parse(buf, sec) != 0) {
            snprintf(err, errlen, "%s holds no secret key (a line of 40 Z85 characters)", path);
        } else if (zmq_curve_public(pub, sec) != 0) {
            snprintf(err, errlen, "%s: cannot derive the public key: %s", path,
                     zmq_strerror(zmq_errno()));
        } else {
            rc = 0;
        }
        memset(buf, 0, sizeof(buf));
    }
    close(fd);
    return rc;
}

static int write_key_file(const char *path, mode_t mode, const char *comment, const char *key,
                          char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    char text[512];
    int n = snprintf(text, sizeof(text), "# %s\n%s\n", comment, key);
    int rc = 0;
    /* the umask may have taken bits away: the modes are the contract */
    if (fchmod(fd, mode) != 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    memset(text, 0, sizeof(text));
    if (close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(path);
    return rc;
}

int wire_key_pair_write(const char *dir, const char *name, const char *comment,
                        char pub[WIRE_Z85_KEY], char *err, size_t errlen)
{
    char sec[WIRE_Z85_KEY];
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a key pair: %s (libzmq without CURVE?)",
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    char spath[WIRE_CURVE_PATH + 64], ppath[WIRE_CURVE_PATH + 64], c[256];
    snprintf(spath, sizeof(spath), "%s/%s.secret", dir, name);
    snprintf(ppath, sizeof(ppath), "%s/%s.pub", dir, name);
    snprintf(c, sizeof(c), "ULMA CURVE secret key of %s: keep it owner-only (mode 0600)", comment);
    int rc = write_key_file(spath, 0600, c, sec, err, errlen);
    memset(sec, 0, sizeof(sec));
    if (rc != 0)
        return -1;
    snprintf(c, sizeof(c), "ULMA CURVE public key of %s", comment);
    if (write_key_file(ppath, 0644, c, pub, err, errlen) != 0) {
        unlink(spath);
        return -1;
    }
    return 0;
}

int wire_curve_load(wire_curve_t *k, const char *dir, const char *server_key, int need_server,
                    char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    if (strlen(dir) >= sizeof(k->dir) - 32) {
        snprintf(err, errlen, "--curve-dir: path too long");
        return -1;
    }
    snprintf(k->dir, sizeof(k->dir), "%s", dir);
    char path[WIRE_CURVE_PATH + 64];
    snprintf(path, sizeof(path), "%s/id.secret", dir);
    if (wire_key_read_secret(path, k->pub, k->sec, err, errlen) != 0)
        return -1;
    if (server_key && server_key[0]) {
        if (wire_key_read_public(server_key, k->server, err, errlen) != 0)
            return -1;
    } else {
        snprintf(path, sizeof(path), "%s/server.pub", dir);
        if (access(path, F_OK) == 0) {
            if (wire_key_read_public(path, k->server, err, errlen) != 0)
                return -1;
        } else if (need_server) {
            snprintf(err, errlen,
                     "no server key: give --server-key FILE (the server's id.pub) or put it "
                     "in %s (ulma-keys allow --server %s FILE)",
                     path, dir);
            return -1;
        }
    }
    k->on = 1;
    return 0;
}

int wire_curve_for(wire_curve_t *k, const char *prog, const char *ep, const char *dir,
                   const char *server_key, int plaintext, int client, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    if (!wire_endpoint_is_net(ep))
        return 0;
    if (plaintext) {
        fprintf(stderr,
                "%s: warning: --plaintext: %s is neither encrypted nor authenticated; anyone "
                "who reaches it can read%s\n",
                prog, ep,
                client ? " and answer in place of its server" : ", report, query and control");
        return 0;
    }
    if (dir && dir[0])
        return wire_curve_load(k, dir, server_key, client, err, errlen);
    snprintf(err, errlen,
             "%s is a network endpoint: give --curve-dir DIR (keys made by ulma-keys) to "
             "encrypt and authenticate it, or --plaintext to ask for neither",
             ep);
    return -2;
}

int wire_curve_client(void *sock, const wire_curve_t *k)
{
    if (!k || !k->on)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->server, WIRE_Z85_KEY - 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->pub, WIRE_Z85_KEY - 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->sec, WIRE_Z85_KEY - 1) != 0)
        return -zmq_errno();
    return 0;
}

int wire_curve_server(void *sock, const wire_curve_t *k, const char *domain)
{
    if (!k || !k->on)
        return 0;
    int one = 1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->sec, WIRE_Z85_KEY - 1) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0)
        return -zmq_errno();
        /* a peer without a handler's yes never gets in, even if the handler
         * were gone */
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one));
#endif
    return 0;
}

/* ---- the ZAP handler -------------------------------------------------------------- */

struct wire_auth {
    void *zctx, *zap;
    void *mon[AUTH_MAX_WATCH];
    int nmon;
    char dir[WIRE_CURVE_PATH];
    char prog[64];
    int verbose;
    pthread_t th;
    int started, stop;
    uint64_t accepted, accepted_control, refused, failed; /* __atomic */
};

wire_auth_t *wire_auth_new(void *zctx, const wire_curve_t *k, const char *prog, int verbose,
                           char *err, size_t errlen)
{
    wire_auth_t *a = xcalloc(1, sizeof(*a));
    a->zctx = zctx;
    snprintf(a->dir, sizeof(a->dir), "%s", k->dir);
    snprintf(a->prog, sizeof(a->prog), "%s", prog);
    a->verbose = verbose;
    a->zap = zmq_socket(zctx, ZMQ_REP);
    int zero = 0;
    if (!a->zap || zmq_setsockopt(a->zap, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
        zmq_bind(a->zap, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "cannot start the key checker (%s): %s", ZAP_ENDPOINT,
                 zmq_strerror(zmq_errno()));
        wire_auth_destroy(&a);
        return NULL;
    }
    return a;
}

int wire_auth_watch(wire_auth_t *a, void *sock)
{
    if (a->started || a->nmon >= AUTH_MAX_WATCH)
        return -EINVAL;
    char ep[96];
    snprintf(ep, sizeof(ep), "inproc://wire-auth-%p-%d", (void *)a, a->nmon);
    if (zmq_socket_monitor(sock, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0)
        return -zmq_errno();
    void *m = zmq_socket(a->zctx, ZMQ_PAIR);
    int zero = 0;
    zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_connect(m, ep) != 0) {
        int e = zmq_errno();
        zmq_close(m);
        return -e;
    }
    a->mon[a->nmon++] = m;
    return 0;
}

/* The name of the key `z85` in DIR/SUB (its file name without ".pub"),
 * or 0 if no file there holds it. */
static int key_listed(const char *dir, const char *sub, const char *z85, char *name, size_t len)
{
    char path[WIRE_CURVE_PATH + 300];
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char f[WIRE_CURVE_PATH + 600], key[WIRE_Z85_KEY], err[8];
        snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
        struct stat st;
        if (stat(f, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 4096)
            continue;
        if (wire_key_read_public(f, key, err, sizeof(err)) == 0 && strcmp(key, z85) == 0) {
            found = 1;
            snprintf(name, len, "%s", e->d_name);
            char *dot = strrchr(name, '.');
            if (dot && strcmp(dot, ".pub") == 0)
                *dot = 0;
        }
    }
    closedir(d);
    return found;
}

static void auth_log(wire_auth_t *a, uint64_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void auth_log(wire_auth_t *a, uint64_t n, const char *fmt, ...)
{
    if (a->verbose < 0 || (a->verbose == 0 && n > LOG_FIRST && n % LOG_EVERY))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", a->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%llu so far)\n", (unsigned long long)n);
    va_end(ap);
}

/* One ZAP request (RFC 27): version, request id, domain, address,
 * identity, mechanism, credentials; answered with version, request id,
 * status code and text, user id, metadata. */
static void zap_one(wire_auth_t *a)
{
    zmq_msg_t f[ZAP_FRAMES];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t tmp, *m = n < ZAP_FRAMES ? &f[n] : &tmp;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, a->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            if (n == 0)
                return;
            break;
        }
        more = zmq_msg_more(m);
        if (m == &tmp)
            zmq_msg_close(m);
        else
            n++;
    }
    char code[4] = "400", text[160] = "malformed request", user[300] = "";
    char addr[128] = "?", z85[WIRE_Z85_KEY] = "", domain[64] = "";
    if (n >= 6) {
        size_t al = zmq_msg_size(&f[3]) < sizeof(addr) - 1 ? zmq_msg_size(&f[3]) : sizeof(addr) - 1;
        memcpy(addr, zmq_msg_data(&f[3]), al);
        addr[al] = 0;
        size_t dl =
            zmq_msg_size(&f[2]) < sizeof(domain) - 1 ? zmq_msg_size(&f[2]) : sizeof(domain) - 1;
        memcpy(domain, zmq_msg_data(&f[2]), dl);
        domain[dl] = 0;
        const char *mech = zmq_msg_data(&f[5]);
        size_t ml = zmq_msg_size(&f[5]);
        char name[256];
        if (ml == 5 && memcmp(mech, "CURVE", 5) == 0 && n >= 7 && zmq_msg_size(&f[6]) == 32 &&
            zmq_z85_encode(z85, zmq_msg_data(&f[6]), 32)) {
            if (key_listed(a->dir, "control", z85, name, sizeof(name))) {
                snprintf(user, sizeof(user), "control:%s", name);
                __atomic_fetch_add(&a->accepted_control, 1, __ATOMIC_RELAXED);
            } else if (key_listed(a->dir, "allowed", z85, name, sizeof(name))) {
                snprintf(user, sizeof(user), "query:%s", name);
            }
            if (user[0]) {
                memcpy(code, "200", 4);
                snprintf(text, sizeof(text), "OK");
                __atomic_fetch_add(&a->accepted, 1, __ATOMIC_RELAXED);
            } else {
                snprintf(text, sizeof(text), "key not allowed");
                uint64_t k = __atomic_add_fetch(&a->refused, 1, __ATOMIC_RELAXED);
                auth_log(a, k, "refused %s on %s: key %s is in neither %s/allowed nor %s/control",
                         addr, domain, z85, a->dir, a->dir);
            }
        } else {
            snprintf(text, sizeof(text), "CURVE only");
            uint64_t k = __atomic_add_fetch(&a->refused, 1, __ATOMIC_RELAXED);
            auth_log(a, k, "refused %s on %s: mechanism %.*s, CURVE expected", addr, domain,
                     (int)(ml < 16 ? ml : 16), mech);
        }
    }
    if (n >= 2) {
        zmq_send(a->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(a->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        zmq_send(a->zap, code, 3, ZMQ_SNDMORE);
        zmq_send(a->zap, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(a->zap, user, strlen(user), ZMQ_SNDMORE);
        zmq_send(a->zap, "", 0, 0);
    } else {
        /* a REP must answer before it can read again */
        zmq_send(a->zap, "", 0, 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* One monitor event: [event u16, value u32] then the endpoint. */
static void monitor_one(wire_auth_t *a, void *mon)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
    }
    uint16_t ev = 0;
    if (zmq_msg_size(&m) >= 2)
        memcpy(&ev, zmq_msg_data(&m), 2);
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    char addr[128] = "?";
    while (more) {
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mon, 0) < 0) {
            more = 0;
        } else {
            size_t l = zmq_msg_size(&m) < sizeof(addr) - 1 ? zmq_msg_size(&m) : sizeof(addr) - 1;
            memcpy(addr, zmq_msg_data(&m), l);
            addr[l] = 0;
            more = zmq_msg_more(&m);
        }
        zmq_msg_close(&m);
    }
    if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        uint64_t k = __atomic_add_fetch(&a->failed, 1, __ATOMIC_RELAXED);
        auth_log(a, k,
                 "a handshake on %s failed (a plain-text peer, or one with another server "
                 "key)",
                 addr);
    }
}

static void *auth_main(void *arg)
{
    wire_auth_t *a = arg;
    zmq_pollitem_t it[1 + AUTH_MAX_WATCH];
    it[0] = (zmq_pollitem_t){a->zap, 0, ZMQ_POLLIN, 0};
    for (int i = 0; i < a->nmon; i++)
        it[1 + i] = (zmq_pollitem_t){a->mon[i], 0, ZMQ_POLLIN, 0};
    while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
        /* the stop flag is looked at every 100 ms */
        int rc = zmq_poll(it, 1 + a->nmon, 100);
        if (rc < 0) {
            if (zmq_errno() == ETERM)
                break;
            continue;
        }
        if (it[0].revents & ZMQ_POLLIN)
            zap_one(a);
        for (int i = 0; i < a->nmon; i++)
            if (it[1 + i].revents & ZMQ_POLLIN)
                monitor_one(a, a->mon[i]);
    }
    return NULL;
}

int wire_auth_start(wire_auth_t *a)
{
    int rc = pthread_create(&a->th, NULL, auth_main, a);
    if (rc != 0)
        return -rc;
    a->started = 1;
    return 0;
}

void wire_auth_destroy(wire_auth_t **a_p)
{
    if (!a_p || !*a_p)
        return;
    wire_auth_t *a = *a_p;
    if (a->started) {
        __atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
        pthread_join(a->th, NULL);
    }
    for (int i = 0; i < a->nmon; i++)
        zmq_close(a->mon[i]);
    if (a->zap)
        zmq_close(a->zap);
    free(a);
    *a_p = NULL;
}

void wire_auth_stats(const wire_auth_t *a, wire_auth_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!a)
        return;
    out->accepted = __atomic_load_n(&a->accepted, __ATOMIC_RELAXED);
    out->accepted_control = __atomic_load_n(&a->accepted_control, __ATOMIC_RELAXED);
    out->refused = __atomic_load_n(&a->refused, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&a->failed, __ATOMIC_RELAXED);
}

int wire_auth_is_control(void *msg)
{
    const char *u = zmq_msg_gets((zmq_msg_t *)msg, "User-Id");
    return u && strncmp(u, "control:", 8) == 0;
}

const char *wire_auth_peer(void *msg)
{
    const char *u = zmq_msg_gets((zmq_msg_t *)msg, "User-Id");
    if (!u || !u[0])
        return NULL;
    const char *c = strchr(u, ':');
    return c ? c + 1 : u;
}
