/* ulma_keys.c - ulma-keys: make a CURVE key pair into a key directory,
 * show it, let a peer's public key in (allowed/, control/) or name the
 * server a client talks to (server.pub). Every file it writes is written
 * once (O_EXCL) with its final mode. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wire/curve.h"

#ifndef ULMA_VERSION_STRING
#define ULMA_VERSION_STRING "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out, "NAME\n"
                 "    ulma-keys - CURVE key pairs and allowed keys of ULMA's network links\n\n"
                 "SYNOPSIS\n"
                 "    ulma-keys new DIR [--name NAME]\n"
                 "    ulma-keys show DIR\n"
                 "    ulma-keys allow DIR KEY|FILE [--as NAME] [--control | --server]\n\n"
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
                 "    allow DIR KEY|FILE\n"
                 "        Copy a public key (a file such as a peer's id.pub, or the 40\n"
                 "        characters of the key) into DIR/allowed/NAME.pub: the peer may\n"
                 "        connect and query. Prints the file written.\n\n"
                 "OPTIONS\n"
                 "    --name NAME\n"
                 "        new: who the key is for, written as a comment in both files\n"
                 "        (default: USER@HOST).\n"
                 "    --as NAME\n"
                 "        allow: the file name (NAME.pub) and the peer's name in the logs\n"
                 "        (default: FILE's name without .pub, or key-XXXXXXXX for a bare key).\n"
                 "    --control\n"
                 "        allow: into DIR/control/ instead: the peer may connect, query and\n"
                 "        switch profiling through the collector.\n"
                 "    --server\n"
                 "        allow: write DIR/server.pub, the key of the server this directory's\n"
                 "        clients connect to (the collector's id.pub for agents and\n"
                 "        dashboards), used when no --server-key is given.\n"
                 "    -h, --help\n"
                 "        Show this text.\n"
                 "    -V, --version\n"
                 "        Show the version.\n\n"
                 "EXAMPLES\n"
                 "    On the head node, the collector's keys:\n"
                 "      ulma-keys new /etc/ulma/curve --name collector@head\n"
                 "    On every node, the agent's keys, and the collector's public key:\n"
                 "      ulma-keys new /etc/ulma/curve\n"
                 "      ulma-keys allow /etc/ulma/curve head-id.pub --server\n"
                 "    Back on the head, every agent's and user's public key:\n"
                 "      ulma-keys allow /etc/ulma/curve node07-id.pub\n"
                 "      ulma-keys allow /etc/ulma/curve alice-id.pub --control\n"
                 "    Then: ulma-collector --curve-dir /etc/ulma/curve, ulma-agent --curve-dir\n"
                 "    /etc/ulma/curve --collector tcp://head:7710, clustertop --curve-dir\n"
                 "    ~/.config/ulma/curve --collector tcp://head:7711.\n\n"
                 "EXIT STATUS\n"
                 "    0 success; 1 a key could not be made, read or written; 2 a usage error.\n\n"
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

static int cmd_allow(const char *dir, const char *what, const char *as, int control, int server)
{
    char key[WIRE_Z85_KEY], err[WIRE_CURVE_PATH + 256];
    if (wire_key_read_public(what, key, err, sizeof(err)) != 0) {
        fprintf(stderr, "ulma-keys: %s\n", err);
        return 1;
    }
    char name[256];
    if (as) {
        snprintf(name, sizeof(name), "%s", as);
    } else if (strcmp(what, key) == 0) {
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
    if (!name[0] || strchr(name, '/') || name[0] == '.') {
        fprintf(stderr, "ulma-keys: --as: '%s' is not a file name\n", name);
        return 2;
    }
    char path[WIRE_CURVE_PATH + 300];
    if (server) {
        snprintf(path, sizeof(path), "%s/server.pub", dir);
    } else {
        snprintf(path, sizeof(path), "%s/%s", dir, control ? "control" : "allowed");
        if (make_dir(path, 0755) != 0)
            return 1;
        snprintf(path, sizeof(path), "%s/%s/%s.pub", dir, control ? "control" : "allowed", name);
    }
    FILE *f = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
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
    printf("%s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    const char *pos[4], *name = NULL, *as = NULL;
    int npos = 0, control = 0, server = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            printf("ulma-keys %s\n", ULMA_VERSION_STRING);
            return 0;
        }
        if (strcmp(a, "--name") == 0 || strcmp(a, "--as") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ulma-keys: %s needs NAME\n", a);
                return 2;
            }
            *(a[2] == 'n' ? &name : &as) = argv[++i];
        } else if (strcmp(a, "--control") == 0) {
            control = 1;
        } else if (strcmp(a, "--server") == 0) {
            server = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "ulma-keys: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (npos < 4) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "ulma-keys: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!npos) {
        fprintf(stderr, "ulma-keys: no command: new, show or allow (see --help)\n");
        return 2;
    }
    const char *cmd = pos[0];
    int want = strcmp(cmd, "allow") == 0 ? 3 : 2;
    if (strcmp(cmd, "new") != 0 && strcmp(cmd, "show") != 0 && strcmp(cmd, "allow") != 0) {
        fprintf(stderr, "ulma-keys: unknown command '%s': new, show or allow (see --help)\n", cmd);
        return 2;
    }
    if (npos != want) {
        fprintf(stderr, "ulma-keys: usage: ulma-keys %s\n",
                want == 3                 ? "allow DIR KEY|FILE [--as NAME] [--control | --server]"
                : strcmp(cmd, "new") == 0 ? "new DIR [--name NAME]"
                                          : "show DIR");
        return 2;
    }
    if ((name && strcmp(cmd, "new") != 0) || ((as || control || server) && want != 3) ||
        (control && server)) {
        fprintf(stderr, "ulma-keys: %s: option not for this command (see --help)\n", cmd);
        return 2;
    }
    if (strlen(pos[1]) >= WIRE_CURVE_PATH - 64) {
        fprintf(stderr, "ulma-keys: DIR: path too long\n");
        return 2;
    }
    if (strcmp(cmd, "new") == 0)
        return cmd_new(pos[1], name);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(pos[1]);
    return cmd_allow(pos[1], pos[2], as, control, server);
}
