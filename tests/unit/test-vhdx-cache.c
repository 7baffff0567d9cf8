/*
 * Unit tests: metadata page cache
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/cache.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx-memio.h"

#include <errno.h>
#include <string.h>

#define PAGE VHDX_CACHE_PAGE_SIZE

/* A commit that writes the pages home directly and records what it saw */
typedef struct Committer {
    MemIO *m;
    unsigned commits;
    size_t last_n;
    int fail;
} Committer;

static int commit_home(void *opaque, const VhdxLogSector *sectors, size_t n,
                       GError **errp)
{
    Committer *c = opaque;

    if (c->fail) {
        return vhdx_error(errp, c->fail, "injected commit failure");
    }
    c->commits++;
    c->last_n = n;
    for (size_t i = 0; i < n; i++) {
        g_assert_cmpuint(sectors[i].file_offset % PAGE, ==, 0);
        vhdx_io_pwrite(memio_io(c->m), sectors[i].file_offset,
                       sectors[i].data, PAGE);
    }
    return 0;
}

static MemIO *patterned_file(size_t pages)
{
    MemIO *m = memio_new(pages * PAGE);

    for (size_t i = 0; i < pages * PAGE / 8; i++) {
        vhdx_st64(memio_bytes(m) + i * 8, i);
    }
    return m;
}

static void test_read_through(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 4, 2, commit_home, &c);
    uint64_t v;

    g_assert_cmpint(vhdx_cache_read64(cache, 3 * PAGE + 16, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, (3 * PAGE + 16) / 8);
    g_assert_cmpuint(m->reads, ==, 1);
    /* A hit does not read again */
    g_assert_cmpint(vhdx_cache_read64(cache, 3 * PAGE + 24, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, (3 * PAGE + 24) / 8);
    g_assert_cmpuint(m->reads, ==, 1);
    vhdx_cache_free(cache);
}

static void test_write_back_on_commit(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 8, 8, commit_home, &c);
    uint64_t v;

    g_assert_cmpint(vhdx_cache_write64(cache, PAGE + 8, 0xabcdef, NULL), ==,
                    0);
    g_assert_cmpint(vhdx_cache_write64(cache, 5 * PAGE, 42, NULL), ==, 0);
    g_assert_cmpint(vhdx_cache_write64(cache, PAGE + 16, 43, NULL), ==, 0);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 2);
    /* Nothing reaches the file before the commit */
    g_assert_cmpuint(m->writes, ==, 0);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m) + PAGE + 8), ==, (PAGE + 8) / 8);
    /* ...but reads see the new values */
    g_assert_cmpint(vhdx_cache_read64(cache, PAGE + 8, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, 0xabcdef);

    g_assert_cmpint(vhdx_cache_commit(cache, NULL), ==, 0);
    g_assert_cmpuint(c.commits, ==, 1);
    g_assert_cmpuint(c.last_n, ==, 2);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 0);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m) + PAGE + 8), ==, 0xabcdef);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m) + PAGE + 16), ==, 43);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m) + 5 * PAGE), ==, 42);
    /* A second commit with nothing dirty does nothing */
    g_assert_cmpint(vhdx_cache_commit(cache, NULL), ==, 0);
    g_assert_cmpuint(c.commits, ==, 1);
    vhdx_cache_free(cache);
}

static void test_dirty_limit_commits(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 8, 3, commit_home, &c);

    /* Values unlike the pattern, so every write changes its page */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(vhdx_cache_write64(cache, i * PAGE, 1000 + i, NULL),
                        ==, 0);
    }
    g_assert_cmpuint(c.commits, ==, 0);
    /* The next request finds the limit reached and commits first */
    g_assert_cmpint(vhdx_cache_write64(cache, 7 * PAGE, 7, NULL), ==, 0);
    g_assert_cmpuint(c.commits, ==, 1);
    g_assert_cmpuint(c.last_n, ==, 3);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 1);
    vhdx_cache_free(cache);
}

static void test_unchanged_write_stays_clean(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 8, 8, commit_home, &c);

    /* The pattern already holds offset / 8 there */
    g_assert_cmpint(vhdx_cache_write64(cache, 2 * PAGE + 8,
                                       (2 * PAGE + 8) / 8, NULL), ==, 0);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 0);
    g_assert_cmpint(vhdx_cache_write64(cache, 2 * PAGE + 8, 7, NULL), ==, 0);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 1);
    vhdx_cache_free(cache);
}

static void test_lru_eviction(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 3, 3, commit_home, &c);
    uint64_t v;

    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(vhdx_cache_read64(cache, i * PAGE, &v, NULL), ==, 0);
    }
    /* Touch page 0 so page 1 is the least recently used */
    g_assert_cmpint(vhdx_cache_read64(cache, 0, &v, NULL), ==, 0);
    g_assert_cmpint(vhdx_cache_read64(cache, 9 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(m->reads, ==, 4);
    g_assert_cmpint(vhdx_cache_read64(cache, 0, &v, NULL), ==, 0);
    g_assert_cmpint(vhdx_cache_read64(cache, 2 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(m->reads, ==, 4);
    g_assert_cmpint(vhdx_cache_read64(cache, PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(m->reads, ==, 5);
    vhdx_cache_free(cache);
}

static void test_all_dirty_forces_commit(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 2, 2, commit_home, &c);
    uint64_t v;

    /* Two dirty pages fill the cache; a third page needs a commit */
    g_assert_cmpint(vhdx_cache_write64(cache, 0, 1, NULL), ==, 0);
    g_assert_cmpint(vhdx_cache_write64(cache, PAGE, 2, NULL), ==, 0);
    g_assert_cmpint(vhdx_cache_read64(cache, 4 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(c.commits, ==, 1);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m)), ==, 1);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m) + PAGE), ==, 2);
    vhdx_cache_free(cache);
}

static void test_commit_failure_keeps_dirty(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m, .fail = EIO };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 4, 4, commit_home, &c);
    GError *err = NULL;

    g_assert_cmpint(vhdx_cache_write64(cache, PAGE, 5, NULL), ==, 0);
    g_assert_cmpint(vhdx_cache_commit(cache, &err), ==, -EIO);
    g_assert_nonnull(strstr(err->message, "injected"));
    g_clear_error(&err);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 1);
    c.fail = 0;
    g_assert_cmpint(vhdx_cache_commit(cache, NULL), ==, 0);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m) + PAGE), ==, 5);
    vhdx_cache_free(cache);
}

static void test_read_error(void)
{
    g_autoptr(MemIO) m = patterned_file(4);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 4, 4, commit_home, &c);
    GError *err = NULL;
    uint64_t v;

    m->fail_reads_errno = EIO;
    g_assert_cmpint(vhdx_cache_read64(cache, PAGE, &v, &err), ==, -EIO);
    g_assert_nonnull(strstr(err->message, "0x1000"));
    g_clear_error(&err);
    /* The failed page was not cached */
    m->fail_reads_errno = 0;
    g_assert_cmpint(vhdx_cache_read64(cache, PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, PAGE / 8);
    vhdx_cache_free(cache);
}

static void test_read_around_reads_the_run_once(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 8, 8, commit_home, &c);
    uint64_t v;

    vhdx_cache_set_read_around(cache, 4);
    g_assert_cmpint(vhdx_cache_read64(cache, 5 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, 5 * PAGE / 8);
    g_assert_cmpuint(m->reads, ==, 1);
    /* The rest of the aligned run 4..7 came with it */
    for (int i = 4; i < 8; i++) {
        g_assert_cmpint(vhdx_cache_read64(cache, i * PAGE + 8, &v, NULL), ==,
                        0);
        g_assert_cmpuint(v, ==, (i * PAGE + 8) / 8);
    }
    g_assert_cmpuint(m->reads, ==, 1);
    /* The next run is a new read */
    g_assert_cmpint(vhdx_cache_read64(cache, 8 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(m->reads, ==, 2);
    vhdx_cache_free(cache);
}

static void test_read_around_keeps_cached_pages(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 8, 8, commit_home, &c);
    uint64_t v;

    /* Page 6 changed in memory only; then its run is read for page 5 */
    g_assert_cmpint(vhdx_cache_write64(cache, 6 * PAGE, 77, NULL), ==, 0);
    vhdx_cache_set_read_around(cache, 4);
    g_assert_cmpint(vhdx_cache_read64(cache, 5 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(m->reads, ==, 2);
    g_assert_cmpint(vhdx_cache_read64(cache, 6 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, 77);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 1);
    vhdx_cache_free(cache);
}

static void test_read_around_never_commits(void)
{
    g_autoptr(MemIO) m = patterned_file(16);
    Committer c = { .m = m };
    VhdxCache *cache = vhdx_cache_new(memio_io(m), 4, 4, commit_home, &c);
    uint64_t v;

    for (int i = 0; i < 3; i++) {
        g_assert_cmpint(vhdx_cache_write64(cache, i * PAGE, 1000 + i, NULL),
                        ==, 0);
    }
    vhdx_cache_set_read_around(cache, 4);
    /* Room for the page asked for only: its neighbours are not kept... */
    g_assert_cmpint(vhdx_cache_read64(cache, 9 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, 9 * PAGE / 8);
    g_assert_cmpuint(c.commits, ==, 0);
    g_assert_cmpuint(vhdx_cache_dirty_count(cache), ==, 3);
    /*
     * ...so the next page of the run is read again, and the dirty limit
     * is not reached by a guess
     */
    g_assert_cmpint(vhdx_cache_read64(cache, 10 * PAGE, &v, NULL), ==, 0);
    g_assert_cmpuint(v, ==, 10 * PAGE / 8);
    g_assert_cmpuint(m->reads, ==, 5);
    g_assert_cmpuint(c.commits, ==, 0);
    vhdx_cache_free(cache);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cache/read-through", test_read_through);
    g_test_add_func("/cache/write-back", test_write_back_on_commit);
    g_test_add_func("/cache/dirty-limit", test_dirty_limit_commits);
    g_test_add_func("/cache/unchanged-write", test_unchanged_write_stays_clean);
    g_test_add_func("/cache/lru-eviction", test_lru_eviction);
    g_test_add_func("/cache/all-dirty", test_all_dirty_forces_commit);
    g_test_add_func("/cache/commit-failure", test_commit_failure_keeps_dirty);
    g_test_add_func("/cache/read-error", test_read_error);
    g_test_add_func("/cache/read-around", test_read_around_reads_the_run_once);
    g_test_add_func("/cache/read-around-keeps-cached",
                    test_read_around_keeps_cached_pages);
    g_test_add_func("/cache/read-around-never-commits",
                    test_read_around_never_commits);
    return g_test_run();
}
