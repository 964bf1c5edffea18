/*
 * model.h - what clustertop knows, with no terminal in it: the answers
 * fetched (one feed per question a view asks), the connection's state,
 * the header's smoothed figures and history, and sortable lists whose
 * order is stable and whose selection follows its item across refreshes.
 *
 * Answers come from a model_ask_fn: the query client (wire/client.h) in
 * the program, synthetic Replies in the benchmark and the tests.
 */
#ifndef CT_MODEL_H
#define CT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* Ask `q`; 0 with *out set (caller owns it, even when !ok), or -errno
 * with a sentence in err (no answer: the peer is gone, or slow). */
typedef int (*model_ask_fn)(void *ctx, Ulma__Wire__Query *q, int timeout_ms,
                            Ulma__Wire__Reply **out, char *err, size_t errlen);

/* The last answer to one question. */
typedef struct feed {
    Ulma__Wire__Reply *reply; /* owned; NULL before the first answer */
    uint64_t at_ns;           /* when it came (monotonic clock) */
    uint64_t at_wall_ns;
    char error[512]; /* the error answer, or why there was none */
    int failed;      /* the last attempt got no answer: reply is older */
} feed_t;

void feed_free(feed_t *f);
/* The reply when it is a good answer, else NULL. */
const Ulma__Wire__Reply *feed_ok(const feed_t *f);

#define MODEL_HISTORY 512

typedef struct model {
    model_ask_fn ask;
    void *ctx;
    int timeout_ms;
    uint32_t window; /* Query.window: seconds rates are taken over */

    /* the connection as the last question found it */
    int up;              /* answered */
    uint32_t failures;   /* questions unanswered in a row */
    uint64_t down_since; /* monotonic ns of the first of them */
    uint64_t last_answer_wall_ns;
    char error[512];

    feed_t summary;
    /* the header's events/s: exponentially smoothed over `window`, and
     * its history when the source keeps none (an agent) */
    double events_smooth;
    uint64_t events_at_ns;
    float hist[MODEL_HISTORY];
    uint32_t nhist;
    uint64_t questions, answers;
} model_t;

/* Caller owns the return value. */
model_t *model_new(model_ask_fn ask, void *ctx, int timeout_ms, uint32_t window);
void model_destroy(model_t **m_p);

/* Ask `q` (window filled in when 0) and keep the answer in `f`. Returns
 * 0 when answered (f->reply replaced; it may be an error answer), or -1
 * when not (f keeps its last answer, f->failed set, the model's
 * connection state says why). */
int model_fetch(model_t *m, feed_t *f, Ulma__Wire__Query *q);

/* The header: SUMMARY with `points` of history. */
int model_fetch_summary(model_t *m, uint32_t points);
/* The cluster activity to draw: the source's history if it sent one,
 * else the model's own. */
const float *model_spark(const model_t *m, uint32_t *n);

/* A query of `kind` about `scope` (not copied: it must outlive q). */
void model_query(Ulma__Wire__Query *q, Ulma__Wire__Kind kind, Ulma__Wire__Scope *scope);

/* ---- sortable lists ----------------------------------------------------------------- */

/* Order of two items by column `col`: < 0 when a comes first. */
typedef int (*mlist_cmp_fn)(const void *a, const void *b, int col, const void *ctx);

typedef struct mlist_entry {
    const void *item;
    char *key; /* identity: the tie-break and what the selection follows */
} mlist_entry_t;

typedef struct mlist {
    mlist_entry_t *e;
    uint32_t n, cap;
    int col;       /* sort column */
    int reverse;   /* the column's order reversed */
    uint32_t sel;  /* selected entry */
    uint32_t top;  /* first entry shown */
    char *sel_key; /* the selected entry's key, kept across rebuilds */
    mlist_cmp_fn cmp;
    const void *ctx;
} mlist_t;

void mlist_init(mlist_t *l, mlist_cmp_fn cmp, int col);
void mlist_free(mlist_t *l);
/* Start a rebuild: no entries (the selection's key is kept). */
void mlist_clear(mlist_t *l);
/* Add an item and its identity (copied). */
void mlist_add(mlist_t *l, const void *item, const char *key);
/* Sort (by the column, ties by key: the order never flips between equal
 * items) and put the selection back on the item with its key (else keep
 * its position, bounded). */
void mlist_sort(mlist_t *l);
/* Move the selection by `delta` (bounded); to the first or last entry. */
void mlist_move(mlist_t *l, int delta);
void mlist_home(mlist_t *l);
void mlist_end(mlist_t *l);
/* Keep the selection among `visible` rows shown from l->top. */
void mlist_scroll(mlist_t *l, uint32_t visible);
const void *mlist_selected(const mlist_t *l);
/* Select the entry with this key, if any. */
void mlist_select_key(mlist_t *l, const char *key);

#endif /* CT_MODEL_H */
