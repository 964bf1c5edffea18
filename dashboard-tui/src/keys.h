/*
 * keys.h - keys as clustertop sees them (crt.c translates the
 * terminal's), and the one table that binds them to actions.
 */
#ifndef CT_KEYS_H
#define CT_KEYS_H

#include "app.h"

/* Keys: a Unicode code point, or one of these (beyond Unicode). */
enum {
    K_NONE = -1,
    K_UP = 0x110001,
    K_DOWN,
    K_LEFT,
    K_RIGHT,
    K_PGUP,
    K_PGDN,
    K_HOME,
    K_END,
    K_ENTER,
    K_ESC,
    K_BACKSPACE,
    K_DELETE,
    K_TAB,
    K_BTAB,
    K_F1,
    K_F5 = K_F1 + 4,
    K_F6,
    K_F10 = K_F1 + 9,
    K_RESIZE,
    K_INTERRUPT, /* a signal asked us to stop */
};
#define K_CTRL(c) ((c)&0x1f)

/* Bind every key (the one place where keys meet actions). */
void keys_bind(void);
/* The action of a key, ACT_NONE if unbound. */
action_t keys_action(int key);
/* The help page: line i of the key table ("key(s)", "what it does"),
 * 0 when past the end. */
int keys_help_line(int i, const char **keys, const char **what);

#endif /* CT_KEYS_H */
