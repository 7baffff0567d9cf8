/*
 * VHDX parents: locating them and recognizing them
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/error.h"
#include "vhdx/parent.h"

#include <errno.h>
#include <string.h>

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
        add_candidate(ref->candidates, path_from_windows(rel),
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

void vhdx_parent_locator_build(VhdxLocator *loc, const char *parent_path,
                               const char *child_dir,
                               const VhdxGuid *data_write_guid)
{
    g_autofree char *abs_parent = g_canonicalize_filename(parent_path, NULL);
    g_autofree char *abs_dir = g_canonicalize_filename(child_dir, NULL);
    g_autofree char *rel = relative_path(abs_parent, abs_dir);
    g_autofree char *win_rel = NULL;
    char guid[VHDX_GUID_STRING_LEN];
    g_autofree char *linkage = NULL;

    memset(loc, 0, sizeof(*loc));
    loc->type = vhdx_guid_vhdx_locator_type;
    vhdx_guid_format(data_write_guid, guid);
    linkage = g_strdup_printf("{%s}", guid);
    vhdx_locator_set(loc, VHDX_KEY_PARENT_LINKAGE, linkage);
    /* Hyper-V writes relative paths as ".\name" with Windows separators */
    win_rel = g_str_has_prefix(rel, "../") ? g_strdup(rel) :
              g_strdup_printf("./%s", rel);
    g_strdelimit(win_rel, "/", '\\');
    vhdx_locator_set(loc, VHDX_KEY_RELATIVE_PATH, win_rel);
    vhdx_locator_set(loc, VHDX_KEY_ABSOLUTE_WIN32_PATH, abs_parent);
}
