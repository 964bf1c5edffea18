/* internal.h - what the ulma library's own files share, and nobody else. */
#ifndef ULMA_INTERNAL_H
#define ULMA_INTERNAL_H

#include <stdint.h>

#include "ulma/segment.h"

/* Slot i of our own segment (slot header, ring data after it), or NULL. */
uint8_t *ulma__segment_slot(ulma_segment_t *seg, uint32_t i);

#endif
