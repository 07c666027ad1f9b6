/* test-listen-http.c: the HTTP endpoints of `gluetool-trace listen`, run
 * as a user runs them
 *
 * SPDX-License-Identifier: MIT
 *
 * Every test starts the program (GLUETOOL_TRACE_PROGRAM) with GSubprocess,
 * on free ports (--port 0 --http-port 0: suites run in parallel), and reads
 * the ports from its stderr. Batches are made with the c_glib reference
 * codec and POSTed with libsoup's client, as a Jaeger client with
 * JAEGER_ENDPOINT sends them. Nothing waits on a clock: a test reads the
 * program's output or an HTTP answer, which blocks until it comes, and every
 * listener also has --idle so that a broken one ends.
 */

#include <check.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "reference.h"
#include "reference-binary.h"
#include "check-tap.h"
#include "listen-process.h"

#define THRIFT_TYPE "application/x-thrift"

/* ---- Running the program ------------------------------------------------------ */

/* Runs `gluetool-trace listen ARGS` to its end; returns the exit status. */
static int
run_listen (const char *const *args,
            char             **err)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (argv, (gpointer) listen_process_program ());
  g_ptr_array_add (argv, (gpointer) "listen");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                        | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata,
                                          &error);
  ck_assert_msg (process != NULL, "spawn: %s", error ? error->message : "");
  ck_assert_msg (g_subprocess_communicate_utf8 (process, NULL, NULL, NULL, err, &error),
                 "communicate: %s", error ? error->message : "");
  ck_assert (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

/* ---- Making batches ---------------------------------------------------------- */

static void
add_string_tag (GPtrArray  *tags,
                const char *key,
                const char *value)
{
  JaegerTag *tag = g_object_new (JAEGER_TYPE_TAG, NULL);

  tag->key = g_strdup (key);
  tag->vType = JAEGER_TAG_TYPE_STRING;
  tag->vStr = g_strdup (value);
  tag->__isset_vStr = TRUE;
  g_ptr_array_add (tags, tag);
}

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
  span->spanId = (gint64) span_id;
  span->parentSpanId = (gint64) parent_id;
  span->operationName = g_strdup (name);
  span->flags = 1;
  span->startTime = start_us;
  span->duration = duration_us;
  g_ptr_array_add (batch->spans, span);
  return span;
}

/* A batch of @service with a root and a child in trace @trace_id, the root
 * tagged, at a fixed time so that two receivers show it alike. */
static JaegerBatch *
new_batch (const char *service,
           guint64     trace_id,
           const char *root_name)
{
  JaegerBatch *batch = g_object_new (JAEGER_TYPE_BATCH, NULL);
  const gint64 start = G_GINT64_CONSTANT (1700000000000000);
  JaegerSpan *root;

  gluetool_reference_init ();
  batch->process->serviceName = g_strdup (service);
  add_string_tag (batch->process->tags, "client-uuid", "uuid-http");
  batch->process->__isset_tags = TRUE;
  root = add_span (batch, trace_id, 1, 0, root_name, start, 5000);
  add_string_tag (root->tags, "http.method", "POST");
  root->__isset_tags = TRUE;
  add_span (batch, trace_id, 2, 1, "child", start + 1000, 2000);
  batch->seqNo = 7;
  batch->__isset_seqNo = TRUE;
  return batch;
}

static GBytes *
encode_body (JaegerBatch *batch)
{
  g_autoptr(GError) error = NULL;
  GBytes *body = gluetool_reference_encode_batch_binary (batch, &error);

  ck_assert_msg (body != NULL, "encode: %s", error ? error->message : "");
  return body;
}

static void
send_udp (guint16  port,
          GBytes  *bytes)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, &error);
  ck_assert_msg (socket != NULL, "socket: %s", error ? error->message : "");
  address = g_inet_socket_address_new_from_string ("127.0.0.1", port);
  ck_assert_int_eq (g_socket_send_to (socket, address, data, len, NULL, &error),
                    (gssize) len);
}

/* ---- HTTP, through libsoup's client --------------------------------------------- */

typedef struct {
  guint  status;
  char  *body;      /* the answer's, as text */
  char  *content_type;
} Answer;

static void
answer_clear (Answer *answer)
{
  g_clear_pointer (&answer->body, g_free);
  g_clear_pointer (&answer->content_type, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Answer, answer_clear)

/* Sends @method to http://127.0.0.1:@port@path with @body (NULL: none) of
 * @content_type; with @chunked, the body goes without a Content-Length.
 * Returns the answer. */
static Answer
request (const char *method,
         guint16     port,
         const char *path,
         const char *content_type,
         GBytes     *body,
         gboolean    chunked)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u%s", port, path);
  const char *type;
  Answer answer = { 0, NULL, NULL };

  msg = soup_message_new (method, uri);
  ck_assert_msg (msg != NULL, "bad URI %s", uri);
  if (body != NULL && chunked)
    {
      g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (body);

      soup_message_set_request_body (msg, content_type, stream, -1);
    }
  else if (body != NULL)
    soup_message_set_request_body_from_bytes (msg, content_type, body);

  reply = soup_session_send_and_read (session, msg, NULL, &error);
  ck_assert_msg (reply != NULL, "%s %s: %s", method, uri, error ? error->message : "");
  answer.status = soup_message_get_status (msg);
  answer.body = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  type = soup_message_headers_get_content_type (soup_message_get_response_headers (msg),
                                                NULL);
  answer.content_type = g_strdup (type);
  return answer;
}

/* POSTs @len bytes that say so in Content-Length, with "Expect:
 * 100-continue": a server that refuses on the headers alone answers before
 * the body is sent. Returns the status; *@sent is how much of the body
 * libsoup read to send. */
static guint
post_expecting_continue (guint16  port,
                         gsize    len,
                         goffset *sent)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = g_strdup_printf ("http://127.0.0.1:%u/api/traces", port);
  g_autoptr(GBytes) body = g_bytes_new_take (g_malloc0 (len), len);
  g_autoptr(GInputStream) stream = g_memory_input_stream_new_from_bytes (body);

  msg = soup_message_new ("POST", uri);
  soup_message_set_request_body (msg, THRIFT_TYPE, stream, (gssize) len);
  soup_message_headers_set_expectations (soup_message_get_request_headers (msg),
                                         SOUP_EXPECTATION_CONTINUE);
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  ck_assert_msg (reply != NULL, "POST %s: %s", uri, error ? error->message : "");
  *sent = g_seekable_tell (G_SEEKABLE (stream));
  return soup_message_get_status (msg);
}

static guint
post_batch (guint16  port,
            GBytes  *body)
{
  g_auto(Answer) answer = request ("POST", port, "/api/traces", THRIFT_TYPE, body, FALSE);

  return answer.status;
}

/* ---- POST /api/traces ------------------------------------------------------------ */

/* The same batch, once over UDP (compact) and once POSTed (binary Batch), is
 * shown alike, as trees and as JSON lines. */
static void
check_shown_alike (const char *mode)
{
  const char *args[] = { "--http-port", "0", "--count", "2", mode, NULL };
  g_autoptr(ListenProcess) udp = listen_process_start_with_args (args);
  g_autoptr(ListenProcess) http = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("over-http", 0x4242, "root");
  g_autoptr(GBytes) datagram = NULL;
  g_autoptr(GBytes) body = encode_body (batch);
  g_autoptr(GError) error = NULL;
  g_autofree char *udp_out = NULL;
  g_autofree char *http_out = NULL;

  datagram = gluetool_reference_encode_datagram (batch, 1, &error);
  ck_assert_msg (datagram != NULL, "encode: %s", error ? error->message : "");
  ck_assert_uint_ne (http->http_port, 0);

  send_udp (udp->udp_port, datagram);
  ck_assert_uint_eq (post_batch (http->http_port, body), 202);

  ck_assert_int_eq (listen_process_finish (udp), 0);
  ck_assert_int_eq (listen_process_finish (http), 0);
  udp_out = listen_process_stdout (udp);
  http_out = listen_process_stdout (http);
  ck_assert_msg (strstr (http_out, "root") != NULL && strstr (http_out, "child") != NULL,
                 "%s", http_out);
  ck_assert_str_eq (http_out, udp_out);
}

START_TEST (test_post_shown_like_udp)
{
  check_shown_alike ("--color=never");
  check_shown_alike ("--json");
}
END_TEST

/* The summary counts HTTP batches apart from datagrams, and the client's
 * seqNo and process as for a datagram. */
START_TEST (test_post_summary)
{
  const char *args[] = { "--http-port", "0", "--count", "4", "--summary", "--quiet", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) first = new_batch ("svc", 1, "first");
  g_autoptr(JaegerBatch) second = new_batch ("svc", 2, "second");
  g_autoptr(GBytes) first_body = NULL;
  g_autoptr(GBytes) second_body = NULL;

  second->seqNo = 8;
  first_body = encode_body (first);
  second_body = encode_body (second);
  ck_assert_uint_eq (post_batch (l->http_port, first_body), 202);
  ck_assert_uint_eq (post_batch (l->http_port, second_body), 202);

  ck_assert_int_eq (listen_process_finish (l), 0);
  ck_assert_msg (strstr (l->err_text->str, "  datagrams:     0 (0 compact, 0 binary)\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  HTTP batches:  2 (0 bad)\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  spans:         4\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "svc (client-uuid uuid-http): 2 batches, "
                                           "seqNo 7 to 8, 0 missing") != NULL,
                 "%s", l->err_text->str);
}
END_TEST

/* Each bad request gets its status and is reported; the listener goes on
 * taking batches over HTTP and UDP after all of them. */
START_TEST (test_bad_requests)
{
  const char *args[] = { "--http-port", "0", "--max-http-body", "1000", "--count", "4",
                         "--summary", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("after", 9, "after the bad ones");
  g_autoptr(JaegerBatch) udp_batch = new_batch ("after", 10, "udp after the bad ones");
  g_autoptr(GBytes) good = encode_body (batch);
  g_autoptr(GBytes) trailing = NULL;
  g_autoptr(GBytes) garbage = g_bytes_new_static ("hello", 5);
  g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr(GBytes) large = NULL;
  g_autoptr(GBytes) datagram = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree guint8 *big = g_malloc0 (5000);

  {
    gsize len;
    const guint8 *data = g_bytes_get_data (good, &len);
    g_autofree guint8 *copy = g_malloc (len + 1);

    memcpy (copy, data, len);
    copy[len] = 0;  /* a T_STOP too many */
    trailing = g_bytes_new (copy, len + 1);
  }
  large = g_bytes_new (big, 5000);

  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces", THRIFT_TYPE, garbage,
                                FALSE);

    ck_assert_uint_eq (a.status, 400);
    ck_assert_msg (strstr (a.body, "not a Thrift binary Batch") != NULL, "%s", a.body);
  }
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces", THRIFT_TYPE, trailing,
                                FALSE);

    ck_assert_uint_eq (a.status, 400);
    ck_assert_msg (strstr (a.body, "1 bytes follow the Batch") != NULL, "%s", a.body);
  }
  ck_assert_uint_eq (post_batch (l->http_port, empty), 400);
  /* Over --max-http-body, told by Content-Length, and found while reading
   * a chunked body. */
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces", THRIFT_TYPE, large,
                                FALSE);

    ck_assert_uint_eq (a.status, 413);
    ck_assert_msg (strstr (a.body, "a body of 5000 bytes: at most 1000") != NULL, "%s", a.body);
  }
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces", THRIFT_TYPE, large,
                                TRUE);

    ck_assert_uint_eq (a.status, 413);
  }
  /* Refused on its headers: not a byte of the body is asked for. */
  {
    goffset sent = -1;

    ck_assert_uint_eq (post_expecting_continue (l->http_port, 5000, &sent), 413);
    ck_assert_int_eq (sent, 0);
  }
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces", "text/plain", good,
                                FALSE);

    ck_assert_uint_eq (a.status, 415);
    ck_assert_msg (strstr (a.body, "\"text/plain\"") != NULL, "%s", a.body);
  }
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces", NULL, good, FALSE);

    ck_assert_uint_eq (a.status, 415);
  }
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/spans", THRIFT_TYPE, good, FALSE);

    ck_assert_uint_eq (a.status, 404);
  }
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces/more", THRIFT_TYPE, good,
                                FALSE);

    ck_assert_uint_eq (a.status, 404);
  }
  {
    g_auto(Answer) a = request ("GET", l->http_port, "/api/traces", NULL, NULL, FALSE);

    ck_assert_uint_eq (a.status, 405);
  }

  /* Still taking both ways in. */
  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces",
                                "application/vnd.apache.thrift.binary", good, FALSE);

    ck_assert_uint_eq (a.status, 202);
  }
  datagram = gluetool_reference_encode_datagram (udp_batch, 1, &error);
  ck_assert_msg (datagram != NULL, "encode: %s", error ? error->message : "");
  send_udp (l->udp_port, datagram);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "after the bad ones  [after]") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "udp after the bad ones  [after]") != NULL, "%s", out);
  /* 400 three times, 413 three times, 415 twice; 404 and 405 are no
   * body's fault. */
  ck_assert_msg (strstr (l->err_text->str, "  HTTP batches:  1 (8 bad)\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "bad HTTP request from 127.0.0.1:") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, ", POST /api/traces: 413: a body of 5000 bytes")
                 != NULL, "%s", l->err_text->str);
  /* (At most 10 reports a second: the later ones may be counted only.) */
  ck_assert_msg (strstr (l->err_text->str, ", POST /api/traces: 400: not a Thrift binary "
                                           "Batch (5 bytes)") != NULL,
                 "%s", l->err_text->str);
}
END_TEST

/* A hostile body (a list claiming two billion spans) is refused at once,
 * without the memory it claims. */
START_TEST (test_hostile_body)
{
  const char *args[] = { "--http-port", "0", "--count", "2", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("survivor", 3, "survivor");
  g_autoptr(GBytes) good = encode_body (batch);
  /* Batch { 1: Process { 1: "x" }, 2: list<struct> of 0x7fffffff } */
  static const guint8 hostile[] = {
    0x0c, 0x00, 0x01, 0x0b, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 'x', 0x00,
    0x0f, 0x00, 0x02, 0x0c, 0x7f, 0xff, 0xff, 0xff,
  };
  g_autoptr(GBytes) body = g_bytes_new_static (hostile, sizeof hostile);
  g_autofree char *out = NULL;

  {
    g_auto(Answer) a = request ("POST", l->http_port, "/api/traces", THRIFT_TYPE, body,
                                FALSE);

    ck_assert_uint_eq (a.status, 400);
    ck_assert_msg (strstr (a.body, "2147483647 elements") != NULL, "%s", a.body);
  }
  ck_assert_uint_eq (post_batch (l->http_port, good), 202);
  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "survivor") != NULL, "%s", out);
}
END_TEST

/* ---- Ports ------------------------------------------------------------------------ */

/* A TCP socket listening on 127.0.0.1:@port (0: any free one), or NULL when
 * the port is taken already. */
static GSocket *
hold_tcp_port (guint16 port)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                         &error);
  ck_assert_msg (socket != NULL, "socket: %s", error ? error->message : "");
  if (!g_socket_bind (socket, address, TRUE, &error) || !g_socket_listen (socket, &error))
    {
      ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE),
                     "binding port %u: %s", port, error->message);
      return NULL;
    }
  return g_steal_pointer (&socket);
}

static guint16
socket_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (socket, NULL);

  ck_assert_ptr_nonnull (local);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

/* Holds 127.0.0.1:14268 for the test. A receiver of another suite running
 * alongside may hold it for a moment (each one that is not told a port
 * tries the default): nothing can be waited on in another process, so
 * this tries again every 10 ms, for at most a minute. Holding it itself
 * is what makes the test's outcome certain: a port held by someone else
 * may be let go before the receiver under test looks. */
static GSocket *
hold_port_14268 (void)
{
  gint64 give_up = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  GSocket *held;

  while ((held = hold_tcp_port (14268)) == NULL)
    {
      ck_assert_msg (g_get_monotonic_time () < give_up,
                     "127.0.0.1:14268 stayed in use for a minute");
      g_usleep (10 * 1000);
    }
  return held;
}

/* Without --http-port, a taken 14268 costs the HTTP endpoint only: a note,
 * and UDP goes on. */
START_TEST (test_default_port_taken)
{
  g_autoptr(GSocket) held = hold_port_14268 ();
  const char *args[] = { "--count", "2", NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("udp-only", 5, "udp only");
  g_autoptr(GBytes) datagram = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  ck_assert_uint_eq (socket_port (held), 14268);
  ck_assert_uint_eq (l->http_port, 0);
  ck_assert_msg (strstr (l->err_text->str, "gluetool-trace: HTTP port 14268 is in use: "
                                           "no HTTP collector endpoint (--http-port PORT "
                                           "chooses another)\n") != NULL,
                 "%s", l->err_text->str);
  datagram = gluetool_reference_encode_datagram (batch, 1, &error);
  ck_assert_msg (datagram != NULL, "encode: %s", error ? error->message : "");
  send_udp (l->udp_port, datagram);
  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "udp only") != NULL, "%s", out);
}
END_TEST

/* A port asked for that is taken is an error, as for UDP. */
START_TEST (test_given_port_taken)
{
  g_autoptr(GSocket) held = hold_tcp_port (0);
  g_autofree char *port = g_strdup_printf ("%u", socket_port (held));
  const char *args[] = { "--port", "0", "--http-port", port, "--idle", "1", NULL };
  g_autofree char *err = NULL;

  ck_assert_int_eq (run_listen (args, &err), 1);
  ck_assert_msg (strstr (err, "cannot listen on 127.0.0.1 TCP port") != NULL, "%s", err);
}
END_TEST

START_TEST (test_bad_http_options)
{
  const char *const cases[][5] = {
    { "--http-port", "65536", NULL },
    { "--http-port", "-2", NULL },
    { "--max-http-body", "0", NULL },
    { "--max-http-body", "4294967296", NULL },
    { "--sampling-port", "0", NULL },
    { "--max-http-connections", "0", NULL },
    { "--http-idle-timeout", "0", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;

      ck_assert_int_eq (run_listen (cases[i], &err), 2);
      ck_assert_msg (strstr (err, "gluetool-trace listen: ") != NULL, "%s", err);
    }
}
END_TEST

/* ---- GET /sampling -------------------------------------------------------------- */

/* Jaeger's own example of default operation strategies, and a service
 * with operations of its own. */
static const char strategies_v1[] =
  "{\n"
  "  \"service_strategies\": [\n"
  "    {\"service\": \"ServiceA\", \"type\": \"probabilistic\", \"param\": 1.0},\n"
  "    {\"service\": \"ServiceB\", \"type\": \"ratelimiting\", \"param\": 3},\n"
  "    {\"service\": \"ServiceC\", \"type\": \"probabilistic\", \"param\": 0.5,\n"
  "     \"operation_strategies\": [\n"
  "       {\"operation\": \"op1\", \"type\": \"probabilistic\", \"param\": 0.25},\n"
  "       {\"operation\": \"/health\", \"type\": \"probabilistic\", \"param\": 0.75},\n"
  "       {\"operation\": \"limited\", \"type\": \"ratelimiting\", \"param\": 1}]}\n"
  "  ],\n"
  "  \"default_strategy\": {\"type\": \"probabilistic\", \"param\": 0.2,\n"
  "    \"operation_strategies\": [\n"
  "      {\"operation\": \"/health\", \"type\": \"probabilistic\", \"param\": 0.1}]}\n"
  "}\n";

static const char strategies_v2[] =
  "{\"service_strategies\": [{\"service\": \"ServiceA\", \"type\": \"ratelimiting\", "
  "\"param\": 42}]}";

static const char strategies_v3[] =
  "{\"default_strategy\": {\"type\": \"ratelimiting\", \"param\": 7}}";

/* The answer for @service, parsed; fails the test unless it is 200 and a
 * JSON object. */
static JsonObject *
get_strategy (guint16     port,
              const char *service)
{
  g_autofree char *escaped = g_uri_escape_string (service, NULL, FALSE);
  g_autofree char *path = g_strdup_printf ("/sampling?service=%s", escaped);
  g_auto(Answer) a = request ("GET", port, path, NULL, NULL, FALSE);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  ck_assert_msg (a.status == 200, "%u: %s", a.status, a.body);
  ck_assert_str_eq (a.content_type, "application/json");
  ck_assert_msg (json_parser_load_from_data (parser, a.body, -1, &error), "%s: %s", a.body,
                 error ? error->message : "");
  root = json_parser_get_root (parser);
  ck_assert (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

static void
assert_probabilistic (JsonObject *strategy,
                      double      rate)
{
  ck_assert_str_eq (json_object_get_string_member (strategy, "strategyType"), "PROBABILISTIC");
  ck_assert_double_eq (json_object_get_double_member (
                         json_object_get_object_member (strategy, "probabilisticSampling"),
                         "samplingRate"), rate);
  ck_assert (!json_object_has_member (strategy, "rateLimitingSampling"));
}

static void
assert_rate_limiting (JsonObject *strategy,
                      gint64      per_second)
{
  ck_assert_str_eq (json_object_get_string_member (strategy, "strategyType"), "RATE_LIMITING");
  ck_assert_int_eq (json_object_get_int_member (
                      json_object_get_object_member (strategy, "rateLimitingSampling"),
                      "maxTracesPerSecond"), per_second);
  ck_assert (!json_object_has_member (strategy, "probabilisticSampling"));
}

/* Asserts the operationSampling of @strategy: its default probability, then
 * pairs of operation name and rate, ending with NULL. */
static void
assert_operations (JsonObject *strategy,
                   double      default_probability,
                   ...)
{
  JsonObject *ops = json_object_get_object_member (strategy, "operationSampling");
  JsonArray *list;
  va_list args;
  const char *name;
  guint i = 0;

  ck_assert_ptr_nonnull (ops);
  ck_assert_double_eq (json_object_get_double_member (ops, "defaultSamplingProbability"),
                       default_probability);
  ck_assert_double_eq (json_object_get_double_member (ops, "defaultLowerBoundTracesPerSecond"),
                       0);
  list = json_object_get_array_member (ops, "perOperationStrategies");
  va_start (args, default_probability);
  while ((name = va_arg (args, const char *)) != NULL)
    {
      double rate = va_arg (args, double);
      JsonObject *op;

      ck_assert_uint_lt (i, json_array_get_length (list));
      op = json_array_get_object_element (list, i++);
      ck_assert_str_eq (json_object_get_string_member (op, "operation"), name);
      ck_assert_double_eq (json_object_get_double_member (
                             json_object_get_object_member (op, "probabilisticSampling"),
                             "samplingRate"), rate);
    }
  va_end (args);
  ck_assert_uint_eq (i, json_array_get_length (list));
}

/* With --http-port 0 and the sampling endpoint, serving @text from the
 * listener's strategies_path. */
static ListenProcess *
start_with_strategies (const char *text)
{
  ListenProcessOptions options = { .http = TRUE, .sampling_strategies = text };

  return listen_process_start (&options);
}

/* Each service gets its strategy, merged with the default's operations as
 * Jaeger merges them; others get the default. */
START_TEST (test_sampling_answers)
{
  g_autoptr(ListenProcess) l = start_with_strategies (strategies_v1);
  g_autoptr(JsonObject) a = get_strategy (l->sampling_port, "ServiceA");
  g_autoptr(JsonObject) b = get_strategy (l->sampling_port, "ServiceB");
  g_autoptr(JsonObject) c = get_strategy (l->sampling_port, "ServiceC");
  g_autoptr(JsonObject) other = get_strategy (l->sampling_port, "some other service");

  /* The service's own probability becomes its operations' default. */
  assert_probabilistic (a, 1.0);
  assert_operations (a, 1.0, "/health", 0.1, NULL);
  /* A rate-limited service keeps the default's default probability. */
  assert_rate_limiting (b, 3);
  assert_operations (b, 0.2, "/health", 0.1, NULL);
  /* Its own operations first (the rate-limited one left out), then the
   * default's it does not name. */
  assert_probabilistic (c, 0.5);
  assert_operations (c, 0.5, "op1", 0.25, "/health", 0.75, NULL);
  assert_probabilistic (other, 0.2);
  assert_operations (other, 0.2, "/health", 0.1, NULL);

  ck_assert_int_eq (listen_process_stop (l), 0);
  ck_assert_msg (strstr (l->err_text->str, "operation_strategies[2]: operations are only "
                                           "sampled by probability") != NULL,
                 "%s", l->err_text->str);
}
END_TEST

/* Without a default in the file, Jaeger's: probabilistic 0.001, and no
 * operationSampling where the file names no operations. */
START_TEST (test_sampling_jaeger_default)
{
  g_autoptr(ListenProcess) l = start_with_strategies (strategies_v2);
  g_autoptr(JsonObject) a = get_strategy (l->sampling_port, "ServiceA");
  g_autoptr(JsonObject) other = get_strategy (l->sampling_port, "other");

  assert_rate_limiting (a, 42);
  ck_assert (!json_object_has_member (a, "operationSampling"));
  assert_probabilistic (other, 0.001);
  ck_assert (!json_object_has_member (other, "operationSampling"));
  ck_assert_int_eq (listen_process_stop (l), 0);
}
END_TEST

/* A rewritten file changes the next answer; a malformed version is
 * reported once and the last good strategies stay; a good one after it is
 * taken again. The collector endpoint goes on all along. */
START_TEST (test_sampling_reread)
{
  g_autoptr(ListenProcess) l = start_with_strategies (strategies_v1);
  g_autoptr(JsonObject) first = get_strategy (l->sampling_port, "ServiceA");
  g_autoptr(JsonObject) second = NULL;
  g_autoptr(JsonObject) kept = NULL;
  g_autoptr(JsonObject) kept_again = NULL;
  g_autoptr(JsonObject) third = NULL;
  const char *reports;

  assert_probabilistic (first, 1.0);

  listen_process_write_file (l->strategies_path, strategies_v2);
  second = get_strategy (l->sampling_port, "ServiceA");
  assert_rate_limiting (second, 42);

  listen_process_write_file (l->strategies_path,
              "{\"default_strategy\": {\"type\": \"probabilistic\", \"param\": ");
  kept = get_strategy (l->sampling_port, "ServiceA");
  assert_rate_limiting (kept, 42);
  kept_again = get_strategy (l->sampling_port, "ServiceA");
  assert_rate_limiting (kept_again, 42);

  listen_process_write_file (l->strategies_path, strategies_v3);
  third = get_strategy (l->sampling_port, "ServiceA");
  assert_rate_limiting (third, 7);

  ck_assert_int_eq (listen_process_stop (l), 0);
  reports = strstr (l->err_text->str, "cannot reread the sampling strategies: ");
  ck_assert_msg (reports != NULL, "%s", l->err_text->str);
  ck_assert_msg (strstr (reports + 1, "cannot reread the sampling strategies: ") == NULL,
                 "reported more than once:\n%s", l->err_text->str);
}
END_TEST

START_TEST (test_sampling_bad_requests)
{
  g_autoptr(ListenProcess) l = start_with_strategies (strategies_v1);

  {
    g_auto(Answer) a = request ("GET", l->sampling_port, "/sampling", NULL, NULL, FALSE);

    ck_assert_uint_eq (a.status, 400);
    ck_assert_msg (strstr (a.body, "'service' parameter must be provided once") != NULL,
                   "%s", a.body);
  }
  {
    g_auto(Answer) a = request ("GET", l->sampling_port, "/sampling?service=a&service=b",
                                NULL, NULL, FALSE);

    ck_assert_uint_eq (a.status, 400);
  }
  {
    g_auto(Answer) a = request ("GET", l->sampling_port, "/baggageRestrictions?service=a",
                                NULL, NULL, FALSE);

    ck_assert_uint_eq (a.status, 404);
  }
  {
    g_autoptr(GBytes) body = g_bytes_new_static ("x", 1);
    g_auto(Answer) a = request ("POST", l->sampling_port, "/sampling?service=a",
                                "text/plain", body, FALSE);

    ck_assert_uint_eq (a.status, 405);
  }
  {
    /* Still answering, and the collector endpoint is not on this port. */
    g_autoptr(JsonObject) b = get_strategy (l->sampling_port, "ServiceB");
    g_auto(Answer) a = request ("GET", l->sampling_port, "/api/traces", NULL, NULL, FALSE);

    assert_rate_limiting (b, 3);
    ck_assert_uint_eq (a.status, 404);
  }
  ck_assert_int_eq (listen_process_stop (l), 0);
}
END_TEST

/* A strategies file that cannot be read or parsed at the start is an
 * error, and says what is wrong. */
START_TEST (test_sampling_bad_file)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("gluetool-strategies-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "strategies.json", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.json", NULL);
  const struct {
    const char *text;
    const char *says;
  } cases[] = {
    { "not json", "strategies.json: " },
    { "[]", "not a JSON object" },
    { "{\"default_strategy\": {\"type\": \"probabilistic\", \"param\": 1.5}}",
      "default_strategy: a probability of 1.5" },
    { "{\"service_strategies\": [{\"service\": \"a\", \"type\": \"ratelimiting\", "
      "\"param\": 40000}]}", "service_strategies[0]: 40000 traces a second" },
    { "{\"service_strategies\": [{\"service\": 5}]}", "\"service\" must be a string" },
    { "{\"service_strategies\": {}}", "\"service_strategies\" must be a list" },
  };

  ck_assert_msg (dir != NULL, "%s", error ? error->message : "");
  for (guint i = 0; i < G_N_ELEMENTS (cases) + 1; i++)
    {
      const char *file = i < G_N_ELEMENTS (cases) ? path : missing;
      const char *args[] = { "--port", "0", "--http-port", "0", "--sampling-port", "0",
                             "--sampling-strategies", file, "--idle", "1", NULL };
      g_autofree char *err = NULL;

      if (i < G_N_ELEMENTS (cases))
        listen_process_write_file (path, cases[i].text);
      ck_assert_int_eq (run_listen (args, &err), 1);
      ck_assert_msg (strstr (err, i < G_N_ELEMENTS (cases) ? cases[i].says : "missing.json")
                     != NULL, "case %u: %s", i, err);
    }
  g_remove (path);
  g_rmdir (dir);
}
END_TEST

/* ---- Connections ------------------------------------------------------------------ */

/* A plain TCP connection to the collector, for tests that must hold one
 * open, stall in a request, or see it closed; reads on it give up after
 * 30 s, so that a broken listener fails the test rather than hangs it. */
static GSocketConnection *
connect_tcp (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  ck_assert_msg (connection != NULL, "connect: %s", error ? error->message : "");
  g_socket_set_timeout (g_socket_connection_get_socket (connection), 30);
  return connection;
}

static void
write_all (GSocketConnection *connection,
           const void        *data,
           gsize              len)
{
  g_autoptr(GError) error = NULL;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  ck_assert_msg (g_output_stream_write_all (out, data, len, NULL, NULL, &error),
                 "write: %s", error ? error->message : "");
}

/* Writes a POST of @body on @connection, by hand: a test must know which
 * connection carries it. */
static void
write_post (GSocketConnection *connection,
            GBytes            *body)
{
  gsize len;
  const void *data = g_bytes_get_data (body, &len);
  g_autofree char *head =
    g_strdup_printf ("POST /api/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: " THRIFT_TYPE "\r\nContent-Length: %" G_GSIZE_FORMAT
                     "\r\n\r\n", len);

  write_all (connection, head, strlen (head));
  write_all (connection, data, len);
}

/* The status of the answer that comes next on @connection. */
static guint
read_status (GSocketConnection *connection)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  g_autoptr(GError) error = NULL;
  char line[64];
  gsize got = 0;
  guint status = 0;

  /* "HTTP/1.1 202 ..." is the first line; its first 12 bytes suffice. */
  while (got < 12)
    {
      gssize n = g_input_stream_read (in, line + got, 12 - got, NULL, &error);

      ck_assert_msg (n > 0, "no answer: %s", error ? error->message : "end of stream");
      got += (gsize) n;
    }
  line[got] = '\0';
  ck_assert_msg (sscanf (line, "HTTP/1.1 %u", &status) == 1, "%s", line);
  return status;
}

/* Blocks until the listener closes @connection; fails if it sends
 * anything first or the read gives up. */
static void
assert_closed_by_peer (GSocketConnection *connection)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  g_autoptr(GError) error = NULL;
  char byte;
  gssize n = g_input_stream_read (in, &byte, 1, NULL, &error);

  /* A reset counts as closed as much as an orderly end. */
  ck_assert_msg (n == 0 || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED),
                 "read %" G_GSSIZE_FORMAT ": %s", n, error ? error->message : "");
}

/* Over --max-http-connections, a new connection waits to be accepted,
 * while UDP and the other endpoint go on; it is served once a held one
 * ends. */
START_TEST (test_connection_limit)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("gluetool-strategies-XXXXXX", &error);
  g_autofree char *path = NULL;
  const char *args[] = { "--http-port", "0", "--max-http-connections", "1",
                         "--sampling-strategies", NULL, "--sampling-port", "0",
                         "--count", "4", "--summary", "--quiet", NULL };
  g_autoptr(ListenProcess) l = NULL;
  g_autoptr(JaegerBatch) batch = new_batch ("waited", 1, "over http");
  g_autoptr(JaegerBatch) udp_batch = new_batch ("udp", 2, "over udp");
  g_autoptr(GBytes) body = encode_body (batch);
  g_autoptr(GBytes) datagram = NULL;
  g_autoptr(GSocketConnection) held = NULL;
  g_autoptr(GSocketConnection) waiting = NULL;
  g_autoptr(JsonObject) strategy = NULL;

  ck_assert_msg (dir != NULL, "%s", error ? error->message : "");
  path = g_build_filename (dir, "strategies.json", NULL);
  listen_process_write_file (path, strategies_v1);
  args[5] = path;
  l = listen_process_start_with_args (args);
  datagram = gluetool_reference_encode_datagram (udp_batch, 1, &error);
  ck_assert_msg (datagram != NULL, "encode: %s", error ? error->message : "");

  /* The second connection is complete for the kernel (its backlog) and
   * sends its request at once; the first, accepted, sends nothing. */
  held = connect_tcp (l->http_port);
  waiting = connect_tcp (l->http_port);
  write_post (waiting, body);

  /* A request to the sampling endpoint is answered: the listener has been
   * round its loop since, and has not answered the waiting one. */
  strategy = get_strategy (l->sampling_port, "any");
  ck_assert (!(g_socket_condition_check (g_socket_connection_get_socket (waiting), G_IO_IN)
               & G_IO_IN));

  /* UDP is not held up meanwhile. */
  send_udp (l->udp_port, datagram);

  /* The held connection ends: the waiting one is accepted and answered. */
  ck_assert (g_io_stream_close (G_IO_STREAM (held), NULL, NULL));
  ck_assert_uint_eq (read_status (waiting), 202);

  ck_assert_int_eq (listen_process_finish (l), 0);
  ck_assert_msg (strstr (l->err_text->str, "  datagrams:     1 (1 compact, 0 binary)\n") != NULL,
                 "%s", l->err_text->str);
  ck_assert_msg (strstr (l->err_text->str, "  HTTP batches:  1 (0 bad)\n") != NULL,
                 "%s", l->err_text->str);
  g_remove (path);
  g_rmdir (dir);
}
END_TEST

/* A connection on which nothing comes, or whose request stalls halfway,
 * is closed after --http-idle-timeout; the endpoint goes on serving. */
START_TEST (test_idle_connection_closed)
{
  const char *args[] = { "--http-port", "0", "--http-idle-timeout", "1", "--count", "2",
                         NULL };
  g_autoptr(ListenProcess) l = listen_process_start_with_args (args);
  g_autoptr(JaegerBatch) batch = new_batch ("after-idle", 1, "after the idle ones");
  g_autoptr(GBytes) body = encode_body (batch);
  g_autoptr(GSocketConnection) idle = connect_tcp (l->http_port);
  g_autoptr(GSocketConnection) stalled = connect_tcp (l->http_port);
  static const char half[] = "POST /api/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             "Content-Type: " THRIFT_TYPE "\r\nContent-Length: 100\r\n\r\n"
                             "only part of the body";

  write_all (stalled, half, strlen (half));
  assert_closed_by_peer (idle);
  assert_closed_by_peer (stalled);

  ck_assert_uint_eq (post_batch (l->http_port, body), 202);
  ck_assert_int_eq (listen_process_finish (l), 0);
}
END_TEST

/* Out of descriptors, accepting fails; the listener says so (not in a
 * flood) and, once clients leave, accepts again. */
START_TEST (test_accept_failure_survived)
{
  const char *args[] = { "--http-port", "0", "--count", "2", NULL };
  /* Some ten more than the listener needs as it starts (about ten). */
  ListenProcessOptions options = { .args = args, .max_files = 20 };
  g_autoptr(ListenProcess) l = listen_process_start (&options);
  g_autoptr(JaegerBatch) batch = new_batch ("after-emfile", 1, "after the failures");
  g_autoptr(GBytes) body = encode_body (batch);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_object_unref);
  g_autofree char *told = NULL;
  guint n_told = 0;

  /* More connections than it has descriptors left (and fewer than its
   * listen backlog): it accepts until it cannot, then says so. */
  for (guint i = 0; i < 40; i++)
    g_ptr_array_add (held, connect_tcp (l->http_port));
  told = listen_process_wait_for_stderr_line (l,
                                              "gluetool-trace: cannot accept an HTTP connection");
  ck_assert_msg (strstr (told, "Too many open files") != NULL, "%s", told);

  g_ptr_array_set_size (held, 0);
  ck_assert_uint_eq (post_batch (l->http_port, body), 202);
  ck_assert_int_eq (listen_process_finish (l), 0);

  /* At most a line a second, however often it failed. */
  for (const char *at = l->err_text->str; (at = strstr (at, "cannot accept an HTTP")) != NULL; at++)
    n_told++;
  ck_assert_uint_le (n_told, 10);
}
END_TEST

static Suite *
listen_http_suite (void)
{
  Suite *suite = suite_create ("listen-http");
  TCase *tc;

  tc = tcase_create ("collector");
  tcase_add_test (tc, test_post_shown_like_udp);
  tcase_add_test (tc, test_post_summary);
  tcase_add_test (tc, test_bad_requests);
  tcase_add_test (tc, test_hostile_body);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("connections");
  tcase_add_test (tc, test_connection_limit);
  tcase_add_test (tc, test_idle_connection_closed);
  tcase_add_test (tc, test_accept_failure_survived);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("sampling");
  tcase_add_test (tc, test_sampling_answers);
  tcase_add_test (tc, test_sampling_jaeger_default);
  tcase_add_test (tc, test_sampling_reread);
  tcase_add_test (tc, test_sampling_bad_requests);
  tcase_add_test (tc, test_sampling_bad_file);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("ports");
  tcase_add_test (tc, test_default_port_taken);
  tcase_add_test (tc, test_given_port_taken);
  tcase_add_test (tc, test_bad_http_options);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (void)
{
  return test_run_suite_tap (listen_http_suite ());
}
