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
 * The data a merge copies into the parent is what the topmost image of
 * the merge shows (the image the merge reads from, or one above it), so
 * the chain still reads the same only when it is read through that image.
 * So before a parent takes a new DataWriteGuid, it records, for each
 * child open on it at that moment, the child's Page 83 identity, the
 * linkage GUID the child accepted it by, and the Page 83 identity of the
 * topmost image above the child (the "via").  The child is then still
 * accepted, but only in a chain read through the via image (or when it
 * is the via itself); a sibling of any image in the merge is refused.
 * The record is a metadata item that other implementations ignore (not
 * IsRequired); it is rewritten at every change of DataWriteGuid, and
 * pruned when a granted child is no longer open on the parent while the
 * parent is written to (the merge is over).  This lets a merge that is
 * cancelled, or killed part-way, leave every image openable with the
 * same content, and a new merge finish the job.
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
    VhdxGuid via;               /* Page 83 data of the image to read through */
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
bool vhdx_grants_add(VhdxGrants *g, const VhdxGrant *grant);

/* Whether @g holds @grant */
bool vhdx_grants_contain(const VhdxGrants *g, const VhdxGrant *grant);

/*
 * The images through which @g lets @child keep @linkage: fills @vias with
 * up to VHDX_GRANTS_MAX of them and returns how many (0: not granted).
 */
unsigned vhdx_grants_vias(const VhdxGrants *g, const VhdxGuid *child,
                          const VhdxGuid *linkage, VhdxGuid *vias);

/* The grants of @a that @b holds too */
void vhdx_grants_intersect(const VhdxGrants *a, const VhdxGrants *b,
                           VhdxGrants *out);

bool vhdx_grants_equal(const VhdxGrants *a, const VhdxGrants *b);

/*
 * The grants of @g that do not name @via: once the image @via reads the
 * granting parent directly (the merge that granted them is over), no
 * read through @via passes a granted child any more.
 */
void vhdx_grants_drop_via(const VhdxGrants *g, const VhdxGuid *via,
                          VhdxGrants *out);

#endif /* VHDX_GRANT_H */
