/*
 * VHDX parents: where a differencing image's parent is, and which one
 *
 * The parent locator names the parent several ways (a path relative to
 * the child, a Windows absolute path, a volume path) and records the
 * parent's DataWriteGuid at the time the child was made (the linkage).
 * The linkage rule decides whether an image may be a child's parent.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_PARENT_H
#define VHDX_PARENT_H

#include "vhdx/grant.h"
#include "vhdx/locator.h"

#define VHDX_KEY_PARENT_LINKAGE      "parent_linkage"
#define VHDX_KEY_PARENT_LINKAGE2     "parent_linkage2"
#define VHDX_KEY_RELATIVE_PATH       "relative_path"
#define VHDX_KEY_VOLUME_PATH         "volume_path"
#define VHDX_KEY_ABSOLUTE_WIN32_PATH "absolute_win32_path"

/* The deepest chain opened: a child counts 1, its parent 2, ... */
#define VHDX_MAX_CHAIN_DEPTH         256

typedef struct VhdxParentCandidate {
    /* A host path, absolute or child-relative, or a QEMU filename */
    char *path;
    const char *source;         /* the locator key it came from */
} VhdxParentCandidate;

typedef struct VhdxParentRef {
    VhdxGuid linkage;
    bool has_linkage2;
    VhdxGuid linkage2;
    GArray *candidates;         /* VhdxParentCandidate, in trying order */
} VhdxParentRef;

/*
 * Whether @name is a QEMU filename with a protocol prefix ("json:{...}",
 * "nbd://host/export") rather than a host path: a prefix of two or more
 * characters before the first ':' and no separator before it ("C:\x" is
 * a Windows path).  Such a name is used as it is, never joined to a
 * directory.
 */
bool vhdx_parent_name_is_qemu_filename(const char *name);

/*
 * Reads a decoded VHDX parent locator: the linkage GUIDs and the places
 * to look for the parent, in order: relative_path (backslashes turned
 * into slashes; a QEMU filename as it is) next to the child; the file
 * names of absolute_win32_path and volume_path next to the child; then
 * those two paths as they are.  Candidate paths are relative to the
 * child's directory unless absolute.
 */
int vhdx_parent_ref_init(VhdxParentRef *ref, const VhdxLocator *loc,
                         GError **errp);
void vhdx_parent_ref_clear(VhdxParentRef *ref);

/* True if @data_write_guid is the parent @ref was made on */
bool vhdx_parent_ref_matches(const VhdxParentRef *ref,
                             const VhdxGuid *data_write_guid);

/* The parent a child is made on, or is pointed at by a rebase */
typedef struct VhdxParentSpec {
    /*
     * The parent as QEMU names it: a host path (absolute, or relative to
     * the working directory), or a QEMU filename, recorded as it is
     */
    const char *name;
    /* The child's directory: relative_path starts there */
    const char *child_dir;
    /* For a QEMU filename, the host file beneath it, or NULL */
    const char *host_path;
    VhdxGuid data_write_guid;
    uint32_t logical_sector_size;
} VhdxParentSpec;

/*
 * Builds the locator a child of @parent records: parent_linkage (lower
 * case, in braces), relative_path from the child's directory (Windows
 * separators; a QEMU filename as it is) and the absolute path of the
 * parent's host file (when there is one) as absolute_win32_path.
 */
void vhdx_parent_locator_build(VhdxLocator *loc, const VhdxParentSpec *parent);

/* ---- the linkage rule ---- */

typedef enum VhdxLinkageVerdict {
    /* The parent's DataWriteGuid is one the child was made on */
    VHDX_LINKAGE_ACCEPT,
    /* A grant keeps the child, and it is read through a via image */
    VHDX_LINKAGE_ACCEPT_GRANTED,
    /*
     * A grant keeps the child, but who reads it is not known yet (a node
     * attached on its own): each read through the parent must come
     * through a via image
     */
    VHDX_LINKAGE_ACCEPT_CHECKING_READS,
    /*
     * Stale, but the images between are being dropped after their data
     * was copied down (commit, stream); the linkage is rewritten next
     */
    VHDX_LINKAGE_ACCEPT_BYPASSING,
    /* Stale, accepted because the caller asked not to enforce linkage */
    VHDX_LINKAGE_ACCEPT_STALE,
    /* Stale: the parent was written to after the child was made */
    VHDX_LINKAGE_REFUSE_STALE,
    /* Granted only through images this chain does not pass through */
    VHDX_LINKAGE_REFUSE_NOT_VIA,
} VhdxLinkageVerdict;

typedef struct VhdxLinkageQuery {
    const VhdxParentRef *ref;       /* the child's locator */
    const VhdxGuid *child;          /* the child's Page 83 identity */
    const VhdxGuid *parent_dwg;     /* the parent's DataWriteGuid */
    const VhdxGrants *parent_grants;
    bool enforce;                   /* refuse a stale parent */
    bool bypassing;                 /* see VHDX_LINKAGE_ACCEPT_BYPASSING */
    /*
     * Whether every reader of the child reads it through one of @vias:
     * 1 yes, 0 no, -1 no reader is known yet
     */
    int (*reads_via)(void *opaque, const VhdxGuid *vias, unsigned n);
    void *opaque;
} VhdxLinkageQuery;

typedef struct VhdxLinkage {
    VhdxLinkageVerdict verdict;
    /* The linkage value the child keeps (ref->linkage if none holds) */
    VhdxGuid kept;
    /* Granted: the images the child must be read through (none: any) */
    unsigned n_vias;
    VhdxGuid vias[VHDX_GRANTS_MAX];
} VhdxLinkage;

/*
 * Whether the parent accepts the child by its DataWriteGuid or by a
 * grant, whoever reads it: fills @out (kept, vias) either way.
 */
bool vhdx_linkage_holds(const VhdxLinkageQuery *q, VhdxLinkage *out);

/*
 * The linkage rule: whether the parent of @q may be attached under the
 * child, in this order: a matching DataWriteGuid; a grant, with the
 * child read through a via image (or being one); images in between being
 * dropped; linkage not enforced; else refused.
 */
VhdxLinkageVerdict vhdx_linkage_decide(const VhdxLinkageQuery *q,
                                       VhdxLinkage *out);

/* Whether @v lets the parent be attached */
static inline bool vhdx_linkage_accepted(VhdxLinkageVerdict v)
{
    return v < VHDX_LINKAGE_REFUSE_STALE;
}

/*
 * Says why the child @child_name does not or may not match the parent
 * @parent_name, for the verdicts ACCEPT_STALE (a warning) and the
 * refusals: one phrase in *@message, the explanation in *@hint (each a
 * new string; *@hint may be NULL).
 */
void vhdx_linkage_describe(const VhdxLinkageQuery *q, const VhdxLinkage *l,
                           const char *child_name, const char *parent_name,
                           char **message, char **hint);

#endif /* VHDX_PARENT_H */
