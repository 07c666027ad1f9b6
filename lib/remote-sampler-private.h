/* remote-sampler-private.h: a sampler whose strategy a Jaeger agent's
 * sampling endpoint gives, asked again at every refresh interval
 *
 * SPDX-License-Identifier: MIT
 *
 * Built only with HTTP support (GLUETOOL_HAVE_SOUP). A thread of its own
 * asks `GET <endpoint>?service=NAME` at once, then once per interval, with
 * a SoupSession it made under a GMainContext of its own (a libsoup 3
 * session belongs to the thread that made it). Until the first good
 * answer, traces are sampled with probability @initial_rate; afterwards
 * with the last good strategy: an endpoint that is down, answers an HTTP
 * error, a body over GLUETOOL_REMOTE_SAMPLER_MAX_BODY, something that is
 * not a strategy, or no whole answer within the deadline (the refresh
 * interval, from 1 to 5 s, for the whole request, not each read), changes
 * nothing, and is reported with one g_message() per streak of failures.
 *
 * Deciding takes no lock: the strategy in force is a GluetoolSampler that
 * is never changed, behind an atomic pointer the thread swaps; a root that
 * decides counts itself, around its use, in one of two counts (the current
 * epoch's), and after a swap the thread moves the epoch on and frees the
 * sampler swapped out once the previous epoch's count has drained (see
 * swap_in() in remote-sampler.c). Roots only decide, so what the hot path
 * pays is two atomic additions and two loads per new trace, nothing per
 * child.
 *
 * fork(): the child has no poll thread, and keeps the strategy it
 * inherited, unchanged, for its whole life; stop() and free() there do not
 * touch the parent's thread. It does not start one of its own: libsoup and
 * GIO lean on worker threads of GLib's (the resolver's thread pool, the
 * proxy settings' GSettings worker) that fork() does not copy, and a
 * request made from a forked child was seen to wait for them for ever,
 * and its cancellation with it. A child that execs starts afresh.
 *
 * Who may call what: decide() and describe() any thread; new(), stop() and
 * free() the owner (free() after every decide() has returned).
 */

#pragma once

#include <glib.h>

#include "sampler-private.h"

G_BEGIN_DECLS

/* The largest answer read; a larger one is a failure. */
#define GLUETOOL_REMOTE_SAMPLER_MAX_BODY (256 * 1024)

typedef struct _GluetoolRemoteSampler GluetoolRemoteSampler;

/* Starts the thread; the first request is made at once. */
GluetoolRemoteSampler *gluetool_remote_sampler_new      (const char               *endpoint,
                                                         const char               *service_name,
                                                         double                    initial_rate,
                                                         double                    refresh_interval_s);
/* The same, trusting the certificates in @tls_ca_file (nullable: the
 * system's) for an https:// endpoint. */
GluetoolRemoteSampler *gluetool_remote_sampler_new_full (const char               *endpoint,
                                                         const char               *tls_ca_file,
                                                         const char               *service_name,
                                                         double                    initial_rate,
                                                         double                    refresh_interval_s);
void                   gluetool_remote_sampler_decide   (GluetoolRemoteSampler    *self,
                                                         guint64                   trace_id_low,
                                                         const char               *operation,
                                                         GluetoolSamplingDecision *decision);
/* The strategy in force, as gluetool_sampler_describe() says it. */
char                  *gluetool_remote_sampler_describe (GluetoolRemoteSampler    *self);

/* Requests made, and those that failed, so far. */
void                   gluetool_remote_sampler_get_counts (GluetoolRemoteSampler  *self,
                                                           guint                  *n_polls,
                                                           guint                  *n_failures);

/* Samplers swapped out and not yet freed: for tests. */
guint                  gluetool_remote_sampler_get_n_retired (GluetoolRemoteSampler *self);

/* Stops and joins the thread, cancelling a request under way: returns
 * within a request's cancellation, never a whole timeout. Again, or in a
 * child process, does nothing. */
void                   gluetool_remote_sampler_stop     (GluetoolRemoteSampler    *self);
void                   gluetool_remote_sampler_free     (GluetoolRemoteSampler    *self);

G_END_DECLS
