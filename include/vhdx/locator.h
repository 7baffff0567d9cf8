/*
 * VHDX parent locator: UTF-16LE key/value pairs naming a parent
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_LOCATOR_H
#define VHDX_LOCATOR_H

#include "vhdx/guid.h"

typedef struct VhdxLocatorEntry {
    char *key;      /* UTF-8 */
    char *value;    /* UTF-8 */
} VhdxLocatorEntry;

typedef struct VhdxLocator {
    VhdxGuid type;
    size_t count;
    VhdxLocatorEntry *entries;
} VhdxLocator;

/*
 * Decodes a parent locator item of @len bytes: header, entry count,
 * every key and value inside the item, non-empty, valid UTF-16LE, keys
 * unique.
 */
int vhdx_locator_decode(const uint8_t *buf, size_t len, VhdxLocator *loc,
                        GError **errp);

/* Encodes @loc into a newly allocated item stored in *@buf, *@len */
int vhdx_locator_encode(const VhdxLocator *loc, uint8_t **buf, size_t *len,
                        GError **errp);

/* The value of @key (keys compare ASCII case-insensitively), or NULL */
const char *vhdx_locator_get(const VhdxLocator *loc, const char *key);

/* Adds @key or replaces its value */
void vhdx_locator_set(VhdxLocator *loc, const char *key, const char *value);

void vhdx_locator_clear(VhdxLocator *loc);

#endif /* VHDX_LOCATOR_H */
