/*
 * Unit tests: VHDX file identifier and headers
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "vhdx/header.h"
#include "vhdx/crc32c.h"
#include "vhdx/endian.h"
#include "vhdx/error.h"
#include "vhdx/format.h"
#include "vhdx-memio.h"
#include "vhdx-test-util.h"

#include <errno.h>
#include <glib.h>
#include <string.h>

#define FILE_SIZE (2 * VHDX_MiB)

static void make_header(VhdxHeader *h, uint64_t seq)
{
    memset(h, 0, sizeof(*h));
    h->sequence_number = seq;
    vhdx_guid_generate(&h->file_write_guid);
    vhdx_guid_generate(&h->data_write_guid);
    h->version = VHDX_HEADER_VERSION;
    h->log_version = VHDX_LOG_VERSION;
    h->log_offset = VHDX_MiB;
    h->log_length = VHDX_MiB;
}

static void encode_seq(uint8_t *buf, uint64_t seq)
{
    VhdxHeader h;

    make_header(&h, seq);
    vhdx_header_encode(&h, buf);
}

/* Re-seals a header after a test edited its fields */
static void reseal(uint8_t *buf)
{
    vhdx_checksum_store(buf, VHDX_HEADER_SIZE, 4);
}

static void test_file_id(void)
{
    g_autofree uint8_t *buf = g_malloc(VHDX_FILE_ID_SIZE);
    static const char expect[] = "QEMU é";

    memset(buf, 0xaa, VHDX_FILE_ID_SIZE);
    vhdx_file_id_encode(buf, expect);
    g_assert_true(vhdx_file_id_valid(buf, VHDX_FILE_ID_SIZE));
    g_assert_false(vhdx_file_id_valid(buf, 7));
    g_assert_cmpmem(buf, 8, "vhdxfile", 8);
    g_assert_cmphex(vhdx_ld16(buf + 8), ==, 'Q');
    g_assert_cmphex(vhdx_ld16(buf + 8 + 2 * 5), ==, 0xe9);
    g_assert_cmphex(vhdx_ld16(buf + 8 + 2 * 6), ==, 0);
    /* Everything past the creator is zero */
    for (size_t i = 8 + VHDX_CREATOR_SIZE; i < VHDX_FILE_ID_SIZE; i++) {
        g_assert_cmpint(buf[i], ==, 0);
    }
    buf[0] = 'V';
    g_assert_false(vhdx_file_id_valid(buf, VHDX_FILE_ID_SIZE));
}

static void test_file_id_truncates(void)
{
    g_autofree uint8_t *buf = g_malloc(VHDX_FILE_ID_SIZE);
    GString *creator = g_string_new("");

    /* 300 astral characters: 600 units, cut must not split a pair */
    for (int i = 0; i < 300; i++) {
        g_string_append(creator, "\xf0\x9f\x98\x80");
    }
    vhdx_file_id_encode(buf, creator->str);
    g_string_free(creator, TRUE);
    g_assert_cmphex(vhdx_ld16(buf + 8), ==, 0xd83d);
    g_assert_cmphex(vhdx_ld16(buf + 8 + 2), ==, 0xde00);
    /* 254 units kept: the 255th would have been a lone high surrogate */
    g_assert_cmphex(vhdx_ld16(buf + 8 + 2 * 253), ==, 0xde00);
    g_assert_cmphex(vhdx_ld16(buf + 8 + 2 * 254), ==, 0);
    g_assert_cmphex(vhdx_ld16(buf + 8 + 2 * 255), ==, 0);
}

static void test_encode_decode(void)
{
    uint8_t buf[VHDX_HEADER_SIZE];
    VhdxHeader h, out;
    GError *err = NULL;

    make_header(&h, 0x123456789abcULL);
    vhdx_guid_generate(&h.log_guid);
    h.log_offset = 3 * VHDX_MiB;
    h.log_length = 2 * VHDX_MiB;
    vhdx_header_encode(&h, buf);
    g_assert_cmpmem(buf, 4, "head", 4);
    g_assert_cmphex(vhdx_ld32(buf + 4), ==,
                    vhdx_checksum(buf, sizeof(buf), 4));
    g_assert_cmpuint(vhdx_ld64(buf + 72), ==, 3 * VHDX_MiB);
    for (size_t i = 80; i < sizeof(buf); i++) {
        g_assert_cmpint(buf[i], ==, 0);
    }
    g_assert_cmpint(vhdx_header_decode(buf, &out, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpmem(&out, sizeof(out), &h, sizeof(h));
}

typedef struct BadField {
    const char *name;
    size_t offset;
    int width;
    uint64_t value;
    const char *needle;
} BadField;

static void test_decode_rejects_fields(void)
{
    static const BadField cases[] = {
        { "version", 66, 2, 2, "Version 2" },
        { "log version", 64, 2, 1, "LogVersion 1" },
        { "log length zero", 68, 4, 0, "LogLength is zero" },
        { "log length unaligned", 68, 4, VHDX_MiB + 4096,
          "LogLength 0x101000" },
        { "log offset unaligned", 72, 8, 0x123, "LogOffset 0x123" },
        { "log offset in header", 72, 8, 0, "LogOffset 0x0" },
        { "log offset overflow", 72, 8, UINT64_MAX & ~(VHDX_MiB - 1),
          "overflows" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint8_t buf[VHDX_HEADER_SIZE];
        VhdxHeader out;
        GError *err = NULL;
        int ret;

        encode_seq(buf, 1);
        if (cases[i].width == 2) {
            vhdx_st16(buf + cases[i].offset, cases[i].value);
        } else if (cases[i].width == 4) {
            vhdx_st32(buf + cases[i].offset, cases[i].value);
        } else {
            vhdx_st64(buf + cases[i].offset, cases[i].value);
        }
        reseal(buf);
        ret = vhdx_header_decode(buf, &out, &err);
        assert_vhdx_error(err, ret, EINVAL, cases[i].needle);
        g_test_message("%s: %s", cases[i].name, err->message);
        g_assert_nonnull(strstr(err->message, "VHDX header"));
        g_error_free(err);
    }
}

static void test_decode_rejects_integrity(void)
{
    uint8_t buf[VHDX_HEADER_SIZE];
    VhdxHeader out;
    GError *err = NULL;
    int ret;

    encode_seq(buf, 1);
    buf[100] ^= 1;
    ret = vhdx_header_decode(buf, &out, &err);
    assert_vhdx_error(err, ret, EINVAL, "Checksum");
    g_clear_error(&err);

    encode_seq(buf, 1);
    memcpy(buf, "HEAD", 4);
    reseal(buf);
    ret = vhdx_header_decode(buf, &out, &err);
    assert_vhdx_error(err, ret, EINVAL, "Signature");
    g_clear_error(&err);
}

static void select_ok(const uint8_t *b1, const uint8_t *b2, int slot,
                      uint64_t seq)
{
    VhdxHeaderState st;
    GError *err = NULL;

    memset(&st, 0xff, sizeof(st));
    g_assert_cmpint(vhdx_header_select(b1, b2, &st, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(st.slot, ==, slot);
    g_assert_cmpuint(st.current.sequence_number, ==, seq);
}

static void test_select_higher_wins(void)
{
    uint8_t a[VHDX_HEADER_SIZE], b[VHDX_HEADER_SIZE];

    encode_seq(a, 7);
    encode_seq(b, 8);
    select_ok(a, b, 1, 8);
    select_ok(b, a, 0, 8);
    /* Sequence numbers compare as unsigned 64-bit */
    encode_seq(a, 1);
    encode_seq(b, UINT64_MAX);
    select_ok(a, b, 1, UINT64_MAX);
}

static void corrupt_checksum(uint8_t *buf)
{
    buf[2000] ^= 0x40;
}

static void corrupt_signature(uint8_t *buf)
{
    buf[0] = 'x';
    reseal(buf);
}

static void test_select_one_corrupt(void)
{
    void (*corrupt[])(uint8_t *) = { corrupt_checksum, corrupt_signature };
    uint8_t a[VHDX_HEADER_SIZE], b[VHDX_HEADER_SIZE];

    for (size_t i = 0; i < G_N_ELEMENTS(corrupt); i++) {
        /* The corrupt one has the higher sequence number and still loses */
        encode_seq(a, 10);
        encode_seq(b, 11);
        corrupt[i](b);
        select_ok(a, b, 0, 10);
        encode_seq(a, 11);
        encode_seq(b, 10);
        corrupt[i](a);
        select_ok(a, b, 1, 10);
    }
    encode_seq(a, 3);
    select_ok(a, NULL, 0, 3);
    select_ok(NULL, a, 1, 3);
}

static void test_select_both_corrupt(void)
{
    uint8_t a[VHDX_HEADER_SIZE], b[VHDX_HEADER_SIZE];
    VhdxHeaderState st = { .slot = 42 };
    GError *err = NULL;
    int ret;

    encode_seq(a, 1);
    encode_seq(b, 2);
    corrupt_checksum(a);
    corrupt_signature(b);
    ret = vhdx_header_select(a, b, &st, &err);
    assert_vhdx_error(err, ret, EINVAL, "no valid header");
    g_assert_nonnull(strstr(err->message, "VHDX header 1: Checksum"));
    g_assert_nonnull(strstr(err->message, "VHDX header 2: Signature"));
    g_assert_cmpint(st.slot, ==, 42);
    g_error_free(err);
}

static void test_select_equal_sequence(void)
{
    uint8_t a[VHDX_HEADER_SIZE], b[VHDX_HEADER_SIZE];
    VhdxHeaderState st;
    GError *err = NULL;
    int ret;

    /* Identical copies: no ambiguity, header 1 is used */
    encode_seq(a, 5);
    memcpy(b, a, sizeof(a));
    select_ok(a, b, 0, 5);

    /* Same number, different content: neither is current */
    encode_seq(b, 5);
    ret = vhdx_header_select(a, b, &st, &err);
    assert_vhdx_error(err, ret, EINVAL, "same SequenceNumber 0x5");
    g_error_free(err);
}

static void test_select_current_bad_log(void)
{
    uint8_t a[VHDX_HEADER_SIZE], b[VHDX_HEADER_SIZE];
    VhdxHeaderState st;
    GError *err = NULL;
    int ret;

    encode_seq(a, 1);
    encode_seq(b, 2);
    vhdx_st64(b + 72, VHDX_MiB + 0x123);
    reseal(b);
    ret = vhdx_header_select(a, b, &st, &err);
    assert_vhdx_error(err, ret, EINVAL,
                 "VHDX header 2: LogOffset 0x100123 is not 1 MiB aligned");
    g_clear_error(&err);

    /* A bad log in the older header does not matter */
    encode_seq(b, 0);
    vhdx_st32(b + 68, 12345);
    reseal(b);
    select_ok(a, b, 0, 1);
}

static MemIO *memio_with_headers(uint64_t seq1, uint64_t seq2)
{
    MemIO *m = memio_new(FILE_SIZE);

    encode_seq(memio_bytes(m) + VHDX_HEADER1_OFFSET, seq1);
    encode_seq(memio_bytes(m) + VHDX_HEADER2_OFFSET, seq2);
    return m;
}

static void test_load(void)
{
    g_autoptr(MemIO) m = memio_with_headers(4, 9);
    VhdxHeaderState st;
    GError *err = NULL;
    int ret;

    g_assert_cmpint(vhdx_header_load(memio_io(m), &st, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(st.slot, ==, 1);
    g_assert_cmpuint(st.current.sequence_number, ==, 9);

    corrupt_checksum(memio_bytes(m) + VHDX_HEADER2_OFFSET);
    g_assert_cmpint(vhdx_header_load(memio_io(m), &st, &err), ==, 0);
    g_assert_cmpint(st.slot, ==, 0);
    g_assert_cmpuint(st.current.sequence_number, ==, 4);

    m->fail_reads_errno = EIO;
    ret = vhdx_header_load(memio_io(m), &st, &err);
    assert_vhdx_error(err, ret, EIO, "read failed");
    g_clear_error(&err);
    g_assert_cmpuint(m->writes, ==, 0);
}

static void test_load_empty_file(void)
{
    g_autoptr(MemIO) m = memio_new(0);
    VhdxHeaderState st;
    GError *err = NULL;
    int ret;

    ret = vhdx_header_load(memio_io(m), &st, &err);
    assert_vhdx_error(err, ret, EINVAL, "no valid header");
    g_clear_error(&err);
    g_assert_cmpuint(m->writes, ==, 0);
}

static void update_ok(MemIO *m, VhdxHeaderState *st, int slot,
                      uint64_t seq)
{
    VhdxHeaderState reread;
    VhdxHeader h = st->current;
    GError *err = NULL;

    vhdx_guid_generate(&h.file_write_guid);
    g_assert_cmpint(vhdx_header_update(memio_io(m), st, &h, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpint(st->slot, ==, slot);
    g_assert_cmpuint(st->current.sequence_number, ==, seq);
    g_assert_true(vhdx_guid_equal(&st->current.file_write_guid,
                                  &h.file_write_guid));

    /* What a fresh open would see */
    g_assert_cmpint(vhdx_header_load(memio_io(m), &reread, &err), ==, 0);
    g_assert_cmpint(reread.slot, ==, slot);
    g_assert_cmpmem(&reread.current, sizeof(VhdxHeader), &st->current,
                    sizeof(VhdxHeader));
}

static void test_update_alternates(void)
{
    g_autoptr(MemIO) m = memio_with_headers(5, 0);
    g_autofree uint8_t *old = g_malloc(VHDX_HEADER_SIZE);
    VhdxHeaderState st;
    GError *err = NULL;

    /* Header 2 starts out as garbage */
    corrupt_signature(memio_bytes(m) + VHDX_HEADER2_OFFSET);
    g_assert_cmpint(vhdx_header_load(memio_io(m), &st, &err), ==, 0);
    g_assert_cmpint(st.slot, ==, 0);
    memcpy(old, memio_bytes(m) + VHDX_HEADER1_OFFSET, VHDX_HEADER_SIZE);

    update_ok(m, &st, 1, 6);
    g_assert_cmpuint(m->writes, ==, 1);
    g_assert_cmpuint(m->flushes, ==, 1);
    /* The previous current header was not touched */
    g_assert_cmpmem(memio_bytes(m) + VHDX_HEADER1_OFFSET, VHDX_HEADER_SIZE,
                    old, VHDX_HEADER_SIZE);

    update_ok(m, &st, 0, 7);
    update_ok(m, &st, 1, 8);
    g_assert_cmpuint(m->writes, ==, 3);
    g_assert_cmpuint(m->flushes, ==, 3);
}

static void test_update_power_cut(void)
{
    g_autoptr(MemIO) m = memio_with_headers(5, 2);
    VhdxHeaderState st, reread;
    VhdxHeader h;
    GError *err = NULL;

    g_assert_cmpint(vhdx_header_load(memio_io(m), &st, &err), ==, 0);
    h = st.current;
    /* The header write never reaches the disk */
    m->cut_after_writes = 1;
    m->writes = 1;
    g_assert_cmpint(vhdx_header_update(memio_io(m), &st, &h, &err), ==, 0);
    g_assert_cmpint(vhdx_header_load(memio_io(m), &reread, &err), ==, 0);
    g_assert_cmpint(reread.slot, ==, 0);
    g_assert_cmpuint(reread.current.sequence_number, ==, 5);
}

static void test_update_rejects(void)
{
    g_autoptr(MemIO) m = memio_with_headers(5, 2);
    VhdxHeaderState st;
    VhdxHeader h;
    GError *err = NULL;
    int ret;

    g_assert_cmpint(vhdx_header_load(memio_io(m), &st, &err), ==, 0);
    h = st.current;
    h.log_offset = 0x180000;
    ret = vhdx_header_update(memio_io(m), &st, &h, &err);
    assert_vhdx_error(err, ret, EINVAL, "LogOffset 0x180000");
    g_clear_error(&err);
    g_assert_cmpuint(m->writes, ==, 0);
    g_assert_cmpint(st.slot, ==, 0);
    g_assert_cmpuint(st.current.sequence_number, ==, 5);

    h = st.current;
    st.current.sequence_number = UINT64_MAX;
    ret = vhdx_header_update(memio_io(m), &st, &h, &err);
    assert_vhdx_error(err, ret, EOVERFLOW, "SequenceNumber");
    g_clear_error(&err);
    g_assert_cmpuint(m->writes, ==, 0);

    st.current.sequence_number = 5;
    m->read_only = true;
    ret = vhdx_header_update(memio_io(m), &st, &h, &err);
    assert_vhdx_error(err, ret, EPERM, "VHDX header 2: write failed");
    g_clear_error(&err);
    g_assert_cmpint(st.slot, ==, 0);
    g_assert_cmpuint(st.current.sequence_number, ==, 5);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/header/file-id", test_file_id);
    g_test_add_func("/header/file-id-truncates", test_file_id_truncates);
    g_test_add_func("/header/encode-decode", test_encode_decode);
    g_test_add_func("/header/decode-rejects-fields",
                    test_decode_rejects_fields);
    g_test_add_func("/header/decode-rejects-integrity",
                    test_decode_rejects_integrity);
    g_test_add_func("/header/select-higher-wins", test_select_higher_wins);
    g_test_add_func("/header/select-one-corrupt", test_select_one_corrupt);
    g_test_add_func("/header/select-both-corrupt", test_select_both_corrupt);
    g_test_add_func("/header/select-equal-sequence",
                    test_select_equal_sequence);
    g_test_add_func("/header/select-current-bad-log",
                    test_select_current_bad_log);
    g_test_add_func("/header/load", test_load);
    g_test_add_func("/header/load-empty-file", test_load_empty_file);
    g_test_add_func("/header/update-alternates", test_update_alternates);
    g_test_add_func("/header/update-power-cut", test_update_power_cut);
    g_test_add_func("/header/update-rejects", test_update_rejects);
    return g_test_run();
}
