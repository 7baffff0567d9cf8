/*
 * Linkage grants: a parent vouching for children across a merge
 *
 * A child records its parent's DataWriteGuid (parent_linkage) and is
 * refused once the parent's guest-visible content changes, because the
 * parent then gets a new DataWriteGuid.  Merging a child's data into its
 * parent changes the parent in exactly that way, yet only at sectors the
 * child and the layers above it cover: for the images in the merge the
 * chain still reads the same at every instant, while any other child of
 * the parent (a sibling) would read changed data.
 *
 * So before a parent takes a new DataWriteGuid, it records, for each
 * child that is open on it at that moment (the images in the merge), the
 * child's Page 83 identity and the linkage GUID the child accepted it
 * by.  Such a child is then still accepted, a sibling is not.  The record
 * is a metadata item that other implementations ignore (not IsRequired);
 * it is rewritten at every change of DataWriteGuid, so it lasts until the
 * parent is next written to.  This lets a merge that is cancelled, or
 * killed part-way, leave every image openable with the same content, and
 * a new merge finish the job.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_GRANT_H
#define VHDX_GRANT_H

#include "vhdx/guid.h"

/* A merge never has more children open on one parent than this */
#define VHDX_GRANTS_MAX 64

typedef struct VhdxGrant {
    VhdxGuid child;             /* the child's Page 83 data */
    VhdxGuid linkage;           /* the parent GUID it keeps */
} VhdxGrant;

typedef struct VhdxGrants {
    uint32_t count;
    VhdxGrant entries[VHDX_GRANTS_MAX];
} VhdxGrants;

/* The metadata item holding the grants */
extern const VhdxGuid vhdx_guid_linkage_grants;

/*
 * Decodes the item.  An item this version cannot read is treated as
 * holding no grants (false): like any non-required item it is only a
 * hint, and refusing a child is the safe side.
 */
bool vhdx_grants_decode(const uint8_t *item, uint32_t len, VhdxGrants *g);

/* Encodes @g as a newly allocated item of *@len bytes */
uint8_t *vhdx_grants_encode(const VhdxGrants *g, uint32_t *len);

/* Adds a grant unless it is there already; false when @g is full */
bool vhdx_grants_add(VhdxGrants *g, const VhdxGuid *child,
                     const VhdxGuid *linkage);

/* Whether @g lets @child keep @linkage */
bool vhdx_grants_find(const VhdxGrants *g, const VhdxGuid *child,
                      const VhdxGuid *linkage);

bool vhdx_grants_equal(const VhdxGrants *a, const VhdxGrants *b);

#endif /* VHDX_GRANT_H */
