/* listener.c: the real `gluetool-trace listen`, run as a separate process
 *
 * SPDX-License-Identifier: MIT
 */

#include "listener.h"

#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

/* How often the kernel's receive queue is looked at while it drains. */
#define DRAIN_POLL_US 10000

struct _BenchListener {
  GSubprocess      *process;
  GDataInputStream *err;
  GString          *err_text;   /* every line of stderr read so far */
  guint16           port;
  guint16           http_port;
};

void
bench_listener_free (BenchListener *self)
{
  if (self->process != NULL && g_subprocess_get_identifier (self->process) != NULL)
    g_subprocess_force_exit (self->process);
  g_clear_object (&self->err);
  g_clear_object (&self->process);
  g_string_free (self->err_text, TRUE);
  g_free (self);
}

/* One line of the receiver's stderr, kept in err_text; NULL at its end. */
static char *
read_err_line (BenchListener  *self,
               GError        **error)
{
  char *line = g_data_input_stream_read_line_utf8 (self->err, NULL, NULL, error);

  if (line != NULL)
    g_string_append_printf (self->err_text, "%s\n", line);
  return line;
}

BenchListener *
bench_listener_start (GError **error)
{
  g_autoptr(BenchListener) self = g_new0 (BenchListener, 1);
  const char *program = g_getenv ("GLUETOOL_TRACE_PROGRAM");
  const char *argv[] = { program, "listen", "--quiet", "--summary", "--port", "0",
                         "--http-port", "0", NULL };

  self->err_text = g_string_new (NULL);
  if (program == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "GLUETOOL_TRACE_PROGRAM is not set (meson sets it)");
      return NULL;
    }

  self->process = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                             | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
  if (self->process == NULL)
    return NULL;
  self->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (self->process));

  for (;;)
    {
      g_autofree char *line = read_err_line (self, error);
      const char *colon;

      if (line == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "the receiver ended before it listened: %s", self->err_text->str);
          return NULL;
        }
      /* "gluetool-trace: listening on UDP 127.0.0.1:PORT": the line ends
       * with the port. The HTTP one comes before it. */
      if (strstr (line, "listening on HTTP ") != NULL && (colon = strrchr (line, ':')) != NULL)
        self->http_port = (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
      if (strstr (line, "listening on UDP ") == NULL)
        continue;
      colon = strrchr (line, ':');
      if (colon != NULL)
        self->port = (guint16) g_ascii_strtoull (colon + 1, NULL, 10);
      if (self->port == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no port in \"%s\"", line);
          return NULL;
        }
      return g_steal_pointer (&self);
    }
}

guint16
bench_listener_get_port (BenchListener *self)
{
  return self->port;
}

guint16
bench_listener_get_http_port (BenchListener *self)
{
  return self->http_port;
}

/* The kernel's view of the unbound-remote UDP socket on 127.0.0.1:@port:
 * the bytes waiting in its receive queue and the datagrams it dropped
 * because that queue was full. FALSE when there is no such socket. */
static gboolean
read_socket_queue (guint16  port,
                   guint64 *rx_queue,
                   guint64 *drops)
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
      unsigned long long dropped;

      /* sl: local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
       * inode ref pointer drops; the heading line matches nothing. */
      if (sscanf (lines[i], " %*u: %X:%X %X:%X %X %lX:%lX %*X:%*X %*X %*u %*u %*u %*u %*s %llu",
                  &local_addr, &local_port, &remote_addr, &remote_port, &state,
                  &tx, &rx, &dropped) != 8)
        continue;
      if (local_port != port || remote_port != 0)
        continue;
      *rx_queue = rx;
      *drops = dropped;
      return TRUE;
    }
  return FALSE;
}

/* Polls until the receive queue was empty at two looks in a row (the
 * receiver reads nothing between a look that finds it empty and one that
 * finds it refilled unless a client still sends), or @timeout_s. Reads the
 * socket's drop count on the way: after the signal the socket is gone. */
static gboolean
wait_drained (BenchListener       *self,
              double               timeout_s,
              BenchListenerCounts *counts)
{
  gint64 deadline_us = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  guint empty_looks = 0;

  for (;;)
    {
      guint64 rx_queue, drops;

      if (!read_socket_queue (self->port, &rx_queue, &drops))
        return FALSE;
      counts->have_socket_drops = TRUE;
      counts->socket_drops = drops;
      empty_looks = rx_queue == 0 ? empty_looks + 1 : 0;
      if (empty_looks == 2)
        return TRUE;
      if (g_get_monotonic_time () >= deadline_us)
        return FALSE;
      g_usleep (DRAIN_POLL_US);
    }
}

/* The first unsigned number after @from in @line, or FALSE. */
static gboolean
parse_number_after (const char *line,
                    const char *from,
                    guint64    *value)
{
  const char *p = strstr (line, from);

  if (p == NULL)
    return FALSE;
  p += strlen (from);
  while (*p != '\0' && !g_ascii_isdigit (*p))
    p++;
  if (*p == '\0')
    return FALSE;
  *value = g_ascii_strtoull (p, NULL, 10);
  return TRUE;
}

/* One line of the summary (tools/trace-store.c writes it). */
static void
parse_summary_line (const char          *line,
                    BenchListenerCounts *counts)
{
  guint64 value;
  unsigned long long full, too_large, failed;

  if (g_str_has_prefix (line, "  datagrams:"))
    parse_number_after (line, ":", &counts->datagrams);
  else if (g_str_has_prefix (line, "  spans:"))
    parse_number_after (line, ":", &counts->spans);
  else if (g_str_has_prefix (line, "  dropped by clients (ClientStats):"))
    {
      if (sscanf (line, "  dropped by clients (ClientStats): %llu queue full, %llu too large, "
                  "%llu failed to send", &full, &too_large, &failed) == 3)
        {
          counts->have_client_stats = TRUE;
          counts->client_dropped_full = full;
          counts->client_dropped_other = too_large + failed;
        }
    }
  else if (strstr (line, "kernel") != NULL
           && parse_number_after (line, ":", &value))
    {
      /* Whatever words the receiver uses, a summary line about the kernel
       * gives its drops as the first number after the colon. */
      counts->have_kernel_drops = TRUE;
      counts->kernel_drops = value;
    }
  else if (g_str_has_prefix (line, "    "))
    {
      /* A client: "NAME (client-uuid U): B batches, seqNo A to B, M
       * missing, dropped ...". */
      const char *missing = strstr (line, " missing");
      const char *start = missing;

      counts->n_clients++;
      /* The number right before " missing", when the client sent seqNo. */
      while (start != NULL && start > line && g_ascii_isdigit (start[-1]))
        start--;
      if (start != missing)
        counts->batches_missing += g_ascii_strtoull (start, NULL, 10);
    }
}

gboolean
bench_listener_stop (BenchListener        *self,
                     double                drain_timeout_s,
                     BenchListenerCounts  *counts,
                     GError              **error)
{
  gboolean in_summary = FALSE, saw_spans = FALSE;
  char *line;

  memset (counts, 0, sizeof *counts);
  counts->drained = wait_drained (self, drain_timeout_s, counts);

  /* As the tool suites stop it: the receiver prints its summary on SIGINT. */
  g_subprocess_send_signal (self->process, SIGINT);
  while ((line = read_err_line (self, error)) != NULL)
    {
      if (g_str_equal (line, "summary:"))
        in_summary = TRUE;
      else if (in_summary)
        {
          saw_spans = saw_spans || g_str_has_prefix (line, "  spans:");
          parse_summary_line (line, counts);
        }
      g_free (line);
    }
  if (error != NULL && *error != NULL)
    return FALSE;
  if (!g_subprocess_wait (self->process, NULL, error))
    return FALSE;
  counts->exit_status = g_subprocess_get_if_exited (self->process)
                          ? g_subprocess_get_exit_status (self->process) : -1;
  if (!saw_spans)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "no \"spans:\" line in the receiver's summary; it said:\n%s",
                   self->err_text->str);
      return FALSE;
    }
  return TRUE;
}
