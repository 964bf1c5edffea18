/* view.c - targets, and the drill-down a view asks for (view.h). */
#include "view.h"

#include <stdio.h>
#include <string.h>

/* ---- targets --------------------------------------------------------------------------- */

void target_fix(target_t *t)
{
    t->scope.node = t->node;
    t->scope.job = t->job;
}

static void target_init(target_t *t)
{
    memset(t, 0, sizeof(*t));
    ulma__wire__scope__init(&t->scope);
    t->scope.rank = -1;
    target_fix(t);
}

void target_cluster(target_t *t)
{
    target_init(t);
    t->scope.level = ULMA__WIRE__SCOPE__LEVEL__CLUSTER;
    snprintf(t->label, sizeof(t->label), "the cluster");
}

void target_node(target_t *t, const char *node)
{
    target_init(t);
    t->scope.level = ULMA__WIRE__SCOPE__LEVEL__NODE;
    snprintf(t->node, sizeof(t->node), "%s", node ? node : "");
    snprintf(t->label, sizeof(t->label), "node %s", t->node);
}

void target_job(target_t *t, const char *job)
{
    target_init(t);
    t->scope.level = ULMA__WIRE__SCOPE__LEVEL__JOB;
    snprintf(t->job, sizeof(t->job), "%s", job ? job : "");
    snprintf(t->label, sizeof(t->label), "job %s", t->job[0] ? t->job : "(none)");
}

void target_rank(target_t *t, const char *node, int32_t pid, uint64_t start, int32_t rank,
                 const char *job)
{
    target_init(t);
    t->scope.level = ULMA__WIRE__SCOPE__LEVEL__RANK;
    snprintf(t->node, sizeof(t->node), "%s", node ? node : "");
    snprintf(t->job, sizeof(t->job), "%s", job ? job : "");
    t->scope.pid = pid;
    t->scope.start_time = start;
    t->scope.rank = rank;
    if (pid && rank >= 0)
        snprintf(t->label, sizeof(t->label), "rank %d (%s%spid %d)", rank, t->node,
                 t->node[0] ? " " : "", pid);
    else if (pid)
        snprintf(t->label, sizeof(t->label), "process %s%s%d", t->node, t->node[0] ? "/" : "", pid);
    else
        snprintf(t->label, sizeof(t->label), "rank %d of job %s", rank, t->job);
    /* a rank named by job and rank number: no pid in the scope */
    if (!pid)
        t->scope.node = t->node[0] ? t->node : NULL;
}

/* ---- drill-down --------------------------------------------------------------------------- */

void view_push(view_env_t *e, screen_kind_t kind, const target_t *t, const char *func)
{
    e->push.set = 1;
    e->push.kind = kind;
    e->push.t = *t;
    target_fix(&e->push.t);
    snprintf(e->push.func, sizeof(e->push.func), "%s", func ? func : "");
}
