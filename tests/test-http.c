/* test-http.c: spans POSTed to a collector, the real receiver's and
 * misbehaving peers'
 *
 * SPDX-License-Identifier: MIT
 *
 * The collector is `gluetool-trace listen --http-port 0` (found through
 * GLUETOOL_TRACE_PROGRAM), run as a user runs it; the tests read its
 * output, which blocks until it comes. The misbehaving collectors are real
 * TCP peers made here (a listening socket and a thread that accepts): one
 * that never answers, one that answers garbage, one that closes before the
 * body, one that drips its answer a byte at a time, and one that records
 * the request and answers a chosen status (or a script of answers).
 * Nothing waits on a clock but the bounds under test: flush(), close(), a
 * request and fork() must return by their bound whatever the peer does.
 */

#include <check.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>

#include <gluetool/gluetool.h>

#include "reference.h"
#include "reference-binary.h"
#include "sync-private.h"
#include "listen-process.h"
#include "test-expect.h"
#include "test-log.h"
#include "test-resolver.h"
#include "check-tap.h"

#define WAIT_S 20.0
/* Any listener stops after this long without a span: a safety net for a
 * broken test, never the way a test ends. */
#define SAFETY_IDLE_S 30
/* What a bound may be overrun by on a loaded machine: the thread's wake-up
 * and the cancellation's way through libsoup. */
#define BOUND_SLACK_S 3.0

#define SECRET_TOKEN    "s3cret-T0KEN-never-shown"
#define SECRET_PASSWORD "s3cret-PASSW0RD-never-shown"

/* The sender's bound on one request (REQUEST_TIMEOUT_S in sender-http.c). */
#define REQUEST_TIMEOUT_S 5.0
/* Tries of a request, and the back-offs between them (sender-http.c). */
#define N_TRIES 4
#define BACKOFFS_S (0.1 + 0.2 + 0.4)

/* ---- The real receiver ------------------------------------------------------------ */

/* `gluetool-trace listen --port 0 --http-port 0 --idle 30 ARGS`, once it
 * said where it listens; its stderr is shown if it fails. */
static ListenProcess *
start_listener (const char *const *args)
{
  ListenProcessOptions options = {
    .args = args,
    .idle_s = SAFETY_IDLE_S,
    .http = TRUE,
    .show_stderr_on_failure = TRUE,
  };

  return listen_process_start (&options);
}

static char *
listener_endpoint (ListenProcess *l)
{
  return g_strdup_printf ("http://127.0.0.1:%u/api/traces", l->http_port);
}

/* ---- Misbehaving collectors ------------------------------------------------------- */

typedef enum {
  PEER_NEVER_ANSWERS,   /* reads the request, keeps the connection, never answers */
  PEER_GARBAGE,         /* reads the head, answers bytes that are not HTTP */
  PEER_CLOSES_EARLY,    /* reads the head, closes before the body */
  PEER_DRIPS,           /* reads the request, answers 202 a byte every DRIP_INTERVAL_US */
  PEER_ANSWERS,         /* reads the request, keeps it, answers @status or from @script */
} PeerMode;

/* Far below any per-read time-out: the client always has a byte coming. */
#define DRIP_INTERVAL_US (G_USEC_PER_SEC / 2)

typedef struct {
  GSocket      *listener;
  guint16       port;
  PeerMode      mode;
  guint         status;
  /* (nullable) answers in turn, status line on: "503 Busy\r\nRetry-After: 0";
   * the last is repeated */
  const char *const *script;
  GCancellable *cancellable;
  GThread      *thread;
  GPtrArray    *held;          /* connections a never-answering peer keeps */
  GMutex        lock;
  GCond         request_came;  /* (under lock) */
  guint         n_requests;    /* (under lock) */
  GArray       *request_times; /* (under lock) (element-type gint64) monotonic, as they came */
  GByteArray   *first_request; /* (under lock) head and body of the first one */
} Peer;

static gssize
find_head_end (const GByteArray *bytes)
{
  for (guint i = 0; i + 4 <= bytes->len; i++)
    if (memcmp (bytes->data + i, "\r\n\r\n", 4) == 0)
      return i + 4;
  return -1;
}

/* Reads until the end of the head and, with @whole, the Content-Length
 * bytes after it. */
static GByteArray *
read_request (Peer    *peer,
              GSocket *connection,
              gboolean whole)
{
  GByteArray *bytes = g_byte_array_new ();
  gssize head_end = -1;
  gsize wanted = G_MAXSIZE;

  while (bytes->len < wanted)
    {
      guint8 chunk[16384];
      gssize n = g_socket_receive (connection, (char *) chunk, sizeof chunk, peer->cancellable,
                                   NULL);

      if (n <= 0)
        break;
      g_byte_array_append (bytes, chunk, (guint) n);
      if (head_end < 0 && (head_end = find_head_end (bytes)) >= 0)
        {
          g_autofree char *head = g_ascii_strdown ((const char *) bytes->data, head_end);
          const char *length = strstr (head, "content-length:");

          wanted = !whole ? (gsize) head_end
                          : (gsize) head_end + (length != NULL
                                                ? g_ascii_strtoull (length + 15, NULL, 10) : 0);
        }
    }
  return bytes;
}

static void
answer (GSocket    *connection,
        const char *text)
{
  g_socket_send (connection, text, strlen (text), NULL, NULL);
}

/* Counts a request (and keeps the first) before it is answered: the client
 * may look at the count as soon as it has the answer. */
static void
peer_note_request (Peer       *peer,
                   GByteArray *request)
{
  gint64 now = g_get_monotonic_time ();

  gluetool_mutex_lock (&peer->lock);
  peer->n_requests++;
  g_array_append_val (peer->request_times, now);
  if (peer->first_request == NULL && request != NULL)
    peer->first_request = g_byte_array_ref (request);
  g_cond_broadcast (&peer->request_came);
  gluetool_mutex_unlock (&peer->lock);
}

/* A whole answer, one byte at a time, as long as the client listens: a
 * client whose every read is bounded, but not the request, waits for it
 * all (some 20 s). */
static void
drip (Peer    *peer,
      GSocket *connection)
{
  static const char text[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";

  for (gsize i = 0; i < sizeof text - 1; i++)
    {
      g_autoptr(GError) error = NULL;

      if (g_socket_send (connection, text + i, 1, peer->cancellable, NULL) != 1)
        return;
      /* The client's end (readable at EOF) or the peer's stops it. */
      if (g_socket_condition_timed_wait (connection, G_IO_IN, DRIP_INTERVAL_US, peer->cancellable,
                                         &error)
          || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        return;
    }
}

/* The status line and headers of answer @index. */
static char *
peer_answer_text (Peer *peer,
                  guint index)
{
  g_autofree char *status_on = NULL;

  if (peer->script == NULL)
    status_on = g_strdup_printf ("%u Whatever", peer->status);
  else
    {
      guint n = g_strv_length ((char **) peer->script);

      status_on = g_strdup (peer->script[MIN (index, n - 1)]);
    }
  return g_strdup_printf ("HTTP/1.1 %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                          status_on);
}

static gpointer
peer_main (gpointer data)
{
  Peer *peer = data;

  for (;;)
    {
      g_autoptr(GSocket) connection = g_socket_accept (peer->listener, peer->cancellable, NULL);
      g_autoptr(GByteArray) request = NULL;
      g_autofree char *text = NULL;

      if (connection == NULL)
        return NULL;
      g_socket_set_timeout (connection, 30);
      switch (peer->mode)
        {
        case PEER_NEVER_ANSWERS:
          request = read_request (peer, connection, TRUE);
          peer_note_request (peer, request);
          g_ptr_array_add (peer->held, g_steal_pointer (&connection));
          break;
        case PEER_GARBAGE:
          request = read_request (peer, connection, FALSE);
          peer_note_request (peer, request);
          answer (connection, "this is not HTTP at all\r\n\r\n");
          break;
        case PEER_CLOSES_EARLY:
          request = read_request (peer, connection, FALSE);
          peer_note_request (peer, request);
          break;
        case PEER_DRIPS:
          request = read_request (peer, connection, TRUE);
          peer_note_request (peer, request);
          drip (peer, connection);
          break;
        case PEER_ANSWERS:
          request = read_request (peer, connection, TRUE);
          gluetool_mutex_lock (&peer->lock);
          text = peer_answer_text (peer, peer->n_requests);
          gluetool_mutex_unlock (&peer->lock);
          peer_note_request (peer, request);
          answer (connection, text);
          break;
        default:
          g_assert_not_reached ();
        }
      if (connection != NULL)
        g_socket_close (connection, NULL);
    }
}

static Peer *
peer_new_scripted (PeerMode           mode,
                   guint              status,
                   const char *const *script)
{
  Peer *peer = g_new0 (Peer, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  peer->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, &error);
  ck_assert_msg (peer->listener != NULL, "%s", error ? error->message : "");
  ck_assert_msg (g_socket_bind (peer->listener, any_port, TRUE, &error)
                 && g_socket_listen (peer->listener, &error), "%s", error ? error->message : "");
  bound = g_socket_get_local_address (peer->listener, &error);
  peer->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  peer->mode = mode;
  peer->status = status;
  peer->script = script;
  peer->request_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  peer->cancellable = g_cancellable_new ();
  peer->held = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_init (&peer->lock);
  g_cond_init (&peer->request_came);
  peer->thread = g_thread_new ("test-peer", peer_main, peer);
  return peer;
}

static Peer *
peer_new (PeerMode mode,
          guint    status)
{
  return peer_new_scripted (mode, status, NULL);
}

static char *
peer_endpoint (Peer *peer)
{
  return g_strdup_printf ("http://127.0.0.1:%u/api/traces", peer->port);
}

static guint
peer_get_n_requests (Peer *peer)
{
  guint n;

  gluetool_mutex_lock (&peer->lock);
  n = peer->n_requests;
  gluetool_mutex_unlock (&peer->lock);
  return n;
}

/* Waits until the peer has had @n requests, for WAIT_S at most. */
static void
peer_wait_for_requests (Peer *peer,
                        guint n)
{
  gint64 deadline_us = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);
  guint had;

  gluetool_mutex_lock (&peer->lock);
  while (peer->n_requests < n && gluetool_cond_wait_until (&peer->request_came, &peer->lock, deadline_us))
    ;
  had = peer->n_requests;
  gluetool_mutex_unlock (&peer->lock);
  ck_assert_uint_ge (had, n);
}

/* Seconds from request @index - 1 to request @index. */
static double
peer_get_gap_s (Peer *peer,
                guint index)
{
  gint64 gap_us;

  gluetool_mutex_lock (&peer->lock);
  ck_assert_uint_gt (peer->request_times->len, index);
  gap_us = g_array_index (peer->request_times, gint64, index)
           - g_array_index (peer->request_times, gint64, index - 1);
  gluetool_mutex_unlock (&peer->lock);
  return (double) gap_us / G_USEC_PER_SEC;
}

static void
peer_free (Peer *peer)
{
  g_cancellable_cancel (peer->cancellable);
  g_thread_join (peer->thread);
  g_ptr_array_unref (peer->held);
  g_clear_pointer (&peer->first_request, g_byte_array_unref);
  g_array_unref (peer->request_times);
  g_object_unref (peer->listener);
  g_object_unref (peer->cancellable);
  g_cond_clear (&peer->request_came);
  g_mutex_clear (&peer->lock);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

/* ---- Tracers --------------------------------------------------------------------- */

static GluetoolTracer *
tracer_to (const char *endpoint)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                           "service-name", "http-test",
                                           "endpoint", endpoint,
                                           NULL);

  ck_assert_msg (tracer != NULL, "tracer: %s", error ? error->message : "");
  return tracer;
}

/* A name the test resolver answers with 127.0.0.1 (test-resolver.h), on
 * GLib's worker threads as the system's resolver would: GLib answers
 * "localhost" itself, with no lookup. */
#define TEST_COLLECTOR_NAME "collector.test"

/* ---- Through the real receiver ---------------------------------------------------- */

START_TEST (test_spans_arrive)
{
  const char *args[] = { "--count", "3", "--json", NULL };
  g_autoptr(ListenProcess) l = start_listener (args);
  g_autofree char *endpoint = listener_endpoint (l);
  g_autoptr(GluetoolTracer) tracer = tracer_to (endpoint);
  g_autofree char *out = NULL;
  GluetoolTracerStats stats;

  {
    g_autoptr(GluetoolAction) root = gluetool_action_new ("http root", NULL);
    g_autoptr(GluetoolAction) child = gluetool_action_new ("http child", root);
    g_autoptr(GluetoolAction) other = gluetool_action_new ("http other child", root);

    gluetool_action_set_tag_string (child, "over", "http");
    test_expect_finish (child);
    test_expect_finish (other);
    test_expect_finish (root);
  }
  test_expect_close (tracer, WAIT_S);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_sent, 3);
  ck_assert_uint_ge (stats.datagrams_sent, 1);
  ck_assert_uint_eq (stats.spans_failed_to_send, 0);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "http root") != NULL && strstr (out, "http child") != NULL
                 && strstr (out, "http other child") != NULL && strstr (out, "http-test") != NULL,
                 "%s", out);
}
END_TEST

/* Larger than any UDP datagram: over HTTP it goes. */
START_TEST (test_large_span_arrives)
{
  const char *args[] = { "--count", "1", "--json", NULL };
  g_autoptr(ListenProcess) l = start_listener (args);
  g_autofree char *endpoint = listener_endpoint (l);
  g_autoptr(GluetoolTracer) tracer = tracer_to (endpoint);
  g_autofree char *big = g_strnfill (100000, 'x');
  g_autofree char *out = NULL;
  GluetoolTracerStats stats;

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("large span", NULL);

    gluetool_action_set_tag_string (action, "big", big);
    test_expect_finish (action);
  }
  test_expect_close (tracer, WAIT_S);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_sent, 1);
  ck_assert_uint_eq (stats.spans_dropped_too_large, 0);

  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "large span") != NULL, "%s", l->err_text->str);
  ck_assert (strstr (out, big) != NULL);
}
END_TEST

/* Batches are cut by size: 300 spans in batches of 4 KiB at most, all
 * delivered; a span larger than a batch alone is dropped as too large. */
START_TEST (test_batches_by_size)
{
  const char *args[] = { "--count", "300", "--quiet", "--summary", NULL };
  g_autoptr(ListenProcess) l = start_listener (args);
  g_autofree char *endpoint = listener_endpoint (l);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                                     "endpoint", endpoint,
                                                     "max-batch-size", (guint64) 4096,
                                                     NULL);
  g_autofree char *big = g_strnfill (5000, 'y');
  GluetoolTracerStats stats;

  ck_assert_msg (tracer != NULL, "%s", error ? error->message : "");
  for (guint i = 0; i < 300; i++)
    test_expect_action ("batched");
  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("too large", NULL);

    gluetool_action_set_tag_string (action, "big", big);
    test_expect_finish (action);
  }
  ck_assert (!gluetool_tracer_close (tracer, WAIT_S, &error));
  ck_assert (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST));
  ck_assert_msg (strstr (error->message, "1 too large for a batch") != NULL, "%s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_sent, 300);
  ck_assert_uint_eq (stats.spans_dropped_too_large, 1);
  /* 300 spans of some 80 bytes do not fit in one 4 KiB batch. */
  ck_assert_uint_ge (stats.datagrams_sent, 300 * 60 / 4096);
  ck_assert_int_eq (listen_process_finish (l), 0);
}
END_TEST

/* A child made by fork() posts its spans itself, on a session of its own,
 * to the collector by its address, and by its name (_i 1): there a lookup
 * would wait for GLib's worker threads, which did not come along (the
 * parent's lookup left one waiting for work), so the child starts from the
 * address the parent last posted to. */
START_TEST (test_fork_child_posts)
{
  const char *args[] = { "--count", "2", "--json", NULL };
  g_autoptr(ListenProcess) l = start_listener (args);
  TestResolver *resolver = NULL;
  g_autofree char *endpoint = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *out = NULL;
  int verdict_fds[2];
  char child_verdict = -1;
  int status = 0;
  pid_t pid;

  if (_i == 0)
    endpoint = listener_endpoint (l);
  else
    {
      resolver = test_resolver_install ();
      endpoint = g_strdup_printf ("http://" TEST_COLLECTOR_NAME ":%u/api/traces", l->http_port);
    }
  tracer = tracer_to (endpoint);
  test_expect_action ("before the fork");
  ck_assert (gluetool_tracer_flush (tracer, WAIT_S, NULL));
  /* The child's verdict comes through a pipe: under valgrind its exit code
   * is valgrind's, which counts what it inherited and never freed. */
  ck_assert_int_eq (pipe (verdict_fds), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("in the child", NULL);
      g_autoptr(GError) error = NULL;
      GluetoolTracerStats stats;
      char verdict = 0;

      if (!gluetool_action_finish (action, &error) || !gluetool_tracer_close (tracer, WAIT_S, &error))
        {
          g_printerr ("child: %s\n", error->message);
          verdict = 1;
        }
      gluetool_tracer_get_stats (tracer, &stats);
      if (verdict == 0 && stats.spans_sent != 1)
        verdict = 2;
      if (write (verdict_fds[1], &verdict, 1) != 1)
        _exit (3);
      _exit (verdict);
    }
  close (verdict_fds[1]);
  ck_assert_int_eq (read (verdict_fds[0], &child_verdict, 1), 1);
  close (verdict_fds[0]);
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_int_eq (child_verdict, 0);
  test_expect_close (tracer, WAIT_S);
  if (resolver != NULL)
    test_resolver_uninstall (resolver);
  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "before the fork") != NULL && strstr (out, "in the child") != NULL,
                 "%s", out);
}
END_TEST

/* ---- Settings ----------------------------------------------------------------------- */

static void
assert_refused_tracer (const char *must_mention,
                       const char *must_not_show,
                       const char *first_property,
                       ...)
{
  g_autoptr(GError) error = NULL;
  GObject *tracer;
  va_list args;

  va_start (args, first_property);
  tracer = (GObject *) g_initable_new_valist (GLUETOOL_TYPE_TRACER, first_property, args, NULL,
                                              &error);
  va_end (args);
  ck_assert_ptr_null (tracer);
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                  GLUETOOL_TRACER_ERROR_INVALID_CONFIG),
                 "%s", error ? error->message : "no error");
  ck_assert_msg (strstr (error->message, must_mention) != NULL, "'%s' does not say '%s'",
                 error->message, must_mention);
  ck_assert_msg (must_not_show == NULL || strstr (error->message, must_not_show) == NULL,
                 "'%s' shows '%s'", error->message, must_not_show);
}

START_TEST (test_bad_endpoints)
{
  assert_refused_tracer ("not a URL", NULL, "endpoint", "not a url at all", NULL);
  assert_refused_tracer ("http:// or https://", NULL, "endpoint", "ftp://host:21/x", NULL);
  assert_refused_tracer ("70000", NULL, "endpoint", "http://127.0.0.1:70000/api/traces", NULL);
  assert_refused_tracer ("no host", NULL, "endpoint", "http:///api/traces", NULL);
  assert_refused_tracer ("no host", NULL, "endpoint", "http://:14268/api/traces", NULL);
  assert_refused_tracer ("port 0", NULL, "endpoint", "http://localhost:0/api/traces", NULL);
  assert_refused_tracer ("is empty", NULL, "endpoint", "", NULL);
  /* A password in the URL is refused, and not shown. */
  assert_refused_tracer ("GLUETOOL_TRACING_USER", "hunter2", "endpoint",
                         "http://alice:hunter2@host/api/traces", NULL);
  assert_refused_tracer ("max batch size", NULL, "endpoint", "http://h/api/traces",
                         "max-batch-size", (guint64) 100, NULL);

  /* From the environment, the variable is named. */
  g_setenv ("GLUETOOL_TRACING_ENDPOINT", "gopher://h/", TRUE);
  assert_refused_tracer ("GLUETOOL_TRACING_ENDPOINT", NULL, NULL, NULL);
  g_unsetenv ("GLUETOOL_TRACING_ENDPOINT");
}
END_TEST

START_TEST (test_bad_credentials)
{
  assert_refused_tracer ("auth token contains a line break", SECRET_TOKEN,
                         "endpoint", "http://h/api/traces",
                         "auth-token", SECRET_TOKEN "\nX-Injected: 1", NULL);
  assert_refused_tracer ("control character", "hunter", "endpoint", "http://h/api/traces",
                         "user", "alice", "password", "hunter\r2", NULL);
  assert_refused_tracer ("user contains ':'", NULL, "endpoint", "http://h/api/traces",
                         "user", "al:ice", NULL);
  assert_refused_tracer ("not both", SECRET_TOKEN, "endpoint", "http://h/api/traces",
                         "auth-token", SECRET_TOKEN, "user", "alice", NULL);
  assert_refused_tracer ("without a user", "hunter2", "endpoint", "http://h/api/traces",
                         "password", "hunter2", NULL);

  g_setenv ("GLUETOOL_TRACING_AUTH_TOKEN", SECRET_TOKEN "\x01", TRUE);
  assert_refused_tracer ("GLUETOOL_TRACING_AUTH_TOKEN", SECRET_TOKEN,
                         "endpoint", "http://h/api/traces", NULL);
  g_unsetenv ("GLUETOOL_TRACING_AUTH_TOKEN");
}
END_TEST

START_TEST (test_settings_read_back)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *endpoint = NULL;
  guint64 max_batch_size = 0;

  g_setenv ("GLUETOOL_TRACING_ENDPOINT", "https://collector.example:14268/api/traces", TRUE);
  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error, NULL);
  ck_assert_msg (tracer != NULL, "%s", error ? error->message : "");
  g_object_get (tracer, "endpoint", &endpoint, "max-batch-size", &max_batch_size, NULL);
  ck_assert_str_eq (endpoint, "https://collector.example:14268/api/traces");
  ck_assert_uint_eq (max_batch_size, 1024 * 1024);
  g_unsetenv ("GLUETOOL_TRACING_ENDPOINT");
  /* Write-only: the token and the password cannot be read back. */
  ck_assert ((g_object_class_find_property (G_OBJECT_GET_CLASS (tracer), "auth-token")->flags
              & G_PARAM_READABLE) == 0);
  ck_assert ((g_object_class_find_property (G_OBJECT_GET_CLASS (tracer), "password")->flags
              & G_PARAM_READABLE) == 0);
  /* No longer the process's default, for the tests that follow in the
   * same process (CK_FORK=no). */
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* ---- Failures and bounds ------------------------------------------------------------ */

/* A port bound but not listening: every connection is refused. */
static GSocket *
refusing_socket (guint16 *port)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);

  ck_assert_msg (socket != NULL && g_socket_bind (socket, any_port, TRUE, &error), "%s",
                 error ? error->message : "");
  bound = g_socket_get_local_address (socket, &error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return socket;
}

START_TEST (test_refused_counts_failed)
{
  guint16 port = 0;
  g_autoptr(GSocket) refusing G_GNUC_UNUSED = refusing_socket (&port);
  g_autofree char *endpoint = g_strdup_printf ("http://127.0.0.1:%u/api/traces", port);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                                     "endpoint", endpoint,
                                                     "auth-token", SECRET_TOKEN,
                                                     NULL);
  GluetoolTracerStats stats;

  ck_assert_msg (tracer != NULL, "%s", error ? error->message : "");
  test_expect_action ("refused");
  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  ck_assert_msg (strstr (error->message, "1 failed to send") != NULL, "%s", error->message);
  ck_assert_msg (strstr (error->message, endpoint) != NULL, "%s", error->message);
  ck_assert_msg (strstr (error->message, SECRET_TOKEN) == NULL, "%s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_failed_to_send, 1);
  ck_assert_uint_eq (stats.spans_sent, 0);
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* flush() and close() return by their deadline though the collector never
 * answers; close() counts the batch as failed. */
START_TEST (test_never_answering_peer_bounded)
{
  g_autoptr(Peer) peer = peer_new (PEER_NEVER_ANSWERS, 0);
  g_autofree char *endpoint = peer_endpoint (peer);
  g_autoptr(GluetoolTracer) tracer = tracer_to (endpoint);
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;
  gint64 start;
  double elapsed_s;

  test_expect_action ("never answered");
  start = g_get_monotonic_time ();
  ck_assert (!gluetool_tracer_flush (tracer, 0.5, &error));
  elapsed_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT), "%s", error->message);
  ck_assert_msg (elapsed_s < 0.5 + BOUND_SLACK_S, "flush took %.2f s", elapsed_s);
  g_clear_error (&error);

  start = g_get_monotonic_time ();
  ck_assert (!gluetool_tracer_close (tracer, 1.0, &error));
  elapsed_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  ck_assert_msg (elapsed_s < 1.0 + BOUND_SLACK_S, "close took %.2f s", elapsed_s);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_failed_to_send, 1);
  ck_assert_uint_ge (peer_get_n_requests (peer), 1);
}
END_TEST

/* Garbage and a connection closed early are failures like a refusal: tried
 * again, then counted, and flush() says why. */
static void
check_failing_peer (PeerMode mode)
{
  g_autoptr(Peer) peer = peer_new (mode, 0);
  g_autofree char *endpoint = peer_endpoint (peer);
  g_autoptr(GluetoolTracer) tracer = tracer_to (endpoint);
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  test_expect_action ("failing");
  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  ck_assert_msg (strstr (error->message, endpoint) != NULL, "%s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_failed_to_send, 1);
  /* Tried four times. */
  ck_assert_uint_eq (peer_get_n_requests (peer), 4);
  test_expect_close (tracer, WAIT_S);
}

START_TEST (test_garbage_answer_fails)
{
  check_failing_peer (PEER_GARBAGE);
}
END_TEST

START_TEST (test_closed_before_body_fails)
{
  check_failing_peer (PEER_CLOSES_EARLY);
}
END_TEST

/* 5xx and 429 are tried again; other 4xx are not. */
static void
check_status (guint status,
              guint expected_requests)
{
  g_autoptr(Peer) peer = peer_new (PEER_ANSWERS, status);
  g_autofree char *endpoint = peer_endpoint (peer);
  g_autoptr(GluetoolTracer) tracer = tracer_to (endpoint);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = g_strdup_printf ("answered %u", status);

  test_expect_action ("answered");
  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (strstr (error->message, code) != NULL, "%s", error->message);
  ck_assert_uint_eq (peer_get_n_requests (peer), expected_requests);
  test_expect_close (tracer, WAIT_S);
}

START_TEST (test_status_retries)
{
  check_status (503, 4);
  check_status (429, 4);
  check_status (408, 4);
  check_status (400, 1);
  check_status (401, 1);
  check_status (301, 1);
}
END_TEST

/* A collector that drips its answer, a byte well within any per-read
 * time-out, is cut at the request's deadline: each try, then the batch
 * counts as failed, and flush() says why. */
START_TEST (test_dripping_peer_cut)
{
  g_autoptr(Peer) peer = peer_new (PEER_DRIPS, 0);
  g_autofree char *endpoint = peer_endpoint (peer);
  g_autoptr(GluetoolTracer) tracer = tracer_to (endpoint);
  g_autoptr(GError) error = NULL;
  double all_tries_s = N_TRIES * REQUEST_TIMEOUT_S + BACKOFFS_S;
  GluetoolTracerStats stats;

  test_expect_action ("dripped");
  ck_assert (!gluetool_tracer_flush (tracer, all_tries_s + WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "%s", error->message);
  ck_assert_msg (strstr (error->message, "1 failed to send") != NULL, "%s", error->message);
  ck_assert_msg (strstr (error->message, "no answer within 5 s") != NULL, "%s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_failed_to_send, 1);
  ck_assert_uint_eq (stats.spans_sent, 0);
  ck_assert_uint_eq (peer_get_n_requests (peer), N_TRIES);
  /* Each try lasted its deadline, no less (the drip kept every read
   * short), and no more but for a loaded machine's slack. */
  for (guint i = 1; i < N_TRIES; i++)
    {
      double gap_s = peer_get_gap_s (peer, i);

      ck_assert_msg (gap_s >= REQUEST_TIMEOUT_S, "try %u ended after %.2f s", i, gap_s);
      ck_assert_msg (gap_s < REQUEST_TIMEOUT_S + BACKOFFS_S + BOUND_SLACK_S,
                     "try %u ended after %.2f s", i, gap_s);
    }
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* A 503 or 429 that asks for a short wait in Retry-After gets it; a long
 * one is not waited for: the back-off is. */
START_TEST (test_retry_after)
{
  const char *const now[] = { "503 Busy\r\nRetry-After: 0", "202 Accepted", NULL };
  const char *const in_a_second[] = { "503 Busy\r\nRetry-After: 1", "202 Accepted", NULL };
  const char *const in_an_hour[] = { "429 Slow down\r\nRetry-After: 3600", "202 Accepted", NULL };
  const char *const *const scripts[] = { now, in_a_second, in_an_hour };

  for (guint i = 0; i < G_N_ELEMENTS (scripts); i++)
    {
      g_autoptr(Peer) peer = peer_new_scripted (PEER_ANSWERS, 0, scripts[i]);
      g_autofree char *endpoint = peer_endpoint (peer);
      g_autoptr(GluetoolTracer) tracer = tracer_to (endpoint);
      g_autoptr(GError) error = NULL;
      GluetoolTracerStats stats;

      test_expect_action ("asked to wait");
      /* Within a bound far below the hour asked for. */
      ck_assert_msg (gluetool_tracer_flush (tracer, WAIT_S, &error), "%s: %s", scripts[i][0],
                     error->message);
      gluetool_tracer_get_stats (tracer, &stats);
      ck_assert_uint_eq (stats.spans_sent, 1);
      ck_assert_uint_eq (stats.spans_failed_to_send, 0);
      ck_assert_uint_eq (peer_get_n_requests (peer), 2);
      /* The second asked for more than the first back-off (0.1 s). */
      if (scripts[i] == in_a_second)
        ck_assert_msg (peer_get_gap_s (peer, 1) >= 1.0, "tried again after %.2f s",
                       peer_get_gap_s (peer, 1));
      test_expect_close (tracer, WAIT_S);
    }
}
END_TEST

/* fork() during a POST to a collector that never answers returns at once:
 * it waits for GLib's work in progress, never for the network. The child's
 * own tracer then posts through GLib and libsoup, so none of their locks
 * was inherited held. */
START_TEST (test_fork_during_post)
{
  const char *args[] = { "--count", "1", "--json", NULL };
  g_autoptr(ListenProcess) l = start_listener (args);
  g_autofree char *good_endpoint = listener_endpoint (l);
  g_autoptr(Peer) peer = peer_new (PEER_NEVER_ANSWERS, 0);
  g_autofree char *stuck_endpoint = peer_endpoint (peer);
  g_autoptr(GluetoolTracer) tracer = tracer_to (stuck_endpoint);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  int verdict_fds[2];
  char child_verdict = -1;
  int status = 0;
  gint64 start;
  double fork_s;
  pid_t pid;

  test_expect_action ("never answered");
  /* The request is written: the flush thread waits for the answer. */
  peer_wait_for_requests (peer, 1);
  ck_assert_int_eq (pipe (verdict_fds), 0);
  start = g_get_monotonic_time ();
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      g_autoptr(GluetoolTracer) own = NULL;
      g_autoptr(GluetoolAction) action = NULL;
      g_autoptr(GError) child_error = NULL;
      GluetoolTracerStats stats = { 0 };
      char verdict = 0;

      own = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &child_error,
                            "service-name", "http-test-child", "endpoint", good_endpoint, NULL);
      if (own == NULL)
        verdict = 1;
      else
        {
          action = gluetool_action_new ("from the forked child", NULL);
          if (!gluetool_action_finish (action, &child_error)
              || !gluetool_tracer_close (own, WAIT_S, &child_error))
            verdict = 2;
          gluetool_tracer_get_stats (own, &stats);
          if (verdict == 0 && stats.spans_sent != 1)
            verdict = 3;
        }
      if (child_error != NULL)
        g_printerr ("child: %s\n", child_error->message);
      if (write (verdict_fds[1], &verdict, 1) != 1)
        _exit (4);
      _exit (verdict);
    }
  fork_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  close (verdict_fds[1]);
  ck_assert_int_eq (read (verdict_fds[0], &child_verdict, 1), 1);
  close (verdict_fds[0]);
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_int_eq (child_verdict, 0);
  ck_assert_msg (fork_s < REQUEST_TIMEOUT_S / 2, "fork() took %.2f s", fork_s);
  /* The parent's request is still waiting: nothing answered it. */
  ck_assert_uint_eq (peer_get_n_requests (peer), 1);

  ck_assert (!gluetool_tracer_close (tracer, 0.5, &error));
  ck_assert_int_eq (listen_process_finish (l), 0);
  out = listen_process_stdout (l);
  ck_assert_msg (strstr (out, "from the forked child") != NULL, "%s", out);
  ck_assert_msg (strstr (out, "never answered") == NULL, "%s", out);
}
END_TEST

/* Credentials appear in no error and no message, the library's or
 * libsoup's, whatever the collector does. */
static void
check_credentials_hidden (Peer    *peer,
                          gboolean basic_auth)
{
  g_autofree char *endpoint = peer_endpoint (peer);
  g_autofree char *basic = g_base64_encode ((const guchar *) "alice:" SECRET_PASSWORD,
                                            strlen ("alice:" SECRET_PASSWORD));
  const char *secrets[] = { SECRET_TOKEN, SECRET_PASSWORD, basic };
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *logged = NULL;

  if (basic_auth)
    tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error, "endpoint", endpoint,
                             "user", "alice", "password", SECRET_PASSWORD, NULL);
  else
    tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error, "endpoint", endpoint,
                             "auth-token", SECRET_TOKEN, NULL);
  ck_assert_msg (tracer != NULL, "%s", error ? error->message : "");
  test_expect_action ("with credentials");
  ck_assert (!gluetool_tracer_flush (tracer, WAIT_S, &error));
  ck_assert_msg (strstr (error->message, endpoint) != NULL, "%s", error->message);
  test_expect_close (tracer, WAIT_S);
  logged = test_log_dup_text ();
  /* The debug messages were on: the sender said what it did. */
  ck_assert_msg (strstr (logged, endpoint) != NULL, "%s", logged);
  for (guint i = 0; i < G_N_ELEMENTS (secrets); i++)
    {
      ck_assert_msg (strstr (error->message, secrets[i]) == NULL, "%s", error->message);
      ck_assert_msg (strstr (logged, secrets[i]) == NULL, "%s", logged);
    }
}

START_TEST (test_credentials_never_shown)
{
  const PeerMode modes[] = { PEER_GARBAGE, PEER_CLOSES_EARLY, PEER_ANSWERS, PEER_ANSWERS };
  const guint statuses[] = { 0, 0, 401, 503 };

  /* Debug messages are asked for when a tracer is made. */
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr(Peer) bearer = peer_new (modes[i], statuses[i]);
      g_autoptr(Peer) basic = peer_new (modes[i], statuses[i]);

      check_credentials_hidden (bearer, FALSE);
      check_credentials_hidden (basic, TRUE);
    }
  g_unsetenv ("G_MESSAGES_DEBUG");
}
END_TEST

/* ---- What the request carries -------------------------------------------------------- */

static char *
recorded_head (Peer   *peer,
               GBytes **body)
{
  gssize head_end;
  char *head;

  gluetool_mutex_lock (&peer->lock);
  ck_assert_ptr_nonnull (peer->first_request);
  head_end = find_head_end (peer->first_request);
  ck_assert_int_gt (head_end, 0);
  head = g_strndup ((const char *) peer->first_request->data, head_end);
  *body = g_bytes_new (peer->first_request->data + head_end,
                       peer->first_request->len - head_end);
  gluetool_mutex_unlock (&peer->lock);
  return head;
}

static char *
post_one_and_record (Peer       *peer,
                     GBytes    **body,
                     const char *first_property,
                     ...)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  va_list args;

  va_start (args, first_property);
  tracer = GLUETOOL_TRACER (g_initable_new_valist (GLUETOOL_TYPE_TRACER, first_property, args,
                                                   NULL, &error));
  va_end (args);
  ck_assert_msg (tracer != NULL, "%s", error ? error->message : "");
  test_expect_action ("recorded");
  test_expect_close (tracer, WAIT_S);
  return recorded_head (peer, body);
}

START_TEST (test_request_bearer)
{
  g_autoptr(Peer) peer = peer_new (PEER_ANSWERS, 202);
  g_autofree char *endpoint = peer_endpoint (peer);
  g_autoptr(GBytes) body = NULL;
  g_autofree char *head = post_one_and_record (peer, &body, "endpoint", endpoint,
                                               "service-name", "recorded-service",
                                               "auth-token", SECRET_TOKEN, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(JaegerBatch) batch = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (body, &len);

  ck_assert_msg (g_str_has_prefix (head, "POST /api/traces HTTP/1.1\r\n"), "%s", head);
  ck_assert_msg (strstr (head, "\r\nAuthorization: Bearer " SECRET_TOKEN "\r\n") != NULL, "%s", head);
  ck_assert_msg (strstr (head, "\r\nContent-Type: application/x-thrift\r\n") != NULL, "%s", head);

  /* The body is a binary Batch, as the reference reads it. */
  batch = gluetool_reference_decode_batch_binary (data, len, &error);
  ck_assert_msg (batch != NULL, "%s", error ? error->message : "");
  ck_assert_str_eq (batch->process->serviceName, "recorded-service");
  ck_assert_uint_eq (batch->spans->len, 1);
  ck_assert_str_eq (((JaegerSpan *) g_ptr_array_index (batch->spans, 0))->operationName, "recorded");
  ck_assert (batch->__isset_seqNo);
  ck_assert_int_eq (batch->seqNo, 1);
}
END_TEST

START_TEST (test_request_basic)
{
  g_autoptr(Peer) peer = peer_new (PEER_ANSWERS, 202);
  g_autofree char *endpoint = peer_endpoint (peer);
  g_autoptr(GBytes) body = NULL;
  g_autofree char *head = post_one_and_record (peer, &body, "endpoint", endpoint,
                                               "user", "alice", "password", "pass word", NULL);
  g_autofree char *expected = g_base64_encode ((const guchar *) "alice:pass word", 15);
  g_autofree char *line = g_strdup_printf ("\r\nAuthorization: Basic %s\r\n", expected);

  ck_assert_msg (strstr (head, line) != NULL, "%s", head);
}
END_TEST

static Suite *
http_suite (void)
{
  Suite *s = suite_create ("http");
  TCase *tc = tcase_create ("receiver");

  tcase_set_timeout (tc, 90);
  tcase_add_test (tc, test_spans_arrive);
  tcase_add_test (tc, test_large_span_arrives);
  tcase_add_test (tc, test_batches_by_size);
  tcase_add_loop_test (tc, test_fork_child_posts, 0, 2);
  suite_add_tcase (s, tc);

  tc = tcase_create ("settings");
  tcase_add_test (tc, test_bad_endpoints);
  tcase_add_test (tc, test_bad_credentials);
  tcase_add_test (tc, test_settings_read_back);
  suite_add_tcase (s, tc);

  tc = tcase_create ("failures");
  tcase_set_timeout (tc, 90);
  tcase_add_test (tc, test_refused_counts_failed);
  tcase_add_test (tc, test_never_answering_peer_bounded);
  tcase_add_test (tc, test_garbage_answer_fails);
  tcase_add_test (tc, test_closed_before_body_fails);
  tcase_add_test (tc, test_status_retries);
  tcase_add_test (tc, test_retry_after);
  tcase_add_test (tc, test_credentials_never_shown);
  suite_add_tcase (s, tc);

  tc = tcase_create ("bounds");
  tcase_set_timeout (tc, 90);
  tcase_add_test (tc, test_dripping_peer_cut);
  tcase_add_test (tc, test_fork_during_post);
  suite_add_tcase (s, tc);

  tc = tcase_create ("request");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_request_bearer);
  tcase_add_test (tc, test_request_basic);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  /* Every message, debug ones included: what the tests look for in them. */
  test_log_record ();
  test_unset_tracing_environment ();
  return test_run_suite_tap (http_suite ());
}
