/* test-log.h: every message a suite logs, kept for its tests to read
 *
 * SPDX-License-Identifier: MIT
 *
 * For suites that check what the library (and libsoup) wrote: that a
 * message came, that none tried again, that none shows a credential.
 * Debug messages are kept, not printed (stdout is the TAP stream); the
 * others are kept and printed as GLib's default writer prints them.
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Installs the recording log writer; once per process, before anything
 * logs (GLib allows one writer). */
void  test_log_record (void);

/* Everything logged so far, a line per message: its text, then its
 * domain. */
char *test_log_dup_text (void);

G_END_DECLS
