/*
 * Unit tests: the VHDX log - commit, crash at every write, replay,
 * hostile entries
 *
 * Expected file contents are kept in a byte model outside the log region.
 * Entries for replay tests are encoded here independently of log.c, from
 * the MS-VHDX 2.3.1 layout, so the two encoders check each other.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx/log.h"
#include "vhdx-memio.h"

#include <errno.h>
#include <limits.h>
#include <glib.h>
#include <string.h>

#define SECTOR          4096u
#define LOG_OFF         (1u << 20)
#define LOG_LEN         (1u << 20)
#define LOG_SECTORS     (LOG_LEN / SECTOR)
#define HOME_OFF        (2u << 20)
#define HOME_SECTORS    512u
#define FILE_SIZE       (4u << 20)

/* ---- Helpers ---- */

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = x >> 24;
    }
}

/* g_memdup2() needs GLib 2.68; the project supports 2.66 */
static void *dup_bytes(const void *p, size_t n)
{
    return memcpy(g_malloc(n), p, n);
}

static VhdxGuid test_guid(uint32_t seed)
{
    VhdxGuid g;

    fill_pattern(g.bytes, sizeof(g.bytes), seed + 1000);
    return g;
}

typedef struct Fixture {
    MemIO *m;
    uint8_t *model;             /* expected file bytes outside the log */
    size_t model_size;
    VhdxGuid guid;
    VhdxLog log;
} Fixture;

static void fixture_init(Fixture *f, uint32_t seed)
{
    f->m = memio_new(FILE_SIZE);
    f->model_size = FILE_SIZE;
    f->model = g_malloc0(FILE_SIZE);
    /* Start the home area with data, so zero descriptors show */
    fill_pattern(f->model + HOME_OFF, HOME_SECTORS * SECTOR, seed);
    memcpy(memio_bytes(f->m) + HOME_OFF, f->model + HOME_OFF,
           HOME_SECTORS * SECTOR);
    f->guid = test_guid(seed);
    vhdx_log_init(&f->log, memio_io(f->m), LOG_OFF, LOG_LEN, &f->guid);
}

static void fixture_free(Fixture *f)
{
    vhdx_log_clear(&f->log);
    memio_free(f->m);
    g_free(f->model);
}

static bool matches(MemIO *m, const uint8_t *model, size_t size)
{
    const uint8_t *b = memio_bytes(m);

    return memio_size(m) == size &&
           !memcmp(b, model, LOG_OFF) &&
           !memcmp(b + LOG_OFF + LOG_LEN, model + LOG_OFF + LOG_LEN,
                   size - LOG_OFF - LOG_LEN);
}

static bool replay_ok(MemIO *m, const VhdxGuid *guid)
{
    g_autoptr(GError) err = NULL;
    bool replayed;

    g_assert_cmpint(vhdx_log_replay(memio_io(m), LOG_OFF, LOG_LEN, guid,
                                    &replayed, &err), ==, 0);
    g_assert_no_error(err);
    return replayed;
}

static bool needs_replay_ok(MemIO *m, const VhdxGuid *guid)
{
    g_autoptr(GError) err = NULL;
    bool needed;

    g_assert_cmpint(vhdx_log_needs_replay(memio_io(m), LOG_OFF, LOG_LEN,
                                          guid, &needed, &err), ==, 0);
    g_assert_no_error(err);
    return needed;
}

/* A set of sectors to commit, with the bytes behind its data sectors */
typedef struct Change {
    VhdxLogSector *s;
    uint8_t *data;
    size_t n;
} Change;

static void change_free(Change *c)
{
    g_free(c->s);
    g_free(c->data);
}

static bool change_has(const Change *c, uint64_t off)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->s[i].file_offset == off) {
            return true;
        }
    }
    return false;
}

/*
 * @n distinct home sectors, in short runs, zero runs @zero_pct percent of
 * the time, handed over in shuffled order.
 */
static void change_random(Change *c, GRand *rng, size_t n, int zero_pct)
{
    bool used[HOME_SECTORS] = { false };

    g_assert_cmpuint(n, <=, HOME_SECTORS / 2);
    c->s = g_new0(VhdxLogSector, n);
    c->data = g_malloc(n * SECTOR);
    c->n = 0;
    while (c->n < n) {
        uint32_t start = g_rand_int_range(rng, 0, HOME_SECTORS);
        uint32_t run = g_rand_int_range(rng, 1, 6);
        bool zero = g_rand_int_range(rng, 0, 100) < zero_pct;

        for (uint32_t k = 0; k < run && c->n < n; k++) {
            VhdxLogSector *s = &c->s[c->n];
            uint8_t *d = c->data + c->n * SECTOR;

            if (start + k >= HOME_SECTORS || used[start + k]) {
                break;
            }
            used[start + k] = true;
            s->file_offset = HOME_OFF + (uint64_t)(start + k) * SECTOR;
            if (!zero) {
                fill_pattern(d, SECTOR, g_rand_int(rng));
                s->data = d;
            }
            c->n++;
        }
    }
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = g_rand_int_range(rng, 0, i + 1);
        VhdxLogSector t = c->s[i];

        c->s[i] = c->s[j];
        c->s[j] = t;
    }
}

static void change_apply(uint8_t *model, const Change *c)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->s[i].data) {
            memcpy(model + c->s[i].file_offset, c->s[i].data, SECTOR);
        } else {
            memset(model + c->s[i].file_offset, 0, SECTOR);
        }
    }
}

static void commit_ok(Fixture *f, const Change *c)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vhdx_log_commit(&f->log, c->s, c->n, &err), ==, 0);
    g_assert_no_error(err);
    change_apply(f->model, c);
    g_assert_true(matches(f->m, f->model, f->model_size));
}

/* How many pwrites committing @c makes */
static unsigned count_commit_writes(Fixture *f, const Change *c)
{
    g_autoptr(MemIO) m = memio_dup(f->m);
    VhdxLog log = f->log;

    log.io = memio_io(m);
    g_assert_cmpint(vhdx_log_commit(&log, c->s, c->n, NULL), ==, 0);
    return m->writes;
}

/* How many pwrites the entry committing @c takes: two if it wraps */
static unsigned count_entry_writes(Fixture *f, const Change *c)
{
    g_autoptr(MemIO) m = memio_dup(f->m);
    VhdxLog log = f->log;

    log.io = memio_io(m);
    g_assert_cmpint(vhdx_log_commit(&log, c->s, c->n, NULL), ==, 0);
    g_assert_false(log.sequence > f->log.sequence + 1);
    return f->log.head + log.used > LOG_LEN ? 2 : 1;
}

/*
 * Commits @c on a copy of @f's file with the power cut after @k writes,
 * restores power and replays.  Returns the copy.
 */
static MemIO *crash_and_replay(Fixture *f, const Change *c, unsigned k,
                               bool *replayed)
{
    MemIO *m = memio_dup(f->m);
    VhdxLog log = f->log;

    log.io = memio_io(m);
    /* cut_after_writes 0 means no cut, so count writes from 1 */
    m->writes = 1;
    m->cut_after_writes = 1 + k;
    g_assert_cmpint(vhdx_log_commit(&log, c->s, c->n, NULL), ==, 0);
    m->cut_after_writes = 0;
    *replayed = replay_ok(m, &f->guid);
    return m;
}

/*
 * A disk may persist any subset of the sectors of one write.  Reverts a
 * random non-empty subset of the log sectors that differ between @m and
 * @before, as if only the others had reached the disk.  Returns false if
 * fewer than two sectors differ (one sector is written atomically).
 */
static bool tear_log_write(MemIO *m, MemIO *before, GRand *rng)
{
    uint8_t *now = memio_bytes(m) + LOG_OFF;
    const uint8_t *was = memio_bytes(before) + LOG_OFF;
    g_autoptr(GArray) changed = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    bool reverted = false;

    for (uint32_t i = 0; i < LOG_SECTORS; i++) {
        if (memcmp(now + i * SECTOR, was + i * SECTOR, SECTOR)) {
            g_array_append_val(changed, i);
        }
    }
    if (changed->len < 2) {
        return false;
    }
    while (!reverted) {
        for (guint j = 0; j < changed->len; j++) {
            uint32_t i = g_array_index(changed, uint32_t, j);

            if (g_rand_boolean(rng)) {
                memcpy(now + i * SECTOR, was + i * SECTOR, SECTOR);
                reverted = true;
            }
        }
    }
    return true;
}

/* ---- An entry encoder independent of log.c (MS-VHDX 2.3.1) ---- */

typedef struct TDesc {
    bool zero;
    uint64_t file_offset;
    uint64_t zero_length;
    const uint8_t *data;        /* 4 KiB home sector of a data descriptor */
} TDesc;

typedef struct TEntry {
    uint64_t sequence;
    uint32_t tail;
    VhdxGuid guid;
    uint64_t flushed;
    uint64_t last;
    const TDesc *d;
    uint32_t nd;
} TEntry;

static uint8_t *build_entry(const TEntry *e, uint32_t *len_out)
{
    uint32_t desc_sectors = (e->nd + 2 + 127) / 128;
    uint32_t ndata = 0, k = 0, len;
    uint8_t *buf;

    for (uint32_t i = 0; i < e->nd; i++) {
        ndata += !e->d[i].zero;
    }
    len = (desc_sectors + ndata) * SECTOR;
    buf = g_malloc0(len);
    memcpy(buf, "loge", 4);
    vhdx_st32(buf + 8, len);
    vhdx_st32(buf + 12, e->tail);
    vhdx_st64(buf + 16, e->sequence);
    vhdx_st32(buf + 24, e->nd);
    memcpy(buf + 32, e->guid.bytes, 16);
    vhdx_st64(buf + 48, e->flushed);
    vhdx_st64(buf + 56, e->last);
    for (uint32_t i = 0; i < e->nd; i++) {
        uint8_t *p = buf + 64 + 32 * i;
        const TDesc *d = &e->d[i];

        if (d->zero) {
            memcpy(p, "zero", 4);
            vhdx_st64(p + 8, d->zero_length);
        } else {
            uint8_t *s = buf + (desc_sectors + k++) * SECTOR;

            memcpy(p, "desc", 4);
            vhdx_st32(p + 4, vhdx_ld32(d->data + 4092));
            vhdx_st64(p + 8, vhdx_ld64(d->data));
            memcpy(s, "data", 4);
            vhdx_st32(s + 4, e->sequence >> 32);
            memcpy(s + 8, d->data + 8, 4084);
            vhdx_st32(s + 4092, (uint32_t)e->sequence);
        }
        vhdx_st64(p + 16, d->file_offset);
        vhdx_st64(p + 24, e->sequence);
    }
    vhdx_checksum_store(buf, len, 4);
    *len_out = len;
    return buf;
}

static void reseal(uint8_t *e, uint32_t len)
{
    vhdx_checksum_store(e, len, 4);
}

/* Stores an entry at log offset @pos, wrapping around the ring */
static void put_entry(MemIO *m, uint32_t pos, const uint8_t *e, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += SECTOR) {
        memcpy(memio_bytes(m) + LOG_OFF + (pos + i) % LOG_LEN, e + i, SECTOR);
    }
}

static TEntry entry_template(const Fixture *f, uint64_t seq, uint32_t tail,
                             const TDesc *d, uint32_t nd)
{
    return (TEntry) {
        .sequence = seq, .tail = tail, .guid = f->guid,
        .flushed = FILE_SIZE, .last = FILE_SIZE, .d = d, .nd = nd,
    };
}

/* ---- Commit ---- */

static void test_commit_home_sectors(void)
{
    Fixture f;
    uint8_t a[SECTOR], b[SECTOR];
    const uint8_t *e;
    uint32_t len;
    VhdxLogSector s[] = {
        { HOME_OFF + 12 * SECTOR, b },
        { HOME_OFF + 1 * SECTOR, NULL },
        { HOME_OFF + 40 * SECTOR, NULL },
        { HOME_OFF, a },
        { HOME_OFF + 2 * SECTOR, NULL },
    };
    Change c = { .s = s, .n = G_N_ELEMENTS(s) };

    fixture_init(&f, 1);
    fill_pattern(a, SECTOR, 11);
    fill_pattern(b, SECTOR, 12);
    commit_ok(&f, &c);

    /* One pwrite for the entry, one per data sector and zero run */
    g_assert_cmpuint(f.m->writes, ==, 5);
    g_assert_cmpuint(f.m->flushes, >=, 2);
    g_assert_cmpuint(f.log.sequence, ==, 2);
    g_assert_cmpuint(f.log.head, ==, 3 * SECTOR);

    /* The entry, decoded by hand: 4 descriptors, 2 data sectors */
    e = memio_bytes(f.m) + LOG_OFF;
    len = vhdx_ld32(e + 8);
    g_assert_cmpmem(e, 4, "loge", 4);
    g_assert_cmphex(vhdx_ld32(e + 4), ==, vhdx_checksum(e, len, 4));
    g_assert_cmpuint(len, ==, 3 * SECTOR);
    g_assert_cmpuint(vhdx_ld32(e + 12), ==, 0);
    g_assert_cmpuint(vhdx_ld64(e + 16), ==, 1);
    g_assert_cmpuint(vhdx_ld32(e + 24), ==, 4);
    g_assert_cmpmem(e + 32, 16, f.guid.bytes, 16);
    g_assert_cmpuint(vhdx_ld64(e + 48), ==, FILE_SIZE);
    g_assert_cmpuint(vhdx_ld64(e + 56), ==, FILE_SIZE);

    /* Sorted: data a, zero run of two, data b, zero */
    g_assert_cmpmem(e + 64, 4, "desc", 4);
    g_assert_cmphex(vhdx_ld32(e + 64 + 4), ==, vhdx_ld32(a + 4092));
    g_assert_cmphex(vhdx_ld64(e + 64 + 8), ==, vhdx_ld64(a));
    g_assert_cmpuint(vhdx_ld64(e + 64 + 16), ==, HOME_OFF);
    g_assert_cmpuint(vhdx_ld64(e + 64 + 24), ==, 1);
    g_assert_cmpmem(e + 96, 4, "zero", 4);
    g_assert_cmpuint(vhdx_ld64(e + 96 + 8), ==, 2 * SECTOR);
    g_assert_cmpuint(vhdx_ld64(e + 96 + 16), ==, HOME_OFF + SECTOR);
    g_assert_cmpmem(e + 128, 4, "desc", 4);
    g_assert_cmpuint(vhdx_ld64(e + 128 + 16), ==, HOME_OFF + 12 * SECTOR);
    g_assert_cmpmem(e + 160, 4, "zero", 4);
    g_assert_cmpuint(vhdx_ld64(e + 160 + 8), ==, SECTOR);

    g_assert_cmpmem(e + SECTOR, 4, "data", 4);
    g_assert_cmpuint(vhdx_ld32(e + SECTOR + 4), ==, 0);
    g_assert_cmpmem(e + SECTOR + 8, 4084, a + 8, 4084);
    g_assert_cmpuint(vhdx_ld32(e + SECTOR + 4092), ==, 1);
    g_assert_cmpmem(e + 2 * SECTOR + 8, 4084, b + 8, 4084);

    /* The entry stays until the caller clears LogGuid; replay is a no-op */
    g_assert_true(needs_replay_ok(f.m, &f.guid));
    g_assert_true(replay_ok(f.m, &f.guid));
    g_assert_true(matches(f.m, f.model, f.model_size));
    fixture_free(&f);
}

static void test_commit_empty(void)
{
    Fixture f;

    fixture_init(&f, 2);
    g_assert_cmpint(vhdx_log_commit(&f.log, NULL, 0, NULL), ==, 0);
    g_assert_cmpuint(f.m->writes, ==, 0);
    g_assert_false(needs_replay_ok(f.m, &f.guid));
    fixture_free(&f);
}

static void test_commit_split(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(3);
    size_t max;
    Change c;
    Fixture f;
    const uint8_t *log;

    fixture_init(&f, 3);
    max = vhdx_log_max_sectors_per_entry(&f.log);
    g_assert_cmpuint(max, ==, 84);
    change_random(&c, rng, 2 * max + 5, 0);
    commit_ok(&f, &c);

    /*
     * Three entries, one after the other.  The first two (85 sectors
     * each) form one sequence; with the third it would leave no room for
     * a largest entry beside it, so a checkpoint comes first and the
     * third starts a new sequence.
     */
    g_assert_cmpuint(f.log.sequence, ==, 4);
    log = memio_bytes(f.m) + LOG_OFF;
    for (uint32_t i = 0, pos = 0; i < 3; i++) {
        g_assert_cmpmem(log + pos, 4, "loge", 4);
        g_assert_cmpuint(vhdx_ld64(log + pos + 16), ==, i + 1);
        g_assert_cmpuint(vhdx_ld32(log + pos + 12), ==, i < 2 ? 0 : pos);
        g_assert_cmpuint(vhdx_ld32(log + pos + 24), ==, i < 2 ? max : 5);
        pos += vhdx_ld32(log + pos + 8);
    }
    change_free(&c);

    /* A long zero run takes one descriptor: one entry of one sector */
    c.s = g_new0(VhdxLogSector, 300);
    c.data = NULL;
    c.n = 300;
    for (size_t i = 0; i < c.n; i++) {
        c.s[i].file_offset = HOME_OFF + (c.n - 1 - i) * SECTOR;
    }
    commit_ok(&f, &c);
    g_assert_cmpuint(f.log.sequence, ==, 5);
    change_free(&c);
    fixture_free(&f);
}

static void test_max_sectors_per_entry(void)
{
    static const struct {
        uint32_t length;
        size_t max;
    } cases[] = {
        { 1u << 20, 84 },       /* 85 sectors: 1 descriptor sector */
        { 2u << 20, 168 },      /* 170 sectors: 2 descriptor sectors */
        { 3u << 20, 254 },      /* 256 sectors: 2 descriptor sectors */
        { 8192, 0 },            /* too small to hold anything */
    };
    VhdxLog log;
    VhdxGuid g = test_guid(4);

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        vhdx_log_init(&log, NULL, LOG_OFF, cases[i].length, &g);
        g_assert_cmpuint(vhdx_log_max_sectors_per_entry(&log), ==,
                         cases[i].max);
    }
}

static void test_commit_invalid_input(void)
{
    static const uint64_t bad[] = {
        HOME_OFF + 100,                 /* unaligned */
        VHDX_HEADER1_OFFSET,            /* a header */
        LOG_OFF + 8 * SECTOR,           /* the log itself */
        UINT64_MAX & ~(uint64_t)4095,   /* absurd */
        HOME_OFF,                       /* given twice */
    };
    uint8_t data[SECTOR] = { 1 };
    Fixture f;

    fixture_init(&f, 5);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        VhdxLogSector s[] = { { HOME_OFF, data }, { bad[i], NULL } };

        g_assert_cmpint(vhdx_log_commit(&f.log, s, 2, &err), ==, -EINVAL);
        g_assert_error(err, VHDX_ERROR, EINVAL);
        g_assert_nonnull(strstr(err->message, "sector at"));
    }
    /* Refused before anything was written, and the log still works */
    g_assert_cmpuint(f.m->writes, ==, 0);
    g_assert_cmpuint(f.log.sequence, ==, 1);
    {
        VhdxLogSector s = { HOME_OFF, data };
        Change c = { .s = &s, .n = 1 };

        commit_ok(&f, &c);
    }
    fixture_free(&f);
}

static void test_commit_failure_poisons(void)
{
    g_autoptr(GError) err = NULL;
    uint8_t data[SECTOR] = { 7 };
    VhdxLogSector s = { HOME_OFF, data };
    Fixture f;

    fixture_init(&f, 6);
    f.m->read_only = true;
    g_assert_cmpint(vhdx_log_commit(&f.log, &s, 1, &err), ==, -EPERM);
    /* The storage failed: its errno is for the user to see */
    g_assert_error(err, VHDX_IO_ERROR, EPERM);
    g_clear_error(&err);

    /* Writes work again, but a half-done commit must not be hidden */
    f.m->read_only = false;
    g_assert_cmpint(vhdx_log_commit(&f.log, &s, 1, &err), ==, -EIO);
    g_assert_error(err, VHDX_ERROR, EIO);
    fixture_free(&f);
}

/* ---- Power cut at every write ---- */

static void test_crash_every_write(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(7);
    g_autofree uint8_t *old = NULL;
    g_autofree uint8_t *new = NULL;
    Change a, b;
    unsigned writes;
    Fixture f;

    fixture_init(&f, 7);
    change_random(&a, rng, 10, 30);
    commit_ok(&f, &a);

    change_random(&b, rng, 12, 30);
    /* Make b rewrite some of a's sectors: a rollback would show */
    for (size_t i = 0; i < 4; i++) {
        if (!change_has(&b, a.s[i].file_offset)) {
            b.s[i].file_offset = a.s[i].file_offset;
        }
    }
    old = dup_bytes(f.model, FILE_SIZE);
    new = dup_bytes(f.model, FILE_SIZE);
    change_apply(new, &b);
    g_assert_false(!memcmp(old, new, FILE_SIZE));

    writes = count_commit_writes(&f, &b);
    g_assert_cmpuint(writes, >=, 2);
    for (unsigned k = 0; k <= writes; k++) {
        g_autoptr(MemIO) m = NULL;
        g_autofree uint8_t *once = NULL;
        bool replayed;

        m = crash_and_replay(&f, &b, k, &replayed);
        g_assert_true(replayed);
        /* Nothing of b until its entry is durable, all of it after */
        g_assert_true(matches(m, k == 0 ? old : new, FILE_SIZE));

        /* Replay is idempotent */
        once = dup_bytes(memio_bytes(m), memio_size(m));
        g_assert_true(replay_ok(m, &f.guid));
        g_assert_cmpmem(memio_bytes(m), memio_size(m), once, FILE_SIZE);
    }
    change_free(&a);
    change_free(&b);
    fixture_free(&f);
}

/*
 * A commit split into several entries is atomic per entry: after a crash
 * the sorted sectors are new up to an entry boundary and old after it,
 * and the boundary only moves forward as the crash comes later.
 */
static void test_crash_split_commit(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(8);
    g_autofree uint8_t *old = NULL;
    g_autofree VhdxLogSector *sorted = NULL;
    size_t max, last_prefix = 0;
    unsigned writes;
    Change a, b;
    Fixture f;

    fixture_init(&f, 8);
    max = vhdx_log_max_sectors_per_entry(&f.log);
    change_random(&a, rng, 5, 0);
    commit_ok(&f, &a);
    old = dup_bytes(f.model, FILE_SIZE);

    change_random(&b, rng, 2 * max + 10, 0);
    sorted = dup_bytes(b.s, b.n * sizeof(*sorted));
    for (size_t i = 0; i < b.n; i++) {
        for (size_t j = i + 1; j < b.n; j++) {
            if (sorted[j].file_offset < sorted[i].file_offset) {
                VhdxLogSector t = sorted[i];

                sorted[i] = sorted[j];
                sorted[j] = t;
            }
        }
    }

    writes = count_commit_writes(&f, &b);
    for (unsigned k = 0; k <= writes; k++) {
        g_autoptr(MemIO) m = NULL;
        g_autofree uint8_t *expect = dup_bytes(old, FILE_SIZE);
        size_t prefix = 0;
        bool replayed;

        m = crash_and_replay(&f, &b, k, &replayed);
        while (prefix < b.n &&
               !memcmp(memio_bytes(m) + sorted[prefix].file_offset,
                       sorted[prefix].data, SECTOR)) {
            prefix++;
        }
        g_assert_true(prefix % max == 0 || prefix == b.n);
        g_assert_cmpuint(prefix, >=, last_prefix);
        last_prefix = prefix;
        for (size_t i = 0; i < prefix; i++) {
            memcpy(expect + sorted[i].file_offset, sorted[i].data, SECTOR);
        }
        g_assert_true(matches(m, expect, FILE_SIZE));
    }
    g_assert_cmpuint(last_prefix, ==, b.n);
    change_free(&a);
    change_free(&b);
    fixture_free(&f);
}

/*
 * Commits @c on a copy of @f's file with the power cut right after the
 * log entry write, which is torn; replay must give @f's current state.
 */
static void check_torn_commit(Fixture *f, const Change *c, GRand *rng)
{
    g_autoptr(MemIO) m = memio_dup(f->m);
    VhdxLog log = f->log;

    log.io = memio_io(m);
    m->writes = 1;
    m->cut_after_writes = 2;
    g_assert_cmpint(vhdx_log_commit(&log, c->s, c->n, NULL), ==, 0);
    m->cut_after_writes = 0;
    if (tear_log_write(m, f->m, rng)) {
        replay_ok(m, &f->guid);
        g_assert_true(matches(m, f->model, FILE_SIZE));
    }
}

/*
 * Many commits of random sizes, so entries wrap around the ring several
 * times; before each, crash it at a few points, or tear its entry, and
 * replay.  A torn entry must never take the previous entry with it, or
 * replay would fall back to an older one and roll back home sectors.
 */
static void test_crash_wrapped_log(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(9);
    unsigned wraps = 0;
    uint32_t head = 0;
    size_t max;
    Fixture f;

    fixture_init(&f, 9);
    max = vhdx_log_max_sectors_per_entry(&f.log);
    for (int i = 0; i < 80; i++) {
        size_t n = i % 10 == 9 ? max + 20 : g_rand_int_range(rng, 1, 70);
        Change c;

        change_random(&c, rng, n, 25);
        if (n <= max) {
            g_autofree uint8_t *new = dup_bytes(f.model, FILE_SIZE);
            unsigned writes = count_commit_writes(&f, &c);
            unsigned entry_writes = count_entry_writes(&f, &c);
            unsigned cuts[] = { 0, 1, writes / 2, writes };

            change_apply(new, &c);
            for (size_t j = 0; j < G_N_ELEMENTS(cuts); j++) {
                g_autoptr(MemIO) m = NULL;
                bool replayed;

                m = crash_and_replay(&f, &c, cuts[j], &replayed);
                g_assert_true(replayed == (i > 0 || cuts[j] > 0));
                g_assert_true(matches(m, cuts[j] >= entry_writes ? new :
                                         f.model, FILE_SIZE));
            }
            for (int j = 0; j < 3; j++) {
                check_torn_commit(&f, &c, rng);
            }
        }
        commit_ok(&f, &c);
        change_free(&c);
        if (f.log.head < head) {
            wraps++;
        }
        head = f.log.head;
    }
    g_assert_cmpuint(wraps, >=, 4);

    /* What is left in the log replays to the final state */
    {
        g_autoptr(MemIO) m = memio_dup(f.m);

        g_assert_true(replay_ok(m, &f.guid));
        g_assert_true(matches(m, f.model, FILE_SIZE));
    }
    fixture_free(&f);
}

/*
 * Entries up to the largest size, wrapping around the end of the ring
 * right after their predecessor, while older entries may survive past
 * it: tearing the new entry must leave the predecessor whole, or replay
 * would pick one of those and roll back home sectors.
 */
static void test_crash_large_entries(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(12);
    size_t max;
    Fixture f;

    fixture_init(&f, 12);
    max = vhdx_log_max_sectors_per_entry(&f.log);
    for (int i = 0; i < 150; i++) {
        Change c;

        change_random(&c, rng, g_rand_int_range(rng, 1, max + 1), 10);
        for (int j = 0; j < 4; j++) {
            check_torn_commit(&f, &c, rng);
        }
        commit_ok(&f, &c);
        change_free(&c);
    }
    fixture_free(&f);
}

/* A torn new entry: replay falls back to the previous one, no further */
static void test_torn_entry(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(10);
    g_autofree uint8_t *old = NULL;
    uint32_t pos, len;
    Change a, b;
    Fixture f;

    fixture_init(&f, 10);
    change_random(&a, rng, 8, 0);
    commit_ok(&f, &a);
    change_random(&b, rng, 20, 0);
    for (size_t i = 0; i < 8; i++) {
        if (!change_has(&b, a.s[i].file_offset)) {
            b.s[i].file_offset = a.s[i].file_offset;
        }
    }
    old = dup_bytes(f.model, FILE_SIZE);
    pos = f.log.head;
    len = (1 + 20) * SECTOR;

    for (uint32_t j = 0; j <= len / SECTOR; j++) {
        g_autoptr(MemIO) m = memio_dup(f.m);
        VhdxLog log = f.log;
        uint8_t *e = memio_bytes(m) + LOG_OFF + pos;

        /* Only b's entry reaches the disk, and one sector of it does not */
        log.io = memio_io(m);
        m->writes = 1;
        m->cut_after_writes = 2;
        g_assert_cmpint(vhdx_log_commit(&log, b.s, b.n, NULL), ==, 0);
        m->cut_after_writes = 0;
        g_assert_cmpuint(vhdx_ld32(e + 8), ==, len);
        if (j < len / SECTOR) {
            memset(e + j * SECTOR, 0, SECTOR);
        } else {
            e[len - 100] ^= 1;          /* one flipped bit at the end */
        }
        g_assert_true(needs_replay_ok(m, &f.guid));
        g_assert_true(replay_ok(m, &f.guid));
        g_assert_true(matches(m, old, FILE_SIZE));
    }
    change_free(&a);
    change_free(&b);
    fixture_free(&f);
}

/* An entry of zero descriptors only has no data sectors */
static void test_zero_only_entry(void)
{
    g_autofree uint8_t *new = NULL;
    g_autoptr(MemIO) m = NULL;
    VhdxLogSector s[5];
    Change c = { .s = s, .n = 5 };
    const uint8_t *e;
    bool replayed;
    Fixture f;

    fixture_init(&f, 11);
    for (int i = 0; i < 4; i++) {
        s[i] = (VhdxLogSector) { HOME_OFF + (3 - i) * SECTOR, NULL };
    }
    s[4] = (VhdxLogSector) { HOME_OFF + 10 * SECTOR, NULL };
    new = dup_bytes(f.model, FILE_SIZE);
    change_apply(new, &c);

    m = crash_and_replay(&f, &c, 1, &replayed);
    g_assert_true(replayed);
    g_assert_true(matches(m, new, FILE_SIZE));

    e = memio_bytes(m) + LOG_OFF;
    g_assert_cmpuint(vhdx_ld32(e + 8), ==, SECTOR);
    g_assert_cmpuint(vhdx_ld32(e + 24), ==, 2);
    g_assert_cmpmem(e + 64, 4, "zero", 4);
    g_assert_cmpuint(vhdx_ld64(e + 64 + 8), ==, 4 * SECTOR);
    g_assert_cmpmem(e + 96, 4, "zero", 4);
    g_assert_cmpuint(vhdx_ld64(e + 96 + 8), ==, SECTOR);
    fixture_free(&f);
}

/* ---- Appending without writing home (lazy checkpoints) ---- */

static void append_ok(VhdxLog *log, const Change *c)
{
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(vhdx_log_append(log, c->s, c->n, &err), ==, 0);
    g_assert_no_error(err);
}

/*
 * An append leaves home sectors alone and keeps their new content for
 * reading; replay after a crash or a checkpoint puts it home.
 */
static void test_append_keeps_home(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(20);
    g_autofree uint8_t *old = NULL;
    g_autofree uint8_t *new = NULL;
    uint8_t buf[SECTOR];
    Change a, b;
    Fixture f;

    fixture_init(&f, 20);
    old = dup_bytes(f.model, FILE_SIZE);
    change_random(&a, rng, 6, 30);
    change_random(&b, rng, 9, 30);
    append_ok(&f.log, &a);
    append_ok(&f.log, &b);
    new = dup_bytes(f.model, FILE_SIZE);
    change_apply(new, &a);
    change_apply(new, &b);

    /* Home untouched; each sector reads its newest logged content */
    g_assert_true(matches(f.m, old, FILE_SIZE));
    g_assert_cmpuint(f.log.sequence, ==, 3);
    for (size_t i = 0; i < b.n; i++) {
        g_assert_true(vhdx_log_read_logged(&f.log, b.s[i].file_offset, buf));
        g_assert_cmpmem(buf, SECTOR, new + b.s[i].file_offset, SECTOR);
    }
    for (uint64_t off = HOME_OFF; off < HOME_OFF + 8 * SECTOR;
         off += SECTOR) {
        g_assert_true(vhdx_log_read_logged(&f.log, off, buf) ==
                      (change_has(&a, off) || change_has(&b, off)));
    }
    g_assert_true(vhdx_log_logged_in(&f.log, b.s[0].file_offset, 1));
    g_assert_false(vhdx_log_logged_in(&f.log, 0, HOME_OFF));

    /* The second entry's tail is the first: replay applies both */
    {
        const uint8_t *log = memio_bytes(f.m) + LOG_OFF;
        uint32_t second = vhdx_ld32(log + 8);

        g_assert_cmpuint(vhdx_ld32(log + 12), ==, 0);
        g_assert_cmpuint(vhdx_ld32(log + second + 12), ==, 0);
        g_assert_cmpuint(vhdx_ld64(log + second + 16), ==, 2);
    }
    {
        g_autoptr(MemIO) m = memio_dup(f.m);

        g_assert_true(replay_ok(m, &f.guid));
        g_assert_true(matches(m, new, FILE_SIZE));
    }

    /* A checkpoint writes them home; nothing is kept any more */
    g_assert_cmpint(vhdx_log_checkpoint(&f.log, NULL), ==, 0);
    g_assert_true(matches(f.m, new, FILE_SIZE));
    g_assert_cmpuint(vhdx_log_logged_count(&f.log), ==, 0);
    g_assert_false(vhdx_log_read_logged(&f.log, b.s[0].file_offset, buf));
    change_free(&a);
    change_free(&b);
    fixture_free(&f);
}

/*
 * Host flushes: one before the entry (payload first) and one after it
 * per append, plus one per checkpoint, which log space forces only every
 * few dozen small appends.
 */
static void test_append_flushes(void)
{
    uint8_t data[SECTOR];
    unsigned checkpoints = 0;
    Fixture f;

    fixture_init(&f, 21);
    fill_pattern(data, SECTOR, 21);
    for (unsigned i = 0; i < 200; i++) {
        VhdxLogSector s = { HOME_OFF + (i % HOME_SECTORS) * SECTOR, data };
        Change c = { .s = &s, .n = 1 };
        unsigned flushes = f.m->flushes;
        bool was_in_sequence = f.log.in_sequence;

        append_ok(&f.log, &c);
        g_assert_cmpuint(f.m->flushes - flushes, <=, 3);
        if (f.m->flushes - flushes == 3) {
            g_assert_true(was_in_sequence);
            checkpoints++;
        }
        change_apply(f.model, &c);
    }
    /* Two log sectors per entry, a sequence of at most 171 sectors */
    g_assert_cmpuint(checkpoints, ==, 2);
    g_assert_cmpuint(f.m->flushes, ==, 2 * 200 + checkpoints);
    g_assert_cmpint(vhdx_log_checkpoint(&f.log, NULL), ==, 0);
    g_assert_true(matches(f.m, f.model, FILE_SIZE));
    fixture_free(&f);
}

/* A run of appends on a copy of a fixture's file */
typedef struct AppendRun {
    MemIO *m;
    unsigned *writes_after;     /* m->writes when append i returned */
} AppendRun;

/* No power cut in append_run() */
#define NO_CUT UINT_MAX

static void append_run(Fixture *f, Change *changes, unsigned n, unsigned cut,
                       AppendRun *run)
{
    VhdxLog log;

    run->m = memio_dup(f->m);
    run->writes_after = g_new(unsigned, n);
    vhdx_log_init(&log, memio_io(run->m), LOG_OFF, LOG_LEN, &f->guid);
    /* cut_after_writes 0 means no cut, so count writes from 1 */
    run->m->writes = 1;
    run->m->cut_after_writes = cut == NO_CUT ? 0 : 1 + cut;
    for (unsigned i = 0; i < n; i++) {
        append_ok(&log, &changes[i]);
        run->writes_after[i] = run->m->writes;
        /*
         * Checkpoints asked for (as close and check do) make sequences
         * of every length, also short ones followed by long ones
         */
        if (i % 13 == 6) {
            g_assert_cmpint(vhdx_log_checkpoint(&log, NULL), ==, 0);
        }
    }
    run->m->cut_after_writes = 0;
    vhdx_log_clear(&log);
}

static void append_run_free(AppendRun *run)
{
    memio_free(run->m);
    g_free(run->writes_after);
}

/* How many appends of @run were durable (had returned) at @cut */
static unsigned appends_done(const AppendRun *run, unsigned n, unsigned cut)
{
    unsigned done = 0;

    while (done < n && run->writes_after[done] <= 1 + cut) {
        done++;
    }
    return done;
}

/*
 * Many small appends, checkpointed by log space as they go, entries
 * wrapping around the ring: a power cut after every write, with that
 * write torn or not, replays to the state after the appends that had
 * returned, or after the one in flight.  Never older: a checkpoint's
 * next entry must not destroy the sequence replay still needs.
 */
static void test_append_crash_every_write(void)
{
    enum { N = 40 };
    g_autoptr(GRand) rng = g_rand_new_with_seed(22);
    uint8_t *models[N + 1];
    Change changes[N];
    AppendRun full, before = { 0 };
    unsigned total, torn = 0;
    Fixture f;

    fixture_init(&f, 22);
    models[0] = dup_bytes(f.model, FILE_SIZE);
    for (unsigned i = 0; i < N; i++) {
        change_random(&changes[i], rng, g_rand_int_range(rng, 1, 20), 20);
        models[i + 1] = dup_bytes(models[i], FILE_SIZE);
        change_apply(models[i + 1], &changes[i]);
    }
    append_run(&f, changes, N, NO_CUT, &full);
    total = full.writes_after[N - 1] - 1;
    g_assert_cmpuint(full.m->flushes, >, 2 * N);     /* checkpoints came */

    for (unsigned k = 0; k <= total; k++) {
        AppendRun run;
        unsigned done;

        append_run(&f, changes, N, k, &run);
        if (k > 0) {
            /* The same cut, the last write torn if it was a log write */
            g_autoptr(MemIO) m = memio_dup(run.m);

            if (tear_log_write(m, before.m, rng)) {
                torn++;
                done = appends_done(&before, N, k - 1);
                replay_ok(m, &f.guid);
                g_assert_true(matches(m, models[done], FILE_SIZE) ||
                              matches(m, models[done + 1], FILE_SIZE));
            }
            append_run_free(&before);
        }
        done = appends_done(&run, N, k);
        before = run;
        run.m = memio_dup(before.m);
        replay_ok(run.m, &f.guid);
        g_assert_true(matches(run.m, models[done], FILE_SIZE) ||
                      (done < N &&
                       matches(run.m, models[done + 1], FILE_SIZE)));
        memio_free(run.m);
    }
    g_assert_cmpuint(torn, >, N / 2);
    append_run_free(&before);
    append_run_free(&full);
    for (unsigned i = 0; i < N; i++) {
        change_free(&changes[i]);
        g_free(models[i]);
    }
    g_free(models[N]);
    fixture_free(&f);
}

/*
 * The first entry after a checkpoint must not reach the sequence before
 * it, however long that sequence grew: torn, it could destroy that
 * sequence while leaving an older, shorter one whole, which replay would
 * then apply over newer home sectors.  Here: a one-entry sequence A,
 * then 125 small entries B rewriting A's sector, a checkpoint and a
 * largest entry C, torn in many ways.
 */
static void test_new_sequence_spares_previous(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(24);
    g_autoptr(MemIO) before = NULL;
    g_autofree uint8_t *after_b = NULL;
    g_autofree uint8_t *after_c = NULL;
    uint8_t a[SECTOR], b[SECTOR];
    VhdxLogSector sa = { HOME_OFF, a }, sb = { HOME_OFF, b };
    Change ca = { .s = &sa, .n = 1 }, cb = { .s = &sb, .n = 1 }, cc;
    Fixture f;

    fixture_init(&f, 24);
    fill_pattern(a, SECTOR, 241);
    fill_pattern(b, SECTOR, 242);
    append_ok(&f.log, &ca);
    g_assert_cmpint(vhdx_log_checkpoint(&f.log, NULL), ==, 0);
    for (int i = 0; i < 125; i++) {
        append_ok(&f.log, &cb);
    }
    g_assert_cmpint(vhdx_log_checkpoint(&f.log, NULL), ==, 0);
    change_apply(f.model, &ca);
    change_apply(f.model, &cb);
    after_b = dup_bytes(f.model, FILE_SIZE);
    g_assert_true(matches(f.m, after_b, FILE_SIZE));

    change_random(&cc, rng, vhdx_log_max_sectors_per_entry(&f.log), 0);
    for (size_t i = 0; i < cc.n; i++) {
        if (cc.s[i].file_offset == HOME_OFF) {
            cc.s[i].file_offset = HOME_OFF + (HOME_SECTORS - 1) * SECTOR;
        }
    }
    after_c = dup_bytes(after_b, FILE_SIZE);
    change_apply(after_c, &cc);
    before = memio_dup(f.m);
    append_ok(&f.log, &cc);

    for (int t = 0; t < 64; t++) {
        g_autoptr(MemIO) m = memio_dup(f.m);

        g_assert_true(tear_log_write(m, before, rng));
        replay_ok(m, &f.guid);
        g_assert_cmpmem(memio_bytes(m) + HOME_OFF, SECTOR, b, SECTOR);
        g_assert_true(matches(m, after_b, FILE_SIZE) ||
                      matches(m, after_c, FILE_SIZE));
    }
    change_free(&cc);
    fixture_free(&f);
}

/* A checkpoint that fails leaves the log refusing writes, copies kept */
static void test_checkpoint_failure_poisons(void)
{
    g_autoptr(GError) err = NULL;
    uint8_t data[SECTOR] = { 9 }, buf[SECTOR];
    VhdxLogSector s = { HOME_OFF, data };
    Change c = { .s = &s, .n = 1 };
    Fixture f;

    fixture_init(&f, 23);
    append_ok(&f.log, &c);
    f.m->read_only = true;
    g_assert_cmpint(vhdx_log_checkpoint(&f.log, &err), ==, -EPERM);
    g_assert_error(err, VHDX_IO_ERROR, EPERM);
    g_clear_error(&err);
    f.m->read_only = false;
    g_assert_true(vhdx_log_read_logged(&f.log, HOME_OFF, buf));
    g_assert_cmpmem(buf, SECTOR, data, SECTOR);
    g_assert_cmpint(vhdx_log_append(&f.log, &s, 1, &err), ==, -EIO);
    g_assert_error(err, VHDX_ERROR, EIO);
    g_clear_error(&err);
    g_assert_cmpint(vhdx_log_checkpoint(&f.log, &err), ==, -EIO);
    g_assert_error(err, VHDX_ERROR, EIO);
    vhdx_log_clear(&f.log);

    /* Replay still gives the appended state */
    replay_ok(f.m, &f.guid);
    g_assert_cmpmem(memio_bytes(f.m) + HOME_OFF, SECTOR, data, SECTOR);
    fixture_free(&f);
}

/* ---- Replay of handcrafted logs ---- */

/*
 * DescriptorCount may be 0 (MS-VHDX 2.3.1.1): such an entry changes no
 * sector, and its LastFileOffset, however large, grows no file: only the
 * home sectors replay writes do.
 */
static void test_descriptor_count_zero(void)
{
    g_autofree uint8_t *e1 = NULL;
    g_autofree uint8_t *e2 = NULL;
    uint8_t x[SECTOR];
    TDesc d = { .file_offset = HOME_OFF, .data = x };
    TEntry t;
    uint32_t len1, len2;
    Fixture f;

    fixture_init(&f, 12);
    t = entry_template(&f, 5, 0, NULL, 0);
    t.last = 6u << 20;
    e1 = build_entry(&t, &len1);
    g_assert_cmpuint(len1, ==, SECTOR);
    put_entry(f.m, 0, e1, len1);
    g_assert_true(needs_replay_ok(f.m, &f.guid));
    g_assert_true(replay_ok(f.m, &f.guid));
    g_assert_true(matches(f.m, f.model, FILE_SIZE));
    fixture_free(&f);

    /* As the head of a sequence after a data entry */
    fixture_init(&f, 13);
    fill_pattern(x, SECTOR, 14);
    t = entry_template(&f, 20, 0, &d, 1);
    g_free(e1);
    e1 = build_entry(&t, &len1);
    t = entry_template(&f, 21, 0, NULL, 0);
    t.last = 5u << 20;
    e2 = build_entry(&t, &len2);
    put_entry(f.m, 0, e1, len1);
    put_entry(f.m, len1, e2, len2);
    g_assert_true(replay_ok(f.m, &f.guid));
    g_assert_cmpuint(memio_size(f.m), ==, FILE_SIZE);
    g_assert_cmpmem(memio_bytes(f.m) + HOME_OFF, SECTOR, x, SECTOR);
    fixture_free(&f);
}

/* Entries are applied from the head's tail entry, in order */
static void test_replay_sequence(void)
{
    uint8_t x[SECTOR], y[SECTOR], z[SECTOR];
    TDesc d1[] = { { .file_offset = HOME_OFF, .data = x } };
    TDesc d2[] = {
        { .file_offset = HOME_OFF + SECTOR, .data = z },
        { .file_offset = HOME_OFF, .data = y },
    };
    TDesc d3[] = {
        { .zero = true, .file_offset = HOME_OFF + SECTOR,
          .zero_length = 2 * SECTOR },
    };
    g_autofree uint8_t *e1 = NULL;
    g_autofree uint8_t *e2 = NULL;
    g_autofree uint8_t *e3 = NULL;
    uint32_t len1, len2, len3;
    TEntry t;
    Fixture f;

    fill_pattern(x, SECTOR, 21);
    fill_pattern(y, SECTOR, 22);
    fill_pattern(z, SECTOR, 23);

    fixture_init(&f, 20);
    t = entry_template(&f, 10, 0, d1, 1);
    e1 = build_entry(&t, &len1);
    t = entry_template(&f, 11, 0, d2, 2);
    e2 = build_entry(&t, &len2);
    t = entry_template(&f, 12, 0, d3, 1);
    e3 = build_entry(&t, &len3);
    put_entry(f.m, 0, e1, len1);
    put_entry(f.m, len1, e2, len2);
    put_entry(f.m, len1 + len2, e3, len3);
    g_assert_true(replay_ok(f.m, &f.guid));
    memcpy(f.model + HOME_OFF, y, SECTOR);
    memset(f.model + HOME_OFF + SECTOR, 0, 2 * SECTOR);
    g_assert_true(matches(f.m, f.model, FILE_SIZE));
    fixture_free(&f);

    /*
     * The head's Tail must be the start of an entry of the run: here it
     * points at nothing, so the run is no sequence, and (as MS-VHDX 2.3.3
     * scans) neither is any shorter run inside it.
     */
    fixture_init(&f, 20);
    g_free(e3);
    t = entry_template(&f, 12, 200 * SECTOR, d3, 1);
    e3 = build_entry(&t, &len3);
    put_entry(f.m, 0, e1, len1);
    put_entry(f.m, len1, e2, len2);
    put_entry(f.m, len1 + len2, e3, len3);
    g_assert_false(needs_replay_ok(f.m, &f.guid));
    g_assert_false(replay_ok(f.m, &f.guid));
    g_assert_true(matches(f.m, f.model, FILE_SIZE));
    fixture_free(&f);

    /*
     * Of two complete sequences, the one with the newer head wins,
     * whichever comes first in the ring.
     */
    for (int newer_first = 0; newer_first < 2; newer_first++) {
        fixture_init(&f, 20);
        t = entry_template(&f, newer_first ? 40 : 30, 0, d1, 1);
        g_free(e1);
        e1 = build_entry(&t, &len1);
        t = entry_template(&f, newer_first ? 30 : 40, 100 * SECTOR, d2, 2);
        g_free(e2);
        e2 = build_entry(&t, &len2);
        put_entry(f.m, 0, e1, len1);
        put_entry(f.m, 100 * SECTOR, e2, len2);
        g_assert_true(replay_ok(f.m, &f.guid));
        if (newer_first) {
            memcpy(f.model + HOME_OFF, x, SECTOR);
        } else {
            memcpy(f.model + HOME_OFF, y, SECTOR);
            memcpy(f.model + HOME_OFF + SECTOR, z, SECTOR);
        }
        g_assert_true(matches(f.m, f.model, FILE_SIZE));
        fixture_free(&f);
    }
}

/* Other writers may let an entry run past the end of the ring */
static void test_replay_wrapping_entry(void)
{
    uint8_t x[SECTOR], y[SECTOR];
    TDesc d[] = {
        { .file_offset = HOME_OFF + 5 * SECTOR, .data = x },
        { .file_offset = HOME_OFF + 9 * SECTOR, .data = y },
    };
    g_autofree uint8_t *e = NULL;
    uint32_t len, pos = LOG_LEN - SECTOR;
    TEntry t;
    Fixture f;

    fixture_init(&f, 30);
    fill_pattern(x, SECTOR, 31);
    fill_pattern(y, SECTOR, 32);
    t = entry_template(&f, 3, pos, d, 2);
    e = build_entry(&t, &len);
    put_entry(f.m, pos, e, len);
    g_assert_true(replay_ok(f.m, &f.guid));
    memcpy(f.model + HOME_OFF + 5 * SECTOR, x, SECTOR);
    memcpy(f.model + HOME_OFF + 9 * SECTOR, y, SECTOR);
    g_assert_true(matches(f.m, f.model, FILE_SIZE));
    fixture_free(&f);
}

typedef void (*Mutate)(uint8_t *e, uint32_t len);

static void mut_length_beyond_log(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 8, LOG_LEN + SECTOR);
    reseal(e, len);
}

static void mut_length_unaligned(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 8, len + 512);
    reseal(e, len);
}

static void mut_length_whole_log(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 8, LOG_LEN);
}

static void mut_count_huge(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 24, UINT32_MAX);
    reseal(e, len);
}

static void mut_count_more(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 24, 2);
    reseal(e, len);
}

static void mut_count_less(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 24, 0);
    reseal(e, len);
}

static void mut_offset_header_area(uint8_t *e, uint32_t len)
{
    vhdx_st64(e + 64 + 16, VHDX_HEADER2_OFFSET);
    reseal(e, len);
}

static void mut_offset_in_log(uint8_t *e, uint32_t len)
{
    vhdx_st64(e + 64 + 16, LOG_OFF + LOG_LEN - SECTOR);
    reseal(e, len);
}

static void mut_offset_unaligned(uint8_t *e, uint32_t len)
{
    vhdx_st64(e + 64 + 16, HOME_OFF + 8);
    reseal(e, len);
}

static void mut_offset_beyond_last(uint8_t *e, uint32_t len)
{
    vhdx_st64(e + 64 + 16, FILE_SIZE);
    reseal(e, len);
}

static void mut_last_absurd(uint8_t *e, uint32_t len)
{
    vhdx_st64(e + 56, UINT64_C(1) << 60);
    reseal(e, len);
}

static void mut_zero_overflow(uint8_t *e, uint32_t len)
{
    /* A zero descriptor whose FileOffset + ZeroLength wraps to 0 */
    memcpy(e + 64, "zero", 4);
    vhdx_st32(e + 64 + 4, 0);
    vhdx_st64(e + 64 + 8, (uint64_t)0 - HOME_OFF);
    vhdx_st32(e + 24, 1);
    reseal(e, len);
}

static void mut_desc_signature(uint8_t *e, uint32_t len)
{
    memcpy(e + 64, "dsec", 4);
    reseal(e, len);
}

static void mut_desc_sequence(uint8_t *e, uint32_t len)
{
    vhdx_st64(e + 64 + 24, vhdx_ld64(e + 16) + 1);
    reseal(e, len);
}

static void mut_data_signature(uint8_t *e, uint32_t len)
{
    memcpy(e + SECTOR, "daat", 4);
    reseal(e, len);
}

static void mut_data_sequence_low(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + SECTOR + 4092, vhdx_ld32(e + SECTOR + 4092) + 1);
    reseal(e, len);
}

static void mut_data_sequence_high(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + SECTOR + 4, 1);
    reseal(e, len);
}

static void mut_checksum(uint8_t *e, uint32_t len)
{
    e[SECTOR + 100] ^= 0x40;
}

static void mut_guid(uint8_t *e, uint32_t len)
{
    e[32] ^= 1;
    reseal(e, len);
}

static void mut_sequence_zero(uint8_t *e, uint32_t len)
{
    vhdx_st64(e + 16, 0);
    vhdx_st64(e + 64 + 24, 0);
    vhdx_st32(e + SECTOR + 4092, 0);
    reseal(e, len);
}

static void mut_tail_outside(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 12, LOG_LEN);
    reseal(e, len);
}

static void mut_tail_unaligned(uint8_t *e, uint32_t len)
{
    vhdx_st32(e + 12, vhdx_ld32(e + 12) + 512);
    reseal(e, len);
}

/*
 * Each hostile or broken entry is not an entry: alone it leaves nothing to
 * replay; after a valid entry, replay applies only the valid one.
 */
static void test_hostile_entries(void)
{
    static const struct {
        const char *name;
        Mutate mutate;
    } cases[] = {
        { "EntryLength beyond the log", mut_length_beyond_log },
        { "EntryLength unaligned", mut_length_unaligned },
        { "EntryLength the whole log", mut_length_whole_log },
        { "DescriptorCount huge", mut_count_huge },
        { "DescriptorCount too large", mut_count_more },
        { "DescriptorCount too small", mut_count_less },
        { "FileOffset in a header", mut_offset_header_area },
        { "FileOffset in the log", mut_offset_in_log },
        { "FileOffset unaligned", mut_offset_unaligned },
        { "FileOffset beyond LastFileOffset", mut_offset_beyond_last },
        { "LastFileOffset absurd", mut_last_absurd },
        { "ZeroLength overflows", mut_zero_overflow },
        { "descriptor signature", mut_desc_signature },
        { "descriptor SequenceNumber", mut_desc_sequence },
        { "data sector signature", mut_data_signature },
        { "data sector SequenceLow", mut_data_sequence_low },
        { "data sector SequenceHigh", mut_data_sequence_high },
        { "Checksum", mut_checksum },
        { "LogGuid", mut_guid },
        { "SequenceNumber zero", mut_sequence_zero },
        { "Tail outside the log", mut_tail_outside },
        { "Tail unaligned", mut_tail_unaligned },
    };
    uint8_t x[SECTOR], y[SECTOR];
    TDesc d1 = { .file_offset = HOME_OFF + SECTOR, .data = x };
    TDesc d2 = { .file_offset = HOME_OFF + SECTOR, .data = y };

    fill_pattern(x, SECTOR, 41);
    fill_pattern(y, SECTOR, 42);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree uint8_t *e1 = NULL;
        g_autofree uint8_t *e2 = NULL;
        uint32_t len1, len2;
        TEntry t;
        Fixture f;

        g_test_message("hostile entry: %s", cases[i].name);

        /* Alone */
        fixture_init(&f, 40);
        t = entry_template(&f, 2, 0, &d2, 1);
        e2 = build_entry(&t, &len2);
        cases[i].mutate(e2, len2);
        put_entry(f.m, 0, e2, len2);
        g_assert_false(needs_replay_ok(f.m, &f.guid));
        g_assert_false(replay_ok(f.m, &f.guid));
        g_assert_true(matches(f.m, f.model, FILE_SIZE));
        fixture_free(&f);

        /* After a valid entry it would overwrite */
        fixture_init(&f, 40);
        t = entry_template(&f, 1, 0, &d1, 1);
        e1 = build_entry(&t, &len1);
        put_entry(f.m, 0, e1, len1);
        t = entry_template(&f, 2, len1, &d2, 1);
        g_free(e2);
        e2 = build_entry(&t, &len2);
        cases[i].mutate(e2, len2);
        put_entry(f.m, len1, e2, len2);
        g_assert_true(needs_replay_ok(f.m, &f.guid));
        g_assert_true(replay_ok(f.m, &f.guid));
        memcpy(f.model + HOME_OFF + SECTOR, x, SECTOR);
        g_assert_true(matches(f.m, f.model, FILE_SIZE));
        fixture_free(&f);
    }
}

static void test_wrong_guid(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(50);
    g_autoptr(MemIO) m = NULL;
    g_autofree uint8_t *before = NULL;
    VhdxGuid other = test_guid(51);
    VhdxGuid zero = { { 0 } };
    Change c;
    Fixture f;
    bool replayed;

    /* A durable entry under f.guid whose home writes never happened */
    fixture_init(&f, 50);
    change_random(&c, rng, 10, 20);
    m = crash_and_replay(&f, &c, 1, &replayed);
    g_assert_true(replayed);
    memcpy(memio_bytes(m) + HOME_OFF, f.model + HOME_OFF,
           HOME_SECTORS * SECTOR);
    before = dup_bytes(memio_bytes(m), memio_size(m));
    m->writes = 0;

    /* Under another LogGuid, or a zero one, the entry is not valid */
    g_assert_false(needs_replay_ok(m, &other));
    g_assert_false(replay_ok(m, &other));
    g_assert_false(needs_replay_ok(m, &zero));
    g_assert_false(replay_ok(m, &zero));
    g_assert_cmpuint(m->writes + m->truncates + m->grows_allocated, ==, 0);
    g_assert_cmpmem(memio_bytes(m), memio_size(m), before, FILE_SIZE);

    /* Under its own it is */
    g_assert_true(replay_ok(m, &f.guid));
    change_apply(f.model, &c);
    g_assert_true(matches(m, f.model, FILE_SIZE));
    change_free(&c);
    fixture_free(&f);
}

static void test_empty_and_garbage_log(void)
{
    Fixture f;

    fixture_init(&f, 60);
    g_assert_false(needs_replay_ok(f.m, &f.guid));
    g_assert_false(replay_ok(f.m, &f.guid));
    g_assert_cmpuint(f.m->writes + f.m->truncates + f.m->grows_allocated,
                     ==, 0);

    /* Random bytes, with entry signatures sprinkled in */
    fill_pattern(memio_bytes(f.m) + LOG_OFF, LOG_LEN, 61);
    for (uint32_t i = 0; i < LOG_SECTORS; i += 3) {
        memcpy(memio_bytes(f.m) + LOG_OFF + i * SECTOR, "loge", 4);
    }
    g_assert_false(needs_replay_ok(f.m, &f.guid));
    g_assert_false(replay_ok(f.m, &f.guid));
    g_assert_true(matches(f.m, f.model, FILE_SIZE));
    fixture_free(&f);
}

/* Replay does not clear the log: doing it twice gives the same file */
static void test_replay_idempotent(void)
{
    g_autoptr(GRand) rng = g_rand_new_with_seed(70);
    g_autofree uint8_t *once = NULL;
    g_autoptr(MemIO) m = NULL;
    Change a, b;
    Fixture f;
    bool replayed;

    fixture_init(&f, 70);
    change_random(&a, rng, 30, 30);
    commit_ok(&f, &a);
    change_random(&b, rng, 30, 30);
    m = crash_and_replay(&f, &b, 1, &replayed);
    once = dup_bytes(memio_bytes(m), memio_size(m));
    g_assert_true(needs_replay_ok(m, &f.guid));
    g_assert_true(replay_ok(m, &f.guid));
    g_assert_cmpmem(memio_bytes(m), memio_size(m), once, FILE_SIZE);
    change_apply(f.model, &b);
    g_assert_true(matches(m, f.model, FILE_SIZE));
    change_free(&a);
    change_free(&b);
    fixture_free(&f);
}

/* LastFileOffset covers home sectors past the end; replay grows the file */
static void test_replay_extends_file(void)
{
    g_autoptr(MemIO) m = NULL;
    uint8_t x[SECTOR];
    VhdxLogSector s = { FILE_SIZE + SECTOR, x };
    Change c = { .s = &s, .n = 1 };
    Fixture f;
    bool replayed;

    fixture_init(&f, 80);
    fill_pattern(x, SECTOR, 81);
    m = crash_and_replay(&f, &c, 1, &replayed);
    g_assert_true(replayed);
    g_assert_cmpuint(vhdx_ld64(memio_bytes(m) + LOG_OFF + 56), ==,
                     FILE_SIZE + (1u << 20));
    g_assert_cmpuint(memio_size(m), ==, FILE_SIZE + (1u << 20));
    g_assert_cmpmem(memio_bytes(m) + FILE_SIZE + SECTOR, SECTOR, x, SECTOR);
    fixture_free(&f);
}

/*
 * A home sector far beyond the end, inside a huge LastFileOffset: the
 * file grows to cover that sector (the image open then cuts off what no
 * structure references), never to LastFileOffset.
 */
static void test_replay_far_home(void)
{
    g_autofree uint8_t *e = NULL;
    uint8_t x[SECTOR];
    uint64_t far = 64u << 20;
    TDesc d = { .file_offset = far, .data = x };
    uint32_t len;
    TEntry t;
    Fixture f;

    fixture_init(&f, 85);
    fill_pattern(x, SECTOR, 86);
    t = entry_template(&f, 1, 0, &d, 1);
    t.last = UINT64_C(15) << 40;
    e = build_entry(&t, &len);
    put_entry(f.m, 0, e, len);
    g_assert_true(replay_ok(f.m, &f.guid));
    g_assert_cmpuint(memio_size(f.m), ==, far + (1u << 20));
    g_assert_cmpmem(memio_bytes(f.m) + far, SECTOR, x, SECTOR);
    fixture_free(&f);
}

/*
 * A zero descriptor over a large range writes zeros only where data may
 * be: on a sparse file, zeroing holes would allocate them all
 */
static void test_replay_zero_skips_holes(void)
{
    g_autofree uint8_t *e = NULL;
    TDesc d = {
        .zero = true, .file_offset = FILE_SIZE, .zero_length = 64u << 20,
    };
    uint32_t len;
    unsigned writes;
    TEntry t;
    Fixture f;

    fixture_init(&f, 89);
    t = entry_template(&f, 1, 0, &d, 1);
    t.last = FILE_SIZE + (64u << 20);
    e = build_entry(&t, &len);
    put_entry(f.m, 0, e, len);
    writes = f.m->writes;
    g_assert_true(replay_ok(f.m, &f.guid));
    g_assert_cmpuint(memio_size(f.m), ==, FILE_SIZE + (64u << 20));
    g_assert_cmpuint(f.m->writes, ==, writes);
    fixture_free(&f);
}

/*
 * The scan skips holes the storage reports and reads the rest a window
 * at a time: a 64 MiB log of zeros but one entry costs a handful of
 * calls, not one per sector.
 */
static void test_scan_bounded_reads(void)
{
    const uint32_t log_len = 64u << 20;
    g_autofree uint8_t *e = NULL;
    g_autoptr(MemIO) m = memio_new(LOG_OFF + log_len + (1u << 20));
    g_autoptr(GError) err = NULL;
    uint8_t x[SECTOR];
    TDesc d = { .file_offset = LOG_OFF + log_len, .data = x };
    uint32_t len;
    TEntry t;
    Fixture f;
    bool needed;

    fixture_init(&f, 87);
    fill_pattern(x, SECTOR, 88);
    t = entry_template(&f, 3, 40u << 20, &d, 1);
    t.flushed = t.last = memio_size(m);
    e = build_entry(&t, &len);
    memcpy(memio_bytes(m) + LOG_OFF + (40u << 20), e, len);

    g_assert_cmpint(vhdx_log_needs_replay(memio_io(m), LOG_OFF, log_len,
                                          &f.guid, &needed, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(needed);
    g_assert_cmpuint(m->reads, <=, 4);
    g_assert_cmpuint(m->block_statuses, <=, 16);

    /* A log of data that holds no entry: one read per window */
    memset(memio_bytes(m) + LOG_OFF, 0xa5, log_len);
    m->reads = 0;
    g_assert_cmpint(vhdx_log_needs_replay(memio_io(m), LOG_OFF, log_len,
                                          &f.guid, &needed, &err), ==, 0);
    g_assert_false(needed);
    g_assert_cmpuint(m->reads, ==, log_len >> 20);

    /*
     * One sector of data (no entry) at each MiB, holes between: only the
     * data is read, not the holes after it
     */
    memset(memio_bytes(m) + LOG_OFF, 0, log_len);
    for (uint32_t off = 0; off < log_len; off += 1u << 20) {
        memset(memio_bytes(m) + LOG_OFF + off, 0xa5, SECTOR);
    }
    m->reads = 0;
    m->bytes_read = 0;
    g_assert_cmpint(vhdx_log_needs_replay(memio_io(m), LOG_OFF, log_len,
                                          &f.guid, &needed, &err), ==, 0);
    g_assert_false(needed);
    g_assert_cmpuint(m->bytes_read, ==, (uint64_t)(log_len >> 20) * SECTOR);
    fixture_free(&f);
}

/* A file shorter than the head's FlushedFileOffset was truncated */
static void test_replay_truncated_file(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *e = NULL;
    uint8_t x[SECTOR] = { 1 };
    TDesc d = { .file_offset = HOME_OFF, .data = x };
    uint32_t len;
    TEntry t;
    Fixture f;
    bool replayed;

    fixture_init(&f, 90);
    t = entry_template(&f, 1, 0, &d, 1);
    t.flushed = 8u << 20;
    t.last = 8u << 20;
    e = build_entry(&t, &len);
    put_entry(f.m, 0, e, len);
    g_assert_true(needs_replay_ok(f.m, &f.guid));
    g_assert_cmpint(vhdx_log_replay(memio_io(f.m), LOG_OFF, LOG_LEN, &f.guid,
                                    &replayed, &err), ==, -EINVAL);
    g_assert_error(err, VHDX_ERROR, EINVAL);
    g_assert_nonnull(strstr(err->message, "FlushedFileOffset"));
    g_assert_false(replayed);
    g_assert_true(matches(f.m, f.model, FILE_SIZE));
    fixture_free(&f);
}

static void test_region_and_io_errors(void)
{
    static const struct {
        uint64_t offset;
        uint32_t length;
    } bad[] = {
        { 0, LOG_LEN },                         /* header area */
        { LOG_OFF + SECTOR, LOG_LEN },          /* unaligned */
        { LOG_OFF, 0 },                         /* empty */
        { LOG_OFF, LOG_LEN + SECTOR },          /* not 1 MiB multiple */
        { FILE_SIZE, LOG_LEN },                 /* past the end */
    };
    g_autoptr(GError) err = NULL;
    Fixture f;
    bool flag;

    fixture_init(&f, 100);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(vhdx_log_needs_replay(memio_io(f.m), bad[i].offset,
                                              bad[i].length, &f.guid, &flag,
                                              &err), ==, -EINVAL);
        g_assert_error(err, VHDX_ERROR, EINVAL);
        g_assert_nonnull(strstr(err->message, "VHDX log region"));
        g_clear_error(&err);
        g_assert_cmpint(vhdx_log_replay(memio_io(f.m), bad[i].offset,
                                        bad[i].length, &f.guid, &flag,
                                        &err), ==, -EINVAL);
        g_clear_error(&err);
    }

    /* Holes are skipped unread: give the scan something to read */
    memset(memio_bytes(f.m) + LOG_OFF, 0xa5, SECTOR);
    f.m->fail_reads_errno = EIO;
    g_assert_cmpint(vhdx_log_needs_replay(memio_io(f.m), LOG_OFF, LOG_LEN,
                                          &f.guid, &flag, &err), ==, -EIO);
    g_assert_error(err, VHDX_IO_ERROR, EIO);
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/log/commit/home-sectors", test_commit_home_sectors);
    g_test_add_func("/log/commit/empty", test_commit_empty);
    g_test_add_func("/log/commit/split", test_commit_split);
    g_test_add_func("/log/commit/max-sectors-per-entry",
                    test_max_sectors_per_entry);
    g_test_add_func("/log/commit/invalid-input", test_commit_invalid_input);
    g_test_add_func("/log/commit/failure-poisons",
                    test_commit_failure_poisons);
    g_test_add_func("/log/crash/every-write", test_crash_every_write);
    g_test_add_func("/log/crash/split-commit", test_crash_split_commit);
    g_test_add_func("/log/crash/wrapped-log", test_crash_wrapped_log);
    g_test_add_func("/log/crash/large-entries", test_crash_large_entries);
    g_test_add_func("/log/crash/torn-entry", test_torn_entry);
    g_test_add_func("/log/crash/zero-only-entry", test_zero_only_entry);
    g_test_add_func("/log/append/keeps-home", test_append_keeps_home);
    g_test_add_func("/log/append/flushes", test_append_flushes);
    g_test_add_func("/log/append/crash-every-write",
                    test_append_crash_every_write);
    g_test_add_func("/log/append/new-sequence-spares-previous",
                    test_new_sequence_spares_previous);
    g_test_add_func("/log/append/checkpoint-failure-poisons",
                    test_checkpoint_failure_poisons);
    g_test_add_func("/log/replay/descriptor-count-zero",
                    test_descriptor_count_zero);
    g_test_add_func("/log/replay/sequence", test_replay_sequence);
    g_test_add_func("/log/replay/wrapping-entry", test_replay_wrapping_entry);
    g_test_add_func("/log/replay/hostile-entries", test_hostile_entries);
    g_test_add_func("/log/replay/wrong-guid", test_wrong_guid);
    g_test_add_func("/log/replay/empty-and-garbage",
                    test_empty_and_garbage_log);
    g_test_add_func("/log/replay/idempotent", test_replay_idempotent);
    g_test_add_func("/log/replay/extends-file", test_replay_extends_file);
    g_test_add_func("/log/replay/far-home", test_replay_far_home);
    g_test_add_func("/log/replay/zero-skips-holes",
                    test_replay_zero_skips_holes);
    g_test_add_func("/log/scan/bounded-reads", test_scan_bounded_reads);
    g_test_add_func("/log/replay/truncated-file", test_replay_truncated_file);
    g_test_add_func("/log/replay/region-and-io-errors",
                    test_region_and_io_errors);
    return g_test_run();
}
