/*
 * Unit tests: the linkage rule, one case per outcome
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/parent.h"

#include <string.h>

typedef struct Fixture {
    VhdxLocator loc;
    VhdxParentRef ref;
    VhdxGuid child;             /* the child's Page 83 identity */
    VhdxGuid linkage;           /* what the child was made on */
    VhdxGuid linkage2;
    VhdxGuid other;             /* a DataWriteGuid the child never saw */
    VhdxGuid via;               /* the image a merge read from */
    VhdxGrants grants;
    int reads_via;              /* what the graph answers */
    unsigned reads_via_calls;
} Fixture;

static void set_guid(VhdxLocator *loc, const char *key, const VhdxGuid *g)
{
    char s[VHDX_GUID_STRING_LEN];
    g_autofree char *value = NULL;

    vhdx_guid_format(g, s);
    value = g_strdup_printf("{%s}", s);
    vhdx_locator_set(loc, key, value);
}

static void fixture_init(Fixture *f, bool with_linkage2)
{
    memset(f, 0, sizeof(*f));
    vhdx_guid_generate(&f->child);
    vhdx_guid_generate(&f->linkage);
    vhdx_guid_generate(&f->linkage2);
    vhdx_guid_generate(&f->other);
    vhdx_guid_generate(&f->via);
    f->loc.type = vhdx_guid_vhdx_locator_type;
    set_guid(&f->loc, VHDX_KEY_PARENT_LINKAGE, &f->linkage);
    if (with_linkage2) {
        set_guid(&f->loc, VHDX_KEY_PARENT_LINKAGE2, &f->linkage2);
    }
    vhdx_locator_set(&f->loc, VHDX_KEY_RELATIVE_PATH, ".\\base.vhdx");
    g_assert_cmpint(vhdx_parent_ref_init(&f->ref, &f->loc, NULL), ==, 0);
}

static void fixture_clear(Fixture *f)
{
    vhdx_parent_ref_clear(&f->ref);
    vhdx_locator_clear(&f->loc);
}

/* The parent grants @child its @linkage, read through @via */
static void grant(Fixture *f, const VhdxGuid *child, const VhdxGuid *linkage,
                  const VhdxGuid *via)
{
    VhdxGrant g = { .child = *child, .linkage = *linkage, .via = *via };

    g_assert_true(vhdx_grants_add(&f->grants, &g));
}

static int fake_reads_via(void *opaque, const VhdxGuid *vias, unsigned n)
{
    Fixture *f = opaque;

    f->reads_via_calls++;
    g_assert_cmpuint(n, >, 0);
    return f->reads_via;
}

static VhdxLinkageQuery query(Fixture *f, const VhdxGuid *parent_dwg)
{
    return (VhdxLinkageQuery) {
        .ref = &f->ref,
        .child = &f->child,
        .parent_dwg = parent_dwg,
        .parent_grants = &f->grants,
        .enforce = true,
        .reads_via = fake_reads_via,
        .opaque = f,
    };
}

/* Asserts what vhdx_linkage_describe says contains @message and @hint */
static void assert_described(const VhdxLinkageQuery *q, const VhdxLinkage *l,
                             const char *message, const char *hint)
{
    g_autofree char *m = NULL;
    g_autofree char *h = NULL;

    vhdx_linkage_describe(q, l, "child.avhdx", "base.vhdx", &m, &h);
    g_assert_nonnull(strstr(m, "VHDX parent 'base.vhdx' of 'child.avhdx'"));
    g_assert_nonnull(strstr(m, message));
    g_assert_nonnull(strstr(h, hint));
    /* One phrase; the explanation is the hint's, one line of it */
    g_assert_null(strchr(m, '\n'));
    g_assert_true(g_str_has_suffix(h, ".\n"));
}

static void test_match(void)
{
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, true);
    q = query(&f, &f.linkage);
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==, VHDX_LINKAGE_ACCEPT);
    g_assert_true(vhdx_guid_equal(&l.kept, &f.linkage));
    g_assert_cmpuint(l.n_vias, ==, 0);
    /* parent_linkage2 is as good */
    q = query(&f, &f.linkage2);
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==, VHDX_LINKAGE_ACCEPT);
    g_assert_true(vhdx_guid_equal(&l.kept, &f.linkage2));
    g_assert_true(vhdx_linkage_accepted(l.verdict));
    g_assert_cmpuint(f.reads_via_calls, ==, 0);
    fixture_clear(&f);
}

static void test_stale_refused(void)
{
    char want[VHDX_GUID_STRING_LEN];
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, false);
    q = query(&f, &f.other);
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_REFUSE_STALE);
    g_assert_false(vhdx_linkage_accepted(l.verdict));
    g_assert_false(vhdx_linkage_holds(&q, &l));
    vhdx_guid_format(&f.linkage, want);
    assert_described(&q, &l, want, "written to after the child was made");
    fixture_clear(&f);
}

static void test_stale_not_enforced(void)
{
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, false);
    q = query(&f, &f.other);
    q.enforce = false;
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_ACCEPT_STALE);
    g_assert_true(vhdx_linkage_accepted(l.verdict));
    assert_described(&q, &l, ", not {", "may return wrong data");
    fixture_clear(&f);
}

static void test_stale_bypassing(void)
{
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, false);
    q = query(&f, &f.other);
    q.bypassing = true;
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_ACCEPT_BYPASSING);
    fixture_clear(&f);
}

static void test_granted_read_via(void)
{
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, false);
    grant(&f, &f.child, &f.linkage, &f.via);
    q = query(&f, &f.other);
    f.reads_via = 1;
    g_assert_true(vhdx_linkage_holds(&q, &l));
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_ACCEPT_GRANTED);
    g_assert_true(vhdx_guid_equal(&l.kept, &f.linkage));
    g_assert_cmpuint(l.n_vias, ==, 1);
    g_assert_true(vhdx_guid_equal(&l.vias[0], &f.via));
    g_assert_cmpuint(f.reads_via_calls, ==, 1);
    fixture_clear(&f);
}

static void test_granted_readers_unknown(void)
{
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, false);
    grant(&f, &f.child, &f.linkage, &f.via);
    q = query(&f, &f.other);
    f.reads_via = -1;
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_ACCEPT_CHECKING_READS);
    g_assert_cmpuint(l.n_vias, ==, 1);
    fixture_clear(&f);
}

static void test_granted_not_via(void)
{
    char want[VHDX_GUID_STRING_LEN];
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, false);
    grant(&f, &f.child, &f.linkage, &f.via);
    q = query(&f, &f.other);
    f.reads_via = 0;
    /* Dropping images in between does not excuse reading elsewhere */
    q.bypassing = true;
    q.enforce = false;
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_REFUSE_NOT_VIA);
    vhdx_guid_format(&f.linkage, want);
    assert_described(&q, &l, want, "took the data of a merge");
    /* Without anyone to ask, nobody reads through a via */
    q.reads_via = NULL;
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_REFUSE_NOT_VIA);
    fixture_clear(&f);
}

/* The image the merge read from is itself the child: no restriction */
static void test_granted_child_is_via(void)
{
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, false);
    grant(&f, &f.child, &f.linkage, &f.child);
    q = query(&f, &f.other);
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_ACCEPT_GRANTED);
    g_assert_cmpuint(l.n_vias, ==, 0);
    g_assert_cmpuint(f.reads_via_calls, ==, 0);
    fixture_clear(&f);
}

/* A grant names one child and the linkage it keeps, and nothing else */
static void test_grant_for_others(void)
{
    VhdxGuid sibling;
    Fixture f;
    VhdxLinkageQuery q;
    VhdxLinkage l;

    fixture_init(&f, true);
    vhdx_guid_generate(&sibling);
    grant(&f, &sibling, &f.linkage, &f.via);
    grant(&f, &f.child, &f.other, &f.via);
    q = query(&f, &f.other);
    f.reads_via = 1;
    /* The second grant keeps the linkage f.other; the child has not it */
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_REFUSE_STALE);
    /* A grant of parent_linkage2 counts */
    grant(&f, &f.child, &f.linkage2, &f.via);
    g_assert_cmpint(vhdx_linkage_decide(&q, &l), ==,
                    VHDX_LINKAGE_ACCEPT_GRANTED);
    g_assert_true(vhdx_guid_equal(&l.kept, &f.linkage2));
    fixture_clear(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/linkage/match", test_match);
    g_test_add_func("/linkage/stale-refused", test_stale_refused);
    g_test_add_func("/linkage/stale-not-enforced", test_stale_not_enforced);
    g_test_add_func("/linkage/stale-bypassing", test_stale_bypassing);
    g_test_add_func("/linkage/granted-read-via", test_granted_read_via);
    g_test_add_func("/linkage/granted-readers-unknown",
                    test_granted_readers_unknown);
    g_test_add_func("/linkage/granted-not-via", test_granted_not_via);
    g_test_add_func("/linkage/granted-child-is-via",
                    test_granted_child_is_via);
    g_test_add_func("/linkage/grant-for-others", test_grant_for_others);
    return g_test_run();
}
