/*
 * Runs a libFuzzer harness over files, without libFuzzer: the corpus
 * regression test of `make check` (built with gcc, with or without
 * sanitizers), and a way to replay one crash file under a debugger.
 *
 * usage: fuzz-HARNESS-replay DIR-OR-FILE...
 * Prints TAP, one result per argument: every file of a directory, or the
 * file, was run.  A finding aborts the program, which fails the test.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "fuzz-util.h"

#include <stdio.h>
#include <stdlib.h>

static void run_file(const char *path)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &err)) {
        fprintf(stderr, "%s\n", err->message);
        exit(1);
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* Runs every file of @dir in name order; returns how many there were */
static unsigned run_dir(const char *dir)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &err);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    if (!d) {
        fprintf(stderr, "%s\n", err->message);
        exit(1);
    }
    while ((name = g_dir_read_name(d))) {
        g_ptr_array_add(names, g_build_filename(dir, name, NULL));
    }
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        run_file(g_ptr_array_index(names, i));
    }
    return names->len;
}

int main(int argc, char **argv)
{
    printf("1..%d\n", argc - 1);
    for (int i = 1; i < argc; i++) {
        unsigned n = 1;

        fflush(stdout);
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            n = run_dir(argv[i]);
        } else {
            run_file(argv[i]);
        }
        printf("%s %d - %s: %u inputs\n", n ? "ok" : "not ok", i, argv[i], n);
    }
    return 0;
}
