/*
 * VHDX parents: where a differencing image's parent is, and which one
 *
 * The parent locator names the parent several ways (a path relative to
 * the child, a Windows absolute path, a volume path) and records the
 * parent's DataWriteGuid at the time the child was made (the linkage).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_PARENT_H
#define VHDX_PARENT_H

#include "vhdx/locator.h"

#define VHDX_KEY_PARENT_LINKAGE      "parent_linkage"
#define VHDX_KEY_PARENT_LINKAGE2     "parent_linkage2"
#define VHDX_KEY_RELATIVE_PATH       "relative_path"
#define VHDX_KEY_VOLUME_PATH         "volume_path"
#define VHDX_KEY_ABSOLUTE_WIN32_PATH "absolute_win32_path"

/* The deepest chain opened: a child counts 1, its parent 2, ... */
#define VHDX_MAX_CHAIN_DEPTH         256

typedef struct VhdxParentCandidate {
    char *path;                 /* a host path, absolute or child-relative */
    const char *source;         /* the locator key it came from */
} VhdxParentCandidate;

typedef struct VhdxParentRef {
    VhdxGuid linkage;
    bool has_linkage2;
    VhdxGuid linkage2;
    GArray *candidates;         /* VhdxParentCandidate, in trying order */
} VhdxParentRef;

/*
 * Reads a decoded VHDX parent locator: the linkage GUIDs and the places
 * to look for the parent, in order: relative_path (backslashes turned
 * into slashes) next to the child; the file names of absolute_win32_path
 * and volume_path next to the child; then those two paths as they are.
 * Candidate paths are relative to the child's directory unless absolute.
 */
int vhdx_parent_ref_init(VhdxParentRef *ref, const VhdxLocator *loc,
                         GError **errp);
void vhdx_parent_ref_clear(VhdxParentRef *ref);

/* True if @data_write_guid is the parent @ref was made on */
bool vhdx_parent_ref_matches(const VhdxParentRef *ref,
                             const VhdxGuid *data_write_guid);

/*
 * Builds the locator a new child of @parent_path records: linkage (lower
 * case, in braces), relative_path from @child_dir (Windows separators) and
 * the absolute path of the parent.
 */
void vhdx_parent_locator_build(VhdxLocator *loc, const char *parent_path,
                               const char *child_dir,
                               const VhdxGuid *data_write_guid);

#endif /* VHDX_PARENT_H */
