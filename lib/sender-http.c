/* sender-http.c: binary Batches POSTed to a Jaeger collector
 *
 * SPDX-License-Identifier: MIT
 *
 * See sender-private.h for the interface. What Jaeger's own clients send
 * when JAEGER_ENDPOINT is set: `POST <endpoint>`, `Content-Type:
 * application/x-thrift`, the body a Thrift binary `Batch` with no message
 * envelope. Spans come out of the queue compact-encoded (by the thread
 * that finished them); each is transcoded (transcode-private.h) straight
 * onto the end of the body being packed, so a span is copied twice in the
 * flush thread: once rewritten, once into the request.
 *
 * Flow control is the flush thread's own pace: it posts one request at a
 * time and waits for each, so a slow collector slows the flush thread, the
 * queue absorbs what comes meanwhile, and what does not fit is dropped and
 * counted by the producers, who never wait for the network unless they
 * asked to. A request that fails (no connection, a time-out, 408, 429,
 * 5xx) is tried again after a back-off that doubles (or the wait a 429 or
 * 503 asks for in Retry-After, when it is no longer than the back-off's
 * cap), MAX_ATTEMPTS times in all, then its spans count as failed with the
 * reason remembered for flush() and close(). Other answers (4xx, 3xx) are
 * final at once.
 *
 * Bounds. A request has REQUEST_TIMEOUT_S in all, from connecting to the
 * answer's last byte: libsoup's own time-out bounds each read, so a
 * collector that drips a byte now and then would otherwise hold a request,
 * flush() and every fork() for as long as it liked. close()'s deadline
 * cancels the context's cancellable, which cuts the request in progress
 * and any back-off at once. A cut request whose callbacks have not ended
 * it CUT_GRACE_US later is abandoned with its session (abandon()): a step
 * that cannot be cut, on worker threads a forked child lacks, would hold
 * the flush thread for ever.
 *
 * TLS: an https endpoint's certificate is checked against the tls-ca-file
 * setting's certificates, else the system's; one refused fails its batch at
 * once (it would be refused again), with GIO's reasons in words.
 *
 * How a request waits. libsoup 3's asynchronous API, on a GMainContext of
 * the sender's own that the flush thread iterates by hand until the
 * request is done (iterate()). The thread's wait is a poll() on the
 * context's descriptors and close()'s cancellable, until the request's
 * deadline at most, so both deadlines cut the request while it waits, which
 * a blocking call would not let them do; and that poll() runs outside the
 * flush thread's region of the process (see process-private.h), so fork()
 * waits for GLib's work in progress (libsoup's callbacks emit signals and
 * make objects, which take GLib's global locks), never for the network.
 * The back-off waits outside the region too.
 */

#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "debug-private.h"
#include "process-private.h"
#include "sender-private.h"
#include "transcode-private.h"

/* Tries of one request in all, and the back-off before the second; it
 * doubles, up to MAX_BACKOFF_US. 4 tries wait 0.7 s between them: a
 * collector restarting is waited for, one that is down costs each batch
 * under a second of the flush thread's time. */
#define MAX_ATTEMPTS       4
#define FIRST_BACKOFF_US   (G_USEC_PER_SEC / 10)
#define MAX_BACKOFF_US     (2 * G_USEC_PER_SEC)
/* A request's whole time, from connecting to reading the answer's last
 * byte: what jaeger-client-go's HTTP sender allows one. */
#define REQUEST_TIMEOUT_S  5
/* Once a request is cut (its deadline or close()'s), the most its
 * callbacks are waited for. A cut request ends at once (GIO's tasks and
 * libsoup's steps all take the cancellable), unless the step it waits for
 * is a task on GLib's worker threads that never starts: in a child made
 * by fork() while the parent's worker threads were alive, GLib's pool
 * counts threads the child does not have, and glib-networking's TLS
 * handshake, a task there that cannot be cut, never runs. Past this the
 * request is abandoned (see abandon()), so flush() and close() keep their
 * bounds. Long enough for a loaded machine to run callbacks that are due. */
#define CUT_GRACE_US       (G_USEC_PER_SEC / 2)
/* An idle connection is kept this long for the next batch. */
#define IDLE_TIMEOUT_S     30
/* The most of an answer's body kept: collectors answer 202 with none; the
 * rest of a longer one is skipped when the answer is closed, within the
 * request's deadline. */
#define MAX_ANSWER_BYTES   4096

/* libsoup 3.2 has no name for it. */
#define STATUS_TOO_MANY_REQUESTS 429

/* Poll records to start with: a connection, the context's own wake-up and
 * close()'s cancellable need three. */
#define N_FDS_AT_FIRST 8


#define CONTENT_TYPE "application/x-thrift"
#define USER_AGENT   "gluetool-action/" GLUETOOL_VERSION_S

typedef struct {
  GluetoolSender  parent;

  /* Settings, never written after creation: a forked child copies them. */
  char           *service_name;
  char           *endpoint;
  char           *client_uuid;
  char           *authorization;    /* (owned) (nullable) the header's value: never printed */
  char           *tls_ca_file;      /* (owned) (nullable) certificates trusted; NULL: the system's */
  gsize           max_batch_size;
  GPtrArray      *tags;             /* (owned) (nullable) the tracer's, for the Process */

  /* The flush thread's: made by prepare(), dropped by stop(). */
  GMainContext   *context;          /* (owned) (nullable) thread-default around each use */
  SoupSession    *session;          /* (owned) (nullable) */
  GUri           *uri;              /* (owned) (nullable) */
  GPollFD        *fds;              /* (owned) what the context's poll waits on */
  gint            n_fds_allocated;

  /* The batch being packed: head (Process, list header), then the spans,
   * binary; the tail is added when it is sent. */
  GluetoolBuffer  body;
  gsize           head_len;         /* 0 until the head is written */
  gsize           count_at;         /* where the head keeps the span count */
  guint           n_spans;
  GluetoolClientStats stats;        /* as they were at the batch's first span */
  gint64          next_seq_no;      /* Batch.seqNo of the next batch sent: 1, 2, ... */

  /* The collector's address once a batch was posted, for a child process
   * made by fork() to start from (see make_session()). */
  GluetoolPeerAddress published_collector;
  /* In such a child: where the parent last posted, until a request there
   * gets no answer. (owned) (nullable) */
  GSocketAddress *inherited_collector;
} HttpSender;

static inline HttpSender *
http (GluetoolSender *sender)
{
  return (HttpSender *) sender;
}

static void
remember_loss (HttpSender   *self,
               const GError *error)
{
  self->parent.owner_funcs->remember_loss (self->parent.owner, error);
}

/* ---- The session -------------------------------------------------------------- */

/* The process's struct, transcoded, as the head of every batch. */
static gboolean
write_head (HttpSender *self,
            GError    **error)
{
  GluetoolBuffer compact;
  GluetoolBuffer binary;
  gboolean ok;

  gluetool_buffer_init (&compact, NULL, 0);
  gluetool_buffer_init (&binary, NULL, 0);
  gluetool_sender_encode_process (&compact, self->service_name, self->client_uuid,
                                  self->tags, NULL);
  ok = gluetool_transcode_struct (compact.data, compact.len, &binary, error);
  if (ok)
    {
      self->body.len = 0;
      self->count_at = gluetool_binary_batch_head (&self->body, binary.data, binary.len);
      self->head_len = self->body.len;
    }
  gluetool_buffer_clear (&compact);
  gluetool_buffer_clear (&binary);
  return ok;
}

/* The certificates of the tls-ca-file setting, made in the flush thread
 * as the session is: config.c loaded them once already, so a failure here
 * is a file changed or gone since. */
static GTlsDatabase *
load_tls_database (HttpSender *self,
                   GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  GTlsDatabase *database = g_tls_file_database_new (self->tls_ca_file, &local_error);

  if (database == NULL)
    g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_MISC,
                 "Cannot post spans to %s: the certificates of the tls-ca-file %s cannot be "
                 "used: %s", self->endpoint, self->tls_ca_file, local_error->message);
  return database;
}

static gboolean
make_session (HttpSender *self,
              GError    **error)
{
  g_autoptr(GTlsDatabase) database = NULL;

  if (self->tls_ca_file != NULL && (database = load_tls_database (self, error)) == NULL)
    return FALSE;

  g_main_context_push_thread_default (self->context);
  /* No I/O time-out of libsoup's: the request's deadline bounds it all. A
   * child made by fork() connects where its parent last posted: looking
   * the name up would wait for GLib's resolver threads, which did not come
   * along, until close() gave up on every span. Not for https, whose
   * certificate is checked against the connectable: an address would not
   * match a certificate for the name. */
  self->session = soup_session_new_with_options ("idle-timeout", IDLE_TIMEOUT_S,
                                                 "user-agent", USER_AGENT,
                                                 "remote-connectable", self->inherited_collector,
                                                 NULL);
  /* No proxy: the system's proxy resolver (libproxy) answers from GLib's
   * worker threads, which a child made by fork() does not have, so a
   * child's first request would wait for ever. Spans go straight to the
   * collector. */
  soup_session_set_proxy_resolver (self->session, NULL);
  /* In place of the system's: a private authority's, say. */
  if (database != NULL)
    soup_session_set_tls_database (self->session, database);
  g_main_context_pop_thread_default (self->context);
  return TRUE;
}

static gboolean
http_prepare (GluetoolSender *sender,
              GError        **error)
{
  HttpSender *self = http (sender);

  if (self->session != NULL)
    return TRUE;

  /* Parsed and checked by config.c already. */
  g_clear_pointer (&self->uri, g_uri_unref);
  self->uri = g_uri_parse (self->endpoint, SOUP_HTTP_URI_FLAGS, error);
  if (self->uri == NULL || (self->head_len == 0 && !write_head (self, error)))
    return FALSE;

  /* A libsoup 3 session belongs to the thread-default context it was made
   * in: this thread's own, never the program's main context. */
  if (self->context == NULL)
    {
      self->context = g_main_context_new ();
      self->n_fds_allocated = N_FDS_AT_FIRST;
      self->fds = g_new (GPollFD, self->n_fds_allocated);
    }
  if (!make_session (self, error))
    return FALSE;
  GLUETOOL_DEBUG ("Posting spans to %s", self->endpoint);
  return TRUE;
}

static void
drop_session (HttpSender *self)
{
  if (self->session == NULL)
    return;
  g_main_context_push_thread_default (self->context);
  g_clear_object (&self->session);
  g_main_context_pop_thread_default (self->context);
}

/* ---- One request ---------------------------------------------------------------- */

typedef enum {
  POSTED,
  TRY_AGAIN,   /* no connection, a time-out, 408, 429, 5xx */
  GIVE_UP,     /* any other answer, a certificate refused, abandoned, or cancelled */
} Outcome;

/* A request in progress: its steps (send, read the answer, close) are
 * callbacks in the sender's context, which post_once() iterates until
 * @done. post_once() frees it, unless it abandoned it: then the callback
 * that would have ended it frees it, if it ever runs (request_end()). */
typedef struct {
  SoupMessage  *message;      /* (owned) */
  GCancellable *cancellable;  /* (owned) cancelled at the deadline or close()'s */
  gint64        deadline_us;  /* monotonic */
  gint64        cut_us;       /* monotonic: when it was cut; 0 until then */
  GPollFD       closing;      /* close()'s cancellable, readable once cancelled */
  gboolean      has_closing;
  GInputStream *stream;       /* (owned) (nullable) the answer's body, once it came */
  GError       *error;        /* (owned) (nullable) why no answer came */
  GTlsCertificateFlags tls_errors; /* why the collector's certificate was refused, if it was */
  gboolean      timed_out;    /* the deadline cut it */
  gboolean      done;
  gboolean      abandoned;    /* post_once() returned without it */
  SoupSession  *session;      /* (owned) (nullable) once abandoned: the session it was
                               * sent on, which its pending step may still use */
  /* What there is of the answer's body is read to its end (kept up to
   * this, skipped beyond) so the connection can carry the next batch. */
  guint8        sink[MAX_ANSWER_BYTES];
} Request;

static void
request_free (Request *request)
{
  if (request->message != NULL)
    g_signal_handlers_disconnect_by_data (request->message, request);
  g_clear_object (&request->stream);
  g_clear_object (&request->message);
  g_clear_object (&request->cancellable);
  g_clear_error (&request->error);
  g_clear_object (&request->session);
  g_free (request);
}

/* The request's last step is done: post_once() sees it, or, if it gave up
 * waiting, nobody will, and the request goes. */
static void
request_end (Request *request)
{
  if (request->abandoned)
    request_free (request);
  else
    request->done = TRUE;
}

/* Cuts @request at close()'s deadline or its own, from this thread, so
 * that every step of it, its end included, runs in the flush thread.
 * (Not through sources of the context: GLib 2.74's GCancellableSource can
 * leak when its cancellable is cancelled from another thread while the
 * source goes.) */
static void
cut_if_due (HttpSender *self,
            Request    *request)
{
  if (request->done || g_cancellable_is_cancelled (request->cancellable))
    return;
  if (g_cancellable_is_cancelled (self->parent.cancellable))
    {
      request->cut_us = g_get_monotonic_time ();
      g_cancellable_cancel (request->cancellable);
    }
  else if (g_get_monotonic_time () >= request->deadline_us)
    {
      request->cut_us = g_get_monotonic_time ();
      request->timed_out = TRUE;
      g_cancellable_cancel (request->cancellable);
    }
}

/* One iteration of the sender's context for @request, as
 * g_main_context_iteration() runs one, but for the wait: the poll() also
 * wakes at the request's deadline and at close()'s, and it runs outside
 * the flush thread's region of the process, so a fork() meanwhile need not
 * wait for the network; the rest (libsoup's callbacks, which emit signals
 * and make objects) runs inside. GLib holds none of its locks across the
 * poll: the context's own is released by query() and taken again by
 * check(). The caller has pushed the context as thread-default, which
 * acquires it. */
static void
iterate (HttpSender *self,
         Request    *request)
{
  gboolean cut = g_cancellable_is_cancelled (request->cancellable);
  gint max_priority = 0;
  gint timeout_ms = -1;
  gint n_fds;

  g_main_context_prepare (self->context, &max_priority);
  /* One record more than the context's: close()'s cancellable. */
  while ((n_fds = g_main_context_query (self->context, max_priority, &timeout_ms, self->fds,
                                        self->n_fds_allocated - 1)) > self->n_fds_allocated - 1)
    {
      self->n_fds_allocated = n_fds + 1;
      self->fds = g_renew (GPollFD, self->fds, self->n_fds_allocated);
    }
  /* Once cut, the request only has its callbacks to run, within the
   * grace. */
  {
    gint64 until_us = cut ? request->cut_us + CUT_GRACE_US : request->deadline_us;
    gint64 left_ms = (until_us - g_get_monotonic_time () + 999) / 1000;

    timeout_ms = timeout_ms < 0 ? (gint) MAX (left_ms, 0) : (gint) CLAMP (left_ms, 0, timeout_ms);
  }
  if (!cut && request->has_closing)
    self->fds[n_fds] = request->closing;

  /* A bare step out of the caller's region, as back_off() takes: the
   * flush thread is in one region only, its pass. */
  gluetool_process_leave ();
  g_poll (self->fds, (guint) (n_fds + (!cut && request->has_closing)), timeout_ms);
  gluetool_process_enter ();

  if (g_main_context_check (self->context, max_priority, self->fds, n_fds))
    g_main_context_dispatch (self->context);
  cut_if_due (self, request);
}

static void
on_answer_closed (GObject      *stream,
                  GAsyncResult *result,
                  gpointer      data)
{
  Request *request = data;

  g_input_stream_close_finish (G_INPUT_STREAM (stream), result, NULL);
  request_end (request);
}

static void
on_answer_read (GObject      *stream,
                GAsyncResult *result,
                gpointer      data)
{
  Request *request = data;
  gsize n_read = 0;

  /* A failure to read an answer whose status says it all is no failure. */
  g_input_stream_read_all_finish (G_INPUT_STREAM (stream), result, &n_read, NULL);
  if (request->abandoned)
    {
      request_free (request);
      return;
    }
  g_input_stream_close_async (G_INPUT_STREAM (stream), G_PRIORITY_DEFAULT, request->cancellable,
                              on_answer_closed, request);
}

static void
on_sent (GObject      *session,
         GAsyncResult *result,
         gpointer      data)
{
  Request *request = data;

  request->stream = soup_session_send_finish (SOUP_SESSION (session), result, &request->error);
  if (request->stream == NULL || request->abandoned)
    {
      request_end (request);
      return;
    }
  g_input_stream_read_all_async (request->stream, request->sink, sizeof request->sink,
                                 G_PRIORITY_DEFAULT, request->cancellable, on_answer_read,
                                 request);
}

/* A request is headers, then a body of up to a batch, written as they come:
 * with Nagle's algorithm the body's last segment waits for the ACK of the
 * ones before, which the collector's TCP delays (40 ms on Linux), once per
 * request. Measured with bench-delivery over loopback: 1M spans took 15 s,
 * both processes mostly idle. So the connection sends at once. */
static void
on_network_event (SoupMessage        *message,
                  GSocketClientEvent  event,
                  GIOStream          *connection,
                  gpointer            data)
{
  if (event == G_SOCKET_CLIENT_CONNECTED && G_IS_SOCKET_CONNECTION (connection))
    g_socket_set_option (g_socket_connection_get_socket (G_SOCKET_CONNECTION (connection)),
                         IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

/* The collector's certificate did not verify: the request fails with
 * G_TLS_ERROR_BAD_CERTIFICATE, and the reasons are kept for its error. */
static gboolean
on_accept_certificate (SoupMessage         *message,
                       GTlsCertificate     *certificate,
                       GTlsCertificateFlags errors,
                       gpointer             data)
{
  Request *request = data;

  request->tls_errors = errors;
  return FALSE;
}

/* Why a certificate was refused, in words, from GIO's reasons. */
static char *
describe_tls_errors (GTlsCertificateFlags errors,
                     const char          *host)
{
  static const struct {
    GTlsCertificateFlags flag;
    const char          *words;
  } reasons[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, "it is not signed by a certificate authority trusted here "
                                    "(tls-ca-file, GLUETOOL_TRACING_TLS_CA_FILE, names others)" },
    { G_TLS_CERTIFICATE_BAD_IDENTITY, NULL },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, "it is not valid yet" },
    { G_TLS_CERTIFICATE_EXPIRED, "it has expired" },
    { G_TLS_CERTIFICATE_REVOKED, "it was revoked" },
    { G_TLS_CERTIFICATE_INSECURE, "its algorithm is insecure" },
    { G_TLS_CERTIFICATE_GENERIC_ERROR, "it is not valid" },
  };
  GString *text = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (reasons); i++)
    {
      if ((errors & reasons[i].flag) == 0)
        continue;
      if (text->len > 0)
        g_string_append (text, "; ");
      if (reasons[i].flag == G_TLS_CERTIFICATE_BAD_IDENTITY)
        g_string_append_printf (text, "it is not a certificate for %s", host);
      else
        g_string_append (text, reasons[i].words);
    }
  if (text->len == 0)
    g_string_append (text, "it was refused");
  return g_string_free (text, FALSE);
}

/* The wait a 429 or 503 asks for before the next request, in its
 * Retry-After header as seconds; -1 without one, or with the header's
 * other form, a date, which is not read. */
static gint64
get_retry_after_us (SoupMessage *message)
{
  const char *value = soup_message_headers_get_one (soup_message_get_response_headers (message),
                                                    "Retry-After");
  guint64 seconds;

  if (value == NULL
      || !g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64 / G_USEC_PER_SEC, &seconds, NULL))
    return -1;
  return (gint64) seconds * G_USEC_PER_SEC;
}

/* What became of @request: its answer's status, or why none came. The
 * errors name the endpoint, never the credentials, which only the request's
 * Authorization header holds. */
static Outcome
judge (HttpSender *self,
       Request    *request,
       guint       n_spans,
       gint64     *retry_after_us,
       GError    **error)
{
  SoupMessage *message = request->message;
  const char *reason;
  guint status;

  if (request->abandoned)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "Cannot post a batch of %u spans to %s: the request did not end %d ms after "
                   "it was cut (in a process made by fork(), GLib's worker threads may never run "
                   "a TLS handshake or a lookup); the next batch goes on a new connection",
                   n_spans, self->endpoint, (int) (CUT_GRACE_US / 1000));
      return GIVE_UP;
    }
  /* A certificate that did not verify will not verify on the next try. */
  if (request->stream == NULL && g_error_matches (request->error, G_TLS_ERROR,
                                                  G_TLS_ERROR_BAD_CERTIFICATE))
    {
      g_autofree char *why = describe_tls_errors (request->tls_errors, g_uri_get_host (self->uri));

      g_set_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                   "Cannot post a batch of %u spans to %s: its TLS certificate was refused: %s",
                   n_spans, self->endpoint, why);
      return GIVE_UP;
    }
  if (request->stream == NULL)
    {
      /* close()'s deadline first: a request it cut is not tried again. */
      if (g_cancellable_is_cancelled (self->parent.cancellable))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&request->error),
                                      "Cannot post a batch of %u spans to %s: ", n_spans,
                                      self->endpoint);
          return GIVE_UP;
        }
      if (request->timed_out)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "Cannot post a batch of %u spans to %s: no answer within %d s", n_spans,
                     self->endpoint, REQUEST_TIMEOUT_S);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&request->error),
                                    "Cannot post a batch of %u spans to %s: ", n_spans,
                                    self->endpoint);
      return TRY_AGAIN;
    }

  status = soup_message_get_status (message);
  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    return POSTED;
  reason = soup_message_get_reason_phrase (message);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
               "%s answered %u %s to a batch of %u spans", self->endpoint, status,
               reason != NULL ? reason : "", n_spans);
  if (status == STATUS_TOO_MANY_REQUESTS || status == SOUP_STATUS_SERVICE_UNAVAILABLE)
    *retry_after_us = get_retry_after_us (message);
  return status == SOUP_STATUS_REQUEST_TIMEOUT || status == STATUS_TOO_MANY_REQUESTS
         || status >= 500 ? TRY_AGAIN : GIVE_UP;
}

/* Leaves @request to its callbacks, which may never run, and the session
 * with it: the step under way holds them both, and freeing the session
 * would take GLib's locks and free what that step still uses. The session
 * is kept by the request (and freed with it if its callbacks run; leaked
 * if not); the next batch gets a new one. */
static void
abandon (HttpSender *self,
         Request    *request)
{
  g_autoptr(GError) error = NULL;

  request->abandoned = TRUE;
  request->session = g_steal_pointer (&self->session);
  if (!make_session (self, &error))
    GLUETOOL_DEBUG ("%s", error->message);
}

/* No answer from where the parent process last posted: the collector may
 * have moved, and the next try looks its name up, on a new session. */
static void
forget_inherited_collector (HttpSender *self)
{
  g_clear_object (&self->inherited_collector);
  drop_session (self);
}

/* Posts @body once, waiting for the answer until REQUEST_TIMEOUT_S or
 * close()'s deadline; @retry_after_us: what the answer asked to wait before
 * the next try, or -1. */
static Outcome
post_once (HttpSender *self,
           GBytes     *body,
           guint       n_spans,
           gint64     *retry_after_us,
           GError    **error)
{
  Request *request = g_new0 (Request, 1);
  Outcome outcome;

  /* A session abandoned with its request, and none made since (see
   * abandon()). */
  if (self->session == NULL && !make_session (self, error))
    {
      request_free (request);
      return GIVE_UP;
    }
  request->message = soup_message_new_from_uri (SOUP_METHOD_POST, self->uri);
  request->cancellable = g_cancellable_new ();
  request->deadline_us = g_get_monotonic_time () + REQUEST_TIMEOUT_S * G_USEC_PER_SEC;
  request->has_closing = g_cancellable_make_pollfd (self->parent.cancellable, &request->closing);
  /* A redirection would carry the credentials elsewhere, and a POST
   * redirected is a GET: an answer like any other. */
  soup_message_add_flags (request->message, SOUP_MESSAGE_NO_REDIRECT);
  g_signal_connect (request->message, "network-event", G_CALLBACK (on_network_event), NULL);
  g_signal_connect (request->message, "accept-certificate", G_CALLBACK (on_accept_certificate),
                    request);
  if (self->authorization != NULL)
    soup_message_headers_replace (soup_message_get_request_headers (request->message),
                                  "Authorization", self->authorization);
  soup_message_set_request_body_from_bytes (request->message, CONTENT_TYPE, body);

  g_main_context_push_thread_default (self->context);
  soup_session_send_async (self->session, request->message, G_PRIORITY_DEFAULT,
                           request->cancellable, on_sent, request);
  while (!request->done)
    {
      iterate (self, request);
      if (!request->done && request->cut_us != 0
          && g_get_monotonic_time () >= request->cut_us + CUT_GRACE_US)
        {
          abandon (self, request);
          break;
        }
    }
  g_main_context_pop_thread_default (self->context);

  if (request->has_closing)
    g_cancellable_release_fd (self->parent.cancellable);
  outcome = judge (self, request, n_spans, retry_after_us, error);
  if (outcome == POSTED)
    gluetool_peer_address_publish (&self->published_collector,
                                   soup_message_get_remote_address (request->message));
  else if (request->stream == NULL && self->inherited_collector != NULL)
    forget_inherited_collector (self);
  if (!request->abandoned)
    request_free (request);
  return outcome;
}

/* Waits @us, or until close()'s deadline cancels; FALSE then. Outside the
 * flush thread's region of the process: nothing is held, so fork() need
 * not wait. */
static gboolean
back_off (HttpSender *self,
          gint64      us)
{
  GCancellable *cancellable = self->parent.cancellable;
  GPollFD poll_fd;
  gboolean has_fd;

  gluetool_process_leave ();
  has_fd = g_cancellable_make_pollfd (cancellable, &poll_fd);
  if (has_fd)
    {
      g_poll (&poll_fd, 1, (gint) (us / 1000));
      g_cancellable_release_fd (cancellable);
    }
  else
    g_usleep ((gulong) us);
  gluetool_process_enter ();
  return !g_cancellable_is_cancelled (cancellable);
}

/* Posts @body, trying again after failures that may pass: after the
 * back-off, or after what a 429 or 503 asked for when that is no longer
 * than the back-off can grow (a longer wait would hold every batch behind
 * this one; the back-off's own is used then). */
static gboolean
post (HttpSender *self,
      GBytes     *body,
      guint       n_spans,
      GError    **error)
{
  gint64 backoff_us = FIRST_BACKOFF_US;

  for (guint attempt = 1;; attempt++)
    {
      g_autoptr(GError) local_error = NULL;
      gint64 retry_after_us = -1;
      Outcome outcome = post_once (self, body, n_spans, &retry_after_us, &local_error);
      gint64 wait_us = retry_after_us >= 0 && retry_after_us <= MAX_BACKOFF_US
                       ? retry_after_us : backoff_us;

      if (outcome == POSTED)
        return TRUE;
      if (outcome == GIVE_UP || attempt == MAX_ATTEMPTS || !back_off (self, wait_us))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      GLUETOOL_DEBUG ("Trying again in %" G_GINT64_FORMAT " ms: %s", wait_us / 1000,
                      local_error->message);
      backoff_us = MIN (backoff_us * 2, MAX_BACKOFF_US);
    }
}

/* ---- Packing and sending ----------------------------------------------------------- */

/* Sends the first @len bytes of the body (the head and n_spans spans) with
 * the tail, and counts the spans' fate. */
static void
send_packed (HttpSender *self,
             gsize       len)
{
  GluetoolSendCounts *counts = self->parent.counts;
  guint8 tail_storage[GLUETOOL_BINARY_BATCH_TAIL_SIZE];
  GluetoolBuffer tail;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  guint8 *copy;
  guint n_spans = self->n_spans;

  gluetool_binary_batch_set_count (&self->body, self->count_at, n_spans);
  gluetool_buffer_init (&tail, tail_storage, sizeof tail_storage);
  gluetool_binary_batch_tail (&tail, self->next_seq_no, &self->stats);
  /* The request owns its body: libsoup may hold it past the call. */
  copy = g_malloc (len + tail.len);
  memcpy (copy, self->body.data, len);
  memcpy (copy + len, tail.data, tail.len);
  body = g_bytes_new_take (copy, len + tail.len);
  gluetool_buffer_clear (&tail);

  if (post (self, body, n_spans, &error))
    {
      gluetool_send_count (&counts->spans_sent, n_spans);
      gluetool_send_count (&counts->batches_sent, 1);
      self->next_seq_no++;
    }
  else
    {
      gluetool_send_count (&counts->failed_to_send, n_spans);
      GLUETOOL_DEBUG ("%s", error->message);
      remember_loss (self, error);
    }
  self->n_spans = 0;
}

static void
start_batch (HttpSender *self)
{
  /* A batch carries the statistics as they were when it began. */
  self->parent.owner_funcs->get_client_stats (self->parent.owner, &self->stats);
}

static gboolean
fits (HttpSender *self,
      gsize       len)
{
  return len + GLUETOOL_BINARY_BATCH_TAIL_SIZE <= self->max_batch_size;
}

static void
http_send (GluetoolSender *sender)
{
  HttpSender *self = http (sender);

  if (self->n_spans == 0)
    return;
  send_packed (self, self->body.len);
  self->body.len = self->head_len;
}

/* Transcodes the span onto the end of the body; when the body is then too
 * large, sends what was there before and moves the span to the front of
 * the next batch. Whether the session is still there after. */
static gboolean
http_add_span (GluetoolSender *sender,
               const guint8   *span,
               gsize           len)
{
  HttpSender *self = http (sender);
  g_autoptr(GError) error = NULL;
  gsize before = self->body.len;
  gsize span_len;

  if (self->n_spans == 0)
    start_batch (self);
  if (!gluetool_transcode_struct (span, len, &self->body, &error))
    {
      /* The library encoded it: a bug, not bad input. */
      g_critical ("A queued span is not a compact struct: %s", error->message);
      gluetool_send_count (&self->parent.counts->failed_to_send, 1);
      return self->session != NULL;
    }
  span_len = self->body.len - before;

  if (!fits (self, self->body.len) && self->n_spans > 0)
    {
      send_packed (self, before);
      memmove (self->body.data + self->head_len, self->body.data + before, span_len);
      self->body.len = self->head_len + span_len;
      start_batch (self);
    }
  if (!fits (self, self->body.len))
    {
      gluetool_send_count (&self->parent.counts->dropped_too_large, 1);
      self->body.len = self->head_len;
      return self->session != NULL;
    }
  self->n_spans++;
  return self->session != NULL;
}

static void
http_settle (GluetoolSender *sender)
{
  /* A request's fate is known when it returns. */
}

static guint
http_n_unsettled (GluetoolSender *sender)
{
  return http (sender)->n_spans;
}

static void
http_abandon (GluetoolSender *sender)
{
  HttpSender *self = http (sender);

  gluetool_send_count (&self->parent.counts->failed_to_send, self->n_spans);
  self->n_spans = 0;
  self->body.len = self->head_len;
}

static void
http_stop (GluetoolSender *sender)
{
  drop_session (http (sender));
}

static void
http_free (GluetoolSender *sender)
{
  HttpSender *self = http (sender);

  /* stop() let the session go in the flush thread, if it ever ran. */
  drop_session (self);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->uri, g_uri_unref);
  g_clear_pointer (&self->fds, g_free);
  gluetool_buffer_clear (&self->body);
  g_free (self->service_name);
  g_free (self->endpoint);
  g_free (self->client_uuid);
  g_free (self->authorization);
  g_free (self->tls_ca_file);
  g_clear_pointer (&self->tags, g_ptr_array_unref);
  g_clear_object (&self->inherited_collector);
  g_free (self);
}

static GluetoolSender *http_new_for_child (GluetoolSender              *inherited,
                                           const char                  *client_uuid,
                                           const GluetoolSenderContext *context);

/* The parent's session stays as it was, deliberately leaked: unreferencing
 * it would free GObjects (and take GLib's locks) that a thread the fork
 * left behind may hold. Its connections' sockets were opened close-on-exec
 * by GIO; the parent's flush thread goes on using them, and this process
 * never will. */
static void
http_forget_inherited (GluetoolSender *inherited)
{
}

static const GluetoolSenderVTable http_vtable = {
  .prepare = http_prepare,
  .add_span = http_add_span,
  .send = http_send,
  .settle = http_settle,
  .n_unsettled = http_n_unsettled,
  .abandon = http_abandon,
  .stop = http_stop,
  .free = http_free,
  .new_for_child = http_new_for_child,
  .forget_inherited = http_forget_inherited,
};

static GluetoolSender *
http_sender_new (const char                  *service_name,
                 const char                  *endpoint,
                 gsize                        max_batch_size,
                 const char                  *authorization,
                 const char                  *tls_ca_file,
                 const char                  *client_uuid,
                 GPtrArray                   *tags,
                 GSocketAddress              *inherited_collector,
                 const GluetoolSenderContext *context)
{
  HttpSender *self = g_new0 (HttpSender, 1);

  gluetool_sender_init (&self->parent, &http_vtable, context);
  self->service_name = g_strdup (service_name);
  self->endpoint = g_strdup (endpoint);
  self->max_batch_size = max_batch_size;
  self->authorization = g_strdup (authorization);
  self->tls_ca_file = g_strdup (tls_ca_file);
  self->client_uuid = g_strdup (client_uuid);
  self->tags = tags != NULL ? g_ptr_array_ref (tags) : NULL;
  self->next_seq_no = 1;
  self->inherited_collector = inherited_collector != NULL ? g_object_ref (inherited_collector)
                                                          : NULL;
  atomic_init (&self->published_collector.version, 0);
  gluetool_buffer_init (&self->body, NULL, 0);
  return &self->parent;
}

GluetoolSender *
gluetool_http_sender_new (const GluetoolHttpSenderSettings *settings,
                          const GluetoolSenderContext      *context)
{
  g_autofree char *authorization = NULL;

  if (settings->auth_token != NULL)
    authorization = g_strconcat ("Bearer ", settings->auth_token, NULL);
  else if (settings->user != NULL)
    {
      g_autofree char *pair = g_strconcat (settings->user, ":",
                                           settings->password != NULL ? settings->password : "",
                                           NULL);
      g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));

      authorization = g_strconcat ("Basic ", encoded, NULL);
      /* Not left in freed memory longer than needed. */
      memset (pair, 0, strlen (pair));
    }
  return http_sender_new (settings->service_name, settings->endpoint, settings->max_batch_size,
                          authorization, settings->tls_ca_file, settings->client_uuid,
                          settings->tags, NULL, context);
}

/* Settings are never written after creation, so the copies in the
 * inherited memory are whole, whatever its threads were doing. The new
 * sender makes its session in the child's flush thread, starting from the
 * collector's address when the parent had posted to it over plain HTTP
 * (see make_session()). */
static GluetoolSender *
http_new_for_child (GluetoolSender              *inherited,
                    const char                  *client_uuid,
                    const GluetoolSenderContext *context)
{
  HttpSender *parent = http (inherited);
  g_autoptr(GSocketAddress) collector = NULL;

  /* Compared by hand: g_uri_peek_scheme() interns the scheme, under a lock
   * of GLib's a thread fork() did not copy may hold. */
  if (g_ascii_strncasecmp (parent->endpoint, "http:", 5) == 0)
    collector = gluetool_peer_address_dup (&parent->published_collector);
  return http_sender_new (parent->service_name, parent->endpoint, parent->max_batch_size,
                          parent->authorization, parent->tls_ca_file, client_uuid, parent->tags,
                          collector, context);
}
