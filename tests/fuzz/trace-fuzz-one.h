/* trace-fuzz-one.h: one datagram through everything gluetool-trace listen
 * does with it, with the properties every output must keep
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Decodes @data as the receiver does; when it decodes, stores its spans
 * and writes every output (trees in colour and in ASCII, JSON lines,
 * Jaeger JSON, the HTML page, the summary). Aborts if an output breaks
 * its promise, or if the counting receiver's scan disagrees with the
 * reference codec (see trace_fuzz_scans()): JSON that does not parse, a tree without colour that holds
 * a control character, a page that holds a script. Returns whether the
 * datagram decoded. */
gboolean trace_fuzz_one (const guint8 *data,
                         gsize         size);

/* The same for @data as the body of a POST to /api/traces (a bare binary
 * Batch, trace_decode_http_body()), with the scan of bodies
 * (trace_scan_http_body()) checked against it. Returns whether the body
 * decoded. */
gboolean trace_fuzz_one_http (const guint8 *data,
                              gsize         size);

/* Whether the counting receiver's scan (trace-scan.h) accepts @data;
 * aborts if it accepts what the reference refuses, or counts differently.
 * trace_fuzz_one() checks the same. */
gboolean trace_fuzz_scans (const guint8 *data,
                           gsize         size);

/* The same as trace_fuzz_scans() for @data as the body of a POST. */
gboolean trace_fuzz_scans_http (const guint8 *data,
                                gsize         size);

G_END_DECLS
