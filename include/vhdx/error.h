/*
 * Error reporting of the VHDX format core
 *
 * Core functions return 0 or a negative errno and, on failure, fill a
 * GError whose code is the positive errno.  Its domain says what the
 * errno means: VHDX_ERROR for a problem in the image or in the request,
 * whose message says everything (the errno is only a classification),
 * and VHDX_IO_ERROR for storage that failed, whose errno the user must
 * see ("No space left on device").  The QEMU glue turns the GError into
 * an Error, adding the errno's text for VHDX_IO_ERROR.
 *
 * A message is one phrase; an explanation or advice, when it needs one,
 * follows it after a newline (the glue makes it the Error's hint).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef VHDX_ERROR_H
#define VHDX_ERROR_H

#include <glib.h>

#define VHDX_ERROR vhdx_error_quark()
#define VHDX_IO_ERROR vhdx_io_error_quark()

GQuark vhdx_error_quark(void);
GQuark vhdx_io_error_quark(void);

/*
 * Sets *@errp (if @errp is non-NULL and *@errp is still unset) and returns
 * -@errnum, so a failure can be reported with one return statement.
 */
int vhdx_error(GError **errp, int errnum, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* vhdx_error() for storage that failed with -@errnum */
int vhdx_io_error(GError **errp, int errnum, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Prefixes an error already set by a callee with more context */
void vhdx_error_prefix(GError **errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

#endif /* VHDX_ERROR_H */
