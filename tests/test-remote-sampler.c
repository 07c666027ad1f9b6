/* test-remote-sampler.c: the remote sampler against `gluetool-trace listen
 * --sampling-strategies` and against a socket that misbehaves
 *
 * SPDX-License-Identifier: MIT
 *
 * Every wait is for a condition (the strategy in force, the count of
 * requests), polled, never a fixed sleep: the sampler's thread asks every
 * REFRESH_S.
 */

#include <check.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gluetool/gluetool.h>

#include "gluetool-tracer-private.h"
#include "remote-sampler-private.h"
#include "listen-process.h"
#include "test-expect.h"
#include "check-tap.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define WAIT_S 20.0
#define REFRESH_S 0.05

/* ---- gluetool-trace listen ----------------------------------------------------- */

/* `gluetool-trace listen --port 0 --idle 60 --sampling-strategies FILE
 * --sampling-port 0`, FILE holding @strategies, once it said where it
 * listens. */
static ListenProcess *
start_listener (const char *strategies)
{
  ListenProcessOptions options = { .idle_s = 60, .sampling_strategies = strategies };

  return listen_process_start (&options);
}

static void
write_strategies (ListenProcess *l,
                  const char    *text)
{
  listen_process_write_file (l->strategies_path, text);
}

/* ---- The tracer --------------------------------------------------------------------- */

static GluetoolTracer *
make_remote_tracer (const char *service,
                    const char *endpoint,
                    guint16     udp_port,
                    double      initial_rate,
                    double      refresh_s)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", service,
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) udp_port,
                           "sampler-type", GLUETOOL_SAMPLER_TYPE_REMOTE,
                           "sampler-param", initial_rate,
                           "sampling-endpoint", endpoint,
                           "sampler-refresh-interval", refresh_s,
                           NULL);
  ck_assert_msg (error == NULL, "tracer: %s", error ? error->message : "");
  ck_assert_ptr_nonnull (gluetool_tracer_peek_remote_sampler (tracer));
  return tracer;
}

static char *
endpoint_for (guint16 port)
{
  return g_strdup_printf ("http://127.0.0.1:%u/sampling", port);
}

/* Waits until the strategy in force is @expected; fails after WAIT_S. */
static void
wait_for_strategy (GluetoolTracer *tracer,
                   const char     *expected)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);
  g_autofree char *strategy = NULL;

  for (;;)
    {
      g_free (strategy);
      strategy = gluetool_tracer_dup_sampling_strategy (tracer);
      if (g_str_equal (strategy, expected))
        return;
      ck_assert_msg (g_get_monotonic_time () < deadline, "strategy still '%s', not '%s'",
                     strategy, expected);
      g_usleep (5000);
    }
}

/* Waits until the sampler counted at least @n_failures failed requests. */
static void
wait_for_failures (GluetoolTracer *tracer,
                   guint           n_failures)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);
  guint n_polls, failures;

  for (;;)
    {
      gluetool_remote_sampler_get_counts (gluetool_tracer_peek_remote_sampler (tracer), &n_polls,
                                          &failures);
      if (failures >= n_failures)
        return;
      ck_assert_msg (g_get_monotonic_time () < deadline, "%u failures of %u requests, not %u",
                     failures, n_polls, n_failures);
      g_usleep (5000);
    }
}

/* How many of @n new roots labelled @label are sampled. */
static guint
count_sampled_roots (const char *label,
                     guint       n)
{
  guint sampled = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GluetoolAction) root = gluetool_action_new (label, NULL);
      g_autoptr(GluetoolSpanContext) context = gluetool_action_dup_context (root);

      sampled += (gluetool_span_context_get_flags (context) & GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED) != 0;
      test_expect_finish (root);
    }
  return sampled;
}

/* Counts g_message()s about the sampling strategy. */
static atomic_uint n_strategy_messages;

static GLogWriterOutput
counting_writer (GLogLevelFlags   level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0
        && strstr (fields[i].value, "Sampling strategy from") != NULL)
      atomic_fetch_add (&n_strategy_messages, 1);
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/* ---- Against the receiver ----------------------------------------------------------- */

#define STRATEGY(rate)                                                                      \
  "{\"service_strategies\": [{\"service\": \"remote-test\", \"type\": \"probabilistic\", " \
  "\"param\": " rate "}], \"default_strategy\": {\"type\": \"probabilistic\", \"param\": 0.5}}"

START_TEST (test_strategy_follows_the_file)
{
  g_autoptr(ListenProcess) listener = start_listener (STRATEGY ("1.0"));
  g_autofree char *endpoint = endpoint_for (listener->sampling_port);
  g_autoptr(GluetoolTracer) tracer =
    make_remote_tracer ("remote-test", endpoint, listener->udp_port, 0.0, REFRESH_S);

  wait_for_strategy (tracer, "probabilistic 1");
  ck_assert_uint_eq (count_sampled_roots ("root", 20), 20);

  /* Within a refresh of the change. */
  write_strategies (listener, STRATEGY ("0.0"));
  wait_for_strategy (tracer, "probabilistic 0");
  ck_assert_uint_eq (count_sampled_roots ("root", 20), 0);

  write_strategies (listener, "{\"service_strategies\": [{\"service\": \"remote-test\", "
                              "\"type\": \"ratelimiting\", \"param\": 3}]}");
  wait_for_strategy (tracer, "ratelimiting 3");
  test_expect_close (tracer, WAIT_S);
}
END_TEST

START_TEST (test_per_operation_by_label)
{
  g_autoptr(ListenProcess) listener = start_listener (
    "{\"service_strategies\": [{\"service\": \"ops-test\", \"type\": \"probabilistic\", "
    "\"param\": 0.0, \"operation_strategies\": ["
    "{\"operation\": \"always\", \"type\": \"probabilistic\", \"param\": 1.0},"
    "{\"operation\": \"never\", \"type\": \"probabilistic\", \"param\": 0.0}]}]}");
  g_autofree char *endpoint = endpoint_for (listener->sampling_port);
  g_autoptr(GluetoolTracer) tracer =
    make_remote_tracer ("ops-test", endpoint, listener->udp_port, 0.0, REFRESH_S);

  wait_for_strategy (tracer, "per-operation 0 (lower bound 0/s, 2 operations)");
  ck_assert_uint_eq (count_sampled_roots ("always", 20), 20);
  /* A lower bound of 0 per second: a full bucket of one, as Jaeger's, so
   * at most the first. */
  ck_assert_uint_le (count_sampled_roots ("never", 20), 1);
  ck_assert_uint_le (count_sampled_roots ("unnamed", 20), 1);
  test_expect_close (tracer, WAIT_S);
}
END_TEST

START_TEST (test_endpoint_down_keeps_initial)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *endpoint = NULL;

  /* A port just freed: nobody listens there. */
  ck_assert (g_socket_bind (socket, any_port, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  endpoint = endpoint_for (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  g_log_set_writer_func (counting_writer, NULL, NULL);
  tracer = make_remote_tracer ("down-test", endpoint, 9, 0.5, REFRESH_S);
  wait_for_failures (tracer, 3);
  wait_for_strategy (tracer, "probabilistic 0.5");
  /* One message for the whole streak. */
  ck_assert_uint_eq (atomic_load (&n_strategy_messages), 1);
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* ---- Against a socket that misbehaves ---------------------------------------------- */

typedef enum {
  ANSWER_GOOD,
  ANSWER_GOOD_AGAIN,
  ANSWER_GARBAGE,
  ANSWER_NOT_FOUND,
  ANSWER_HUGE,
  ANSWER_SILENCE,
  ANSWER_DRIP,
  ANSWER_ALTERNATE,
} Answer;

typedef struct {
  GSocket    *listening;    /* (owned) */
  GThread    *thread;       /* (owned) */
  atomic_int  answer;       /* (atomic) Answer */
  atomic_uint n_requests;   /* (atomic) */
  atomic_bool stop;         /* (atomic) */
  GPtrArray  *silent;       /* (owned) connections left unanswered: the server thread's */
} BadServer;

static void
send_all (GSocket    *socket,
          const char *data,
          gsize       len)
{
  while (len > 0)
    {
      gssize n = g_socket_send (socket, data, len, NULL, NULL);

      if (n <= 0)
        return;
      data += n;
      len -= (gsize) n;
    }
}

static void
answer_http (GSocket    *socket,
             const char *status,
             const char *body,
             gsize       body_len)
{
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                                           "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                           "Connection: close\r\n\r\n", status, body_len);

  send_all (socket, head, strlen (head));
  send_all (socket, body, body_len);
}

static gpointer
bad_server_thread (gpointer data)
{
  BadServer *server = data;

  while (!atomic_load (&server->stop))
    {
      g_autoptr(GSocket) client = g_socket_accept (server->listening, NULL, NULL);
      char request[4096];
      gsize got = 0;

      if (client == NULL)
        continue;
      if (atomic_load (&server->stop))
        break;
      /* The request, up to its blank line. */
      while (got < sizeof request - 1)
        {
          gssize n = g_socket_receive (client, request + got, sizeof request - 1 - got, NULL, NULL);

          if (n <= 0)
            break;
          got += (gsize) n;
          request[got] = '\0';
          if (strstr (request, "\r\n\r\n") != NULL)
            break;
        }
      atomic_fetch_add (&server->n_requests, 1);
      switch (atomic_load (&server->answer))
        {
        case ANSWER_GOOD:
          {
            const char *body = "{\"strategyType\": \"PROBABILISTIC\", "
                               "\"probabilisticSampling\": {\"samplingRate\": 0.25}}";

            answer_http (client, "200 OK", body, strlen (body));
          }
          break;
        case ANSWER_GOOD_AGAIN:
          {
            /* The legacy endpoint's numbers for the enum. */
            const char *body = "{\"strategyType\": 1, "
                               "\"rateLimitingSampling\": {\"maxTracesPerSecond\": 5}}";

            answer_http (client, "200 OK", body, strlen (body));
          }
          break;
        case ANSWER_GARBAGE:
          answer_http (client, "200 OK", "{\"strategyType\": [1, 2", 22);
          break;
        case ANSWER_NOT_FOUND:
          answer_http (client, "404 Not Found", "no", 2);
          break;
        case ANSWER_HUGE:
          {
            /* A good strategy, but padded past the cap. */
            gsize len = GLUETOOL_REMOTE_SAMPLER_MAX_BODY + 4096;
            g_autofree char *body = g_malloc (len);
            const char *good = "{\"strategyType\": \"PROBABILISTIC\", "
                               "\"probabilisticSampling\": {\"samplingRate\": 0.75}}";

            memset (body, ' ', len);
            memcpy (body + len - strlen (good), good, strlen (good));
            answer_http (client, "200 OK", body, len);
          }
          break;
        case ANSWER_DRIP:
          {
            /* Headers at once, then a byte of body every fifth of a second
             * (each read finds something well within a read timeout) for
             * as long as the client listens: only a deadline for the whole
             * request ends it. */
            const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 1000000\r\n\r\n";

            send_all (client, head, strlen (head));
            while (!atomic_load (&server->stop)
                   && g_socket_send (client, " ", 1, NULL, NULL) == 1)
              g_usleep (G_USEC_PER_SEC / 5);
          }
          break;
        case ANSWER_ALTERNATE:
          {
            /* A new strategy every time: every answer is a swap. */
            g_autofree char *body = g_strdup_printf (
              "{\"strategyType\": \"PROBABILISTIC\", "
              "\"probabilisticSampling\": {\"samplingRate\": %s}}",
              atomic_load (&server->n_requests) % 2 == 0 ? "0.25" : "0.5");

            answer_http (client, "200 OK", body, strlen (body));
          }
          break;
        case ANSWER_SILENCE:
        default:
          /* Kept open, never answered, until the server stops. */
          g_ptr_array_add (server->silent, g_steal_pointer (&client));
          break;
        }
    }
  return NULL;
}

static BadServer *
bad_server_new (void)
{
  BadServer *server = g_new0 (BadServer, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);

  server->listening = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                    G_SOCKET_PROTOCOL_TCP, NULL);
  ck_assert (g_socket_bind (server->listening, any_port, TRUE, NULL));
  ck_assert (g_socket_listen (server->listening, NULL));
  server->silent = g_ptr_array_new_with_free_func (g_object_unref);
  server->thread = g_thread_new ("bad-server", bad_server_thread, server);
  return server;
}

static guint16
bad_server_port (BadServer *server)
{
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (server->listening, NULL);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

static void
bad_server_free (BadServer *server)
{
  g_autoptr(GSocket) poke = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                          G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (server->listening, NULL);

  /* A connection of its own wakes accept() to see the flag. */
  atomic_store (&server->stop, true);
  g_socket_connect (poke, address, NULL, NULL);
  g_thread_join (server->thread);
  g_ptr_array_unref (server->silent);
  g_object_unref (server->listening);
  g_free (server);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BadServer, bad_server_free)

static void
wait_for_requests (BadServer *server,
                   guint      n)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);

  while (atomic_load (&server->n_requests) < n)
    {
      ck_assert_msg (g_get_monotonic_time () < deadline, "%u requests, not %u",
                     atomic_load (&server->n_requests), n);
      g_usleep (5000);
    }
}

START_TEST (test_last_good_strategy_kept)
{
  g_autoptr(BadServer) server = bad_server_new ();
  g_autofree char *endpoint = endpoint_for (bad_server_port (server));
  g_autoptr(GluetoolTracer) tracer = NULL;
  const Answer bad[] = { ANSWER_GARBAGE, ANSWER_NOT_FOUND, ANSWER_HUGE, ANSWER_SILENCE,
                         ANSWER_DRIP };
  guint n_polls, n_failures, failures_before_close;

  atomic_store (&server->answer, ANSWER_GOOD);
  tracer = make_remote_tracer ("bad-test", endpoint, 9, 0.0, REFRESH_S);
  wait_for_strategy (tracer, "probabilistic 0.25");

  /* Each failure in turn, the good strategy kept through all of them (the
   * silent one and the one that drips its body for ever fail by the
   * request's deadline, which bounds the whole request, not each read). */
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      atomic_store (&server->answer, bad[i]);
      gluetool_remote_sampler_get_counts (gluetool_tracer_peek_remote_sampler (tracer), &n_polls,
                                          &n_failures);
      wait_for_failures (tracer, n_failures + 1);
      wait_for_strategy (tracer, "probabilistic 0.25");
    }

  /* Answering again, the new strategy applies. */
  atomic_store (&server->answer, ANSWER_GOOD_AGAIN);
  wait_for_strategy (tracer, "ratelimiting 5");

  /* close() cancels a request under way rather than wait for its
   * timeout: the cancelled request is not counted as a failure. */
  atomic_store (&server->answer, ANSWER_SILENCE);
  wait_for_requests (server, atomic_load (&server->n_requests) + 1);
  gluetool_remote_sampler_get_counts (gluetool_tracer_peek_remote_sampler (tracer), &n_polls,
                                      &failures_before_close);
  test_expect_close (tracer, WAIT_S);
  gluetool_remote_sampler_get_counts (gluetool_tracer_peek_remote_sampler (tracer), &n_polls,
                                      &n_failures);
  ck_assert_uint_eq (n_failures, failures_before_close);
}
END_TEST

/* Roots deciding all the time, on more threads than there are cores here,
 * do not keep swapped-out strategies from being freed: a count of roots
 * deciding is rarely 0 then, so after each swap the poll thread waits for
 * the roots of the previous epoch alone. */
typedef struct {
  GluetoolRemoteSampler *sampler;
  atomic_bool            stop;
} Deciders;

static gpointer
decide_until_stopped (gpointer data)
{
  Deciders *deciders = data;
  guint64 id = 0;

  while (!atomic_load (&deciders->stop))
    {
      GluetoolSamplingDecision decision;

      id += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
      gluetool_remote_sampler_decide (deciders->sampler, id, "op", &decision);
    }
  return NULL;
}

#define N_SWAPS 20

START_TEST (test_retired_strategies_freed_under_load)
{
  g_autoptr(BadServer) server = bad_server_new ();
  g_autofree char *endpoint = endpoint_for (bad_server_port (server));
  Deciders deciders = { NULL, false };
  GThread *threads[3];
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);
  guint most_retired = 0;
  guint n_polls, n_failures;

  atomic_store (&server->answer, ANSWER_ALTERNATE);
  deciders.sampler = gluetool_remote_sampler_new (endpoint, "retired-test", 0.001, 0.005);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("decider", decide_until_stopped, &deciders);
  /* No assertion until the deciders are joined: they use @deciders. Good
   * answers alternate, so each is a swap. */
  do
    {
      g_usleep (1000);
      most_retired = MAX (most_retired, gluetool_remote_sampler_get_n_retired (deciders.sampler));
      gluetool_remote_sampler_get_counts (deciders.sampler, &n_polls, &n_failures);
    }
  while (n_polls - n_failures < N_SWAPS && g_get_monotonic_time () < deadline);
  atomic_store (&deciders.stop, true);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  gluetool_remote_sampler_free (deciders.sampler);
  ck_assert_msg (n_polls - n_failures >= N_SWAPS, "%u good answers, not %u",
                 n_polls - n_failures, N_SWAPS);
  /* At most the one swapped out by a swap under way. */
  ck_assert_uint_le (most_retired, 1);
}
END_TEST

/* A child made by fork() keeps the strategy it inherited, without the
 * parent's thread, and closes its tracer without waiting for it. The
 * child's verdict comes through a pipe: under valgrind its exit code says
 * that it "leaks" what the threads fork() left behind held. */
START_TEST (test_fork_keeps_strategy)
{
  g_autoptr(ListenProcess) listener = start_listener (STRATEGY ("1.0"));
  g_autofree char *endpoint = endpoint_for (listener->sampling_port);
  g_autoptr(GluetoolTracer) tracer =
    make_remote_tracer ("remote-test", endpoint, listener->udp_port, 0.0, REFRESH_S);
  char verdict = 0;
  int status = 0;
  int fds[2];
  pid_t pid;

  wait_for_strategy (tracer, "probabilistic 1");
  ck_assert_int_eq (pipe (fds), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      char *strategy;
      gboolean ok;

      /* A hang (a join of the parent's thread) ends the child. */
      signal (SIGALRM, SIG_DFL);
      alarm ((guint) WAIT_S);
      close (fds[0]);
      strategy = gluetool_tracer_dup_sampling_strategy (tracer);
      ok = g_str_equal (strategy, "probabilistic 1") && count_sampled_roots ("in child", 5) == 5;
      g_free (strategy);
      ok = gluetool_tracer_close (tracer, WAIT_S, NULL) && ok;
      verdict = ok ? 'y' : 'n';
      if (write (fds[1], &verdict, 1) != 1)
        _exit (2);
      alarm (0);
      _exit (0);
    }
  close (fds[1]);
  ck_assert_int_eq (read (fds[0], &verdict, 1), 1);
  close (fds[0]);
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  ck_assert_msg (WIFEXITED (status), "the child did not exit: status 0x%x", (guint) status);
  ck_assert_int_eq (verdict, 'y');

  /* The parent's thread goes on. */
  write_strategies (listener, STRATEGY ("0.0"));
  wait_for_strategy (tracer, "probabilistic 0");
  test_expect_close (tracer, WAIT_S);
}
END_TEST

/* ---- Fresh processes ------------------------------------------------------------- */

/* Processes, each making a tracer with a remote sampler as its first use
 * of GIO's sockets and of libsoup, so that the sampler's thread and the
 * flush thread meet those types for the first time together; eight at a
 * time. Without the types made first, about one process in a thousand
 * hung so here. Fewer under the sanitizers, whose processes start slowly,
 * and under valgrind (one round), whose one CPU runs a thread at a time. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifdef UNDER_SANITIZER
#define FRESH_PROCESSES 80u
#else
#define FRESH_PROCESSES (RUNNING_ON_VALGRIND ? 8u : 400u)
#endif
#define FRESH_AT_ONCE 8u
#define FRESH_WAIT_S (RUNNING_ON_VALGRIND ? 60.0 : 5.0)

/* The child: exits 0 once the strategy came, 1 if it did not within
 * FRESH_WAIT_S, without close() or the flush at exit, which a stuck flush
 * thread would hold up. */
static int
run_fresh_process (const char *endpoint,
                   const char *udp_port)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer;
  gint64 deadline;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "fresh-test",
                           "reporting-host", "127.0.0.1",
                           "reporting-port", (guint) g_ascii_strtoull (udp_port, NULL, 10),
                           "sampler-type", GLUETOOL_SAMPLER_TYPE_REMOTE,
                           "sampler-param", 0.0,
                           "sampling-endpoint", endpoint,
                           "sampler-refresh-interval", REFRESH_S,
                           NULL);
  if (tracer == NULL)
    {
      g_printerr ("tracer: %s\n", error->message);
      _exit (2);
    }
  /* A span, so the flush thread connects while the sampler asks. */
  gluetool_action_release (gluetool_action_new ("fresh", NULL));
  deadline = g_get_monotonic_time () + (gint64) (FRESH_WAIT_S * G_USEC_PER_SEC);
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *strategy = gluetool_tracer_dup_sampling_strategy (tracer);

      if (g_str_equal (strategy, "probabilistic 1"))
        _exit (0);
      g_usleep (1000);
    }
  _exit (1);
}

/* A thread making a SoupSession while another makes its first socket
 * address once left both waiting on each other inside GLib 2.74's type
 * system, and the strategy never came (thread-types-private.h). */
START_TEST (test_fresh_processes_get_their_strategy)
{
  g_autoptr(ListenProcess) listener = start_listener (
    "{\"service_strategies\": [{\"service\": \"fresh-test\", \"type\": \"probabilistic\", "
    "\"param\": 1.0}]}");
  g_autofree char *endpoint = endpoint_for (listener->sampling_port);
  g_autofree char *udp_port = g_strdup_printf ("%u", listener->udp_port);
  g_autoptr(GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  guint n_without = 0;

  ck_assert_msg (self != NULL, "/proc/self/exe: %s", error != NULL ? error->message : "");
  for (guint started = 0; started < FRESH_PROCESSES; started += FRESH_AT_ONCE)
    {
      GSubprocess *children[FRESH_AT_ONCE];

      for (guint i = 0; i < FRESH_AT_ONCE; i++)
        {
          children[i] = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, self, "--fresh",
                                          endpoint, udp_port, NULL);
          ck_assert_msg (children[i] != NULL, "spawn: %s", error != NULL ? error->message : "");
        }
      for (guint i = 0; i < FRESH_AT_ONCE; i++)
        {
          g_autoptr(GSubprocess) child = children[i];

          ck_assert (g_subprocess_wait (child, NULL, NULL));
          ck_assert_msg (g_subprocess_get_if_exited (child)
                         && g_subprocess_get_exit_status (child) <= 1,
                         "a child ended otherwise: wait status 0x%x",
                         (guint) g_subprocess_get_status (child));
          n_without += g_subprocess_get_exit_status (child) == 1;
        }
    }
  ck_assert_msg (n_without == 0, "%u of %u processes had no strategy within %g s",
                 n_without, FRESH_PROCESSES, FRESH_WAIT_S);
}
END_TEST

static Suite *
remote_sampler_suite (void)
{
  Suite *suite = suite_create ("remote-sampler");
  TCase *tc;

  tc = tcase_create ("receiver");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_strategy_follows_the_file);
  tcase_add_test (tc, test_per_operation_by_label);
  tcase_add_test (tc, test_endpoint_down_keeps_initial);
  tcase_add_test (tc, test_fork_keeps_strategy);
  tcase_add_test (tc, test_fresh_processes_get_their_strategy);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("misbehaving");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_last_good_strategy_kept);
  tcase_add_test (tc, test_retired_strategies_freed_under_load);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 4 && g_str_equal (argv[1], "--fresh"))
    return run_fresh_process (argv[2], argv[3]);

  test_unset_tracing_environment ();
  return test_run_suite_tap (remote_sampler_suite ());
}
