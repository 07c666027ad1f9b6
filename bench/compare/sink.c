/* sink.c: one measured run of one driver of the side-by-side comparison
 *
 * SPDX-License-Identifier: MIT
 *
 * Usage: compare-sink [--label NAME] [--timeout S] [--verbose] -- PROGRAM [ARGS...] N
 *        compare-sink --header
 *
 * Binds a UDP socket on 127.0.0.1 (a port the kernel picks), starts
 * PROGRAM ARGS... N 127.0.0.1 PORT as a child process, waits for it with
 * wait4() and prints one tab-separated line: the child's wall time, its CPU
 * (user and system, every thread it had: rusage), its peak RSS, and what
 * arrived: datagrams, bytes, spans decoded, distinct spans, which of the
 * workload's spans are missing, and what the kernel dropped.
 *
 * The sink must never be what loses spans. A thread receives while the
 * child runs, into a receive buffer of 256 MiB (forced past rmem_max when
 * the process may, as root); loopback delivery happens inside the sender's
 * sendto(), so once the child has exited everything it sent is queued, and
 * the thread drains the socket before it stops. Kernel drops are counted
 * three ways and printed: SO_RXQ_OVFL (the socket's drop counter, read with
 * every datagram), the socket's "drops" in /proc/net/udp at the end, and
 * the system-wide Udp RcvbufErrors of /proc/net/snmp before and after.
 *
 * Datagrams are decoded after the run, with the c_glib reference codec:
 * compact (first byte 0x82), or binary (node's jaeger-client writes the
 * binary protocol, which an agent reads on 6832).
 *
 * The child's standard output goes to standard error, so that standard
 * output holds only the result line.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "reference.h"
#include "reference-binary.h"

#define RECEIVE_BUFFER_BYTES (256 * 1024 * 1024)
#define MAX_DATAGRAM 65536

#define RESULT_HEADER \
  "label\tn\tstatus\twall_s\tuser_s\tsys_s\tmaxrss_kib\tdatagrams\tbytes\tbad\t" \
  "spans\tunique\tworkload_received\tmissing\tkernel_drops\tsnmp_rcvbuf_errors\t" \
  "client_reported_lost\twire\trcvbuf_bytes\tmax_datagram"

typedef struct {
  int        fd;
  GPtrArray *datagrams;     /* (element-type GBytes) the thread's until joined */
  guint32    ovfl_drops;    /* the last SO_RXQ_OVFL count seen; the thread's until joined */
  gint       child_done;    /* (atomic) set once the child has been reaped */
} Receiver;

typedef struct {
  guint64 rcvbuf_errors;
} UdpCounters;

/* ---- The receiving thread ------------------------------------------------- */

/* Reads every datagram queued now, without blocking. */
static void
receiver_drain (Receiver *self,
                guint8   *buffer)
{
  for (;;)
    {
      char control[CMSG_SPACE (sizeof (guint32))];
      struct iovec iov = { .iov_base = buffer, .iov_len = MAX_DATAGRAM };
      struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = control, .msg_controllen = sizeof control,
      };
      ssize_t n = recvmsg (self->fd, &msg, MSG_DONTWAIT);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK)
            g_printerr ("compare-sink: recvmsg: %s\n", g_strerror (errno));
          return;
        }
      if (msg.msg_flags & MSG_TRUNC)
        g_printerr ("compare-sink: a datagram was truncated\n");

      for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
          memcpy (&self->ovfl_drops, CMSG_DATA (c), sizeof self->ovfl_drops);

      g_ptr_array_add (self->datagrams, g_bytes_new (buffer, (gsize) n));
    }
}

static gpointer
receiver_thread (gpointer data)
{
  Receiver *self = data;
  g_autofree guint8 *buffer = g_malloc (MAX_DATAGRAM);

  for (;;)
    {
      /* Read the flag before polling: when it was set, the child had
       * exited, so everything it sent was already queued, and a poll that
       * then finds nothing means the socket is empty for good. */
      gboolean done = g_atomic_int_get (&self->child_done);
      struct pollfd pfd = { .fd = self->fd, .events = POLLIN };
      int ready = poll (&pfd, 1, 50);

      if (ready > 0)
        receiver_drain (self, buffer);
      else if (ready == 0 && done)
        break;
      else if (ready < 0 && errno != EINTR)
        {
          g_printerr ("compare-sink: poll: %s\n", g_strerror (errno));
          break;
        }
    }
  return NULL;
}

/* ---- Kernel counters -------------------------------------------------------- */

/* The Udp line pair of /proc/net/snmp: names, then values. */
static UdpCounters
read_udp_counters (void)
{
  UdpCounters counters = { 0 };
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/net/snmp", &contents, NULL, NULL))
    return counters;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i + 1] != NULL; i++)
    {
      g_auto(GStrv) names = NULL;
      g_auto(GStrv) values = NULL;

      if (!g_str_has_prefix (lines[i], "Udp: ") || !g_str_has_prefix (lines[i + 1], "Udp: "))
        continue;
      names = g_strsplit (lines[i], " ", -1);
      values = g_strsplit (lines[i + 1], " ", -1);
      for (guint j = 1; names[j] != NULL && values[j] != NULL; j++)
        {
          if (g_str_equal (names[j], "RcvbufErrors"))
            counters.rcvbuf_errors = g_ascii_strtoull (values[j], NULL, 10);
        }
      break;
    }
  return counters;
}

/* The "drops" column of our socket's line in /proc/net/udp. */
static guint64
read_socket_drops (guint16 port)
{
  g_autofree char *contents = NULL;
  g_autofree char *local = g_strdup_printf ("0100007F:%04X ", port);
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/net/udp", &contents, NULL, NULL))
    return 0;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strchug (lines[i]);
      const char *address = strchr (line, ' ');
      const char *last;

      if (address == NULL || !g_str_has_prefix (address + 1, local))
        continue;
      last = strrchr (g_strchomp (lines[i]), ' ');
      return last != NULL ? g_ascii_strtoull (last + 1, NULL, 10) : 0;
    }
  return 0;
}

/* ---- The socket --------------------------------------------------------------- */

static int
sink_socket_new (int      size,
                 guint16 *port,
                 int     *rcvbuf)
{
  struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0 };
  socklen_t len = sizeof address;
  socklen_t int_len = sizeof *rcvbuf;
  int one = 1;
  int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    g_error ("socket: %s", g_strerror (errno));
  /* Only root may go past net.core.rmem_max. */
  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  getsockopt (fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, &int_len);
  if (setsockopt (fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0)
    g_printerr ("compare-sink: SO_RXQ_OVFL: %s\n", g_strerror (errno));

  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *) &address, sizeof address) != 0
      || getsockname (fd, (struct sockaddr *) &address, &len) != 0)
    g_error ("bind: %s", g_strerror (errno));
  *port = ntohs (address.sin_port);
  return fd;
}

/* ---- The child ------------------------------------------------------------------ */

static volatile sig_atomic_t child_pid;
static volatile sig_atomic_t timed_out;

static void
on_alarm (int signum)
{
  timed_out = 1;
  if (child_pid > 0)
    kill (child_pid, SIGKILL);
}

static pid_t
spawn_child (char **argv)
{
  pid_t pid = fork ();

  if (pid < 0)
    g_error ("fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      dup2 (STDERR_FILENO, STDOUT_FILENO);
      execvp (argv[0], argv);
      fprintf (stderr, "compare-sink: cannot run %s: %s\n", argv[0], strerror (errno));
      _exit (127);
    }
  return pid;
}

static double
timeval_s (struct timeval tv)
{
  return tv.tv_sec + tv.tv_usec / 1e6;
}

/* ---- Decoding ------------------------------------------------------------------- */

typedef struct {
  gint64 trace_id_high;
  gint64 trace_id_low;
  gint64 span_id;
} SpanKey;

static guint
span_key_hash (gconstpointer key)
{
  const SpanKey *k = key;

  return g_int64_hash (&k->span_id) ^ g_int64_hash (&k->trace_id_low);
}

static gboolean
span_key_equal (gconstpointer a,
                gconstpointer b)
{
  return memcmp (a, b, sizeof (SpanKey)) == 0;
}

typedef struct {
  guint     n_workload;      /* the child spans asked for */
  guint64   bad;
  guint64   spans;           /* as decoded, duplicates included */
  GHashTable *unique;        /* (element-type SpanKey) */
  guint8   *seen;            /* one flag per workload index */
  gboolean  root_seen;
  gboolean  compact_seen;
  gboolean  binary_seen;
  gint64    last_seq_no;     /* the highest Batch.seqNo, -1 when none carried one */
  gint64    client_lost;     /* the ClientStats sum of that batch, -1 without stats */
} Tally;

/* The workload index a child span carries in its "i" tag (LONG, or DOUBLE
 * from clients whose numbers are doubles), or -1. */
static gint64
span_workload_index (JaegerSpan *span)
{
  for (guint t = 0; t < span->tags->len; t++)
    {
      JaegerTag *tag = g_ptr_array_index (span->tags, t);

      if (g_strcmp0 (tag->key, "i") != 0)
        continue;
      if (tag->vType == JAEGER_TAG_TYPE_LONG)
        return tag->vLong;
      if (tag->vType == JAEGER_TAG_TYPE_DOUBLE)
        return (gint64) tag->vDouble;
    }
  return -1;
}

static void
tally_batch (Tally       *tally,
             JaegerBatch *batch)
{
  for (guint s = 0; s < batch->spans->len; s++)
    {
      JaegerSpan *span = g_ptr_array_index (batch->spans, s);
      SpanKey *key = g_new (SpanKey, 1);
      gint64 index;

      key->trace_id_high = span->traceIdHigh;
      key->trace_id_low = span->traceIdLow;
      key->span_id = span->spanId;
      g_hash_table_add (tally->unique, key);
      tally->spans++;

      index = span_workload_index (span);
      if (index >= 0 && index < tally->n_workload)
        tally->seen[index] = 1;
      else if (g_strcmp0 (span->operationName, "root") == 0)
        tally->root_seen = TRUE;
    }

  if (batch->__isset_seqNo && batch->seqNo > tally->last_seq_no)
    {
      tally->last_seq_no = batch->seqNo;
      tally->client_lost = batch->__isset_stats
        ? batch->stats->fullQueueDroppedSpans + batch->stats->tooLargeDroppedSpans
          + batch->stats->failedToEmitSpans
        : -1;
    }
}

static void
tally_datagram (Tally  *tally,
                GBytes *bytes)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JaegerBatch) batch = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  /* The first byte tells the protocol: 0x82 compact; 0x80 binary with a
   * version word, 0x00 the old binary header (a short name's length). */
  gboolean compact = len > 0 && data[0] == 0x82;

  if (compact)
    batch = gluetool_reference_decode_datagram (data, len, NULL, NULL, &error);
  else if (len > 0 && (data[0] == 0x80 || data[0] == 0x00))
    batch = gluetool_reference_decode_datagram_binary (data, len, NULL, NULL, &error);
  else
    g_set_error (&error, GLUETOOL_REFERENCE_ERROR, GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                 "neither a compact nor a binary Thrift message (first byte 0x%02x)",
                 len > 0 ? data[0] : 0);

  if (batch == NULL)
    {
      if (tally->bad++ < 3)
        g_printerr ("compare-sink: a datagram of %" G_GSIZE_FORMAT " bytes does not decode: %s\n",
                    len, error->message);
      return;
    }
  if (compact)
    tally->compact_seen = TRUE;
  else
    tally->binary_seen = TRUE;
  tally_batch (tally, batch);
}

/* Prints the first ranges of missing workload indices, to see a pattern. */
static void
print_missing (const Tally *tally)
{
  GString *ranges = g_string_new (NULL);
  guint n_ranges = 0;

  for (guint i = 0; i < tally->n_workload; i++)
    {
      guint end = i;

      if (tally->seen[i])
        continue;
      while (end + 1 < tally->n_workload && !tally->seen[end + 1])
        end++;
      if (n_ranges++ < 12)
        g_string_append_printf (ranges, end > i ? " %u-%u" : " %u", i, end);
      i = end;
    }
  if (n_ranges > 0)
    g_printerr ("compare-sink: missing child spans (by \"i\" tag), %u ranges:%s%s\n",
                n_ranges, ranges->str, n_ranges > 12 ? " ..." : "");
  if (!tally->root_seen)
    g_printerr ("compare-sink: the root span is missing\n");
  g_string_free (ranges, TRUE);
}

/* ---- main ------------------------------------------------------------------------ */

int
main (int    argc,
      char **argv)
{
  g_autofree char *label = NULL;
  gdouble timeout_s = 600;
  gint rcvbuf_request = RECEIVE_BUFFER_BYTES;
  gboolean header = FALSE, verbose = FALSE;
  GOptionEntry entries[] = {
    { "label", 0, 0, G_OPTION_ARG_STRING, &label, "The client's name in the result", "NAME" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout_s, "Kill the child after S seconds", "S" },
    { "verbose", 0, 0, G_OPTION_ARG_NONE, &verbose, "Say which spans are missing", NULL },
    { "rcvbuf", 0, 0, G_OPTION_ARG_INT, &rcvbuf_request,
      "The receive buffer to ask for (256 MiB; a small one checks that drops are counted)", "BYTES" },
    { "header", 0, 0, G_OPTION_ARG_NONE, &header, "Print the result line's header and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("-- PROGRAM [ARGS...] N");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) child_argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *port_text = NULL;
  Receiver receiver = { 0 };
  Tally tally = { 0 };
  UdpCounters before, after;
  struct sigaction alarm_action = { .sa_handler = on_alarm };
  struct rusage usage;
  struct timespec start, end;
  GThread *thread;
  guint64 n_spans, bytes = 0, max_datagram = 0, socket_drops, kernel_drops, workload_received = 0;
  guint16 port;
  int rcvbuf = 0, status = 0;
  pid_t pid;
  const char *wire;
  g_autofree char *status_text = NULL;

  g_option_context_set_summary (context,
      "Runs PROGRAM ARGS... N 127.0.0.1 PORT against a UDP sink on loopback and\n"
      "prints one tab-separated result line (--header prints the column names).");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("compare-sink: %s\n", error->message);
      return 2;
    }
  if (header)
    {
      g_print ("%s\n", RESULT_HEADER);
      return 0;
    }
  /* GOption leaves "--" in argv when it stops there. */
  if (argc >= 2 && g_str_equal (argv[1], "--"))
    {
      argv++;
      argc--;
    }
  if (argc < 3 || !g_ascii_string_to_unsigned (argv[argc - 1], 10, 0, G_MAXUINT, &n_spans, &error))
    {
      g_printerr ("compare-sink: expected -- PROGRAM [ARGS...] N%s%s\n",
                  error != NULL ? ": " : "", error != NULL ? error->message : "");
      return 2;
    }

  receiver.fd = sink_socket_new (rcvbuf_request, &port, &rcvbuf);
  receiver.datagrams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  port_text = g_strdup_printf ("%u", port);
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (child_argv, g_strdup (argv[i]));
  g_ptr_array_add (child_argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (child_argv, g_strdup (port_text));
  g_ptr_array_add (child_argv, NULL);

  before = read_udp_counters ();
  thread = g_thread_new ("receiver", receiver_thread, &receiver);

  sigaction (SIGALRM, &alarm_action, NULL);
  clock_gettime (CLOCK_MONOTONIC, &start);
  pid = spawn_child ((char **) child_argv->pdata);
  child_pid = pid;
  alarm ((unsigned int) MAX (1, timeout_s));
  while (wait4 (pid, &status, 0, &usage) < 0)
    if (errno != EINTR)
      g_error ("wait4: %s", g_strerror (errno));
  clock_gettime (CLOCK_MONOTONIC, &end);
  alarm (0);
  child_pid = 0;

  g_atomic_int_set (&receiver.child_done, TRUE);
  g_thread_join (thread);
  after = read_udp_counters ();
  socket_drops = read_socket_drops (port);
  close (receiver.fd);

  tally.n_workload = (guint) n_spans;
  tally.unique = g_hash_table_new_full (span_key_hash, span_key_equal, g_free, NULL);
  tally.seen = g_malloc0 (MAX (n_spans, 1));
  tally.last_seq_no = -1;
  tally.client_lost = -1;
  for (guint i = 0; i < receiver.datagrams->len; i++)
    {
      GBytes *datagram = g_ptr_array_index (receiver.datagrams, i);

      bytes += g_bytes_get_size (datagram);
      max_datagram = MAX (max_datagram, g_bytes_get_size (datagram));
      tally_datagram (&tally, datagram);
    }
  for (guint i = 0; i < tally.n_workload; i++)
    workload_received += tally.seen[i];
  if (verbose)
    print_missing (&tally);

  if (timed_out)
    status_text = g_strdup ("timeout");
  else if (WIFEXITED (status))
    status_text = g_strdup_printf ("exit%d", WEXITSTATUS (status));
  else
    status_text = g_strdup_printf ("signal%d", WTERMSIG (status));
  wire = tally.compact_seen && tally.binary_seen ? "mixed"
         : tally.compact_seen ? "compact" : tally.binary_seen ? "binary" : "none";
  kernel_drops = MAX ((guint64) receiver.ovfl_drops, socket_drops);

  /* The columns of RESULT_HEADER. */
  g_print ("%s\t%" G_GUINT64_FORMAT "\t%s\t%.6f\t%.6f\t%.6f\t%ld\t%u\t%" G_GUINT64_FORMAT
           "\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%u\t%" G_GUINT64_FORMAT
           "\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT "\t%" G_GUINT64_FORMAT
           "\t%" G_GINT64_FORMAT "\t%s\t%d\t%" G_GUINT64_FORMAT "\n",
           label != NULL ? label : argv[1], n_spans, status_text,
           (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9,
           timeval_s (usage.ru_utime), timeval_s (usage.ru_stime), usage.ru_maxrss,
           receiver.datagrams->len, bytes, tally.bad, tally.spans,
           g_hash_table_size (tally.unique),
           workload_received + (tally.root_seen ? 1 : 0),
           n_spans + 1 - workload_received - (tally.root_seen ? 1 : 0),
           kernel_drops, after.rcvbuf_errors - before.rcvbuf_errors,
           tally.client_lost, wire, rcvbuf, max_datagram);

  g_hash_table_unref (tally.unique);
  g_free (tally.seen);
  g_ptr_array_unref (receiver.datagrams);
  return 0;
}
