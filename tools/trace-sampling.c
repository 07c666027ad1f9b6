/* trace-sampling.c: Jaeger's sampling endpoint, GET /sampling?service=NAME,
 * answered from a strategies file
 *
 * SPDX-License-Identifier: MIT
 *
 * The file is looked at again at each request, rather than watched: a
 * stat() costs little next to an HTTP request, works on any file system,
 * and means a client that rewrote the file gets the new strategy on its
 * very next request. A change of inode, size or modification time
 * (nanoseconds) makes it reread; a version that cannot be read or parsed
 * is reported once, and the last good strategies keep being served, as a
 * Jaeger collector does when a reload fails.
 */

#include "trace-sampling.h"

#include "trace-strategies.h"

#include <errno.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/stat.h>

/* What identifies one version of the file. */
typedef struct {
  gboolean exists;
  dev_t    device;
  ino_t    inode;
  off_t    size;
  gint64   mtime_ns;
} FileStamp;

struct _TraceSamplingServer {
  SoupServer           *server;
  TraceHttpServing     *serving;
  char                 *path;
  TraceStrategies      *strategies;   /* the last good ones */
  FileStamp             stamp;        /* of the version last read, good or bad */
  TraceHttpRefusedFunc  on_refused;
  gpointer              user_data;
};

static FileStamp
stamp_file (const char *path)
{
  FileStamp stamp = { FALSE, 0, 0, 0, 0 };
  struct stat st;

  if (stat (path, &st) != 0)
    return stamp;
  stamp.exists = TRUE;
  stamp.device = st.st_dev;
  stamp.inode = st.st_ino;
  stamp.size = st.st_size;
  stamp.mtime_ns = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
                   + st.st_mtim.tv_nsec;
  return stamp;
}

static gboolean
stamps_equal (const FileStamp *a,
              const FileStamp *b)
{
  return a->exists == b->exists && a->device == b->device && a->inode == b->inode
         && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

static TraceStrategies *
load (const char  *path,
      GError     **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local_error = NULL;
  TraceStrategies *strategies;

  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  strategies = trace_strategies_parse (text, len, &local_error);
  if (strategies == NULL)
    {
      g_set_error (error, local_error->domain, local_error->code, "%s: %s", path,
                   local_error->message);
      return NULL;
    }

  /* What Jaeger logs as warnings: once per version read. */
  for (guint i = 0; i < trace_strategies_get_warnings (strategies)->len; i++)
    g_printerr ("gluetool-trace: %s: %s\n", path,
                (const char *) g_ptr_array_index (trace_strategies_get_warnings (strategies), i));
  return strategies;
}

/* Rereads the file if it changed since it was last read. */
static void
refresh (TraceSamplingServer *self)
{
  g_autoptr(GError) error = NULL;
  FileStamp now = stamp_file (self->path);
  TraceStrategies *strategies;

  if (stamps_equal (&now, &self->stamp))
    return;
  /* Whatever comes of it, this version is not read again. The file may
   * change between the stat() and the read: then the stamp is older than
   * what was read, and the next request reads it once more, harmlessly. */
  self->stamp = now;

  strategies = load (self->path, &error);
  if (strategies == NULL)
    {
      g_printerr ("gluetool-trace: cannot reread the sampling strategies: %s; the last good "
                  "ones are served until the file changes again\n", error->message);
      return;
    }
  trace_strategies_free (self->strategies);
  self->strategies = strategies;
  g_printerr ("gluetool-trace: sampling strategies reread from %s\n", self->path);
}

/* ---- Requests ------------------------------------------------------------------------- */

static void
refuse (TraceSamplingServer *self,
        SoupServerMessage   *msg,
        guint                status,
        const char          *why)
{
  g_autofree char *text = g_strconcat (why, "\n", NULL);
  GSocketAddress *address = soup_server_message_get_remote_address (msg);
  g_autofree char *peer = NULL;

  if (address != NULL && G_IS_INET_SOCKET_ADDRESS (address))
    {
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
      g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

      peer = g_strdup_printf (strchr (ip, ':') != NULL ? "[%s]:%u" : "%s:%u", ip,
                              g_inet_socket_address_get_port (inet));
    }
  if (status == SOUP_STATUS_METHOD_NOT_ALLOWED)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Allow", "GET");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
                                    text, strlen (text));
  self->on_refused (peer != NULL ? peer : "?", soup_server_message_get_method (msg),
                    g_uri_get_path (soup_server_message_get_uri (msg)), status, why,
                    FALSE, self->user_data);
}

/* Before any body: no request body is kept, and what is not GET /sampling
 * is refused at once. */
static void
early_handler (SoupServer        *server,
               SoupServerMessage *msg,
               const char        *path,
               GHashTable        *query,
               gpointer           user_data)
{
  TraceSamplingServer *self = user_data;

  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  if (g_strcmp0 (path, TRACE_SAMPLING_PATH) != 0)
    refuse (self, msg, SOUP_STATUS_NOT_FOUND,
            "not found: this server answers GET " TRACE_SAMPLING_PATH "?service=NAME");
  else if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    refuse (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
            "method not allowed: " TRACE_SAMPLING_PATH " takes GET");
}

/* The one "service" parameter of the query, or NULL when it is missing or
 * given more than once (as a Jaeger agent, which refuses both). */
static char *
service_of_query (const char *query)
{
  g_autofree char *service = NULL;
  GUriParamsIter iter;
  char *name;
  char *value;
  guint n = 0;

  if (query == NULL)
    return NULL;
  g_uri_params_iter_init (&iter, query, -1, "&", G_URI_PARAMS_WWW_FORM);
  while (g_uri_params_iter_next (&iter, &name, &value, NULL))
    {
      if (g_str_equal (name, "service") && n++ == 0)
        service = g_steal_pointer (&value);
      g_free (name);
      g_free (value);
    }
  return n == 1 ? g_steal_pointer (&service) : NULL;
}

static void
handler (SoupServer        *server,
         SoupServerMessage *msg,
         const char        *path,
         GHashTable        *query,
         gpointer           user_data)
{
  TraceSamplingServer *self = user_data;
  g_autofree char *service = service_of_query (g_uri_get_query (soup_server_message_get_uri (msg)));
  g_autofree char *answer = NULL;
  gsize len;

  if (service == NULL)
    {
      /* Jaeger's words. */
      refuse (self, msg, SOUP_STATUS_BAD_REQUEST, "'service' parameter must be provided once");
      return;
    }

  refresh (self);
  answer = trace_strategies_answer (self->strategies, service);
  len = strlen (answer);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_steal_pointer (&answer), len);
}

/* ---- The server ---------------------------------------------------------------------- */

TraceSamplingServer *
trace_sampling_server_new (GSocket               *socket,
                           GTlsCertificate       *certificate,
                           const char            *path,
                           const TraceHttpLimits *limits,
                           TraceHttpRefusedFunc   on_refused,
                           gpointer               user_data,
                           GError               **error)
{
  g_autoptr(TraceSamplingServer) self = NULL;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (certificate == NULL || G_IS_TLS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (on_refused != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (TraceSamplingServer, 1);
  self->path = g_strdup (path);
  self->on_refused = on_refused;
  self->user_data = user_data;
  self->stamp = stamp_file (path);
  self->strategies = load (path, error);
  if (self->strategies == NULL)
    return NULL;

  self->server = soup_server_new ("server-header", "gluetool-trace ",
                                  "tls-certificate", certificate, NULL);
  soup_server_add_early_handler (self->server, NULL, early_handler, self, NULL);
  soup_server_add_handler (self->server, NULL, handler, self, NULL);
  self->serving = trace_http_serve (self->server, socket, limits, error);
  if (self->serving == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

void
trace_sampling_server_stop (TraceSamplingServer *self)
{
  g_return_if_fail (self != NULL);

  trace_http_stop_serving (self->serving);
}

void
trace_sampling_server_free (TraceSamplingServer *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->serving, trace_http_serving_free);
  g_clear_object (&self->server);
  g_clear_pointer (&self->strategies, trace_strategies_free);
  g_free (self->path);
  g_free (self);
}
