/* test-trace-output.c: gluetool-trace's JSON read back, hostile values in
 * every output, and the fuzz corpus replayed
 *
 * SPDX-License-Identifier: MIT
 *
 * JSON is parsed back with json-glib: the JSON lines and the Jaeger JSON
 * file that `gluetool-trace listen` writes for spans the library sent, and
 * the outputs for batches made here with values no sane client sends.
 * The seed corpus of the fuzz target (real datagrams) goes through the
 * same path as the fuzzer's inputs, whole, cut short at every length and
 * with bytes changed, so that every build (gcc, sanitizers, valgrind) runs
 * the decode path on hostile input, not only the clang fuzzing build.
 */

#include <check.h>
#include <math.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gluetool/gluetool.h>
#include <json-glib/json-glib.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "reference-binary.h"
#include "trace-decode.h"
#include "trace-format-json.h"
#include "trace-format-tree.h"
#include "trace-fuzz-one.h"
#include "trace-store.h"
#include "../check-tap.h"

/* ---- Helpers ------------------------------------------------------------------------- */

typedef struct {
  GSubprocess      *process;
  GDataInputStream *out;
  GDataInputStream *err;
  guint16           port;
} Program;

static void
program_free (Program *p)
{
  if (g_subprocess_get_identifier (p->process) != NULL)
    g_subprocess_force_exit (p->process);
  g_clear_object (&p->out);
  g_clear_object (&p->err);
  g_clear_object (&p->process);
  g_free (p);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Program, program_free)

static char *
read_line (GDataInputStream *stream)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (stream, NULL, NULL, &error);

  ck_assert_msg (error == NULL, "read: %s", error ? error->message : "");
  return line;
}

/* `gluetool-trace listen --port 0 --idle 20 ARGS`, once it listens. */
static Program *
listen_start (const char *const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  Program *p = g_new0 (Program, 1);
  const char *path = g_getenv ("GLUETOOL_TRACE_PROGRAM");

  ck_assert_msg (path != NULL, "GLUETOOL_TRACE_PROGRAM is not set");
  g_ptr_array_add (argv, (gpointer) path);
  g_ptr_array_add (argv, (gpointer) "listen");
  g_ptr_array_add (argv, (gpointer) "--port");
  g_ptr_array_add (argv, (gpointer) "0");
  g_ptr_array_add (argv, (gpointer) "--idle");
  g_ptr_array_add (argv, (gpointer) "20");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  p->process = g_subprocess_newv ((const char *const *) argv->pdata,
                                  G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                  | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  ck_assert_msg (p->process != NULL, "spawn: %s", error ? error->message : "");
  p->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p->process));
  p->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (p->process));

  for (;;)
    {
      g_autofree char *line = read_line (p->err);

      ck_assert_msg (line != NULL, "the listener ended before it listened");
      if (strstr (line, "listening on UDP ") != NULL)
        {
          p->port = (guint16) g_ascii_strtoull (strrchr (line, ':') + 1, NULL, 10);
          break;
        }
    }
  return p;
}

static int
program_finish (Program *p)
{
  g_autoptr(GError) error = NULL;
  char *line;

  while ((line = read_line (p->err)) != NULL)
    g_free (line);
  ck_assert (g_subprocess_wait (p->process, NULL, &error));
  ck_assert (g_subprocess_get_if_exited (p->process));
  return g_subprocess_get_exit_status (p->process);
}

static void
finish_ok (GluetoolAction *action)
{
  g_autoptr(GError) error = NULL;

  ck_assert_msg (gluetool_action_finish (action, &error), "finish: %s",
                 error ? error->message : "");
}

/* Through the library: "job" (tags of each type) with the child "step"
 * (a log), in service "json-test". Returns the trace id. */
static char *
send_job (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) job = NULL;
  g_autoptr(GluetoolAction) step = NULL;
  g_auto(GVariantBuilder) fields = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  char *trace_id;

  tracer = gluetool_tracer_new ("json-test", "127.0.0.1", port, &error);
  ck_assert_msg (tracer != NULL, "tracer: %s", error ? error->message : "");

  job = gluetool_action_new ("job", NULL);
  gluetool_action_set_tag_string (job, "text", "a \"quoted\" value\n");
  gluetool_action_set_tag_int64 (job, "count", -7);
  gluetool_action_set_tag_double (job, "ratio", 0.25);
  gluetool_action_set_tag_boolean (job, "ok", FALSE);
  step = gluetool_action_new ("step", job);
  g_variant_builder_add (&fields, "{sv}", "event", g_variant_new_string ("halfway"));
  gluetool_action_add_log (step, g_variant_builder_end (&fields));
  finish_ok (step);
  finish_ok (job);
  trace_id = gluetool_action_dup_trace_id (job);

  ck_assert_msg (gluetool_tracer_close (tracer, 20, &error), "close: %s",
                 error ? error->message : "");
  return trace_id;
}

static JsonObject *
find_tag (JsonArray  *tags,
          const char *key)
{
  for (guint i = 0; i < json_array_get_length (tags); i++)
    {
      JsonObject *tag = json_array_get_object_element (tags, i);

      if (g_strcmp0 (json_object_get_string_member (tag, "key"), key) == 0)
        return tag;
    }
  ck_abort_msg ("no tag %s", key);
  return NULL;
}

static gboolean
is_hex (const char *text,
        gsize       len)
{
  if (text == NULL || strlen (text) != len)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit (text[i]) || g_ascii_isupper (text[i]))
      return FALSE;
  return TRUE;
}

static void
check_job_tags (JsonArray *tags)
{
  JsonObject *tag;

  tag = find_tag (tags, "text");
  ck_assert_str_eq (json_object_get_string_member (tag, "type"), "string");
  ck_assert_str_eq (json_object_get_string_member (tag, "value"), "a \"quoted\" value\n");
  tag = find_tag (tags, "count");
  ck_assert_str_eq (json_object_get_string_member (tag, "type"), "int64");
  ck_assert_int_eq (json_object_get_int_member (tag, "value"), -7);
  tag = find_tag (tags, "ratio");
  ck_assert_str_eq (json_object_get_string_member (tag, "type"), "float64");
  ck_assert (json_object_get_double_member (tag, "value") == 0.25);
  tag = find_tag (tags, "ok");
  ck_assert_str_eq (json_object_get_string_member (tag, "type"), "bool");
  ck_assert (!json_object_get_boolean_member (tag, "value"));
}

/* ---- JSON lines ------------------------------------------------------------------------ */

START_TEST (test_json_lines)
{
  const char *args[] = { "--json", "--count", "2", NULL };
  g_autoptr(Program) p = listen_start (args);
  g_autofree char *trace_id = send_job (p->port);
  JsonObject *spans[2] = { NULL, NULL };
  g_autoptr(GPtrArray) parsers = g_ptr_array_new_with_free_func (g_object_unref);
  JsonObject *job = NULL;
  JsonObject *step = NULL;
  char *line;
  guint n = 0;

  while ((line = read_line (p->out)) != NULL)
    {
      g_autoptr(GError) error = NULL;

      JsonParser *parser = json_parser_new ();

      g_ptr_array_add (parsers, parser);
      ck_assert_uint_lt (n, 2);
      ck_assert_msg (json_parser_load_from_data (parser, line, -1, &error),
                     "not JSON: %s: %s", error ? error->message : "", line);
      spans[n] = json_node_get_object (json_parser_get_root (parser));
      n++;
      g_free (line);
    }
  ck_assert_uint_eq (n, 2);
  ck_assert_int_eq (program_finish (p), 0);

  for (guint i = 0; i < 2; i++)
    {
      JsonObject *span = spans[i];

      ck_assert_str_eq (json_object_get_string_member (span, "traceID"), trace_id);
      ck_assert (is_hex (json_object_get_string_member (span, "spanID"), 16));
      ck_assert (is_hex (json_object_get_string_member (span, "parentSpanID"), 16));
      ck_assert_str_eq (json_object_get_string_member (span, "serviceName"), "json-test");
      ck_assert_int_gt (json_object_get_int_member (span, "startTime"), 1600000000000000);
      ck_assert_int_ge (json_object_get_int_member (span, "duration"), 0);
      ck_assert_int_eq (json_object_get_int_member (span, "flags"), 1);
      if (g_strcmp0 (json_object_get_string_member (span, "operationName"), "job") == 0)
        job = span;
      else
        step = span;
    }
  ck_assert_ptr_nonnull (job);
  ck_assert_ptr_nonnull (step);
  ck_assert_str_eq (json_object_get_string_member (step, "operationName"), "step");

  /* The child names the root as its parent; the root has none. */
  ck_assert_str_eq (json_object_get_string_member (step, "parentSpanID"),
                    json_object_get_string_member (job, "spanID"));
  ck_assert_str_eq (json_object_get_string_member (job, "parentSpanID"), "0000000000000000");

  check_job_tags (json_object_get_array_member (job, "tags"));
  {
    JsonArray *logs = json_object_get_array_member (step, "logs");
    JsonObject *log;
    JsonObject *event;

    ck_assert_uint_eq (json_array_get_length (logs), 1);
    log = json_array_get_object_element (logs, 0);
    ck_assert_int_ge (json_object_get_int_member (log, "timestamp"),
                      json_object_get_int_member (step, "startTime"));
    event = find_tag (json_object_get_array_member (log, "fields"), "event");
    ck_assert_str_eq (json_object_get_string_member (event, "value"), "halfway");
  }
  {
    JsonObject *process = json_object_get_object_member (job, "process");
    JsonObject *uuid;

    ck_assert_str_eq (json_object_get_string_member (process, "serviceName"), "json-test");
    uuid = find_tag (json_object_get_array_member (process, "tags"), "client-uuid");
    ck_assert_str_eq (json_object_get_string_member (uuid, "type"), "string");
  }
}
END_TEST

/* ---- Jaeger JSON ----------------------------------------------------------------------- */

START_TEST (test_jaeger_json)
{
  g_autofree char *dir = g_dir_make_tmp ("gluetool-trace-json-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "traces.json", NULL);
  const char *args[] = { "--quiet", "--count", "2", "--jaeger-json", path, NULL };
  g_autoptr(Program) p = listen_start (args);
  g_autofree char *trace_id = send_job (p->port);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *trace, *processes, *job = NULL, *step = NULL;
  JsonArray *data, *spans;

  ck_assert_int_eq (program_finish (p), 0);
  ck_assert_msg (json_parser_load_from_file (parser, path, &error), "%s",
                 error ? error->message : "");
  g_remove (path);
  g_rmdir (dir);

  /* The shape of Jaeger's GET /api/traces answer. */
  root = json_node_get_object (json_parser_get_root (parser));
  data = json_object_get_array_member (root, "data");
  ck_assert_uint_eq (json_array_get_length (data), 1);
  ck_assert_int_eq (json_object_get_int_member (root, "total"), 1);
  ck_assert (json_object_has_member (root, "errors"));

  trace = json_array_get_object_element (data, 0);
  ck_assert_str_eq (json_object_get_string_member (trace, "traceID"), trace_id);
  spans = json_object_get_array_member (trace, "spans");
  processes = json_object_get_object_member (trace, "processes");
  ck_assert_uint_eq (json_array_get_length (spans), 2);
  ck_assert_uint_eq (json_object_get_size (processes), 1);

  for (guint i = 0; i < 2; i++)
    {
      JsonObject *span = json_array_get_object_element (spans, i);
      const char *process_id = json_object_get_string_member (span, "processID");
      JsonObject *process;

      ck_assert_str_eq (json_object_get_string_member (span, "traceID"), trace_id);
      ck_assert_msg (json_object_has_member (processes, process_id), "no process %s",
                     process_id);
      process = json_object_get_object_member (processes, process_id);
      ck_assert_str_eq (json_object_get_string_member (process, "serviceName"), "json-test");
      if (g_strcmp0 (json_object_get_string_member (span, "operationName"), "job") == 0)
        job = span;
      else
        step = span;
    }
  ck_assert_ptr_nonnull (job);
  ck_assert_ptr_nonnull (step);

  /* The parent is a CHILD_OF reference, as in Jaeger. */
  ck_assert_uint_eq (json_array_get_length (json_object_get_array_member (job, "references")), 0);
  {
    JsonArray *refs = json_object_get_array_member (step, "references");
    JsonObject *ref;

    ck_assert_uint_eq (json_array_get_length (refs), 1);
    ref = json_array_get_object_element (refs, 0);
    ck_assert_str_eq (json_object_get_string_member (ref, "refType"), "CHILD_OF");
    ck_assert_str_eq (json_object_get_string_member (ref, "traceID"), trace_id);
    ck_assert_str_eq (json_object_get_string_member (ref, "spanID"),
                      json_object_get_string_member (job, "spanID"));
  }
  check_job_tags (json_object_get_array_member (job, "tags"));
}
END_TEST

/* ---- Hostile values ----------------------------------------------------------------- */

static JaegerTag *
new_tag (const char    *key,
         JaegerTagType  type)
{
  JaegerTag *tag = g_object_new (JAEGER_TYPE_TAG, NULL);

  tag->key = g_strdup (key);
  tag->vType = type;
  return tag;
}

static JaegerSpan *
add_span (JaegerBatch *batch,
          gint64       trace_low,
          gint64       span_id,
          gint64       parent_id,
          const char  *name,
          gint64       start,
          gint64       duration)
{
  JaegerSpan *span = g_object_new (JAEGER_TYPE_SPAN, NULL);

  span->traceIdLow = trace_low;
  span->spanId = span_id;
  span->parentSpanId = parent_id;
  span->operationName = g_strdup (name);
  span->startTime = start;
  span->duration = duration;
  span->__isset_tags = TRUE;
  g_ptr_array_add (batch->spans, span);
  return span;
}

/* A batch no sane client sends: invalid UTF-8 and escape sequences in
 * names, NaN and infinities, tags without their value, an unknown tag
 * type, binary values, extreme times, a self-parent, a parent loop and a
 * duplicated id. */
static JaegerBatch *
make_hostile_batch (void)
{
  JaegerBatch *batch = g_object_new (JAEGER_TYPE_BATCH, NULL);
  JaegerSpan *span;
  JaegerTag *tag;

  batch->process->serviceName = g_strdup ("bad\xff\xfeservice\033[2J");

  span = add_span (batch, 1, 1, 0, "root\033[31m\nsecond line\xc3", 1000, 500);
  tag = new_tag ("nan", JAEGER_TAG_TYPE_DOUBLE);
  tag->vDouble = NAN;
  tag->__isset_vDouble = TRUE;
  g_ptr_array_add (span->tags, tag);
  tag = new_tag ("inf", JAEGER_TAG_TYPE_DOUBLE);
  tag->vDouble = -INFINITY;
  tag->__isset_vDouble = TRUE;
  g_ptr_array_add (span->tags, tag);
  g_ptr_array_add (span->tags, new_tag ("no value", JAEGER_TAG_TYPE_LONG));
  g_ptr_array_add (span->tags, new_tag ("weird type", 99));
  tag = new_tag ("blob", JAEGER_TAG_TYPE_BINARY);
  tag->vBinary = g_byte_array_new ();
  g_byte_array_append (tag->vBinary, (const guint8 *) "\x00\x01\xff", 3);
  tag->__isset_vBinary = TRUE;
  g_ptr_array_add (span->tags, tag);

  add_span (batch, 1, 2, 1, "extreme", G_MAXINT64, G_MAXINT64);
  add_span (batch, 1, 3, 1, "negative", G_MININT64, -5);
  add_span (batch, 1, 4, 4, "own parent", 1000, 1);
  add_span (batch, 1, 5, 6, "loop a", 1000, 1);
  add_span (batch, 1, 6, 5, "loop b", 1000, 1);
  add_span (batch, 1, 2, 1, "duplicate id", 1000, 1);
  return batch;
}

START_TEST (test_hostile_values)
{
  g_autoptr(JaegerBatch) batch = make_hostile_batch ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(TraceStore) store = trace_store_new (100, FALSE);
  g_autoptr(GPtrArray) spans = NULL;
  g_autoptr(GPtrArray) traces = NULL;
  g_autoptr(GString) tree = g_string_new (NULL);
  g_auto(TraceDecoded) decoded = { NULL, };
  g_autofree char *line = NULL;
  const TraceTreeStyle plain = { .colour = FALSE, .utf8 = TRUE };
  gsize len;
  const guint8 *data;

  bytes = gluetool_reference_encode_datagram (batch, 1, &error);
  ck_assert_msg (bytes != NULL, "%s", error ? error->message : "");
  data = g_bytes_get_data (bytes, &len);

  /* Every output keeps its promises (valid JSON, no control characters,
   * no markup). */
  ck_assert (trace_fuzz_one (data, len));

  ck_assert (trace_decode_datagram (data, len, &decoded, &error));
  spans = trace_store_add (store, &decoded, 0);
  ck_assert_uint_eq (spans->len, 7);

  line = trace_format_json_span (g_ptr_array_index (spans, 0));
  ck_assert_msg (strstr (line, "{\"key\":\"nan\",\"type\":\"float64\",\"value\":\"NaN\"}"),
                 "%s", line);
  ck_assert_msg (strstr (line, "\"value\":\"-Infinity\""), "%s", line);
  ck_assert_msg (strstr (line, "{\"key\":\"no value\",\"type\":\"int64\",\"value\":null}"),
                 "%s", line);
  ck_assert_msg (strstr (line, "{\"key\":\"blob\",\"type\":\"binary\",\"value\":\"AAH/\"}"),
                 "%s", line);
  ck_assert_msg (strstr (line, "\"operationName\":\"root\\u001b[31m\\nsecond line\xef\xbf\xbd\""),
                 "%s", line);

  traces = trace_store_get_traces (store);
  ck_assert_uint_eq (traces->len, 1);
  trace_format_tree (tree, g_ptr_array_index (traces, 0), &plain, FALSE);
  ck_assert_msg (strstr (tree->str, "root\\x1b[31m\\nsecond line\xef\xbf\xbd  "
                                    "[bad\xef\xbf\xbd\xef\xbf\xbdservice\\x1b[2J]"),
                 "%s", tree->str);
  ck_assert_msg (strstr (tree->str, " nan=nan inf=-inf no value=(no vLong) "
                                    "weird type=(unknown tag type 99) blob=<3 bytes: 00 01 ff>"),
                 "%s", tree->str);
  ck_assert_msg (strstr (tree->str, "own parent") != NULL, "%s", tree->str);
  ck_assert_msg (strstr (tree->str, "loop a") != NULL
                 && strstr (tree->str, "(its parents form a loop)") != NULL, "%s", tree->str);
  ck_assert_msg (strstr (tree->str, "duplicate id") != NULL, "%s", tree->str);
  /* Every span once, however odd its ids: a header, 7 lines, the end. */
  {
    g_auto(GStrv) lines = g_strsplit (tree->str, "\n", -1);

    ck_assert_uint_eq (g_strv_length (lines), 1 + 7 + 1);
  }
}
END_TEST

/* ---- The corpus, replayed and mutated ------------------------------------------------- */

static GPtrArray *
load_directory (const char *variable)
{
  const char *dir_path = g_getenv (variable);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  GPtrArray *files = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  const char *name;

  ck_assert_msg (dir_path != NULL, "%s is not set", variable);
  dir = g_dir_open (dir_path, 0, &error);
  ck_assert_msg (dir != NULL, "%s", error ? error->message : "");
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);
      char *contents = NULL;
      gsize len = 0;

      if (!g_str_has_suffix (name, ".bin"))
        continue;
      ck_assert (g_file_get_contents (path, &contents, &len, NULL));
      g_ptr_array_add (files, g_bytes_new_take (contents, len));
    }
  return files;
}

static GPtrArray *
load_corpus (void)
{
  GPtrArray *files = load_directory ("TRACE_FUZZ_CORPUS");

  ck_assert_uint_ge (files->len, 5);
  return files;
}

START_TEST (test_regressions)
{
  g_autoptr(GPtrArray) files = load_directory ("TRACE_FUZZ_REGRESSIONS");

  /* Inputs that once crashed the decode path: each one is refused. */
  ck_assert_uint_ge (files->len, 2);
  for (guint i = 0; i < files->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (files, i), &len);

      ck_assert (!trace_fuzz_one (data, len));
    }
}
END_TEST

START_TEST (test_corpus_decodes)
{
  g_autoptr(GPtrArray) files = load_corpus ();
  guint decoded = 0;

  /* The seeds are real datagrams: all of them decode. */
  for (guint i = 0; i < files->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (files, i), &len);

      decoded += trace_fuzz_one (data, len);
    }
  ck_assert_uint_eq (decoded, files->len);
}
END_TEST

START_TEST (test_corpus_scanned)
{
  g_autoptr(GPtrArray) files = load_corpus ();
  guint scanned = 0, compact = 0;

  /* The counting receiver reads every compact seed itself (so that the
   * comparison with the reference in trace_fuzz_one() is not an empty
   * one), and leaves the binary ones to the reference. */
  for (guint i = 0; i < files->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (files, i), &len);

      compact += data[0] == 0x82;
      scanned += trace_fuzz_scans (data, len);
      ck_assert (data[0] == 0x82 || !trace_fuzz_scans (data, len));
    }
  ck_assert_uint_ge (compact, 5);
  ck_assert_uint_eq (scanned, compact);
}
END_TEST

/* Positions to cut or change: every one in the first bytes, where the
 * message header, the process and the first span's header are; past
 * them, a sample (a prime stride, so that it drifts across field
 * boundaries), sparser under valgrind, which runs some 30 times slower.
 * libFuzzer explores the rest. */
static gsize
next_position (gsize at)
{
  gsize dense = RUNNING_ON_VALGRIND ? 32 : 256;
  gsize stride = RUNNING_ON_VALGRIND ? 127 : 13;

  return at < dense ? at + 1 : at + stride;
}

START_TEST (test_corpus_truncated)
{
  g_autoptr(GPtrArray) files = load_corpus ();

  /* Cut short anywhere, none decodes, and none breaks anything: a message
   * ends with its last byte, so every prefix is incomplete. */
  for (guint i = 0; i < files->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (files, i), &len);

      for (gsize cut = 0; cut < len; cut = next_position (cut))
        {
          g_autofree guint8 *copy = g_memdup2 (data, cut);

          ck_assert_msg (!trace_fuzz_one (copy, cut), "file %u decoded at %" G_GSIZE_FORMAT
                         " of %" G_GSIZE_FORMAT " bytes", i, cut, len);
        }
    }
}
END_TEST

/* Each of @files with bytes replaced one at a time, at the positions
 * @next_at gives, handed to @fuzz_one: sizes, types, field ids and varints
 * all get absurd values. Whether a mutant decodes does not matter; that it
 * is handled does. */
static void
fuzz_mutants (GPtrArray *files,
              gsize    (*next_at) (gsize at),
              gboolean (*fuzz_one) (const guint8 *data, gsize size))
{
  static const guint8 values[] = { 0xff, 0x00, 0x80 };
  /* Under valgrind, one value: the sanitizer build and the fuzzer do the
   * rest. */
  guint n_values = RUNNING_ON_VALGRIND ? 1 : G_N_ELEMENTS (values);

  for (guint i = 0; i < files->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (files, i), &len);
      g_autofree guint8 *copy = g_memdup2 (data, len);

      for (gsize at = 0; at < len; at = next_at (at))
        {
          for (guint v = 0; v < n_values; v++)
            {
              copy[at] = values[v];
              fuzz_one (copy, len);
            }
          copy[at] = data[at];
        }
    }
}

START_TEST (test_corpus_mutated)
{
  g_autoptr(GPtrArray) files = load_corpus ();

  fuzz_mutants (files, next_position, trace_fuzz_one);
}
END_TEST

/* ---- The HTTP bodies ------------------------------------------------------------------- */

/* The binary protocol takes about twice the bytes of the compact one for
 * the same fields: past the first bytes, half as many positions. */
static gsize
next_body_position (gsize at)
{
  gsize next = next_position (at);

  return next == at + 1 ? next : next_position (next);
}

static GPtrArray *
load_http_corpus (void)
{
  GPtrArray *files = load_directory ("TRACE_FUZZ_CORPUS_HTTP");

  ck_assert_uint_ge (files->len, 4);
  return files;
}

START_TEST (test_http_corpus_made_from_datagrams)
{
  const char *http_dir = g_getenv ("TRACE_FUZZ_CORPUS_HTTP");
  const char *datagram_dir = g_getenv ("TRACE_FUZZ_CORPUS");
  g_autoptr(GDir) dir = NULL;
  const char *name;
  guint checked = 0;

  /* Each body is the binary Batch of the datagram seed of its name. */
  ck_assert (http_dir != NULL && datagram_dir != NULL);
  dir = g_dir_open (http_dir, 0, NULL);
  ck_assert_ptr_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *body_path = g_build_filename (http_dir, name, NULL);
      g_autofree char *datagram_path = g_build_filename (datagram_dir, name, NULL);
      g_autofree char *body = NULL;
      g_autofree char *datagram = NULL;
      g_auto(TraceDecoded) decoded = { NULL, };
      g_autoptr(GBytes) encoded = NULL;
      g_autoptr(GBytes) expected = NULL;
      gsize body_len, datagram_len;

      if (!g_str_has_suffix (name, ".bin"))
        continue;
      ck_assert (g_file_get_contents (body_path, &body, &body_len, NULL));
      ck_assert_msg (g_file_get_contents (datagram_path, &datagram, &datagram_len, NULL),
                     "no datagram seed %s for the body of that name", name);
      ck_assert (trace_decode_datagram ((const guint8 *) datagram, datagram_len, &decoded,
                                        NULL));
      encoded = gluetool_reference_encode_batch_binary (decoded.batch, NULL);
      ck_assert_ptr_nonnull (encoded);
      expected = g_bytes_new (body, body_len);
      ck_assert_msg (g_bytes_equal (encoded, expected), "%s is not its datagram's batch", name);
      checked++;
    }
  ck_assert_uint_ge (checked, 4);
}
END_TEST

START_TEST (test_http_corpus_decodes)
{
  g_autoptr(GPtrArray) bodies = load_http_corpus ();
  g_autoptr(GPtrArray) datagrams = load_corpus ();

  /* Every body decodes as a body and not as a datagram, and the other
   * way round: neither path takes the other's bytes. */
  for (guint i = 0; i < bodies->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (bodies, i), &len);

      ck_assert_msg (trace_fuzz_one_http (data, len), "body %u", i);
      ck_assert_msg (!trace_fuzz_one (data, len), "body %u decoded as a datagram", i);
    }
  for (guint i = 0; i < datagrams->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (datagrams, i), &len);

      ck_assert_msg (!trace_fuzz_one_http (data, len), "datagram %u decoded as a body", i);
    }
}
END_TEST

START_TEST (test_http_corpus_scanned)
{
  g_autoptr(GPtrArray) bodies = load_http_corpus ();

  /* The counting receiver reads every body seed itself, so that the
   * comparison with the reference in trace_fuzz_one_http() is not an
   * empty one. */
  ck_assert_uint_ge (bodies->len, 1);
  for (guint i = 0; i < bodies->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (bodies, i), &len);

      ck_assert_msg (trace_fuzz_scans_http (data, len), "body %u", i);
    }
}
END_TEST

START_TEST (test_http_corpus_truncated_or_longer)
{
  g_autoptr(GPtrArray) files = load_http_corpus ();

  /* A Batch ends with its last byte: no prefix decodes, nor a body with a
   * byte more. */
  for (guint i = 0; i < files->len; i++)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (files, i), &len);
      g_autofree guint8 *longer = g_malloc (len + 1);

      for (gsize cut = 0; cut < len; cut = next_body_position (cut))
        {
          g_autofree guint8 *copy = g_memdup2 (data, cut);

          ck_assert_msg (!trace_fuzz_one_http (copy, cut), "body %u decoded at %" G_GSIZE_FORMAT
                         " of %" G_GSIZE_FORMAT " bytes", i, cut, len);
        }
      memcpy (longer, data, len);
      longer[len] = 0;
      ck_assert (!trace_fuzz_one_http (longer, len + 1));
    }
}
END_TEST

START_TEST (test_http_corpus_mutated)
{
  g_autoptr(GPtrArray) files = load_http_corpus ();

  fuzz_mutants (files, next_body_position, trace_fuzz_one_http);
}
END_TEST

static Suite *
output_suite (void)
{
  Suite *suite = suite_create ("trace-output");
  TCase *tc;

  tc = tcase_create ("json");
  tcase_add_test (tc, test_json_lines);
  tcase_add_test (tc, test_jaeger_json);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("hostile");
  tcase_add_test (tc, test_hostile_values);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("corpus");
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_regressions);
  tcase_add_test (tc, test_corpus_decodes);
  tcase_add_test (tc, test_corpus_scanned);
  tcase_add_test (tc, test_corpus_truncated);
  tcase_add_test (tc, test_corpus_mutated);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("http");
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_http_corpus_made_from_datagrams);
  tcase_add_test (tc, test_http_corpus_decodes);
  tcase_add_test (tc, test_http_corpus_scanned);
  tcase_add_test (tc, test_http_corpus_truncated_or_longer);
  tcase_add_test (tc, test_http_corpus_mutated);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (void)
{
  return test_run_suite_tap (output_suite ());
}
