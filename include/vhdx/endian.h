/*
 * Little-endian loads and stores for decoding VHDX structures
 *
 * VHDX is little-endian throughout.  Structures are decoded field by field
 * from byte buffers, so nothing depends on host alignment or packing.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_ENDIAN_H
#define VHDX_ENDIAN_H

#include <glib.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t vhdx_ld16(const void *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT16_FROM_LE(v);
}

static inline uint32_t vhdx_ld32(const void *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT32_FROM_LE(v);
}

static inline uint64_t vhdx_ld64(const void *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return GUINT64_FROM_LE(v);
}

static inline void vhdx_st16(void *p, uint16_t v)
{
    v = GUINT16_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void vhdx_st32(void *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

static inline void vhdx_st64(void *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, sizeof(v));
}

#endif /* VHDX_ENDIAN_H */
