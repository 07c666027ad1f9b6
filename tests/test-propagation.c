/* test-propagation.c: span contexts across processes: the traceparent and
 * uber-trace-id formats, the environment and header carriers, actions under
 * remote parents, and TRACEPARENT read from the environment
 *
 * SPDX-License-Identifier: MIT
 *
 * TRACEPARENT is read once per process, so the tests of that run this very
 * program again as a helper (`test-propagation --helper LABEL`) with the
 * environment they want, and look at what it sent to a loopback receiver and
 * printed. That works forked (check's default) and with CK_FORK=no, where
 * every test shares one process: a test that changes the process's default
 * remote parent puts it back in the teardown.
 *
 * Criticals are counted by a log writer installed in main(); they stay
 * fatal (G_DEBUG=fatal-criticals) except in the precondition test.
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "receiver.h"
#include "test-expect.h"
#include "check-tap.h"

#define WAIT_S 20.0

/* A W3C example context, and its parts. */
#define EXAMPLE_TRACEPARENT "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define EXAMPLE_TRACE_HIGH  G_GUINT64_CONSTANT (0x4bf92f3577b34da6)
#define EXAMPLE_TRACE_LOW   G_GUINT64_CONSTANT (0xa3ce929d0e0e4736)
#define EXAMPLE_SPAN        G_GUINT64_CONSTANT (0x00f067aa0ba902b7)

/* Where this program is, to run it again as a helper. */
static char *self_path;

/* ---- Counting criticals -------------------------------------------------------- */

static gint n_criticals;             /* (atomic) */
static gint quiet_criticals;         /* (atomic) */

static GLogWriterOutput
counting_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (log_level & G_LOG_LEVEL_CRITICAL)
    {
      g_atomic_int_inc (&n_criticals);
      if (g_atomic_int_get (&quiet_criticals))
        return G_LOG_WRITER_HANDLED;
    }
  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static void
fixture_teardown (void)
{
  gluetool_action_set_default_remote_parent (NULL);
  gluetool_action_set_thread_root (NULL);
}

/* ---- Helpers ---------------------------------------------------------------- */

static GluetoolSpanContext *
parse_traceparent_ok (const char *value)
{
  g_autoptr(GError) error = NULL;
  GluetoolSpanContext *context = gluetool_span_context_new_from_traceparent (value, &error);

  ck_assert_msg (context != NULL, "'%s' refused: %s", value, error ? error->message : "");
  ck_assert_ptr_null (error);
  return context;
}

static GluetoolSpanContext *
parse_uber_ok (const char *value)
{
  g_autoptr(GError) error = NULL;
  GluetoolSpanContext *context = gluetool_span_context_new_from_uber_trace_id (value, &error);

  ck_assert_msg (context != NULL, "'%s' refused: %s", value, error ? error->message : "");
  ck_assert_ptr_null (error);
  return context;
}

static void
assert_invalid (GluetoolSpanContext *context,
                GError              *error,
                const char          *value,
                const char          *reason)
{
  ck_assert_msg (context == NULL, "'%s' was accepted", value);
  ck_assert_msg (g_error_matches (error, GLUETOOL_SPAN_CONTEXT_ERROR,
                                  GLUETOOL_SPAN_CONTEXT_ERROR_INVALID),
                 "'%s': wrong error %s", value, error ? error->message : "(none)");
  ck_assert_msg (strstr (error->message, reason) != NULL,
                 "'%s': message '%s' does not say '%s'", value, error->message, reason);
}

static void
assert_context (const GluetoolSpanContext *context,
                guint64                    trace_id_high,
                guint64                    trace_id_low,
                guint64                    span_id,
                guint64                    parent_span_id,
                guint8                     flags)
{
  ck_assert_ptr_nonnull (context);
  ck_assert_uint_eq (gluetool_span_context_get_trace_id_high (context), trace_id_high);
  ck_assert_uint_eq (gluetool_span_context_get_trace_id_low (context), trace_id_low);
  ck_assert_uint_eq (gluetool_span_context_get_span_id (context), span_id);
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (context), parent_span_id);
  ck_assert_uint_eq (gluetool_span_context_get_flags (context), flags);
}

static GluetoolTracer *
make_tracer (TestReceiver *receiver)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "propagation",
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) test_receiver_get_port (receiver),
                           NULL);
  ck_assert_msg (error == NULL, "tracer: %s", error ? error->message : "");
  return tracer;
}




static void
assert_span_ids (JaegerSpan *span,
                 guint64     trace_id_high,
                 guint64     trace_id_low,
                 guint64     parent_span_id)
{
  ck_assert_uint_eq ((guint64) span->traceIdHigh, trace_id_high);
  ck_assert_uint_eq ((guint64) span->traceIdLow, trace_id_low);
  ck_assert_uint_eq ((guint64) span->parentSpanId, parent_span_id);
}

/* ---- traceparent ---------------------------------------------------------------- */

START_TEST (test_traceparent_round_trip)
{
  g_autoptr(GluetoolSpanContext) example = parse_traceparent_ok (EXAMPLE_TRACEPARENT);
  g_autoptr(GluetoolSpanContext) made = NULL;
  g_autoptr(GluetoolSpanContext) back = NULL;
  g_autofree char *text = NULL;
  g_autofree char *trace_id = NULL;

  /* The W3C parent id is the sender's span; W3C carries no grandparent. */
  assert_context (example, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN, 0, 1);
  ck_assert (gluetool_span_context_is_sampled (example));
  text = gluetool_span_context_to_traceparent (example);
  ck_assert_str_eq (text, EXAMPLE_TRACEPARENT);
  trace_id = gluetool_span_context_dup_trace_id (example);
  ck_assert_str_eq (trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  g_clear_pointer (&text, g_free);

  /* Zero padding, and the parts that do not travel: the parent span id and
   * Jaeger's debug flag, which must not become W3C's 0x02. */
  made = gluetool_span_context_new (0, 1, 2, 3, GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED
                                                  | GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG);
  text = gluetool_span_context_to_traceparent (made);
  ck_assert_str_eq (text, "00-00000000000000000000000000000001-0000000000000002-01");
  back = parse_traceparent_ok (text);
  assert_context (back, 0, 1, 2, 0, 1);
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&made, gluetool_span_context_free);
  g_clear_pointer (&back, gluetool_span_context_free);

  made = gluetool_span_context_new (G_MAXUINT64, G_MAXUINT64, G_MAXUINT64, 0,
                                    GLUETOOL_SPAN_CONTEXT_FLAG_DEBUG);
  text = gluetool_span_context_to_traceparent (made);
  ck_assert_str_eq (text, "00-ffffffffffffffffffffffffffffffff-ffffffffffffffff-00");
  back = parse_traceparent_ok (text);
  assert_context (back, G_MAXUINT64, G_MAXUINT64, G_MAXUINT64, 0, 0);
  ck_assert (!gluetool_span_context_is_sampled (back));
}
END_TEST

START_TEST (test_traceparent_flags_and_versions)
{
  g_autoptr(GluetoolSpanContext) context = NULL;

  /* W3C level 2's "random" bit (0x02) is not Jaeger's debug flag; unknown
   * bits are dropped, the sampled bit kept. */
  context = parse_traceparent_ok ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02");
  ck_assert_uint_eq (gluetool_span_context_get_flags (context), 0);
  g_clear_pointer (&context, gluetool_span_context_free);
  context = parse_traceparent_ok ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff");
  ck_assert_uint_eq (gluetool_span_context_get_flags (context), 1);
  g_clear_pointer (&context, gluetool_span_context_free);

  /* A later version is read for the fields version 00 has, where it has
   * them, with the flags followed by the end or by a dash. */
  context = parse_traceparent_ok ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  assert_context (context, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN, 0, 1);
  g_clear_pointer (&context, gluetool_span_context_free);
  context = parse_traceparent_ok ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-bring");
  assert_context (context, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN, 0, 1);
  g_clear_pointer (&context, gluetool_span_context_free);
  context = parse_traceparent_ok ("fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-");
  assert_context (context, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN, 0, 0);
}
END_TEST

typedef struct {
  const char *value;
  const char *reason;    /* part of the message */
} InvalidCase;

static const InvalidCase invalid_traceparents[] = {
  { "", "cannot be empty" },
  { "0", "starts with its version" },
  { "00", "starts with its version" },
  { "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "starts with its version" },
  { "000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "starts with its version" },
  { "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "starts with its version" },
  { "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "starts with its version" },
  { "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "starts with its version" },
  { " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "starts with its version" },
  /* Version ff is forbidden, whatever follows. */
  { "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff is invalid" },
  { "ff-", "version ff is invalid" },
  /* Version 00 is exactly 55 characters. */
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "55 characters long, not 56" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "55 characters long" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "55 characters long, not 54" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", "55 characters long" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "55 characters long" },
  { "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", "version-traceid-parentid-flags" },
  { "00-4bf92f3577b34da6a3ce929d0e0e47366-0f067aa0ba902b7-01", "version-traceid-parentid-flags" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b701-", "version-traceid-parentid-flags" },
  /* Later versions: at least 55 characters, the flags then end or a dash. */
  { "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "at least 55 characters" },
  { "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "version-traceid-parentid-flags" },
  /* Lower-case hex only, every field. */
  { "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace id must be 32 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e473G-00f067aa0ba902b7-01", "trace id must be 32 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e47 6-00f067aa0ba902b7-01", "trace id must be 32 lower-case hex" },
  { "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "trace id must be 32 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "parent id must be 16 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01", "parent id must be 16 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", "flags must be 2 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-x1", "flags must be 2 lower-case hex" },
  /* Bytes that are not ASCII, where hex digits belong. */
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\xc3\xa9", "flags must be 2 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902\xc3\xa9" "-01", "parent id must be 16 lower-case hex" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\xc3\xa9" "-", "55 characters long, not 56" },
  /* All-zero ids. */
  { "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id cannot be all zeros" },
  { "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent id cannot be all zeros" },
  { "01-00000000000000000000000000000000-00f067aa0ba902b7-01-x", "trace id cannot be all zeros" },
};

START_TEST (test_traceparent_invalid)
{
  for (gsize i = 0; i < G_N_ELEMENTS (invalid_traceparents); i++)
    {
      const InvalidCase *c = &invalid_traceparents[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(GluetoolSpanContext) context =
        gluetool_span_context_new_from_traceparent (c->value, &error);

      assert_invalid (context, error, c->value, c->reason);
    }
}
END_TEST

START_TEST (test_invalid_value_in_message)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) huge = g_string_new ("00-");
  GluetoolSpanContext *context;

  /* The value is in the message, escaped, so a control character cannot
   * garble a log. */
  context = gluetool_span_context_new_from_traceparent ("00-\x1b[31m", &error);
  ck_assert_ptr_null (context);
  ck_assert_ptr_nonnull (strstr (error->message, "00-\\033[31m"));
  ck_assert_ptr_null (strchr (error->message, '\x1b'));
  g_clear_error (&error);

  /* And cut short, so a huge header cannot flood it. */
  for (int i = 0; i < 10000; i++)
    g_string_append_c (huge, 'a');
  context = gluetool_span_context_new_from_traceparent (huge->str, &error);
  ck_assert_ptr_null (context);
  ck_assert_uint_lt (strlen (error->message), 300);
}
END_TEST

/* ---- uber-trace-id -------------------------------------------------------------- */

START_TEST (test_uber_trace_id_round_trip)
{
  g_autoptr(GluetoolSpanContext) made = NULL;
  g_autoptr(GluetoolSpanContext) back = NULL;
  g_autofree char *text = NULL;

  /* 128-bit: 32 digits, every field kept, debug included. */
  made = gluetool_span_context_new (EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN,
                                    G_GUINT64_CONSTANT (0xa), 3);
  text = gluetool_span_context_to_uber_trace_id (made);
  ck_assert_str_eq (text, "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:000000000000000a:3");
  back = parse_uber_ok (text);
  ck_assert (gluetool_span_context_equal (made, back));
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&made, gluetool_span_context_free);
  g_clear_pointer (&back, gluetool_span_context_free);

  /* 64-bit trace ids, as older Jaeger clients make: 16 digits; a root. */
  made = gluetool_span_context_new (0, G_GUINT64_CONSTANT (0xabc), 1, 0, 1);
  text = gluetool_span_context_to_uber_trace_id (made);
  ck_assert_str_eq (text, "0000000000000abc:0000000000000001:0000000000000000:1");
  back = parse_uber_ok (text);
  ck_assert (gluetool_span_context_equal (made, back));
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&made, gluetool_span_context_free);
  g_clear_pointer (&back, gluetool_span_context_free);

  made = gluetool_span_context_new (G_MAXUINT64, G_MAXUINT64, G_MAXUINT64, G_MAXUINT64, 0xff);
  text = gluetool_span_context_to_uber_trace_id (made);
  ck_assert_str_eq (text, "ffffffffffffffffffffffffffffffff:ffffffffffffffff:ffffffffffffffff:ff");
  back = parse_uber_ok (text);
  ck_assert (gluetool_span_context_equal (made, back));
}
END_TEST

START_TEST (test_uber_trace_id_short_and_upper_case)
{
  g_autoptr(GluetoolSpanContext) context = NULL;

  /* Receivers must accept fields shorter than 16/32 digits (Python writes
   * them unpadded), and Jaeger's clients read either case. */
  context = parse_uber_ok ("abc:1:0:1");
  assert_context (context, 0, 0xabc, 1, 0, 1);
  g_clear_pointer (&context, gluetool_span_context_free);

  context = parse_uber_ok ("1ABCDEF0123456789:F:E:03");
  assert_context (context, 1, G_GUINT64_CONSTANT (0xabcdef0123456789), 0xf, 0xe, 3);
  g_clear_pointer (&context, gluetool_span_context_free);

  context = parse_uber_ok ("00000000000000000000000000000001:0000000000000002:0:0");
  assert_context (context, 0, 1, 2, 0, 0);
}
END_TEST

static const InvalidCase invalid_uber_trace_ids[] = {
  { "", "cannot be empty" },
  { "1:2:3", "four fields" },
  { "1:2:3:4:5", "four fields" },
  { "1-2-3-4", "four fields" },
  { ":1:0:1", "trace id must be 1 to 32 hex" },
  { "123456789012345678901234567890123:1:0:1", "trace id must be 1 to 32 hex" },
  { "xyz:1:0:1", "trace id must be 1 to 32 hex" },
  { "+1:1:0:1", "trace id must be 1 to 32 hex" },
  { " 1:1:0:1", "trace id must be 1 to 32 hex" },
  { "g0000000000000000000000000000001:1:0:1", "trace id must be 1 to 32 hex" },
  { "0:1:0:1", "trace id cannot be 0" },
  { "00000000000000000000000000000000:1:0:1", "trace id cannot be 0" },
  { "1::0:1", "span id must be 1 to 16 hex" },
  { "1:12345678901234567:0:1", "span id must be 1 to 16 hex" },
  { "1:-1:0:1", "span id must be 1 to 16 hex" },
  { "1:0:0:1", "span id cannot be 0" },
  { "1:0000000000000000:0:1", "span id cannot be 0" },
  { "1:1::1", "parent span id must be 1 to 16 hex" },
  { "1:1:0x1:1", "parent span id must be 1 to 16 hex" },
  { "1:1:0:", "flags must be 1 or 2 hex" },
  { "1:1:0:100", "flags must be 1 or 2 hex" },
  { "1:1:0:g", "flags must be 1 or 2 hex" },
  { "1:1:0:1 ", "flags must be 1 or 2 hex" },
};

START_TEST (test_uber_trace_id_invalid)
{
  for (gsize i = 0; i < G_N_ELEMENTS (invalid_uber_trace_ids); i++)
    {
      const InvalidCase *c = &invalid_uber_trace_ids[i];
      g_autoptr(GError) error = NULL;
      g_autoptr(GluetoolSpanContext) context =
        gluetool_span_context_new_from_uber_trace_id (c->value, &error);

      assert_invalid (context, error, c->value, c->reason);
    }
}
END_TEST

START_TEST (test_boxed_copy_equal)
{
  g_autoptr(GluetoolSpanContext) a = gluetool_span_context_new (1, 2, 3, 4, 1);
  g_autoptr(GluetoolSpanContext) b = g_boxed_copy (GLUETOOL_TYPE_SPAN_CONTEXT, a);
  g_autoptr(GluetoolSpanContext) c = gluetool_span_context_copy (a);
  g_autoptr(GluetoolSpanContext) other_flags = gluetool_span_context_new (1, 2, 3, 4, 3);
  g_autoptr(GluetoolSpanContext) other_parent = gluetool_span_context_new (1, 2, 3, 5, 1);

  ck_assert (G_TYPE_IS_BOXED (GLUETOOL_TYPE_SPAN_CONTEXT));
  ck_assert_str_eq (g_type_name (GLUETOOL_TYPE_SPAN_CONTEXT), "GluetoolSpanContext");
  ck_assert_ptr_ne (a, b);
  ck_assert (gluetool_span_context_equal (a, b));
  ck_assert (gluetool_span_context_equal (a, c));
  ck_assert (!gluetool_span_context_equal (a, other_flags));
  ck_assert (!gluetool_span_context_equal (a, other_parent));
  g_boxed_free (GLUETOOL_TYPE_SPAN_CONTEXT, g_steal_pointer (&b));
  gluetool_span_context_free (NULL);
}
END_TEST

START_TEST (test_preconditions)
{
  g_autoptr(GluetoolSpanContext) context = gluetool_span_context_new (1, 2, 3, 0, 1);
  g_autoptr(GHashTable) headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GError) error = NULL;
  GLogLevelFlags saved_fatal_mask = g_log_set_always_fatal (G_LOG_FATAL_MASK);
  char **environment;
  gint expected = g_atomic_int_get (&n_criticals);

  g_atomic_int_set (&quiet_criticals, 1);

  ck_assert_ptr_null (gluetool_span_context_new (0, 0, 1, 0, 1));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_span_context_new (0, 1, 0, 0, 1));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_span_context_new_from_traceparent (NULL, &error));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_span_context_new_from_uber_trace_id (NULL, &error));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_span_context_new_from_headers (NULL, &error));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (error);

  ck_assert_ptr_null (gluetool_span_context_copy (NULL));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert (!gluetool_span_context_equal (context, NULL));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_uint_eq (gluetool_span_context_get_span_id (NULL), 0);
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_uint_eq (gluetool_span_context_get_trace_id_low (NULL), 0);
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_span_context_to_traceparent (NULL));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_span_context_to_uber_trace_id (NULL));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  gluetool_span_context_inject_headers (context, NULL);
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  gluetool_span_context_inject_headers (NULL, headers);
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_uint_eq (g_hash_table_size (headers), 0);

  /* The environment it was given is handed back, not leaked. */
  environment = g_environ_setenv (NULL, "A", "1", TRUE);
  environment = gluetool_span_context_inject_environ (NULL, environment);
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_str_eq (g_environ_getenv (environment, "A"), "1");
  ck_assert_ptr_null (g_environ_getenv (environment, "TRACEPARENT"));
  g_strfreev (environment);

  /* An error already set: refused. */
  g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "earlier");
  ck_assert_ptr_null (gluetool_span_context_new_from_traceparent (EXAMPLE_TRACEPARENT, &error));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);

  ck_assert_ptr_null (gluetool_action_new_with_remote_parent ("no parent", NULL, NULL));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_action_new_with_remote_parent (NULL, context, NULL));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_action_dup_context (NULL));
  ck_assert_int_eq (g_atomic_int_get (&n_criticals), ++expected);
  ck_assert_ptr_null (gluetool_action_get_current ());

  g_atomic_int_set (&quiet_criticals, 0);
  g_log_set_always_fatal (saved_fatal_mask);
}
END_TEST

/* ---- Carriers ------------------------------------------------------------------ */

START_TEST (test_environ)
{
  g_autoptr(GluetoolSpanContext) context = gluetool_span_context_new (EXAMPLE_TRACE_HIGH,
                                                                      EXAMPLE_TRACE_LOW,
                                                                      EXAMPLE_SPAN, 7, 3);
  g_autoptr(GluetoolSpanContext) other = gluetool_span_context_new (1, 2, 3, 0, 1);
  g_autoptr(GluetoolSpanContext) back = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) environment = NULL;

  environment = g_environ_setenv (NULL, "PATH", "/bin", TRUE);
  environment = g_environ_setenv (environment, "TRACESTATE", "congo=t61rcWkgMzE", TRUE);
  environment = gluetool_span_context_inject_environ (context, g_steal_pointer (&environment));
  ck_assert_str_eq (g_environ_getenv (environment, "TRACEPARENT"), EXAMPLE_TRACEPARENT);
  /* Everything else is left alone, tracestate included (W3C: pass it on). */
  ck_assert_str_eq (g_environ_getenv (environment, "PATH"), "/bin");
  ck_assert_str_eq (g_environ_getenv (environment, "TRACESTATE"), "congo=t61rcWkgMzE");
  ck_assert_uint_eq (g_strv_length (environment), 3);

  /* What a traceparent carries comes back; the rest does not travel. */
  back = gluetool_span_context_new_from_environ ((const char * const *) environment, &error);
  ck_assert_ptr_null (error);
  assert_context (back, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN, 0, 1);
  g_clear_pointer (&back, gluetool_span_context_free);

  /* Injecting again replaces. */
  environment = gluetool_span_context_inject_environ (other, g_steal_pointer (&environment));
  ck_assert_uint_eq (g_strv_length (environment), 3);
  ck_assert_str_eq (g_environ_getenv (environment, "TRACEPARENT"),
                    "00-00000000000000010000000000000002-0000000000000003-01");

  /* A NULL environment is an empty one. */
  g_clear_pointer (&environment, g_strfreev);
  environment = gluetool_span_context_inject_environ (other, NULL);
  ck_assert_uint_eq (g_strv_length (environment), 1);
}
END_TEST

START_TEST (test_environ_none_or_invalid)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) environment = NULL;
  GluetoolSpanContext *context;

  /* No environment, no TRACEPARENT, an empty one: none, and no error. */
  ck_assert_ptr_null (gluetool_span_context_new_from_environ (NULL, &error));
  ck_assert_ptr_null (error);
  environment = g_environ_setenv (NULL, "PATH", "/bin", TRUE);
  ck_assert_ptr_null (gluetool_span_context_new_from_environ ((const char * const *) environment,
                                                              &error));
  ck_assert_ptr_null (error);
  environment = g_environ_setenv (environment, "TRACEPARENT", "", TRUE);
  ck_assert_ptr_null (gluetool_span_context_new_from_environ ((const char * const *) environment,
                                                              &error));
  ck_assert_ptr_null (error);

  /* The environment carries traceparent only. */
  environment = g_environ_unsetenv (environment, "TRACEPARENT");
  environment = g_environ_setenv (environment, "UBER_TRACE_ID", "1:2:0:1", TRUE);
  ck_assert_ptr_null (gluetool_span_context_new_from_environ ((const char * const *) environment,
                                                              &error));
  ck_assert_ptr_null (error);

  environment = g_environ_setenv (environment, "TRACEPARENT", "garbage", TRUE);
  context = gluetool_span_context_new_from_environ ((const char * const *) environment, &error);
  assert_invalid (context, error, "garbage", "starts with its version");
  ck_assert_ptr_nonnull (strstr (error->message, "TRACEPARENT"));
}
END_TEST

static GHashTable *
new_headers (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
add_header (GHashTable *headers,
            const char *name,
            const char *value)
{
  g_hash_table_insert (headers, g_strdup (name), g_strdup (value));
}

START_TEST (test_headers_round_trip)
{
  g_autoptr(GluetoolSpanContext) context = gluetool_span_context_new (EXAMPLE_TRACE_HIGH,
                                                                      EXAMPLE_TRACE_LOW,
                                                                      EXAMPLE_SPAN, 7, 3);
  g_autoptr(GluetoolSpanContext) back = NULL;
  g_autoptr(GHashTable) headers = new_headers ();
  g_autoptr(GError) error = NULL;

  /* Old values under other spellings go: the table never holds two. */
  add_header (headers, "TraceParent", "stale");
  add_header (headers, "UBER-TRACE-ID", "stale");
  add_header (headers, "content-type", "text/plain");
  gluetool_span_context_inject_headers (context, headers);
  ck_assert_uint_eq (g_hash_table_size (headers), 3);
  ck_assert_str_eq (g_hash_table_lookup (headers, "traceparent"), EXAMPLE_TRACEPARENT);
  ck_assert_str_eq (g_hash_table_lookup (headers, "uber-trace-id"),
                    "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0000000000000007:3");
  ck_assert_str_eq (g_hash_table_lookup (headers, "content-type"), "text/plain");

  /* Together the two carry everything, debug flag and parent included. */
  back = gluetool_span_context_new_from_headers (headers, &error);
  ck_assert_ptr_null (error);
  ck_assert (gluetool_span_context_equal (back, context));
}
END_TEST

START_TEST (test_headers_extract)
{
  g_autoptr(GError) error = NULL;
  GluetoolSpanContext *context;

  /* None, or empty: none, no error. */
  {
    g_autoptr(GHashTable) headers = new_headers ();

    add_header (headers, "content-type", "text/plain");
    ck_assert_ptr_null (gluetool_span_context_new_from_headers (headers, &error));
    ck_assert_ptr_null (error);
    add_header (headers, "traceparent", "");
    ck_assert_ptr_null (gluetool_span_context_new_from_headers (headers, &error));
    ck_assert_ptr_null (error);
  }

  /* Names in any case. */
  {
    g_autoptr(GHashTable) headers = new_headers ();

    add_header (headers, "TRACEPARENT", EXAMPLE_TRACEPARENT);
    context = gluetool_span_context_new_from_headers (headers, &error);
    ck_assert_ptr_null (error);
    assert_context (context, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN, 0, 1);
    gluetool_span_context_free (context);
  }

  /* uber-trace-id alone, URL-encoded as some Jaeger clients send it. */
  {
    g_autoptr(GHashTable) headers = new_headers ();

    add_header (headers, "Uber-Trace-Id", "abc%3A1%3a0%3A3");
    context = gluetool_span_context_new_from_headers (headers, &error);
    ck_assert_ptr_null (error);
    assert_context (context, 0, 0xabc, 1, 0, 3);
    gluetool_span_context_free (context);

    g_hash_table_replace (headers, g_strdup ("Uber-Trace-Id"), g_strdup ("abc%3A1%3A0%3"));
    context = gluetool_span_context_new_from_headers (headers, &error);
    assert_invalid (context, error, "abc%3A1%3A0%3", "URL escape");
    g_clear_error (&error);
  }

  /* Both, naming different spans: a W3C-only hop updated traceparent and
   * passed a stale uber-trace-id along; traceparent wins. */
  {
    g_autoptr(GHashTable) headers = new_headers ();

    add_header (headers, "traceparent", EXAMPLE_TRACEPARENT);
    add_header (headers, "uber-trace-id", "1:2:3:3");
    context = gluetool_span_context_new_from_headers (headers, &error);
    ck_assert_ptr_null (error);
    assert_context (context, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN, 0, 1);
    gluetool_span_context_free (context);
  }

  /* A header present must be valid. */
  {
    g_autoptr(GHashTable) headers = new_headers ();

    add_header (headers, "traceparent", "00-nope");
    add_header (headers, "uber-trace-id", "1:2:3:1");
    context = gluetool_span_context_new_from_headers (headers, &error);
    assert_invalid (context, error, "00-nope", "traceparent header");
    g_clear_error (&error);

    g_hash_table_replace (headers, g_strdup ("traceparent"), g_strdup (EXAMPLE_TRACEPARENT));
    g_hash_table_replace (headers, g_strdup ("uber-trace-id"), g_strdup ("1:0:3:1"));
    context = gluetool_span_context_new_from_headers (headers, &error);
    assert_invalid (context, error, "1:0:3:1", "uber-trace-id header");
    g_clear_error (&error);
  }

  /* The same header twice, in two spellings: fine when they agree, an error
   * when they do not. */
  {
    g_autoptr(GHashTable) headers = new_headers ();

    add_header (headers, "traceparent", EXAMPLE_TRACEPARENT);
    add_header (headers, "Traceparent", EXAMPLE_TRACEPARENT);
    context = gluetool_span_context_new_from_headers (headers, &error);
    ck_assert_ptr_null (error);
    gluetool_span_context_free (context);

    g_hash_table_replace (headers, g_strdup ("Traceparent"),
                          g_strdup ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b8-01"));
    context = gluetool_span_context_new_from_headers (headers, &error);
    assert_invalid (context, error, "(two traceparent headers)", "More than one traceparent");
  }
}
END_TEST

/* ---- Actions ------------------------------------------------------------------ */

START_TEST (test_dup_context)
{
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", root);
  g_autoptr(GluetoolSpanContext) root_context = gluetool_action_dup_context (root);
  g_autoptr(GluetoolSpanContext) child_context = gluetool_action_dup_context (child);
  g_autofree char *trace_id = gluetool_action_dup_trace_id (root);
  g_autofree char *context_trace_id = gluetool_span_context_dup_trace_id (root_context);
  g_autofree char *traceparent = gluetool_span_context_to_traceparent (child_context);
  g_autofree char *expected = NULL;

  ck_assert_str_eq (context_trace_id, trace_id);
  ck_assert_uint_eq (gluetool_span_context_get_span_id (root_context),
                     gluetool_action_get_span_id (root));
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (root_context), 0);
  ck_assert_uint_eq (gluetool_span_context_get_flags (root_context), 1);
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (child_context),
                     gluetool_action_get_span_id (root));
  expected = g_strdup_printf ("00-%s-%016" G_GINT64_MODIFIER "x-01", trace_id,
                              gluetool_action_get_span_id (child));
  ck_assert_str_eq (traceparent, expected);

  /* Started under a context, even one of an action unfinished on this very
   * thread's stack: its parent is remote, and get_parent() says none. */
  {
    g_autoptr(GluetoolAction) remote_child =
      gluetool_action_new_with_remote_parent ("remote child", root_context, NULL);
    g_autoptr(GluetoolSpanContext) remote_child_context = gluetool_action_dup_context (remote_child);
    g_autoptr(GluetoolAction) property_parent = NULL;

    ck_assert_ptr_null (gluetool_action_get_parent (remote_child));
    g_object_get (remote_child, "parent", &property_parent, NULL);
    ck_assert_ptr_null (property_parent);
    ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (remote_child_context),
                       gluetool_action_get_span_id (root));
    test_expect_finish (remote_child);
  }

  test_expect_finish (child);
  test_expect_finish (root);
}
END_TEST

START_TEST (test_remote_parent_on_wire)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver);
  g_autoptr(GluetoolSpanContext) remote = parse_traceparent_ok (EXAMPLE_TRACEPARENT);
  g_autoptr(GluetoolSpanContext) debug_remote = parse_uber_ok ("abc:1:0:3");
  g_autoptr(GluetoolSpanContext) unsampled_remote = parse_uber_ok ("abcd:2:0:0");
  /* Debug without the sampled flag: debug forces sampling. */
  g_autoptr(GluetoolSpanContext) debug_only_remote = parse_uber_ok ("abcde:3:0:2");
  g_autoptr(GluetoolAction) action = NULL;
  g_autoptr(GluetoolAction) child = NULL;
  g_autoptr(GluetoolAction) debug_action = NULL;
  g_autoptr(GluetoolAction) debug_child = NULL;
  g_autoptr(GluetoolAction) unsampled_action = NULL;
  g_autoptr(GluetoolAction) unsampled_child = NULL;
  g_autoptr(GluetoolAction) debug_only_action = NULL;
  g_autoptr(GluetoolSpanContext) context = NULL;
  g_autoptr(GluetoolSpanContext) unsampled_context = NULL;
  JaegerSpan *span;
  JaegerTag *tag;

  action = gluetool_action_new_with_remote_parent ("served", remote,
                                                   g_variant_new_parsed ("{'request': <'GET /'>}"));
  ck_assert_ptr_null (gluetool_action_get_parent (action));
  ck_assert_ptr_eq (gluetool_action_get_current (), action);
  context = gluetool_action_dup_context (action);
  assert_context (context, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW,
                  gluetool_action_get_span_id (action), EXAMPLE_SPAN, 1);
  child = gluetool_action_new ("served child", action);
  test_expect_finish (child);
  test_expect_finish (action);

  debug_action = gluetool_action_new_with_remote_parent ("debug", debug_remote, NULL);
  debug_child = gluetool_action_new ("debug child", debug_action);
  test_expect_finish (debug_child);
  test_expect_finish (debug_action);

  /* The remote side's decision holds: neither this action nor its child
   * is sent, but both have ids, are current, and hand on the flag. */
  unsampled_action = gluetool_action_new_with_remote_parent ("unsampled", unsampled_remote, NULL);
  unsampled_child = gluetool_action_new ("unsampled child", unsampled_action);
  ck_assert_ptr_eq (gluetool_action_get_current (), unsampled_child);
  unsampled_context = gluetool_action_dup_context (unsampled_child);
  assert_context (unsampled_context, 0, 0xabcd, gluetool_action_get_span_id (unsampled_child),
                  gluetool_action_get_span_id (unsampled_action), 0);
  test_expect_finish (unsampled_child);
  test_expect_finish (unsampled_action);

  debug_only_action = gluetool_action_new_with_remote_parent ("debug only", debug_only_remote, NULL);
  test_expect_finish (debug_only_action);

  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 5, WAIT_S), 5);
  ck_assert_uint_eq (test_receiver_get_n_bad (receiver), 0);

  /* The remote span's child: same trace, its parent, and not a root, so no
   * sampler tags. */
  span = test_receiver_expect_span (receiver, "served");
  assert_span_ids (span, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN);
  ck_assert_uint_eq ((guint64) span->spanId, gluetool_action_get_span_id (action));
  ck_assert_int_eq (span->flags, 1);
  ck_assert_ptr_null (test_find_tag (span->tags, "sampler.type"));
  ck_assert_ptr_null (test_find_tag (span->tags, "sampler.param"));
  tag = test_find_tag (span->tags, "request");
  ck_assert_ptr_nonnull (tag);
  ck_assert_str_eq (tag->vStr, "GET /");

  span = test_receiver_expect_span (receiver, "served child");
  assert_span_ids (span, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW,
                   gluetool_action_get_span_id (action));
  ck_assert_int_eq (span->flags, 1);

  /* Jaeger's debug flag goes down the subtree. */
  span = test_receiver_expect_span (receiver, "debug");
  assert_span_ids (span, 0, 0xabc, 1);
  ck_assert_int_eq (span->flags, 3);
  span = test_receiver_expect_span (receiver, "debug child");
  assert_span_ids (span, 0, 0xabc, gluetool_action_get_span_id (debug_action));
  ck_assert_int_eq (span->flags, 3);

  span = test_receiver_expect_span (receiver, "debug only");
  assert_span_ids (span, 0, 0xabcde, 3);
  ck_assert_int_eq (span->flags, 3);

  /* Unsampled spans are not sent, and not counted as lost. */
  ck_assert_ptr_null (test_receiver_find_span (receiver, "unsampled"));
  ck_assert_ptr_null (test_receiver_find_span (receiver, "unsampled child"));
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), 5);
}
END_TEST

START_TEST (test_default_remote_parent_api)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver);
  g_autoptr(GluetoolSpanContext) remote = parse_traceparent_ok (EXAMPLE_TRACEPARENT);
  g_autoptr(GluetoolSpanContext) got = NULL;
  g_autoptr(GluetoolAction) joined = NULL;
  g_autoptr(GluetoolAction) fresh = NULL;
  JaegerSpan *span;

  /* The suites run with an empty TRACEPARENT: none. */
  ck_assert_ptr_null (gluetool_action_dup_default_remote_parent ());

  gluetool_action_set_default_remote_parent (remote);
  got = gluetool_action_dup_default_remote_parent ();
  ck_assert (gluetool_span_context_equal (got, remote));
  ck_assert_ptr_ne (got, remote);
  joined = gluetool_action_new ("joined", NULL);
  test_expect_finish (joined);

  gluetool_action_set_default_remote_parent (NULL);
  ck_assert_ptr_null (gluetool_action_dup_default_remote_parent ());
  fresh = gluetool_action_new ("fresh", NULL);
  test_expect_finish (fresh);

  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);

  span = test_receiver_expect_span (receiver, "joined");
  assert_span_ids (span, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN);
  ck_assert_ptr_null (test_find_tag (span->tags, "sampler.type"));

  span = test_receiver_expect_span (receiver, "fresh");
  ck_assert_int_eq (span->parentSpanId, 0);
  ck_assert ((guint64) span->traceIdLow != EXAMPLE_TRACE_LOW);
  ck_assert_ptr_nonnull (test_find_tag (span->tags, "sampler.type"));
}
END_TEST

/* ---- TRACEPARENT in the environment: this program again, as a helper ----------- */

/* The helper: a tracer from GLUETOOL_TRACING_*, two root actions, each
 * printed as an uber-trace-id (which carries the parent span id) on a line
 * of its own. With --opt-out it turns the default remote parent off first. */
static int
helper_main (int    argc,
             char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  const char *label = argv[2];

  if (argc > 3 && g_str_equal (argv[3], "--opt-out"))
    gluetool_action_set_default_remote_parent (NULL);

  tracer = gluetool_tracer_new (NULL, NULL, 0, &error);
  if (tracer == NULL)
    {
      g_printerr ("helper: %s\n", error->message);
      return 1;
    }

  for (int i = 0; i < 2; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s %d", label, i);
      g_autoptr(GluetoolAction) action = gluetool_action_new (name, NULL);
      g_autoptr(GluetoolSpanContext) context = gluetool_action_dup_context (action);
      g_autofree char *text = gluetool_span_context_to_uber_trace_id (context);

      g_print ("%s\n", text);
    }

  if (!gluetool_tracer_close (tracer, WAIT_S, &error))
    {
      g_printerr ("helper: %s\n", error->message);
      return 1;
    }
  return 0;
}

typedef struct {
  char                *out;        /* (owned) */
  char                *err;        /* (owned) */
  GluetoolSpanContext *roots[2];   /* (owned) as the helper printed them */
} HelperResult;

static void
helper_result_clear (HelperResult *result)
{
  g_free (result->out);
  g_free (result->err);
  for (gsize i = 0; i < G_N_ELEMENTS (result->roots); i++)
    g_clear_pointer (&result->roots[i], gluetool_span_context_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HelperResult, helper_result_clear)

/* Runs the helper with this environment, TRACEPARENT set to @traceparent
 * (NULL: unset) and @extra_name=@extra_value if not NULL, reporting to
 * @receiver; waits for it and checks that it succeeded. */
static void
run_helper (TestReceiver *receiver,
            const char   *label,
            const char   *traceparent,
            const char   *extra_name,
            const char   *extra_value,
            gboolean      opt_out,
            HelperResult *result)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) helper = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) environment = g_get_environ ();
  g_auto(GStrv) lines = NULL;
  g_autofree char *port = g_strdup_printf ("%u", test_receiver_get_port (receiver));
  const char *argv[] = { self_path, "--helper", label, opt_out ? "--opt-out" : NULL, NULL };

  environment = g_environ_setenv (environment, "GLUETOOL_TRACING_REPORTING_HOST", "127.0.0.1", TRUE);
  environment = g_environ_setenv (environment, "GLUETOOL_TRACING_REPORTING_PORT", port, TRUE);
  environment = g_environ_setenv (environment, "GLUETOOL_TRACING_SERVICE_NAME", "helper", TRUE);
  environment = g_environ_unsetenv (environment, "GLUETOOL_TRACING_DISABLE");
  environment = g_environ_unsetenv (environment, "GLUETOOL_TRACING_IGNORE_TRACEPARENT");
  environment = g_environ_unsetenv (environment, "TRACEPARENT");
  if (traceparent != NULL)
    environment = g_environ_setenv (environment, "TRACEPARENT", traceparent, TRUE);
  if (extra_name != NULL)
    environment = g_environ_setenv (environment, extra_name, extra_value, TRUE);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_environ (launcher, environment);
  helper = g_subprocess_launcher_spawnv (launcher, argv, &error);
  ck_assert_msg (helper != NULL, "helper: %s", error ? error->message : "");
  ck_assert (g_subprocess_communicate_utf8 (helper, NULL, NULL, &result->out, &result->err,
                                            &error));
  ck_assert_msg (g_subprocess_get_if_exited (helper) && g_subprocess_get_exit_status (helper) == 0,
                 "helper failed: %s", result->err);

  lines = g_strsplit (result->out, "\n", -1);
  ck_assert_uint_eq (g_strv_length (lines), 3);
  for (gsize i = 0; i < G_N_ELEMENTS (result->roots); i++)
    result->roots[i] = parse_uber_ok (lines[i]);

  /* An unsampled process sends nothing to wait for. */
  if (gluetool_span_context_is_sampled (result->roots[0]))
    ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
}

static guint
count_occurrences (const char *text,
                   const char *needle)
{
  guint n = 0;

  for (const char *at = strstr (text, needle); at != NULL; at = strstr (at + 1, needle))
    n++;
  return n;
}

START_TEST (test_environment_traceparent_joins)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(HelperResult) result = { 0 };
  JaegerSpan *span;

  run_helper (receiver, "joined", EXAMPLE_TRACEPARENT, NULL, NULL, FALSE, &result);
  ck_assert_str_eq (result.err, "");

  /* Both roots are children of the remote span, in its trace. */
  for (gsize i = 0; i < G_N_ELEMENTS (result.roots); i++)
    {
      g_autofree char *name = g_strdup_printf ("joined %" G_GSIZE_FORMAT, i);

      assert_context (result.roots[i], EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW,
                      gluetool_span_context_get_span_id (result.roots[i]), EXAMPLE_SPAN, 1);
      span = test_receiver_expect_span (receiver, name);
      assert_span_ids (span, EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW, EXAMPLE_SPAN);
      ck_assert_uint_eq ((guint64) span->spanId,
                         gluetool_span_context_get_span_id (result.roots[i]));
      ck_assert_ptr_null (test_find_tag (span->tags, "sampler.type"));
    }

  /* An empty opt-out variable opts nothing out, as with GLUETOOL_TRACING_DISABLE. */
  helper_result_clear (&result);
  memset (&result, 0, sizeof result);
  {
    g_autoptr(TestReceiver) receiver2 = test_receiver_new ("127.0.0.1");

    run_helper (receiver2, "joined", EXAMPLE_TRACEPARENT, "GLUETOOL_TRACING_IGNORE_TRACEPARENT", "",
                FALSE, &result);
    ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (result.roots[0]), EXAMPLE_SPAN);
  }
}
END_TEST

/* TRACEPARENT's sampled flag decides for the whole process: 00, and its
 * roots hand on an unsampled context and send nothing; 01, and they are
 * sent. The unsampled process runs first into the same receiver, whose
 * socket gives datagrams in order: had it sent anything, it would be there
 * before the sampled process's spans. */
START_TEST (test_environment_traceparent_sampled_flag_decides)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(HelperResult) unsampled = { 0 };
  g_auto(HelperResult) sampled = { 0 };

  run_helper (receiver, "unsampled",
              "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", NULL, NULL, FALSE,
              &unsampled);
  ck_assert_str_eq (unsampled.err, "");
  for (gsize i = 0; i < G_N_ELEMENTS (unsampled.roots); i++)
    assert_context (unsampled.roots[i], EXAMPLE_TRACE_HIGH, EXAMPLE_TRACE_LOW,
                    gluetool_span_context_get_span_id (unsampled.roots[i]), EXAMPLE_SPAN, 0);

  run_helper (receiver, "sampled", EXAMPLE_TRACEPARENT, NULL, NULL, FALSE, &sampled);
  ck_assert_str_eq (sampled.err, "");
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);
  ck_assert_ptr_nonnull (test_receiver_find_span (receiver, "sampled 0"));
  ck_assert_ptr_null (test_receiver_find_span (receiver, "unsampled 0"));
  ck_assert_ptr_null (test_receiver_find_span (receiver, "unsampled 1"));
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), 2);
}
END_TEST

/* A root that starts a new trace, as the helper printed it and on the wire. */
static void
assert_new_traces (TestReceiver *receiver,
                   HelperResult *result,
                   const char   *label)
{
  for (gsize i = 0; i < G_N_ELEMENTS (result->roots); i++)
    {
      g_autofree char *name = g_strdup_printf ("%s %" G_GSIZE_FORMAT, label, i);
      GluetoolSpanContext *root = result->roots[i];
      JaegerSpan *span = test_receiver_expect_span (receiver, name);

      ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (root), 0);
      ck_assert (gluetool_span_context_get_trace_id_low (root) != EXAMPLE_TRACE_LOW);
      assert_span_ids (span, gluetool_span_context_get_trace_id_high (root),
                       gluetool_span_context_get_trace_id_low (root), 0);
      ck_assert_ptr_nonnull (test_find_tag (span->tags, "sampler.type"));
    }
  /* Two roots, two traces. */
  ck_assert (!gluetool_span_context_equal (result->roots[0], result->roots[1]));
}

START_TEST (test_environment_traceparent_empty)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(HelperResult) result = { 0 };

  run_helper (receiver, "empty", "", NULL, NULL, FALSE, &result);
  ck_assert_str_eq (result.err, "");
  assert_new_traces (receiver, &result, "empty");
}
END_TEST

START_TEST (test_environment_traceparent_invalid)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(HelperResult) result = { 0 };

  /* Not fatal: one warning for the process, and roots start new traces. */
  run_helper (receiver, "invalid", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
              NULL, NULL, FALSE, &result);
  ck_assert_uint_eq (count_occurrences (result.err, "WARNING"), 1);
  ck_assert_uint_eq (count_occurrences (result.err, "Ignoring TRACEPARENT"), 1);
  ck_assert_ptr_nonnull (strstr (result.err, "lower-case"));
  assert_new_traces (receiver, &result, "invalid");
}
END_TEST

START_TEST (test_environment_traceparent_opt_out)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(HelperResult) result = { 0 };

  run_helper (receiver, "ignored", EXAMPLE_TRACEPARENT,
              "GLUETOOL_TRACING_IGNORE_TRACEPARENT", "1", FALSE, &result);
  ck_assert_str_eq (result.err, "");
  assert_new_traces (receiver, &result, "ignored");
}
END_TEST

START_TEST (test_environment_traceparent_api_opt_out)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_auto(HelperResult) result = { 0 };

  /* Turned off before the first action: the environment is not even read,
   * so an invalid value draws no warning. */
  run_helper (receiver, "api", "garbage", NULL, NULL, TRUE, &result);
  ck_assert_str_eq (result.err, "");
  assert_new_traces (receiver, &result, "api");
}
END_TEST

static Suite *
propagation_suite (void)
{
  Suite *suite = suite_create ("propagation");
  TCase *tc;

  tc = tcase_create ("formats");
  tcase_add_checked_fixture (tc, NULL, fixture_teardown);
  tcase_add_test (tc, test_traceparent_round_trip);
  tcase_add_test (tc, test_traceparent_flags_and_versions);
  tcase_add_test (tc, test_traceparent_invalid);
  tcase_add_test (tc, test_invalid_value_in_message);
  tcase_add_test (tc, test_uber_trace_id_round_trip);
  tcase_add_test (tc, test_uber_trace_id_short_and_upper_case);
  tcase_add_test (tc, test_uber_trace_id_invalid);
  tcase_add_test (tc, test_boxed_copy_equal);
  tcase_add_test (tc, test_preconditions);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("carriers");
  tcase_add_checked_fixture (tc, NULL, fixture_teardown);
  tcase_add_test (tc, test_environ);
  tcase_add_test (tc, test_environ_none_or_invalid);
  tcase_add_test (tc, test_headers_round_trip);
  tcase_add_test (tc, test_headers_extract);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("actions");
  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, NULL, fixture_teardown);
  tcase_add_test (tc, test_dup_context);
  tcase_add_test (tc, test_remote_parent_on_wire);
  tcase_add_test (tc, test_default_remote_parent_api);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("environment");
  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, NULL, fixture_teardown);
  tcase_add_test (tc, test_environment_traceparent_joins);
  tcase_add_test (tc, test_environment_traceparent_sampled_flag_decides);
  tcase_add_test (tc, test_environment_traceparent_empty);
  tcase_add_test (tc, test_environment_traceparent_invalid);
  tcase_add_test (tc, test_environment_traceparent_opt_out);
  tcase_add_test (tc, test_environment_traceparent_api_opt_out);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (int    argc,
      char **argv)
{
  int status;

  if (argc > 2 && g_str_equal (argv[1], "--helper"))
    return helper_main (argc, argv);

  self_path = g_canonicalize_filename (argv[0], NULL);
  g_log_set_writer_func (counting_writer, NULL, NULL);

  status = test_run_suite_tap (propagation_suite ());
  g_free (self_path);
  return status;
}
