/* test-trace.c: gluetool-trace listen and demo, run as a user runs them
 *
 * SPDX-License-Identifier: MIT
 *
 * Every test starts the program (GLUETOOL_TRACE_PROGRAM) with GSubprocess,
 * on port 0, and reads the port it bound from its stderr; spans reach it
 * from the library in this process, from `gluetool-trace demo`, or as
 * datagrams made here with the c_glib reference codec. Nothing waits on a
 * clock: a test reads the program's output, which blocks until it comes,
 * and every listener also has --idle so that a broken one ends.
 */

#include <check.h>
#include <signal.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gluetool/gluetool.h>

#include "reference.h"
#include "reference-binary.h"
#include "check-tap.h"
#include "listen-process.h"
#include "test-expect.h"

/* ---- Running the program ------------------------------------------------------ */

static GPtrArray *
make_argv (const char        *command,
           const char *const *args)
{
  GPtrArray *argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (gpointer) listen_process_program ());
  g_ptr_array_add (argv, (gpointer) command);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* Runs `gluetool-trace COMMAND ARGS` to its end; returns the exit status. */
static int
run_program (const char        *command,
             const char *const *args,
             const char        *env_name,
             const char        *env_value,
             char             **out,
             char             **err)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = make_argv (command, args);
  g_autoptr(GError) error = NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                        | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  if (env_name != NULL)
    g_subprocess_launcher_setenv (launcher, env_name, env_value, TRUE);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata,
                                          &error);
  ck_assert_msg (process != NULL, "spawn: %s", error ? error->message : "");
  ck_assert_msg (g_subprocess_communicate_utf8 (process, NULL, NULL, out, err, &error),
                 "communicate: %s", error ? error->message : "");
  ck_assert (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

/* ---- Making datagrams -------------------------------------------------------- */

static void
send_bytes (guint16       port,
            const guint8 *data,
            gsize         len)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, &error);
  ck_assert_msg (socket != NULL, "socket: %s", error ? error->message : "");
  address = g_inet_socket_address_new_from_string ("127.0.0.1", port);
  ck_assert_int_eq (g_socket_send_to (socket, address, (const char *) data, len,
                                      NULL, &error), (gssize) len);
}

static void
send_gbytes (guint16  port,
             GBytes  *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  send_bytes (port, data, len);
}

static JaegerTag *
new_tag (const char    *key,
         JaegerTagType  type)
{
  JaegerTag *tag = g_object_new (JAEGER_TYPE_TAG, NULL);

  tag->key = g_strdup (key);
  tag->vType = type;
  return tag;
}

static void
add_string_tag (GPtrArray  *tags,
                const char *key,
                const char *value)
{
  JaegerTag *tag = new_tag (key, JAEGER_TAG_TYPE_STRING);

  tag->vStr = g_strdup (value);
  tag->__isset_vStr = TRUE;
  g_ptr_array_add (tags, tag);
}

static JaegerBatch *
new_batch (const char *service,
           const char *client_uuid)
{
  JaegerBatch *batch = g_object_new (JAEGER_TYPE_BATCH, NULL);

  batch->process->serviceName = g_strdup (service);
  if (client_uuid != NULL)
    {
      add_string_tag (batch->process->tags, "client-uuid", client_uuid);
      batch->process->__isset_tags = TRUE;
    }
  return batch;
}

/* (transfer none) the span, owned by @batch */
static JaegerSpan *
add_span (JaegerBatch *batch,
          guint64      trace_id,
          guint64      span_id,
          guint64      parent_id,
          const char  *name,
          gint64       start_us,
          gint64       duration_us)
{
  JaegerSpan *span = g_object_new (JAEGER_TYPE_SPAN, NULL);

  span->traceIdLow = (gint64) trace_id;
  span->traceIdHigh = 0;
  span->spanId = (gint64) span_id;
  span->parentSpanId = (gint64) parent_id;
  span->operationName = g_strdup (name);
  span->flags = 1;
  span->startTime = start_us;
  span->duration = duration_us;
  g_ptr_array_add (batch->spans, span);
  return span;
}

static GBytes *
encode (JaegerBatch *batch,
        gint32       seqid)
{
  g_autoptr(GError) error = NULL;
  GBytes *bytes = gluetool_reference_encode_datagram (batch, seqid, &error);

  ck_assert_msg (bytes != NULL, "encode: %s", error ? error->message : "");
  return bytes;
}

/* A wall-clock start for made-up spans: now, so times print sensibly. */
static gint64
now_us (void)
{
  return g_get_real_time ();
}

static guint
count_occurrences (const char *text,
                   const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (text, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* The line of @text that contains @needle. (transfer full) */
static char *
find_line (const char *text,
           const char *needle)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], needle) != NULL)
      return g_strdup (lines[i]);
  ck_abort_msg ("no line with \"%s\" in:\n%s", needle, text);
  return NULL;
}

/* ---- The demo, end to end ------------------------------------------------------ */

START_TEST (test_demo_tree)
{
  const char *args[] = { "--count", "3", "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autofree char *port = g_strdup_printf ("%u", l->udp_port);
  const char *demo_args[] = { "--port", port, NULL };
  g_autofree char *demo_out = NULL;
  g_autofree char *demo_err = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  int status;

  status = run_program ("demo", demo_args, NULL, NULL, &demo_out, &demo_err);
  ck_assert_msg (status == 0, "demo failed: %s%s", demo_out, demo_err);
  ck_assert_msg (strstr (demo_out, "sent 3 spans in 1 datagram to 127.0.0.1 port") != NULL,
                 "demo said: %s", demo_out);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);

  /* The trace as a tree: header, root, two children in start order. */
  lines = g_strsplit (out, "\n", -1);
  ck_assert_msg (g_strv_length (lines) >= 4, "tree: %s", out);
  ck_assert_msg (g_str_has_prefix (lines[0], "trace "), "header: %s", lines[0]);
  ck_assert_msg (strstr (lines[0], "  3 spans  gluetool  ") != NULL, "header: %s", lines[0]);
  ck_assert_msg (g_str_has_prefix (lines[1], "some label  [gluetool]  +0 µs  "),
                 "root: %s", lines[1]);
  ck_assert_msg (strstr (lines[1], " foo=bar") != NULL, "root tags: %s", lines[1]);
  ck_assert_msg (g_str_has_prefix (lines[2], "├─ some subtask  +"), "child: %s", lines[2]);
  ck_assert_msg (g_str_has_prefix (lines[3], "└─ another subtask  +"), "child: %s", lines[3]);
  /* The demo's subtasks take 10 and 15 ms. */
  ck_assert_msg (strstr (lines[2], " ms") != NULL, "duration: %s", lines[2]);
  /* Not a terminal: no colour. */
  ck_assert_ptr_null (strchr (out, '\033'));

  /* The same trace id as the demo printed. */
  {
    g_autofree char *demo_line = find_line (demo_out, "  trace ");
    const char *id = strstr (demo_line, "trace ") + strlen ("trace ");

    ck_assert_msg (strstr (lines[0], id) != NULL, "demo %s, listener %s", id, lines[0]);
  }

  ck_assert_msg (strstr (l->err_text->str, "  spans:         3\n") != NULL,
                 "summary: %s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  bad datagrams: 0\n") != NULL,
                 "summary: %s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "seqNo 1 to 1, 0 missing, dropped 0 queue full, "
                                           "0 too large, 0 failed to send") != NULL,
                 "summary: %s", l->err_text->str);
}
END_TEST

START_TEST (test_demo_disabled)
{
  const char *args[] = { "--port", "9", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  ck_assert_int_eq (run_program ("demo", args, "GLUETOOL_TRACING_DISABLE", "1", &out, &err), 1);
  ck_assert_msg (strstr (err, "tracing is disabled") != NULL, "stderr: %s", err);
}
END_TEST

/* ---- The library, end to end ---------------------------------------------------- */


/* Two traces from the library: "build" with a nested chain, every tag type,
 * a log and a failed step; and "lonely" on its own. 6 spans. */
static void
send_library_traces (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) build = NULL;
  g_autoptr(GluetoolAction) compile = NULL;
  g_autoptr(GluetoolAction) link = NULL;
  g_autoptr(GluetoolAction) optimise = NULL;
  g_autoptr(GluetoolAction) failing = NULL;
  g_autoptr(GluetoolAction) lonely = NULL;
  g_auto(GVariantBuilder) fields = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  tracer = gluetool_tracer_new ("builder", "127.0.0.1", port, &error);
  ck_assert_msg (tracer != NULL, "tracer: %s", error ? error->message : "");

  build = gluetool_action_new ("build", NULL);
  gluetool_action_set_tag_string (build, "msg", "hello world");
  gluetool_action_set_tag_int64 (build, "n", 42);
  gluetool_action_set_tag_double (build, "d", 1.5);
  gluetool_action_set_tag_boolean (build, "b", TRUE);

  compile = gluetool_action_new ("compile", build);
  g_variant_builder_add (&fields, "{sv}", "event", g_variant_new_string ("checkpoint"));
  gluetool_action_add_log (compile, g_variant_builder_end (&fields));
  optimise = gluetool_action_new ("optimise", compile);
  test_expect_finish (optimise);
  test_expect_finish (compile);

  failing = gluetool_action_new ("step that fails", build);
  gluetool_action_set_tag_boolean (failing, "error", TRUE);
  test_expect_finish (failing);

  link = gluetool_action_new ("link", build);
  test_expect_finish (link);
  test_expect_finish (build);

  lonely = gluetool_action_new ("lonely", NULL);
  test_expect_finish (lonely);

  ck_assert_msg (gluetool_tracer_close (tracer, 20, &error), "close: %s",
                 error ? error->message : "");
}

START_TEST (test_library_tree)
{
  const char *args[] = { "--count", "6", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autofree char *out = NULL;
  g_autofree char *root = NULL;
  g_autofree char *log = NULL;
  g_auto(GStrv) lines = NULL;
  guint first = 0;

  send_library_traces (l->udp_port);
  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);

  ck_assert_uint_eq (count_occurrences (out, "\ntrace ") + g_str_has_prefix (out, "trace "), 2);

  root = find_line (out, "build  [builder]");
  ck_assert_msg (strstr (root, " msg=\"hello world\"") != NULL, "root: %s", root);
  ck_assert_msg (strstr (root, " n=42") != NULL, "root: %s", root);
  ck_assert_msg (strstr (root, " d=1.5") != NULL, "root: %s", root);
  ck_assert_msg (strstr (root, " b=true") != NULL, "root: %s", root);

  /* The tree's shape: children in start order, the grandchild indented
   * under a pipe, the log under its span. */
  lines = g_strsplit (out, "\n", -1);
  while (lines[first] != NULL && !g_str_has_prefix (lines[first], "build  "))
    first++;
  ck_assert_ptr_nonnull (lines[first]);
  ck_assert_msg (g_str_has_prefix (lines[first + 1], "├─ compile  +"), "%s", out);
  log = g_strdup (lines[first + 2]);
  ck_assert_msg (g_str_has_prefix (log, "│  │  · +") && strstr (log, " event=checkpoint"),
                 "log line: %s", log);
  ck_assert_msg (g_str_has_prefix (lines[first + 3], "│  └─ optimise  +"), "%s", out);
  ck_assert_msg (g_str_has_prefix (lines[first + 4], "├─ step that fails  +"), "%s", out);
  ck_assert_msg (strstr (lines[first + 4], " error=true") != NULL, "%s", out);
  ck_assert_msg (g_str_has_prefix (lines[first + 5], "└─ link  +"), "%s", out);

  g_free (find_line (out, "lonely  [builder]  +0 µs"));
}
END_TEST

START_TEST (test_colour_and_ascii)
{
  /* --color always colours even into a file; a C locale gets ASCII. */
  const char *args[] = { "--count", "6", "--color", "always", NULL };
  ListenProcessOptions options = { .args = args, .locale = "C" };
  g_autoptr(ListenProcess) l = listen_process_start (&options);
  g_autofree char *out = NULL;

  send_library_traces (l->udp_port);
  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);

  ck_assert_msg (strstr (out, "\033[1mbuild\033[0m") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "\033[1;31m") != NULL || strstr (out, "\033[1m\033[31m") != NULL,
                 "the failed span is not red: %s", out);
  ck_assert_msg (strstr (out, "|- ") != NULL && strstr (out, "`- ") != NULL, "%s", out);
  ck_assert_ptr_null (strstr (out, "├"));
  ck_assert_ptr_null (strstr (out, "µs"));
}
END_TEST

/* ---- Bad input ---------------------------------------------------------------------- */

static const guint8 emit_batch_header[] = {
  0x82, 0x81, 0x00, 0x09, 'e', 'm', 'i', 't', 'B', 'a', 't', 'c', 'h',
};

static GBytes *
with_header (const guint8 *body,
             gsize         len)
{
  GByteArray *bytes = g_byte_array_new ();

  g_byte_array_append (bytes, emit_batch_header, sizeof emit_batch_header);
  g_byte_array_append (bytes, body, (guint) len);
  return g_byte_array_free_to_bytes (bytes);
}

START_TEST (test_bad_datagrams)
{
  const char *args[] = { "--count", "1", "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("good", NULL);
  g_autoptr(GBytes) good = NULL;
  g_autoptr(GBytes) truncated = NULL;
  g_autoptr(GBytes) trailing = NULL;
  g_autofree char *out = NULL;
  gsize good_len;
  const guint8 *good_data;
  /* Batch.process = Process{ serviceName "svc", tags [Tag{vType 0}] }:
   * the tag has no key, a required field. */
  static const guint8 no_key[] = {
    0x1c, 0x1c, 0x18, 0x03, 's', 'v', 'c', 0x19, 0x1c, 0x25, 0x00, 0x00, 0x00,
    0x19, 0x0c, 0x00, 0x00,
  };
  /* Batch.spans claims 2^31 - 1 elements. */
  static const guint8 huge_list[] = {
    0x1c, 0x1c, 0x18, 0x03, 's', 'v', 'c', 0x00, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07,
  };
  /* Process.serviceName claims 2^31 - 1 bytes. */
  static const guint8 huge_string[] = {
    0x1c, 0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x07, 's', 'v', 'c',
  };
  /* A binary header whose name claims 2^31 - 1 bytes. */
  static const guint8 binary_huge_name[] = {
    0x80, 0x01, 0x00, 0x04, 0x7f, 0xff, 0xff, 0xff, 'e', 'm', 'i', 't',
  };
  /* A Tag whose vBinary (field 7) comes twice: c_glib's generated reader
   * would g_free() the first one's GByteArray. */
  static const guint8 binary_twice[] = {
    0x1c, 0x1c, 0x18, 0x03, 's', 'v', 'c', 0x19, 0x1c, 0x18, 0x01, 'k', 0x15, 0x08,
    0x58, 0x01, 'x', 0x08, 0x0e, 0x01, 'y', 0x00, 0x00, 0x19, 0x0c, 0x00, 0x00,
  };
  static const guint8 wrong_name[] = {
    0x82, 0x81, 0x00, 0x09, 'e', 'm', 'i', 't', 'B', 'a', 't', 'c', 'X', 0x00,
  };

  add_span (batch, 1, 2, 0, "after the bad ones", now_us (), 1000);
  good = encode (batch, 1);
  good_data = g_bytes_get_data (good, &good_len);
  truncated = g_bytes_new (good_data, good_len - 5);
  {
    GByteArray *bytes = g_byte_array_new ();

    g_byte_array_append (bytes, good_data, (guint) good_len);
    g_byte_array_append (bytes, (const guint8 *) "\0\0", 2);
    trailing = g_byte_array_free_to_bytes (bytes);
  }

  send_bytes (l->udp_port, (const guint8 *) "hello", 5);
  send_gbytes (l->udp_port, truncated);
  send_gbytes (l->udp_port, trailing);
  {
    g_autoptr(GBytes) b1 = with_header (no_key, sizeof no_key);
    g_autoptr(GBytes) b2 = with_header (huge_list, sizeof huge_list);
    g_autoptr(GBytes) b3 = with_header (huge_string, sizeof huge_string);
    g_autoptr(GBytes) b4 = with_header (binary_twice, sizeof binary_twice);

    send_gbytes (l->udp_port, b1);
    send_gbytes (l->udp_port, b2);
    send_gbytes (l->udp_port, b3);
    send_gbytes (l->udp_port, b4);
  }
  send_bytes (l->udp_port, binary_huge_name, sizeof binary_huge_name);
  send_bytes (l->udp_port, wrong_name, sizeof wrong_name);
  send_gbytes (l->udp_port, good);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);

  /* Still received the good one, after nine bad ones. */
  ck_assert_msg (strstr (out, "after the bad ones  [good]") != NULL, "%s", out);
  ck_assert_msg (strstr (l->err_text->str, "  bad datagrams: 9\n") != NULL, "%s",
                 l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  datagrams:     10 (1 compact, 0 binary)\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_uint_eq (count_occurrences (l->err_text->str, "bad datagram from 127.0.0.1:"), 9);
  ck_assert_msg (strstr (l->err_text->str, "field 7 comes twice in one struct") != NULL, "%s",
                 l->err_text->str);

  /* Each report gives the size and the first bytes, and why. */
  ck_assert_msg (strstr (l->err_text->str, ", 5 bytes: 68 65 6c 6c 6f: not a Thrift message")
                 != NULL, "%s", l->err_text->str);
  /* c_glib's generated readers say only "missing field"; where is ours. */
  ck_assert_msg (strstr (l->err_text->str, "30 bytes: 82 81 00 09 65 6d 69 74 42 61 74 63 68 "
                                           "1c 1c 18 ...: cannot decode the emitBatch arguments "
                                           "(stopped at byte 25 of 30): missing field") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "\"emitBatcX\"") != NULL, "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "follow the emitBatch message") != NULL, "%s",
                 l->err_text->str);
  {
    g_autofree char *line = find_line (l->err_text->str, "12 bytes: 80 01 00 04 7f ff ff ff");

    ck_assert_msg (strstr (line, "2147483647") != NULL, "%s", line);
  }
}
END_TEST

START_TEST (test_bad_flood)
{
  /* A flood is counted in full, but only a few reports a second are
   * printed. 200 small datagrams fit the socket's default receive buffer
   * even if the receiver reads none of them before the last is sent. */
  const char *args[] = { "--count", "1", "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("good", NULL);
  g_autoptr(GBytes) good = NULL;
  g_autofree char *out = NULL;
  guint8 junk[64];

  memset (junk, 0xee, sizeof junk);
  for (guint i = 0; i < 200; i++)
    send_bytes (l->udp_port, junk, sizeof junk);
  add_span (batch, 1, 2, 0, "survivor", now_us (), 1000);
  good = encode (batch, 1);
  send_gbytes (l->udp_port, good);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "survivor") != NULL, "%s", out);
  ck_assert_msg (strstr (l->err_text->str, "  bad datagrams: 200\n") != NULL, "%s",
                 l->err_text->str);
  ck_assert_uint_le (count_occurrences (l->err_text->str, "bad datagram from"), 100);
  ck_assert_msg (strstr (l->err_text->str, "more problems not shown") != NULL, "%s",
                 l->err_text->str);
}
END_TEST

/* ---- The binary protocol ------------------------------------------------------------ */

/* The old binary header: the name's length first, then the type byte. */
static GBytes *
to_old_binary_header (GBytes *strict)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (strict, &len);
  GByteArray *bytes = g_byte_array_new ();
  guint8 type = data[3];

  ck_assert_uint_eq (data[0], 0x80);
  ck_assert_uint_eq (data[1], 0x01);
  /* length (4) + "emitBatch" (9) */
  g_byte_array_append (bytes, data + 4, 4 + 9);
  g_byte_array_append (bytes, &type, 1);
  g_byte_array_append (bytes, data + 4 + 4 + 9, (guint) (len - 4 - 4 - 9));
  return g_byte_array_free_to_bytes (bytes);
}

START_TEST (test_binary_protocol)
{
  const char *args[] = { "--count", "3", "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("node", "uuid-binary");
  g_autoptr(JaegerBatch) batch2 = new_batch ("node", "uuid-binary");
  g_autoptr(GBytes) strict = NULL;
  g_autoptr(GBytes) old = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  gint64 start = now_us ();
  JaegerSpan *span;

  span = add_span (batch, 77, 1, 0, "binary root", start, 5000);
  add_string_tag (span->tags, "protocol", "binary");
  span->__isset_tags = TRUE;
  add_span (batch, 77, 2, 1, "binary child", start + 1000, 2000);
  batch->seqNo = 1;
  batch->__isset_seqNo = TRUE;
  strict = gluetool_reference_encode_datagram_binary (batch, 1, &error);
  ck_assert_msg (strict != NULL, "encode: %s", error ? error->message : "");

  add_span (batch2, 77, 3, 1, "old header child", start + 3000, 1000);
  batch2->seqNo = 2;
  batch2->__isset_seqNo = TRUE;
  {
    g_autoptr(GBytes) strict2 = gluetool_reference_encode_datagram_binary (batch2, 2, &error);

    ck_assert_msg (strict2 != NULL, "encode: %s", error ? error->message : "");
    old = to_old_binary_header (strict2);
  }

  send_gbytes (l->udp_port, strict);
  send_gbytes (l->udp_port, old);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "trace 000000000000004d  3 spans  node") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "binary root  [node]  +0 µs  5.00 ms  protocol=binary\n") != NULL,
                 "%s", out);
  ck_assert_msg (strstr (out, "├─ binary child  +1.00 ms  2.00 ms\n") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "└─ old header child  +3.00 ms  1.00 ms\n") != NULL, "%s", out);
  ck_assert_msg (strstr (l->err_text->str, "  datagrams:     2 (0 compact, 2 binary)\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  bad datagrams: 0\n") != NULL, "%s",
                 l->err_text->str);
}
END_TEST

/* ---- ClientStats ---------------------------------------------------------------------- */

START_TEST (test_client_stats)
{
  const char *args[] = { "--count", "3", "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  gint64 start = now_us ();

  /* seqNo 1, then 4 (2 and 3 lost), then 3 late: one missing in the end.
   * The stats of the highest seqNo are the latest, whatever the order. */
  for (guint i = 0; i < 3; i++)
    {
      static const gint64 seq_nos[] = { 1, 4, 3 };
      g_autoptr(JaegerBatch) batch = new_batch ("stats", "uuid-stats");
      g_autoptr(GBytes) bytes = NULL;

      add_span (batch, 5, 10 + i, 0, "op", start, 10);
      batch->seqNo = seq_nos[i];
      batch->__isset_seqNo = TRUE;
      batch->stats->fullQueueDroppedSpans = 10 * seq_nos[i];
      batch->stats->tooLargeDroppedSpans = 2;
      batch->stats->failedToEmitSpans = seq_nos[i];
      batch->__isset_stats = TRUE;
      bytes = encode (batch, (gint32) seq_nos[i]);
      send_gbytes (l->udp_port, bytes);
    }

  ck_assert_int_eq (listen_process_finish (l), 0);
  ck_assert_msg (strstr (l->err_text->str,
                         "  dropped by clients (ClientStats): 40 queue full, 2 too large, "
                         "4 failed to send\n") != NULL, "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str,
                         "    stats (client-uuid uuid-stats): 3 batches, seqNo 1 to 4, "
                         "1 missing, dropped 40 queue full, 2 too large, 4 failed to send\n")
                 != NULL, "%s", l->err_text->str);
}
END_TEST

/* ---- Stopping ------------------------------------------------------------------------- */

START_TEST (test_idle_stop)
{
  const char *args[] = { "--idle", "0.2", "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autofree char *out = NULL;

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_str_eq (out, "");
  ck_assert_msg (strstr (l->err_text->str, "  datagrams:     0 ") != NULL, "%s",
                 l->err_text->str);
}
END_TEST

START_TEST (test_count_not_reached)
{
  const char *args[] = { "--idle", "0.2", "--count", "5", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("few", NULL);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *out = NULL;

  add_span (batch, 3, 1, 0, "only one", now_us (), 10);
  bytes = encode (batch, 1);
  send_gbytes (l->udp_port, bytes);

  ck_assert_int_eq (listen_process_finish (l), 1);
  ck_assert_msg (strstr (l->err_text->str, "1 of 5 spans arrived") != NULL, "%s",
                 l->err_text->str);
  /* What did arrive is still shown. */
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "only one") != NULL, "%s", out);
}
END_TEST

/* Trees appear once their trace went quiet (--settle), again when more
 * spans come, and SIGTERM ends the receiver cleanly, writing its files. */
START_TEST (test_settle_update_and_sigterm)
{
  g_autoptr(ListenProcess) l = NULL;
  g_autofree char *dir = g_dir_make_tmp ("gluetool-trace-html-XXXXXX", NULL);
  g_autofree char *html_path = NULL;
  gint64 start = now_us ();
  char *line;

  ck_assert_ptr_nonnull (dir);
  html_path = g_build_filename (dir, "traces.html", NULL);
  {
    const char *args[] = { "--settle", "0.05", "--summary", "--html", html_path, NULL };
    ListenProcessOptions options = { .args = args, .pipe_stdout = TRUE };

    l = listen_process_start (&options);
  }

  {
    g_autoptr(JaegerBatch) batch = new_batch ("live", NULL);
    g_autoptr(GBytes) bytes = NULL;

    add_span (batch, 9, 1, 0, "first", start, 1000);
    bytes = encode (batch, 1);
    send_gbytes (l->udp_port, bytes);
  }
  line = listen_process_read_stdout_line (l);
  ck_assert_msg (line != NULL && g_str_has_prefix (line, "trace 0000000000000009  1 span  live"),
                 "first tree: %s", line);
  g_free (line);
  line = listen_process_read_stdout_line (l);
  ck_assert_msg (g_str_has_prefix (line, "first  [live]"), "%s", line);
  g_free (line);
  g_free (listen_process_read_stdout_line (l));  /* the blank line after a tree */

  {
    g_autoptr(JaegerBatch) batch = new_batch ("live", NULL);
    g_autoptr(GBytes) bytes = NULL;

    add_span (batch, 9, 2, 1, "second", start + 200, 300);
    bytes = encode (batch, 2);
    send_gbytes (l->udp_port, bytes);
  }
  line = listen_process_read_stdout_line (l);
  ck_assert_msg (line != NULL && strstr (line, "2 spans (updated: more spans arrived)"),
                 "second tree: %s", line);
  g_free (line);

  ck_assert_int_eq (listen_process_stop (l), 0);
  ck_assert_msg (strstr (l->err_text->str, "  spans:         2\n") != NULL, "%s",
                 l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "wrote 1 trace to ") != NULL, "%s",
                 l->err_text->str);
  ck_assert (g_file_test (html_path, G_FILE_TEST_IS_REGULAR));
  g_remove (html_path);
  g_rmdir (dir);
}
END_TEST

/* ---- The HTML page ----------------------------------------------------------------------- */

START_TEST (test_html_page)
{
  g_autofree char *page = NULL;
  g_autoptr(ListenProcess) l = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = now_us ();

  {
    g_autofree char *dir = g_dir_make_tmp ("gluetool-trace-html-XXXXXX", NULL);

    path = g_build_filename (dir, "page.html", NULL);
    {
      const char *args[] = { "--count", "4", "--html", path, "--quiet", NULL };

      l = listen_process_start_with_args (args);
    }
    {
      g_autoptr(JaegerBatch) batch = new_batch ("web <svc>", NULL);
      g_autoptr(JaegerBatch) other = new_batch ("db", NULL);
      g_autoptr(GBytes) bytes = NULL;
      g_autoptr(GBytes) other_bytes = NULL;
      JaegerSpan *root;

      root = add_span (batch, 100, 1, 0, "<script>alert(1)</script>", start, 10000);
      add_string_tag (root->tags, "quote", "say \"hi\" & <bye>");
      root->__isset_tags = TRUE;
      add_span (batch, 100, 2, 1, "child", start + 2000, 5000);
      bytes = encode (batch, 1);
      add_span (other, 100, 3, 2, "query", start + 3000, 1000);
      add_span (other, 200, 4, 0, "second trace", start, 0);
      other_bytes = encode (other, 1);
      send_gbytes (l->udp_port, bytes);
      send_gbytes (l->udp_port, other_bytes);
    }
    ck_assert_int_eq (listen_process_finish (l), 0);
    ck_assert_msg (g_file_get_contents (path, &page, NULL, &error), "page: %s",
                   error ? error->message : "");
    g_remove (path);
    g_rmdir (dir);
  }

  ck_assert_msg (g_str_has_prefix (page, "<!DOCTYPE html>\n<html lang=\"en\">"), "%.200s", page);
  ck_assert_msg (g_str_has_suffix (page, "</html>\n"), "no end");
  ck_assert_uint_eq (count_occurrences (page, "<section class=\"trace\""), 2);
  ck_assert_uint_eq (count_occurrences (page, "<details class=\"span\""), 4);
  ck_assert_uint_eq (count_occurrences (page, "<span class=\"bar"), 4);
  ck_assert_msg (strstr (page, "data-spans=\"3\"") != NULL, "first trace has 3 spans");

  /* Self-contained: no script, nothing fetched. */
  ck_assert_ptr_null (strstr (page, "<script"));
  ck_assert_ptr_null (strstr (page, "http:"));
  ck_assert_ptr_null (strstr (page, "https:"));
  ck_assert_ptr_null (strstr (page, "src="));
  ck_assert_ptr_null (strstr (page, "url("));
  ck_assert_ptr_null (strstr (page, "@import"));

  /* Untrusted text is escaped, in text and in attributes. */
  ck_assert_msg (strstr (page, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL, "name");
  ck_assert_msg (strstr (page, "web &lt;svc&gt;") != NULL, "service");
  ck_assert_msg (strstr (page, "quote=say &quot;hi&quot; &amp; &lt;bye&gt;") != NULL,
                 "tooltip");

  /* The grandchild from another service is nested at depth 2, and the
   * bars are placed in percent of the trace: child at 20%, 50% wide. */
  ck_assert_msg (strstr (page, "data-depth=\"2\"") != NULL, "depth");
  ck_assert_msg (strstr (page, "left:20.000%;width:50.000%") != NULL, "bar placement");
  ck_assert_msg (strstr (page, "left:0.000%;width:100.000%") != NULL, "root bar");
}
END_TEST

/* ---- Bursts and losses on the way in ------------------------------------------------- */

/* The number after @prefix on the line of @text that holds it. */
static guint64
number_after (const char *text,
              const char *prefix)
{
  g_autofree char *line = find_line (text, prefix);

  return g_ascii_strtoull (strstr (line, prefix) + strlen (prefix), NULL, 10);
}

/* Sends @n_spans spans from one thread as fast as it goes, with the
 * library's default settings, then closes the tracer. Returns the spans
 * the socket accepted (the root included): by default the library drops
 * spans that find its queue full, rather than make the caller wait, and
 * those never reach the receiver. */
static guint64
send_burst (guint16 port,
            guint   n_spans)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  GluetoolTracerStats stats;

  tracer = gluetool_tracer_new ("burst", "127.0.0.1", port, &error);
  ck_assert_msg (tracer != NULL, "tracer: %s", error ? error->message : "");
  root = gluetool_action_new ("root", NULL);
  for (guint i = 0; i < n_spans; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("burst span", root);

      gluetool_action_set_tag_int64 (action, "i", (gint64) i);
      test_expect_finish (action);
    }
  test_expect_finish (root);
  if (!gluetool_tracer_close (tracer, 30, &error))
    g_clear_error (&error);   /* counted in the stats */
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_gt (stats.spans_sent, n_spans / 2);
  return stats.spans_sent;
}

/* A burst far faster than the receiver decodes: the reader thread takes it
 * all in, and a first SIGTERM (after the last datagram was sent) lets the
 * receiver decode everything it read before it stops. */
static void
check_burst (const char *mode,
             guint       n_spans)
{
  const char *args[] = { "--summary", mode, NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autofree char *out = NULL;
  guint64 sent;

  sent = send_burst (l->udp_port, n_spans);
  ck_assert_int_eq (listen_process_stop (l), 0);

  ck_assert_msg (number_after (l->err_text->str, "  spans:         ") == sent,
                 "%" G_GUINT64_FORMAT " sent; %s", sent, l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  dropped on arrival: 0 by the kernel (socket buffer "
                         "full), 0 by gluetool-trace (over --max-buffer-size)\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  buffers:       socket ") != NULL, "%s",
                 l->err_text->str);
  ck_assert_ptr_null (strstr (l->err_text->str, "not decoded"));
  /* The per-client line sees every batch: none missing. */
  g_free (find_line (l->err_text->str, " missing, dropped "));
  ck_assert_msg (strstr (l->err_text->str, ", 0 missing, ") != NULL, "%s", l->err_text->str);

  out = listen_process_stdout (l);
  /* By hand: strstr() over 30 MB, once per line, is quadratic under ASan. */
  if (g_str_equal (mode, "--json"))
    {
      guint64 lines = 0;

      for (const char *p = out; *p != '\0'; p++)
        lines += *p == '\n';
      ck_assert_uint_eq (lines, sent);
    }
  else
    ck_assert_str_eq (out, "");
}

START_TEST (test_burst_quiet)
{
  check_burst ("--quiet", 200000);
}
END_TEST

START_TEST (test_burst_json)
{
  check_burst ("--json", 50000);
}
END_TEST

/* A datagram of about @size bytes holding one span. */
static GBytes *
sized_datagram (gsize  size,
                gint64 seq_no)
{
  g_autoptr(JaegerBatch) batch = new_batch ("sized", "uuid-sized");
  g_autofree char *name = g_malloc (size + 1);

  memset (name, 'x', size);
  name[size] = '\0';
  add_span (batch, 7, (guint64) seq_no, 0, name, now_us (), 10);
  batch->seqNo = seq_no;
  batch->__isset_seqNo = TRUE;
  return encode (batch, (gint32) seq_no);
}

/* The reader reads nothing until SIGTERM, into a socket buffer of a few
 * kilobytes: the kernel drops most of the datagrams, and the receiver
 * says how many, from the socket's own counter. */
START_TEST (test_kernel_drops)
{
  const char *args[] = { "--quiet", "--summary", "--testing-hold-reader",
                         "--testing-socket-buffer", "4096", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  const guint n_sent = 50;
  guint64 arrived, dropped;

  for (guint i = 0; i < n_sent; i++)
    {
      g_autoptr(GBytes) bytes = sized_datagram (1000, i + 1);

      send_gbytes (l->udp_port, bytes);
    }
  ck_assert_int_eq (listen_process_stop (l), 0);

  arrived = number_after (l->err_text->str, "  datagrams:     ");
  dropped = number_after (l->err_text->str, "  dropped on arrival: ");
  ck_assert_msg (dropped > 0 && arrived + dropped == n_sent, "%s", l->err_text->str);
  ck_assert_uint_eq (number_after (l->err_text->str, "by the kernel (socket buffer full), "), 0);
  ck_assert_msg (strstr (l->err_text->str, "gluetool-trace: the kernel dropped ") != NULL,
                 "no warning: %s", l->err_text->str);
}
END_TEST

/* The decoder decodes nothing until SIGTERM and may keep 1 MiB waiting:
 * past that the reader drops datagrams itself, and counts them. */
/* Whether the socket bound to loopback @port has nothing left to read:
 * its receive queue in /proc/net/udp is empty. */
static gboolean
socket_is_drained (guint16 port)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/net/udp", &text, NULL, NULL))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      unsigned int local_addr, local_port, remote_addr, remote_port, state;
      unsigned long tx, rx;

      /* sl: local rem st tx_queue:rx_queue ...; the heading matches nothing. */
      if (sscanf (lines[i], " %*u: %X:%X %X:%X %X %lX:%lX",
                  &local_addr, &local_port, &remote_addr, &remote_port, &state, &tx, &rx) == 7
          && local_port == port && remote_port == 0)
        return rx == 0;
    }
  return FALSE;
}

START_TEST (test_own_drops)
{
  const char *args[] = { "--quiet", "--summary", "--testing-hold-decoder",
                         "--max-buffer-size", "1", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  const guint n_sent = 40;
  guint64 arrived, dropped;

  /* 40 datagrams of 60 kB: over twice the bound. */
  for (guint i = 0; i < n_sent; i++)
    {
      g_autoptr(GBytes) bytes = sized_datagram (60000, i + 1);

      send_gbytes (l->udp_port, bytes);
    }
  /* Everything read from the socket (kept or dropped) before the signal,
   * which lets the held decoder go and so makes room. */
  for (guint look = 0; look < 10000 && !socket_is_drained (l->udp_port); look++)
    g_usleep (1000);
  ck_assert_msg (socket_is_drained (l->udp_port), "the reader never drained its socket");
  ck_assert_int_eq (listen_process_stop (l), 0);

  arrived = number_after (l->err_text->str, "  spans:         ");
  dropped = number_after (l->err_text->str, "by the kernel (socket buffer full), ");
  /* At least what exceeds the bound while the decoder is held; a batch
   * the reader had read but not yet queued when the signal let the decoder
   * go may still find room, so not always exactly that. */
  ck_assert_msg (dropped > 0 && arrived + dropped == n_sent, "%s", l->err_text->str);
  ck_assert_uint_eq (number_after (l->err_text->str, "  dropped on arrival: "), 0);
  ck_assert_msg (strstr (l->err_text->str, "gluetool-trace: dropped ") != NULL
                 && strstr (l->err_text->str, "(--max-buffer-size)\n") != NULL,
                 "no warning: %s", l->err_text->str);
  /* What was dropped shows as seqNo gaps too. */
  ck_assert_msg (strstr (l->err_text->str, " missing, ") != NULL, "%s", l->err_text->str);
}
END_TEST

/* ---- Options ----------------------------------------------------------------------------- */

START_TEST (test_bad_options)
{
  const char *bad_colour[] = { "--color", "sometimes", NULL };
  const char *bad_port[] = { "--port", "70000", NULL };
  const char *extra[] = { "surprise", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  ck_assert_int_eq (run_program ("listen", bad_colour, NULL, NULL, &out, &err), 2);
  ck_assert_msg (strstr (err, "auto, always or never") != NULL, "%s", err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (run_program ("listen", bad_port, NULL, NULL, &out, &err), 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (run_program ("listen", extra, NULL, NULL, &out, &err), 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  ck_assert_int_eq (run_program ("frobnicate", NULL, NULL, NULL, &out, &err), 2);
  ck_assert_msg (strstr (err, "unknown command") != NULL, "%s", err);
}
END_TEST

START_TEST (test_bad_buffer_sizes)
{
  static const char *const values[] = { "0", "-1", "1048577", "99999999999", "lots" };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      const char *args[] = { "--max-buffer-size", values[i], NULL };
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      ck_assert_int_eq (run_program ("listen", args, NULL, NULL, &out, &err), 2);
      ck_assert_msg (strstr (err, "--max-buffer-size") != NULL || strstr (err, values[i]) != NULL,
                     "%s: %s", values[i], err);
      ck_assert_ptr_null (strstr (err, "listening on"));
    }
}
END_TEST

START_TEST (test_port_in_use)
{
  const char *args[] = { "--idle", "5", NULL };
  g_autoptr(ListenProcess) first = listen_process_start_with_args (args);
  g_autofree char *port = g_strdup_printf ("%u", first->udp_port);
  const char *again[] = { "--port", port, "--idle", "1", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* No SO_REUSEADDR: a second receiver cannot share the port. */
  ck_assert_int_eq (run_program ("listen", again, NULL, NULL, &out, &err), 1);
  ck_assert_msg (strstr (err, "cannot listen on 127.0.0.1 port") != NULL, "%s", err);
  g_subprocess_send_signal (first->process, SIGINT);
  ck_assert_int_eq (listen_process_finish (first), 0);
}
END_TEST

START_TEST (test_max_spans)
{
  /* 3 spans at most, and 16 times as many items (spans, tags ...). */
  const char *args[] = { "--count", "5", "--max-spans", "3", "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("many", NULL);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *out = NULL;
  gint64 start = now_us ();
  JaegerSpan *heavy;

  add_span (batch, 1, 1, 0, "kept one", start, 10);
  add_span (batch, 1, 2, 1, "kept two", start, 10);
  heavy = add_span (batch, 1, 3, 1, "too many tags", start, 10);
  for (guint i = 0; i < 50; i++)
    add_string_tag (heavy->tags, "t", "v");
  heavy->__isset_tags = TRUE;
  add_span (batch, 1, 4, 1, "kept three", start, 10);
  add_span (batch, 1, 5, 1, "not kept", start, 10);
  bytes = encode (batch, 1);
  send_gbytes (l->udp_port, bytes);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "kept two") != NULL && strstr (out, "kept three") != NULL,
                 "%s", out);
  ck_assert_ptr_null (strstr (out, "not kept"));
  ck_assert_ptr_null (strstr (out, "too many tags"));
  ck_assert_msg (strstr (l->err_text->str, "  spans:         5 (2 not kept: over the limit "
                                           "of 3 spans, or of 48 tags, logs and references)\n")
                 != NULL, "%s", l->err_text->str);
}
END_TEST

static Suite *
trace_suite (void)
{
  Suite *suite = suite_create ("trace");
  TCase *tc;

  tc = tcase_create ("demo");
  tcase_add_test (tc, test_demo_tree);
  tcase_add_test (tc, test_demo_disabled);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("library");
  tcase_add_test (tc, test_library_tree);
  tcase_add_test (tc, test_colour_and_ascii);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("bad-input");
  tcase_add_test (tc, test_bad_datagrams);
  tcase_add_test (tc, test_bad_flood);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("protocols");
  tcase_add_test (tc, test_binary_protocol);
  tcase_add_test (tc, test_client_stats);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("stopping");
  tcase_add_test (tc, test_idle_stop);
  tcase_add_test (tc, test_count_not_reached);
  tcase_add_test (tc, test_settle_update_and_sigterm);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("html");
  tcase_add_test (tc, test_html_page);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("bursts");
  tcase_add_test (tc, test_burst_quiet);
  tcase_add_test (tc, test_burst_json);
  tcase_set_timeout (tc, 120);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("losses");
  tcase_add_test (tc, test_kernel_drops);
  tcase_add_test (tc, test_own_drops);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("options");
  tcase_add_test (tc, test_bad_options);
  tcase_add_test (tc, test_bad_buffer_sizes);
  tcase_add_test (tc, test_port_in_use);
  tcase_add_test (tc, test_max_spans);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (void)
{
  return test_run_suite_tap (trace_suite ());
}
