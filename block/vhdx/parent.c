/*
 * VHDX parents: locating them and recognizing them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/error.h"
#include "vhdx/parent.h"

#include <errno.h>
#include <string.h>

bool vhdx_parent_name_is_qemu_filename(const char *name)
{
    size_t prefix = strcspn(name, ":/\\");

    return name[prefix] == ':' && prefix >= 2;
}

/* A Windows path with slashes: "..\a\b.vhdx" becomes "../a/b.vhdx" */
static char *path_from_windows(const char *win)
{
    char *p = g_strdup(win);

    g_strdelimit(p, "\\", '/');
    return p;
}

/* The last component of a Windows or POSIX path */
static char *windows_basename(const char *win)
{
    g_autofree char *posix = path_from_windows(win);
    const char *slash = strrchr(posix, '/');
    const char *name = slash ? slash + 1 : posix;

    /* "C:name" has no slash but a drive */
    if (!slash && strlen(name) > 2 && name[1] == ':') {
        name += 2;
    }
    return g_strdup(name);
}

static void add_candidate(GArray *list, char *path, const char *source)
{
    VhdxParentCandidate c = { .path = path, .source = source };

    if (!path || !*path) {
        g_free(path);
        return;
    }
    /* ".\x" and "x" are the same place next to the child */
    while (g_str_has_prefix(c.path, "./")) {
        memmove(c.path, c.path + 2, strlen(c.path + 2) + 1);
    }
    for (guint i = 0; i < list->len; i++) {
        if (!strcmp(g_array_index(list, VhdxParentCandidate, i).path,
                    c.path)) {
            g_free(c.path);
            return;
        }
    }
    g_array_append_val(list, c);
}

static void candidate_clear(gpointer p)
{
    g_free(((VhdxParentCandidate *)p)->path);
}

static int parse_linkage(const VhdxLocator *loc, const char *key,
                         VhdxGuid *guid, bool *found, GError **errp)
{
    const char *value = vhdx_locator_get(loc, key);

    *found = value != NULL;
    if (value && !vhdx_guid_parse(value, guid)) {
        return vhdx_error(errp, EINVAL, "VHDX parent locator: %s '%s' is "
                          "not a GUID", key, value);
    }
    return 0;
}

int vhdx_parent_ref_init(VhdxParentRef *ref, const VhdxLocator *loc,
                         GError **errp)
{
    const char *rel = vhdx_locator_get(loc, VHDX_KEY_RELATIVE_PATH);
    const char *abs = vhdx_locator_get(loc, VHDX_KEY_ABSOLUTE_WIN32_PATH);
    const char *vol = vhdx_locator_get(loc, VHDX_KEY_VOLUME_PATH);
    bool found;
    int ret;

    memset(ref, 0, sizeof(*ref));
    if (!vhdx_guid_equal(&loc->type, &vhdx_guid_vhdx_locator_type)) {
        char type[VHDX_GUID_STRING_LEN];

        vhdx_guid_format(&loc->type, type);
        return vhdx_error(errp, ENOTSUP, "VHDX parent locator: type %s is "
                          "not the VHDX parent locator type", type);
    }
    ret = parse_linkage(loc, VHDX_KEY_PARENT_LINKAGE, &ref->linkage, &found,
                        errp);
    if (ret == 0 && !found) {
        ret = vhdx_error(errp, EINVAL, "VHDX parent locator: no %s entry",
                         VHDX_KEY_PARENT_LINKAGE);
    }
    if (ret == 0) {
        ret = parse_linkage(loc, VHDX_KEY_PARENT_LINKAGE2, &ref->linkage2,
                            &ref->has_linkage2, errp);
    }
    if (ret < 0) {
        return ret;
    }
    ref->candidates = g_array_new(FALSE, FALSE, sizeof(VhdxParentCandidate));
    g_array_set_clear_func(ref->candidates, candidate_clear);
    if (rel) {
        add_candidate(ref->candidates,
                      vhdx_parent_name_is_qemu_filename(rel) ?
                      g_strdup(rel) : path_from_windows(rel),
                      VHDX_KEY_RELATIVE_PATH);
    }
    if (abs) {
        add_candidate(ref->candidates, windows_basename(abs),
                      "file name of " VHDX_KEY_ABSOLUTE_WIN32_PATH);
    }
    if (vol) {
        add_candidate(ref->candidates, windows_basename(vol),
                      "file name of " VHDX_KEY_VOLUME_PATH);
    }
    if (abs) {
        add_candidate(ref->candidates, path_from_windows(abs),
                      VHDX_KEY_ABSOLUTE_WIN32_PATH);
    }
    if (vol) {
        add_candidate(ref->candidates, path_from_windows(vol),
                      VHDX_KEY_VOLUME_PATH);
    }
    if (!ref->candidates->len) {
        vhdx_parent_ref_clear(ref);
        return vhdx_error(errp, EINVAL, "VHDX parent locator: no %s, %s or "
                          "%s entry says where the parent is",
                          VHDX_KEY_RELATIVE_PATH,
                          VHDX_KEY_ABSOLUTE_WIN32_PATH,
                          VHDX_KEY_VOLUME_PATH);
    }
    return 0;
}

void vhdx_parent_ref_clear(VhdxParentRef *ref)
{
    if (ref->candidates) {
        g_array_free(ref->candidates, TRUE);
    }
    memset(ref, 0, sizeof(*ref));
}

bool vhdx_parent_ref_matches(const VhdxParentRef *ref,
                             const VhdxGuid *data_write_guid)
{
    return vhdx_guid_equal(&ref->linkage, data_write_guid) ||
           (ref->has_linkage2 &&
            vhdx_guid_equal(&ref->linkage2, data_write_guid));
}

/* @target relative to the directory @from (both absolute, canonical) */
static char *relative_path(const char *target, const char *from)
{
    g_auto(GStrv) t = g_strsplit(target, "/", -1);
    g_auto(GStrv) f = g_strsplit(from, "/", -1);
    GString *out = g_string_new(NULL);
    guint common = 0;

    while (t[common] && f[common] && !strcmp(t[common], f[common])) {
        common++;
    }
    for (guint i = common; f[i]; i++) {
        if (*f[i]) {
            g_string_append(out, "../");
        }
    }
    for (guint i = common; t[i]; i++) {
        g_string_append(out, t[i]);
        if (t[i + 1]) {
            g_string_append_c(out, '/');
        }
    }
    return g_string_free(out, FALSE);
}

/* The relative_path value Hyper-V writes: .\name or ..\dir\name */
static char *windows_relative_path(const char *parent, const char *child_dir)
{
    g_autofree char *abs_dir = g_canonicalize_filename(child_dir, NULL);
    g_autofree char *rel = relative_path(parent, abs_dir);
    char *win = g_str_has_prefix(rel, "../") ? g_strdup(rel) :
                g_strdup_printf("./%s", rel);

    g_strdelimit(win, "/", '\\');
    return win;
}

void vhdx_parent_locator_build(VhdxLocator *loc, const VhdxParentSpec *parent)
{
    bool qemu_name = vhdx_parent_name_is_qemu_filename(parent->name);
    g_autofree char *host = NULL;
    g_autofree char *linkage = NULL;
    char guid[VHDX_GUID_STRING_LEN];

    memset(loc, 0, sizeof(*loc));
    loc->type = vhdx_guid_vhdx_locator_type;
    vhdx_guid_format(&parent->data_write_guid, guid);
    linkage = g_strdup_printf("{%s}", guid);
    vhdx_locator_set(loc, VHDX_KEY_PARENT_LINKAGE, linkage);
    if (!qemu_name) {
        host = g_canonicalize_filename(parent->name, NULL);
    } else if (parent->host_path) {
        host = g_canonicalize_filename(parent->host_path, NULL);
    }
    if (qemu_name) {
        /* Only QEMU can follow it; other readers use the host path */
        vhdx_locator_set(loc, VHDX_KEY_RELATIVE_PATH, parent->name);
    } else {
        g_autofree char *rel = windows_relative_path(host,
                                                     parent->child_dir);

        vhdx_locator_set(loc, VHDX_KEY_RELATIVE_PATH, rel);
    }
    if (host) {
        vhdx_locator_set(loc, VHDX_KEY_ABSOLUTE_WIN32_PATH, host);
    }
}

/* ---- the linkage rule ---- */

static bool guid_in(const VhdxGuid *guid, const VhdxGuid *set, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (vhdx_guid_equal(guid, &set[i])) {
            return true;
        }
    }
    return false;
}

bool vhdx_linkage_holds(const VhdxLinkageQuery *q, VhdxLinkage *out)
{
    const VhdxGuid *values[2] = {
        &q->ref->linkage,
        q->ref->has_linkage2 ? &q->ref->linkage2 : NULL,
    };

    memset(out, 0, sizeof(*out));
    out->kept = q->ref->linkage;
    if (vhdx_parent_ref_matches(q->ref, q->parent_dwg)) {
        out->verdict = VHDX_LINKAGE_ACCEPT;
        out->kept = *q->parent_dwg;
        return true;
    }
    for (int i = 0; i < 2; i++) {
        if (!values[i]) {
            continue;
        }
        out->n_vias = vhdx_grants_vias(q->parent_grants, q->child,
                                       values[i], out->vias);
        if (out->n_vias) {
            out->verdict = VHDX_LINKAGE_ACCEPT_GRANTED;
            out->kept = *values[i];
            return true;
        }
    }
    out->verdict = VHDX_LINKAGE_REFUSE_STALE;
    return false;
}

/* A grant holds: the child must be read through one of its via images */
static VhdxLinkageVerdict linkage_decide_granted(const VhdxLinkageQuery *q,
                                                 VhdxLinkage *l)
{
    int via;

    /* The merge read from the child itself: nothing more to ask */
    if (guid_in(q->child, l->vias, l->n_vias)) {
        l->n_vias = 0;
        return VHDX_LINKAGE_ACCEPT_GRANTED;
    }
    via = q->reads_via ? q->reads_via(q->opaque, l->vias, l->n_vias) : 0;
    if (via < 0) {
        return VHDX_LINKAGE_ACCEPT_CHECKING_READS;
    }
    return via ? VHDX_LINKAGE_ACCEPT_GRANTED : VHDX_LINKAGE_REFUSE_NOT_VIA;
}

VhdxLinkageVerdict vhdx_linkage_decide(const VhdxLinkageQuery *q,
                                       VhdxLinkage *out)
{
    if (vhdx_linkage_holds(q, out)) {
        if (out->verdict == VHDX_LINKAGE_ACCEPT_GRANTED) {
            out->verdict = linkage_decide_granted(q, out);
        }
    } else if (q->bypassing) {
        out->verdict = VHDX_LINKAGE_ACCEPT_BYPASSING;
    } else if (!q->enforce) {
        out->verdict = VHDX_LINKAGE_ACCEPT_STALE;
    }
    return out->verdict;
}

void vhdx_linkage_describe(const VhdxLinkageQuery *q, const VhdxLinkage *l,
                           const char *child_name, const char *parent_name,
                           char **message, char **hint)
{
    char have[VHDX_GUID_STRING_LEN], want[VHDX_GUID_STRING_LEN];
    g_autofree char *has = NULL;

    vhdx_guid_format(q->parent_dwg, have);
    vhdx_guid_format(&l->kept, want);
    has = g_strdup_printf("VHDX parent '%s' of '%s' has DataWriteGuid {%s}",
                          parent_name, child_name, have);
    switch (l->verdict) {
    case VHDX_LINKAGE_ACCEPT_STALE:
        *message = g_strdup_printf("%s, not {%s}", has, want);
        *hint = g_strdup("It changed after the child was made; reading "
                         "through the child may return wrong data.\n");
        return;
    case VHDX_LINKAGE_REFUSE_NOT_VIA:
        *message = g_strdup_printf("%s, not {%s}", has, want);
        *hint = g_strdup_printf("The parent took the data of a merge that "
                                "'%s' was part of, and now reads right only "
                                "through the image the merge read from, "
                                "which this chain does not pass through (a "
                                "sibling of an image in the merge, or an "
                                "image the merge dropped).\n", child_name);
        return;
    default:
        *message = g_strdup_printf("%s, but the child was made on {%s}", has,
                                   want);
        *hint = g_strdup("The parent was written to after the child was "
                         "made, or it is another image; reading through "
                         "the child would return wrong data.\n");
        return;
    }
}
