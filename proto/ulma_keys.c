/* ulma_keys.c - ulma-keys: make a CURVE key pair into a key directory,
 * show it, let a peer's public key in (allowed/, control/) or name the
 * server a client talks to (server.pub), and distribute: the same on many
 * nodes at once through a remote shell. Every file it writes is written
 * once (O_EXCL) with its final mode; a key file is never overwritten. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "profile/util.h"
#include "wire/curve.h"

#ifndef ULMA_VERSION_STRING
#define ULMA_VERSION_STRING "0.1.0"
#endif

#define DIST_RSH_MAX 32   /* words of --rsh CMD */
#define DIST_OUT_MAX 4096 /* bytes of a remote command's output kept */
#define DIST_REMOTE_DIR "/etc/ulma/curve"

static void usage(FILE *out)
{
    fprintf(out, "NAME\n"
                 "    ulma-keys - CURVE key pairs and allowed keys of ULMA's network links\n\n"
                 "SYNOPSIS\n"
                 "    ulma-keys new DIR [--name NAME]\n"
                 "    ulma-keys show DIR\n"
                 "    ulma-keys allow DIR KEY|FILE|- [--as NAME] [--control | --server]\n"
                 "    ulma-keys distribute DIR HOST... [--rsh CMD] [--remote-dir RDIR]\n"
                 "                         [--remote-keys PATH] [--control]\n\n"
                 "DESCRIPTION\n"
                 "    Every TCP link of ULMA (ulma-agent to ulma-collector, clustertop and\n"
                 "    ulma-ctl to the collector, ulma-ctl and clustertop to an agent's tcp\n"
                 "    --listen endpoint) is encrypted and authenticated with CurveZMQ. Each\n"
                 "    host or user has a key pair in a key directory, given to the programs\n"
                 "    as --curve-dir DIR. A server (the collector, an agent listening on tcp)\n"
                 "    lets in only the public keys in DIR/allowed/ and DIR/control/; the\n"
                 "    collector accepts control requests (switching profiling) only from keys\n"
                 "    in DIR/control/. A client checks its server against DIR/server.pub (or\n"
                 "    --server-key FILE). Keys are read at every connection: allowing or\n"
                 "    removing a key file needs no restart.\n\n"
                 "COMMANDS\n"
                 "    new DIR\n"
                 "        Make DIR (mode 0700 if it is new) with allowed/ and control/ in it,\n"
                 "        and a new key pair: DIR/id.secret (mode 0600: a secret key that\n"
                 "        group or others can read, or that is not owned by the user running\n"
                 "        the program, is refused by every program) and DIR/id.pub (0644).\n"
                 "        Prints the public key. Never overwrites an existing key.\n"
                 "    show DIR\n"
                 "        Check DIR/id.secret (owner, mode) and print its public key.\n"
                 "    allow DIR KEY|FILE|-\n"
                 "        Copy a public key (a file such as a peer's id.pub, the 40\n"
                 "        characters of the key, or - to read it from the standard input)\n"
                 "        into DIR/allowed/NAME.pub: the peer may connect and query. Prints\n"
                 "        the file written. A file already there holding the same key is\n"
                 "        kept (success); one holding another key is never overwritten\n"
                 "        (remove it first).\n"
                 "    distribute DIR HOST...\n"
                 "        From the head node, for each HOST through the remote shell (ssh):\n"
                 "        make the node's key pair in RDIR unless it has one (ulma-keys new\n"
                 "        RDIR --name ulma-agent@HOST; an existing key is kept), fetch its\n"
                 "        public key (ulma-keys show RDIR; anything but one 40-character\n"
                 "        Z85 key is refused), allow it here as DIR/allowed/HOST.pub, and give\n"
                 "        the node DIR's public key as its server key (RDIR/server.pub).\n"
                 "        DIR needs a key pair (ulma-keys new DIR). ulma-keys must be\n"
                 "        installed on the nodes. Prints a line for each host and a summary;\n"
                 "        a host that fails is reported on the standard error and the others\n"
                 "        go on. Running it again is harmless: what is there is kept. A HOST\n"
                 "        is letters, digits, '.', '-', '_' and ':', not starting with '-'\n"
                 "        or '.'.\n\n"
                 "OPTIONS\n"
                 "    --name NAME\n"
                 "        new: who the key is for, written as a comment in both files\n"
                 "        (default: USER@HOST).\n"
                 "    --as NAME\n"
                 "        allow: the file name (NAME.pub) and the peer's name in the logs\n"
                 "        (default: FILE's name without .pub, or key-XXXXXXXX for a bare key).\n"
                 "    --control\n"
                 "        allow, distribute: into DIR/control/ instead: the peer may connect,\n"
                 "        query and switch profiling through the collector.\n"
                 "    --server\n"
                 "        allow: write DIR/server.pub, the key of the server this directory's\n"
                 "        clients connect to (the collector's id.pub for agents and\n"
                 "        dashboards), used when no --server-key is given.\n"
                 "    --rsh CMD\n"
                 "        distribute: the remote shell, split on spaces and run as\n"
                 "        CMD HOST COMMAND-LINE, the way ssh is (default: ssh). Give\n"
                 "        \"ssh -o BatchMode=yes\" so that a node asking for a password fails\n"
                 "        instead of waiting.\n"
                 "    --remote-dir RDIR\n"
                 "        distribute: the nodes' key directory (default: " DIST_REMOTE_DIR "); a\n"
                 "        %%h in it is replaced by HOST.\n"
                 "    --remote-keys PATH\n"
                 "        distribute: the ulma-keys program on the nodes (default: ulma-keys,\n"
                 "        found in the remote PATH).\n"
                 "    -h, --help\n"
                 "        Show this text.\n"
                 "    -V, --version\n"
                 "        Show the version.\n\n"
                 "EXAMPLES\n"
                 "    On the head node, the collector's keys:\n"
                 "      ulma-keys new /etc/ulma/curve --name collector@head\n"
                 "    Then every node's keys in one go (as root, with ssh keys set up):\n"
                 "      ulma-keys distribute /etc/ulma/curve $(seq -f node%%02g 1 64) \\\n"
                 "        --rsh \"ssh -o BatchMode=yes\"\n"
                 "    or by hand, on every node, the agent's keys and the collector's\n"
                 "    public key:\n"
                 "      ulma-keys new /etc/ulma/curve\n"
                 "      ulma-keys allow /etc/ulma/curve head-id.pub --server\n"
                 "    and back on the head, every agent's and user's public key:\n"
                 "      ulma-keys allow /etc/ulma/curve node07-id.pub\n"
                 "      ulma-keys allow /etc/ulma/curve alice-id.pub --control\n"
                 "    Then: ulma-collector --curve-dir /etc/ulma/curve, ulma-agent --curve-dir\n"
                 "    /etc/ulma/curve --collector tcp://head:7710, clustertop --curve-dir\n"
                 "    ~/.config/ulma/curve --collector tcp://head:7711.\n\n"
                 "EXIT STATUS\n"
                 "    0 success; 1 a key could not be made, read or written (distribute: on\n"
                 "    at least one host); 2 a usage error.\n\n"
                 "SEE ALSO\n"
                 "    ulma-collector --help, ulma-agent --help, clustertop --help, README.md\n"
                 "    (Security)\n");
}

static int make_dir(const char *path, mode_t mode)
{
    /* the parents first (0755), like mkdir -p */
    char p[WIRE_CURVE_PATH];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "ulma-keys: cannot make %s: %s\n", p, strerror(errno));
            return -1;
        }
        *s = '/';
    }
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "ulma-keys: cannot make %s: %s\n", path, strerror(errno));
    return -1;
}

static int cmd_new(const char *dir, const char *name)
{
    char who[512];
    if (name) {
        snprintf(who, sizeof(who), "%s", name);
    } else {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        struct passwd *pw = getpwuid(geteuid());
        snprintf(who, sizeof(who), "%s@%s", pw ? pw->pw_name : "?", host);
    }
    if (strchr(who, '\n')) {
        fprintf(stderr, "ulma-keys: --name: one line\n");
        return 2;
    }
    char sub[WIRE_CURVE_PATH + 16];
    if (make_dir(dir, 0700) != 0)
        return 1;
    snprintf(sub, sizeof(sub), "%s/allowed", dir);
    if (make_dir(sub, 0755) != 0)
        return 1;
    snprintf(sub, sizeof(sub), "%s/control", dir);
    if (make_dir(sub, 0755) != 0)
        return 1;
    char pub[WIRE_Z85_KEY], err[WIRE_CURVE_PATH + 256];
    if (wire_key_pair_write(dir, "id", who, pub, err, sizeof(err)) != 0) {
        fprintf(stderr, "ulma-keys: %s%s\n", err,
                errno == EEXIST ? " (a key pair is there already: ulma-keys show)" : "");
        return 1;
    }
    printf("%s\n", pub);
    return 0;
}

static int cmd_show(const char *dir)
{
    char path[WIRE_CURVE_PATH + 16], pub[WIRE_Z85_KEY], sec[WIRE_Z85_KEY];
    char err[WIRE_CURVE_PATH + 256];
    snprintf(path, sizeof(path), "%s/id.secret", dir);
    int rc = wire_key_read_secret(path, pub, sec, err, sizeof(err));
    memset(sec, 0, sizeof(sec));
    if (rc != 0) {
        fprintf(stderr, "ulma-keys: %s\n", err);
        return 1;
    }
    printf("%s\n", pub);
    return 0;
}

/* The characters of Z85 (ZeroMQ RFC 32). */
static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                ".-:+=^!/*?&<>()[]{}@%$#";

/* `s` as a checked public key: 40 Z85 characters that decode. The text
 * is untrusted (a remote shell's output, the standard input): it is taken
 * as a key, never as a file name. 0, or -1. */
static int key_check(const char *s, char key[WIRE_Z85_KEY])
{
    char err[WIRE_CURVE_PATH + 256];
    if (strlen(s) != WIRE_Z85_KEY - 1 || strspn(s, z85_chars) != WIRE_Z85_KEY - 1)
        return -1;
    /* wire_key_read_public decodes it; were `s` also a file's name, what
     * the file holds counts only if it is `s` itself */
    if (wire_key_read_public(s, key, err, sizeof(err)) != 0 || strcmp(key, s) != 0)
        return -1;
    return 0;
}

/* The public key on the standard input: its first line that is not empty
 * or a comment. 0, or -1 with a message on stderr. */
static int key_from_stdin(char key[WIRE_Z85_KEY])
{
    char line[4096];
    while (fgets(line, sizeof(line), stdin)) {
        char *s = line, *e = line + strlen(line);
        while (*s == ' ' || *s == '\t')
            s++;
        while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        if (!*s || *s == '#')
            continue;
        if (key_check(s, key) == 0)
            return 0;
        break;
    }
    fprintf(stderr, "ulma-keys: the standard input holds no public key (a line of 40 Z85 "
                    "characters)\n");
    return -1;
}

/* Write `key` into DIR/allowed/NAME.pub (DIR/control/ with `control`,
 * DIR/server.pub with `server`), once, mode 0644. A regular file already
 * there that holds the same key is kept (*had = 1); any other is never
 * overwritten. The file's name into path. 0, 1 (not written: said on
 * stderr) or 2 (NAME is not a file name). */
static int allow_key(const char *dir, const char *key, const char *name, int control, int server,
                     char *path, size_t pathlen, int *had)
{
    *had = 0;
    if (!name[0] || strchr(name, '/') || name[0] == '.') {
        fprintf(stderr, "ulma-keys: --as: '%s' is not a file name\n", name);
        return 2;
    }
    if (server) {
        snprintf(path, pathlen, "%s/server.pub", dir);
    } else {
        snprintf(path, pathlen, "%s/%s", dir, control ? "control" : "allowed");
        if (make_dir(path, 0755) != 0)
            return 1;
        snprintf(path, pathlen, "%s/%s/%s.pub", dir, control ? "control" : "allowed", name);
    }
    FILE *f = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 && errno == EEXIST) {
        char old[WIRE_Z85_KEY], err[WIRE_CURVE_PATH + 256];
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            wire_key_read_public(path, old, err, sizeof(err)) == 0 && strcmp(old, key) == 0) {
            *had = 1;
            return 0;
        }
        fprintf(stderr,
                "ulma-keys: %s exists and does not hold this key: not overwritten "
                "(remove it first to replace it)\n",
                path);
        return 1;
    }
    if (fd >= 0)
        f = fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "ulma-keys: cannot create %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    fchmod(fd, 0644);
    fprintf(f, "# ULMA CURVE public key of %s%s\n%s\n", server ? "the server " : "", name, key);
    if (fclose(f) != 0) {
        fprintf(stderr, "ulma-keys: cannot write %s: %s\n", path, strerror(errno));
        unlink(path);
        return 1;
    }
    return 0;
}

static int cmd_allow(const char *dir, const char *what, const char *as, int control, int server)
{
    char key[WIRE_Z85_KEY], err[WIRE_CURVE_PATH + 256];
    int bare = strcmp(what, "-") == 0;
    if (bare) {
        if (key_from_stdin(key) != 0)
            return 1;
    } else if (wire_key_read_public(what, key, err, sizeof(err)) != 0) {
        fprintf(stderr, "ulma-keys: %s\n", err);
        return 1;
    } else {
        bare = strcmp(what, key) == 0;
    }
    char name[256];
    if (as) {
        snprintf(name, sizeof(name), "%s", as);
    } else if (bare) {
        snprintf(name, sizeof(name), "key-%.8s", key);
        for (char *p = name + 4; *p; p++) /* Z85 has '/', '.' and others */
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
                *p = '_';
    } else {
        const char *b = strrchr(what, '/');
        snprintf(name, sizeof(name), "%s", b ? b + 1 : what);
        size_t n = strlen(name);
        if (n > 4 && strcmp(name + n - 4, ".pub") == 0)
            name[n - 4] = 0;
    }
    char path[WIRE_CURVE_PATH + 300];
    int had, rc = allow_key(dir, key, name, control, server, path, sizeof(path), &had);
    if (rc == 0)
        printf("%s\n", path);
    return rc;
}

/* ---- distribute ------------------------------------------------------------------- */

/* What distribute does to every host. */
typedef struct dist {
    const char *dir;             /* the head's key directory */
    char head_pub[WIRE_Z85_KEY]; /* its public key: the nodes' server key */
    char *rsh[DIST_RSH_MAX + 3]; /* CMD..., then HOST, COMMAND-LINE, NULL */
    int nrsh;                    /* words of CMD */
    const char *remote_dir;      /* RDIR, %h for HOST */
    const char *remote_keys;     /* ulma-keys on the nodes */
    int control;                 /* allow into control/ */
} dist_t;

/* A host name goes into a command line: letters, digits, . - _ : only,
 * and no leading '-' (an option to ssh) or '.' (a hidden file here). */
static int host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
        return 0;
    for (const char *p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '-' || *p == '_' || *p == ':'))
            return 0;
    return 1;
}

/* Append `s` single-quoted for a POSIX shell: a ' becomes '\''. */
static void sh_quote(sbuf_t *b, const char *s)
{
    sbuf_addc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            sbuf_adds(b, "'\\''");
        else
            sbuf_addc(b, *s);
    }
    sbuf_addc(b, '\'');
}

/* Run argv (argv[0] found in PATH) with `input` on its standard input and
 * its standard output into `out` (the first DIST_OUT_MAX bytes; *more is
 * set if there were more); its standard error is ours. The exit status,
 * 128 + N after signal N, or -1 if it could not be started (said on
 * stderr). */
static int run_child(char *const argv[], const char *input, sbuf_t *out, int *more)
{
    int in[2] = {-1, -1}, op[2] = {-1, -1}, status = -1;
    *more = 0;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(op, O_CLOEXEC) != 0) {
        fprintf(stderr, "ulma-keys: pipe: %s\n", strerror(errno));
        goto out;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t def;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0); /* dup2 clears O_CLOEXEC */
    posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    posix_spawnattr_init(&attr);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE); /* ignored here while writing, not in the child */
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    close(op[1]);
    in[0] = op[1] = -1;
    if (rc != 0) {
        fprintf(stderr, "ulma-keys: cannot run %s: %s\n", argv[0], strerror(rc));
        goto out;
    }
    /* at most a key's line: less than a pipe's buffer, so this never waits
     * for the child to read; a child that exits first gives EPIPE */
    for (size_t n = strlen(input), done = 0; done < n;) {
        ssize_t w = write(in[1], input + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        done += (size_t)w;
    }
    close(in[1]);
    in[1] = -1;
    char buf[1024];
    for (;;) {
        ssize_t r = read(op[0], buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        size_t keep = out->len < DIST_OUT_MAX ? DIST_OUT_MAX - out->len : 0;
        if ((size_t)r > keep)
            *more = 1;
        sbuf_add(out, buf, (size_t)r < keep ? (size_t)r : keep);
    }
    int ws;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "ulma-keys: waitpid: %s\n", strerror(errno));
            goto out;
        }
    }
    status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (op[i] >= 0)
            close(op[i]);
    }
    return status;
}

/* Run COMMAND-LINE on `host` through the remote shell. As run_child. */
static int dist_remote(dist_t *d, const char *host, const char *line, const char *input,
                       sbuf_t *out, int *more)
{
    d->rsh[d->nrsh] = (char *)host;
    d->rsh[d->nrsh + 1] = (char *)line;
    d->rsh[d->nrsh + 2] = NULL;
    return run_child(d->rsh, input, out, more);
}

/* The four steps on one host. 0, or -1 (said on stderr). */
static int dist_host(dist_t *d, const char *host)
{
    sbuf_t rdir = {0}, sub = {0}, inner = {0}, line = {0}, out = {0};
    int rc = -1, more, st, had;
    for (const char *p = d->remote_dir; *p; p++) {
        if (p[0] == '%' && p[1] == 'h') {
            sbuf_adds(&rdir, host);
            p++;
        } else {
            sbuf_addc(&rdir, *p);
        }
    }
    /* 1 and 2: the node's key pair, made unless it has one, and its public
     * key; in sh -c because the login shell on the node may be another */
    sbuf_printf(&sub, "%s/id.secret", rdir.data);
    sbuf_adds(&inner, "test -e ");
    sh_quote(&inner, sub.data);
    sbuf_adds(&inner, " || ");
    sh_quote(&inner, d->remote_keys);
    sbuf_adds(&inner, " new ");
    sh_quote(&inner, rdir.data);
    sbuf_adds(&inner, " --name ulma-agent@");
    sbuf_adds(&inner, host); /* checked: no shell characters */
    sbuf_adds(&inner, " >/dev/null && ");
    sh_quote(&inner, d->remote_keys);
    sbuf_adds(&inner, " show ");
    sh_quote(&inner, rdir.data);
    sbuf_adds(&line, "sh -c ");
    sh_quote(&line, inner.data);
    st = dist_remote(d, host, line.data, "", &out, &more);
    if (st != 0) {
        if (st > 0)
            fprintf(stderr,
                    "ulma-keys: %s: making or reading its key pair in %s: the remote "
                    "shell exited with status %d%s\n",
                    host, rdir.data, st, st == 255 ? " (the host cannot be reached?)" : "");
        goto done;
    }
    char key[WIRE_Z85_KEY];
    if (out.len && out.data[out.len - 1] == '\n')
        out.data[--out.len] = 0;
    if (more || !out.data || key_check(out.data, key) != 0) {
        fprintf(stderr,
                "ulma-keys: %s: the node's answer is not one public key (40 Z85 "
                "characters): refused\n",
                host);
        goto done;
    }
    /* 3: allowed here, the way allow does it */
    char path[WIRE_CURVE_PATH + 300];
    if (allow_key(d->dir, key, host, d->control, 0, path, sizeof(path), &had) != 0) {
        fprintf(stderr, "ulma-keys: %s: its key is not allowed\n", host);
        goto done;
    }
    /* 4: the head's key as the node's server key, on the standard input */
    sbuf_free(&line);
    sbuf_free(&out);
    sh_quote(&line, d->remote_keys);
    sbuf_adds(&line, " allow ");
    sh_quote(&line, rdir.data);
    sbuf_adds(&line, " - --server");
    char input[WIRE_Z85_KEY + 1];
    snprintf(input, sizeof(input), "%s\n", d->head_pub);
    st = dist_remote(d, host, line.data, input, &out, &more);
    if (st != 0) {
        if (st > 0)
            fprintf(stderr,
                    "ulma-keys: %s: giving it the server key (%s/server.pub): the remote "
                    "shell exited with status %d\n",
                    host, rdir.data, st);
        goto done;
    }
    printf("%s: %sallowed as %s, server key given\n", host, had ? "already " : "", path);
    fflush(stdout);
    rc = 0;
done:
    sbuf_free(&rdir);
    sbuf_free(&sub);
    sbuf_free(&inner);
    sbuf_free(&line);
    sbuf_free(&out);
    return rc;
}

static int cmd_distribute(const char *dir, const char *const *hosts, int nhosts, const char *rsh,
                          const char *remote_dir, const char *remote_keys, int control)
{
    dist_t d = {.dir = dir,
                .remote_dir = remote_dir ? remote_dir : DIST_REMOTE_DIR,
                .remote_keys = remote_keys ? remote_keys : "ulma-keys",
                .control = control};
    char *words = xstrdup(rsh ? rsh : "ssh");
    for (char *w = strtok(words, " \t"); w; w = strtok(NULL, " \t")) {
        if (d.nrsh == DIST_RSH_MAX) {
            fprintf(stderr, "ulma-keys: --rsh: more than %d words\n", DIST_RSH_MAX);
            free(words);
            return 2;
        }
        d.rsh[d.nrsh++] = w;
    }
    int rc = 2;
    if (!d.nrsh) {
        fprintf(stderr, "ulma-keys: --rsh: no command\n");
        goto out;
    }
    const char *check[] = {d.remote_dir, d.remote_keys};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(check[i]);
        for (size_t j = 0; j < n; j++)
            if ((unsigned char)check[i][j] < 0x20)
                n = 0;
        if (n == 0 || n >= WIRE_CURVE_PATH - 64) {
            fprintf(stderr, "ulma-keys: %s: empty, too long, or with control characters\n",
                    i ? "--remote-keys" : "--remote-dir");
            goto out;
        }
    }
    for (int i = 0; i < nhosts; i++) {
        if (!host_ok(hosts[i])) {
            fprintf(stderr,
                    "ulma-keys: distribute: '%s' is not a host name (letters, digits, "
                    "'.', '-', '_' and ':', not starting with '-' or '.')\n",
                    hosts[i]);
            goto out;
        }
    }
    rc = 1;
    char path[WIRE_CURVE_PATH + 16], sec[WIRE_Z85_KEY], err[WIRE_CURVE_PATH + 256];
    snprintf(path, sizeof(path), "%s/id.secret", dir);
    int r = wire_key_read_secret(path, d.head_pub, sec, err, sizeof(err));
    memset(sec, 0, sizeof(sec));
    if (r != 0) {
        fprintf(stderr, "ulma-keys: distribute: %s (the head's key pair: ulma-keys new %s)\n", err,
                dir);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN); /* a remote shell that exits early is a failed host */
    int failed = 0;
    sbuf_t names = {0}; /* the failed hosts, to run it again on them */
    for (int i = 0; i < nhosts; i++) {
        if (dist_host(&d, hosts[i]) != 0) {
            sbuf_printf(&names, " %s", hosts[i]);
            failed++;
        }
    }
    printf("%d host%s: %d done, %d failed\n", nhosts, nhosts == 1 ? "" : "s", nhosts - failed,
           failed);
    fflush(stdout);
    if (failed)
        fprintf(stderr, "ulma-keys: distribute: failed:%s\n", names.data);
    sbuf_free(&names);
    rc = failed ? 1 : 0;
out:
    free(words);
    return rc;
}

int main(int argc, char **argv)
{
    /* the options that take a value, and what their value is called */
    static const char *const vopt[] = {"--name", "--as", "--rsh", "--remote-dir", "--remote-keys"};
    static const char *const vname[] = {"NAME", "NAME", "CMD", "RDIR", "PATH"};
    enum { O_NAME, O_AS, O_RSH, O_RDIR, O_RKEYS, O_N };
    const char *val[O_N] = {0};
    const char **pos = xcalloc((size_t)argc, sizeof(*pos));
    int npos = 0, control = 0, server = 0, rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int v = 0;
        while (v < O_N && strcmp(a, vopt[v]) != 0)
            v++;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            rc = 0;
            goto out;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("ulma-keys %s\n", ULMA_VERSION_STRING);
            rc = 0;
            goto out;
        }
        if (v < O_N) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ulma-keys: %s needs %s\n", a, vname[v]);
                goto out;
            }
            val[v] = argv[++i];
        } else if (strcmp(a, "--control") == 0) {
            control = 1;
        } else if (strcmp(a, "--server") == 0) {
            server = 1;
        } else if (a[0] == '-' && a[1] && strlen(a) != WIRE_Z85_KEY - 1) { /* Z85 has '-' */
            fprintf(stderr, "ulma-keys: unknown option '%s' (see --help)\n", a);
            goto out;
        } else {
            pos[npos++] = a;
        }
    }
    if (!npos) {
        fprintf(stderr, "ulma-keys: no command: new, show, allow or distribute (see --help)\n");
        goto out;
    }
    const char *cmd = pos[0];
    int is_new = strcmp(cmd, "new") == 0, is_show = strcmp(cmd, "show") == 0;
    int is_allow = strcmp(cmd, "allow") == 0, is_dist = strcmp(cmd, "distribute") == 0;
    if (!is_new && !is_show && !is_allow && !is_dist) {
        fprintf(stderr,
                "ulma-keys: unknown command '%s': new, show, allow or distribute (see --help)\n",
                cmd);
        goto out;
    }
    if (is_dist ? npos < 3 : npos != (is_allow ? 3 : 2)) {
        fprintf(stderr, "ulma-keys: usage: ulma-keys %s\n",
                is_allow  ? "allow DIR KEY|FILE|- [--as NAME] [--control | --server]"
                : is_new  ? "new DIR [--name NAME]"
                : is_show ? "show DIR"
                          : "distribute DIR HOST... [--rsh CMD] [--remote-dir RDIR] "
                            "[--remote-keys PATH] [--control]");
        goto out;
    }
    if ((val[O_NAME] && !is_new) || ((val[O_AS] || server) && !is_allow) ||
        (control && !is_allow && !is_dist) || (control && server) ||
        ((val[O_RSH] || val[O_RDIR] || val[O_RKEYS]) && !is_dist)) {
        fprintf(stderr, "ulma-keys: %s: option not for this command (see --help)\n", cmd);
        goto out;
    }
    if (strlen(pos[1]) >= WIRE_CURVE_PATH - 64) {
        fprintf(stderr, "ulma-keys: DIR: path too long\n");
        goto out;
    }
    if (is_new)
        rc = cmd_new(pos[1], val[O_NAME]);
    else if (is_show)
        rc = cmd_show(pos[1]);
    else if (is_allow)
        rc = cmd_allow(pos[1], pos[2], val[O_AS], control, server);
    else
        rc = cmd_distribute(pos[1], pos + 2, npos - 2, val[O_RSH], val[O_RDIR], val[O_RKEYS],
                            control);
out:
    free(pos);
    return rc;
}
