/* test-resolver.h: a GResolver with names that behave badly on purpose
 *
 * SPDX-License-Identifier: MIT
 *
 * Installed with g_resolver_set_default(), it answers the library's lookups
 * (which it makes in its flush thread) without any DNS:
 *   - "<anything>.invalid" does not exist (G_RESOLVER_ERROR_NOT_FOUND);
 *   - "blocked.test" blocks until the lookup is cancelled or the test calls
 *     test_resolver_unblock();
 *   - "moving.test" is ::1 for the first lookup and 127.0.0.1 after;
 *   - any other name is 127.0.0.1.
 * IP literals never reach a resolver: GIO answers those itself, and GLib
 * answers "localhost" with no lookup. Asynchronous lookups (GSocketClient's,
 * libsoup's) wait for a task on GLib's worker threads first, as GLib's own
 * resolver's do.
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define TEST_TYPE_RESOLVER (test_resolver_get_type ())
G_DECLARE_FINAL_TYPE (TestResolver, test_resolver, TEST, RESOLVER, GResolver)

/* Makes a resolver and installs it as the default; the previous default is
 * put back by test_resolver_uninstall(). */
TestResolver *test_resolver_install         (void);
void          test_resolver_uninstall       (TestResolver *self);

guint         test_resolver_get_n_lookups   (TestResolver *self,
                                             const char   *name);
/* Waits until a lookup of "blocked.test" is in progress. */
gboolean      test_resolver_wait_blocked    (TestResolver *self,
                                             double        timeout_s);
void          test_resolver_unblock         (TestResolver *self);

G_END_DECLS
