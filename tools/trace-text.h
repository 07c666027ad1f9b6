/* trace-text.h: how gluetool-trace writes ids, times, tag values and
 * untrusted text
 *
 * SPDX-License-Identifier: MIT
 *
 * Everything in a datagram is untrusted: a name may hold terminal escape
 * sequences, invalid UTF-8 or megabytes of text. Every output format goes
 * through these helpers, so that the rules are the same everywhere.
 */

#pragma once

#include "reference.h"

G_BEGIN_DECLS

/* A trace id as Jaeger writes it: 16 hex digits when the high half is 0,
 * else 32. (transfer full) */
char       *trace_text_trace_id      (guint64      high,
                                      guint64      low);
/* A span id: always 16 hex digits. (transfer full) */
char       *trace_text_span_id       (guint64      id);

/* @text made valid UTF-8 (invalid bytes become U+FFFD); NULL gives "".
 * For writers that escape by themselves (JSON). (transfer full) */
char       *trace_text_utf8          (const char  *text);

/* @text for a terminal or a page: valid UTF-8, control characters shown as
 * escapes (\n, \t, \x1b ...), and at most @max_chars characters (0: no
 * limit), the rest replaced by an ellipsis and the number of bytes cut. */
void        trace_text_append_safe   (GString     *out,
                                      const char  *text,
                                      gsize        max_chars);

/* A duration or offset in microseconds, in the unit that reads best:
 * "850 µs", "12.35 ms", "1.250 s". @utf8 FALSE writes "us" for "µs". */
void        trace_text_append_duration (GString   *out,
                                        gint64     us,
                                        gboolean   utf8);

/* A wall-clock time in microseconds since the epoch, in local time with
 * milliseconds ("2026-11-01 12:00:00.123"). */
void        trace_text_append_time   (GString     *out,
                                      gint64       us);

/* The value of @tag for people: the field its vType names, in its natural
 * text (strings through trace_text_append_safe() with @max_chars), or a
 * note when that field is missing. */
void        trace_text_append_tag_value (GString   *out,
                                         JaegerTag *tag,
                                         gsize      max_chars);

/* Whether the locale's character set is UTF-8 (box drawing and "µs"). */
gboolean    trace_text_locale_is_utf8 (void);

/* "37 bytes: 82 81 00 09 ..." with at most @max_bytes bytes shown. */
char       *trace_text_describe_bytes (const guint8 *data,
                                       gsize         len,
                                       gsize         max_bytes);

G_END_DECLS
