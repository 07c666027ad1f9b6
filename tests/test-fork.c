/* test-fork.c: tracing in a process made by fork(): the inherited tracer, a
 * tracer of the child's own, close() in the child, actions unfinished at
 * close(), and fork() while other threads report, drop actions unfinished,
 * let go of kept actions, or look at their stacks
 *
 * SPDX-License-Identifier: MIT
 *
 * The "inherited" test case is the use the library's fork safety exists
 * for: its tracer is made once, in an unchecked fixture, so in check's
 * default mode (CK_FORK) every test runs in a child that check forked from
 * the process holding that tracer, with no code of its own to start
 * tracing again. With CK_FORK=no (the valgrind setup) a test runs in that
 * very process, so it forks a child itself and runs the same body there.
 * A body never calls ck_assert: it returns FALSE with a message
 * (CHILD_EXPECT), which the test asserts on, in check's child, or in the
 * test's process once its own child has said so; a ck_assert in a child
 * of the test's would run check's handlers in the wrong process.
 *
 * The spans are received by an agent: a process of the tests' own, with
 * TestReceivers in it. A TestReceiver's thread lives only in the process
 * that made it, so check's children could not see what reached a receiver
 * of their parent's; and a receiver in the process that forks would be a
 * thread making GObjects (decoding does) while it forks, which could leave
 * one of GLib's locks held in the child whatever the library does. Tests
 * ask the agent, over a socket pair, about the spans whose labels they
 * made and the datagrams that carried them.
 *
 * What the parent still does after check's children ran is tested in the
 * unchecked teardown, which runs in the parent; it only writes down what it
 * saw (a failed ck_assert there is not reported as a failure: with CK_FORK
 * it ends the program, with CK_FORK=no it is lost), and the next test case
 * asserts it.
 *
 * Every wait is bounded: on a condition (the agent's answer, waitpid(),
 * flush()) with a deadline. Every child the tests fork themselves arms
 * alarm() first, so one that deadlocks dies of SIGALRM instead of hanging
 * the suite, writes its verdict to a pipe (valgrind overrides its exit
 * code, see fork_child()), and leaves with _exit(): exit() would run check's
 * and GLib's atexit handlers a second time.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ADDRESS_SANITIZER 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define UNDER_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_THREAD_SANITIZER 1
#endif
#endif

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include <gluetool/gluetool.h>

#include "gluetool-tracer-private.h"
#include "handler-flag-private.h"
#include "process-private.h"
#include "recycler-private.h"
#include "sync-private.h"
#include "receiver.h"
#include "test-resolver.h"
#include "test-expect.h"
#include "check-tap.h"

/* The bound of every wait on a condition. Under valgrind, the agent (a
 * child of this program, so under valgrind too) decodes the stress tests'
 * tens of thousands of spans a good deal slower than that. */
#define WAIT_S (RUNNING_ON_VALGRIND ? 120.0 : 20.0)
/* close() or dropping a tracer in a child must return well before this;
 * waiting for a flush thread that does not exist would take the whole
 * flush timeout (30 s). */
#define PROMPT_S 5.0
/* How long a child the tests fork themselves may live. */
#define CHILD_ALARM_S 60u

static double
seconds_since (gint64 started)
{
  return (double) (g_get_monotonic_time () - started) / G_USEC_PER_SEC;
}

/* ---- Checks in a child ---------------------------------------------------- */

/* The first failure in this process; a child starts with its own copy. */
static char child_failure[1024];

static void child_failed (const char *file,
                          int         line,
                          const char *format,
                          ...) G_GNUC_PRINTF (3, 4);

static void
child_failed (const char *file,
              int         line,
              const char *format,
              ...)
{
  va_list args;
  int len;

  if (child_failure[0] != '\0')
    return;
  len = g_snprintf (child_failure, sizeof child_failure, "%s:%d: ", file, line);
  if (len < 0 || (gsize) len >= sizeof child_failure)
    return;
  va_start (args, format);
  g_vsnprintf (child_failure + len, sizeof child_failure - (gsize) len, format, args);
  va_end (args);
}

/* In a body run in a child: fails the body (return FALSE) with a message. */
#define CHILD_EXPECT(expr, ...) \
  G_STMT_START { \
    if (!(expr)) \
      { \
        child_failed (__FILE__, __LINE__, __VA_ARGS__); \
        return FALSE; \
      } \
  } G_STMT_END

#define CHILD_EXPECT_UINT_EQ(a, b) \
  G_STMT_START { \
    guint64 a_value_ = (a); \
    guint64 b_value_ = (b); \
    CHILD_EXPECT (a_value_ == b_value_, "%s == %s: %" G_GUINT64_FORMAT " != %" G_GUINT64_FORMAT, \
                  #a, #b, a_value_, b_value_); \
  } G_STMT_END

/* ---- Children the tests fork ----------------------------------------------- */

/* A child tells how it went twice: first as a verdict written to a pipe (a
 * byte, its exit code, then a message), then as its exit code. The verdict
 * is what counts: under valgrind, a child's exit code is valgrind's error
 * code (1) whenever it leaks, and every child "leaks" what the threads that
 * fork() left behind were holding. A child that writes no verdict died on
 * the way, and one killed by SIGALRM hung: each arms alarm() first. */
static int child_verdict_fd = -1;   /* in a child: the write end */

/* fork(): in the child (0 returned), arms an alarm of @alarm_s and must
 * leave through child_exit(); in the parent, *@verdict_fd is the read end
 * of the child's verdict pipe, for reap_child(). -1 when fork() failed. */
static pid_t
fork_child (guint  alarm_s,
            int   *verdict_fd)
{
  int fds[2];
  pid_t pid;

  if (pipe (fds) != 0)
    return -1;
  pid = fork ();
  if (pid == 0)
    {
      close (fds[0]);
      child_verdict_fd = fds[1];
      child_failure[0] = '\0';
      /* SIGALRM ends this process, not check's handler (inherited from its
       * runner), which would kill the test's whole process group. */
      signal (SIGALRM, SIG_DFL);
      alarm (alarm_s);
      return 0;
    }
  close (fds[1]);
  if (pid < 0)
    close (fds[0]);
  else
    *verdict_fd = fds[0];
  return pid;
}

static void G_GNUC_NORETURN
child_exit (int         code,
            const char *message)
{
  char verdict[sizeof child_failure + 1];
  size_t len = 1;

  verdict[0] = (char) code;
  if (code != 0)
    len += (size_t) g_strlcpy (verdict + 1, message, sizeof verdict - 1);
  len = MIN (len, sizeof verdict);
  /* Written at once, or not at all: the parent then says no verdict came. */
  if (write (child_verdict_fd, verdict, len) != (ssize_t) len)
    _exit (code != 0 ? code : 2);
  /* Done: what follows is valgrind's leak check, if anything, which the
   * alarm must not cut short. */
  alarm (0);
  _exit (code);
}

static gboolean
wait_for_child (pid_t  pid,
                int   *status)
{
  pid_t waited;

  do
    waited = waitpid (pid, status, 0);
  while (waited < 0 && errno == EINTR);
  return waited == pid;
}

/* What a wait status says, for a failure message. (transfer full) */
static char *
describe_status (int status)
{
  if (WIFSIGNALED (status))
    return g_strdup_printf ("was killed by signal %d (%s)%s", WTERMSIG (status),
                            g_strsignal (WTERMSIG (status)),
                            WTERMSIG (status) == SIGALRM
                              ? ": it deadlocked or hung, and its alarm() ended it" : "");
  if (WIFEXITED (status))
    return g_strdup_printf ("exited with %d", WEXITSTATUS (status));
  return g_strdup_printf ("ended with wait status 0x%x", (guint) status);
}

/* Whether a process of the test's exited with 0, or with valgrind's error
 * code for the leaks of a process made by fork() (see above). */
static gboolean
exited_cleanly (int status)
{
  return WIFEXITED (status)
         && (WEXITSTATUS (status) == 0 || (RUNNING_ON_VALGRIND && WEXITSTATUS (status) == 1));
}

/* Reads the verdict of the child @pid (until the pipe closes, which its
 * alarm() bounds) and reaps it. Returns NULL when it succeeded, else what
 * went wrong. (transfer full) */
static char *
reap_child (pid_t pid,
            int   verdict_fd)
{
  g_autoptr(GString) verdict = g_string_new (NULL);
  g_autofree char *how = NULL;
  char buffer[256];
  int status = 0;

  for (;;)
    {
      ssize_t n = read (verdict_fd, buffer, sizeof buffer);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_string_append_len (verdict, buffer, n);
    }
  close (verdict_fd);
  if (!wait_for_child (pid, &status))
    return g_strdup_printf ("could not be reaped: %s", g_strerror (errno));
  how = describe_status (status);

  if (WIFSIGNALED (status) && verdict->len == 0)
    return g_steal_pointer (&how);
  if (WIFSIGNALED (status))
    return g_strdup_printf ("%s after its verdict (code %d%s%s)", how, verdict->str[0],
                            verdict->len > 1 ? ": " : "", verdict->str + 1);
  if (verdict->len == 0)
    return g_strdup_printf ("%s without a verdict", how);
  if (verdict->str[0] != 0)
    return g_strdup_printf ("failed with code %d: %s", verdict->str[0], verdict->str + 1);
  if (!exited_cleanly (status))
    return g_strdup_printf ("said it succeeded, but %s", how);
  return NULL;
}

/* Finishes @n actions labelled "@prefix@i": the first is the root of a
 * trace, the others its children. */
static gboolean
report_labels (const char *prefix,
               guint       n)
{
  g_autoptr(GluetoolAction) root = NULL;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *label = g_strdup_printf ("%s%u", prefix, i);
      g_autoptr(GluetoolAction) action = gluetool_action_new (label, root);
      g_autoptr(GError) error = NULL;

      gluetool_action_set_tag_int64 (action, "i", i);
      if (i == 0)
        {
          root = g_steal_pointer (&action);
          continue;
        }
      CHILD_EXPECT (gluetool_action_finish (action, &error), "finish '%s': %s", label,
                    error->message);
    }
  if (root != NULL)
    {
      g_autoptr(GError) error = NULL;

      CHILD_EXPECT (gluetool_action_finish (root, &error), "finish the root of '%s': %s", prefix,
                    error->message);
    }
  return TRUE;
}

/* ---- The agent: receivers in a process of their own ------------------------ */

enum {
  AGENT_MAIN,   /* the inherited tracers report here */
  AGENT_OWN,    /* a tracer a child makes of its own reports here */
  AGENT_QUIT,
};

typedef struct {
  guint32 id;
  guint32 receiver;            /* AGENT_MAIN, AGENT_OWN, or AGENT_QUIT */
  guint32 n_expected;          /* wait until this many spans match */
  char    prefix[64];          /* spans whose label starts with this */
  char    dump_path[256];      /* unless empty, write every span there (agent_dump()) */
} AgentQuery;

typedef struct {
  guint32 id;                  /* the query's */
  guint32 n_spans;             /* spans that matched */
  guint32 n_datagrams;         /* datagrams that held any of them */
  guint32 n_bad;               /* datagrams that did not decode, at that receiver */
  guint32 n_clients;           /* distinct client-uuid tags of those datagrams */
  gint64  min_seq_no;          /* their smallest Batch.seqNo */
  gint64  max_seq_no;          /* and their largest */
  char    client_uuid[64];     /* the client-uuid of the first of them */
  char    service_name[64];    /* and its service */
} AgentAnswer;

static void
agent_count (TestReceiver     *receiver,
             const AgentQuery *query,
             AgentAnswer      *answer)
{
  g_autoptr(GPtrArray) datagrams = test_receiver_get_datagrams (receiver);
  /* Borrowed strings: the receiver keeps its datagrams until it is freed. */
  g_autoptr(GHashTable) clients = g_hash_table_new (g_str_hash, g_str_equal);
  gsize prefix_len = strlen (query->prefix);

  memset (answer, 0, sizeof *answer);
  answer->id = query->id;
  answer->n_bad = test_receiver_get_n_bad (receiver);
  for (guint i = 0; i < datagrams->len; i++)
    {
      TestDatagram *datagram = g_ptr_array_index (datagrams, i);
      JaegerBatch *batch = datagram->batch;
      JaegerTag *uuid_tag;
      const char *uuid;
      gint64 seq_no;
      guint n = 0;

      if (batch == NULL)
        continue;
      for (guint j = 0; j < batch->spans->len; j++)
        {
          JaegerSpan *span = g_ptr_array_index (batch->spans, j);

          if (strncmp (span->operationName, query->prefix, prefix_len) == 0)
            n++;
        }
      if (n == 0)
        continue;

      seq_no = batch->__isset_seqNo ? batch->seqNo : 0;
      uuid_tag = test_find_tag (batch->process->tags, "client-uuid");
      uuid = uuid_tag != NULL && uuid_tag->vStr != NULL ? uuid_tag->vStr : "";
      g_hash_table_add (clients, (gpointer) uuid);
      if (answer->n_datagrams == 0)
        {
          answer->min_seq_no = answer->max_seq_no = seq_no;
          g_strlcpy (answer->client_uuid, uuid, sizeof answer->client_uuid);
          g_strlcpy (answer->service_name, batch->process->serviceName,
                     sizeof answer->service_name);
        }
      answer->min_seq_no = MIN (answer->min_seq_no, seq_no);
      answer->max_seq_no = MAX (answer->max_seq_no, seq_no);
      answer->n_spans += n;
      answer->n_datagrams++;
    }
  answer->n_clients = g_hash_table_size (clients);
}

static void
agent_answer (TestReceiver     *receiver,
              const AgentQuery *query,
              AgentAnswer      *answer)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);

  for (;;)
    {
      /* Read before counting: whatever arrives meanwhile ends the wait. */
      guint seen = test_receiver_get_n_spans (receiver);
      gint64 remaining;

      agent_count (receiver, query, answer);
      remaining = deadline - g_get_monotonic_time ();
      if (answer->n_spans >= query->n_expected || remaining <= 0)
        return;
      test_receiver_wait_for_spans (receiver, seen + 1, (double) remaining / G_USEC_PER_SEC);
    }
}

/* One line per span that arrived, in arrival order: "seqNo client-uuid
 * label", with a tab between them. */
static gboolean
agent_write_dump (TestReceiver *receiver,
                  const char   *path)
{
  g_autoptr(GPtrArray) datagrams = test_receiver_get_datagrams (receiver);
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < datagrams->len; i++)
    {
      JaegerBatch *batch = ((TestDatagram *) g_ptr_array_index (datagrams, i))->batch;
      JaegerTag *uuid_tag;

      if (batch == NULL)
        continue;
      uuid_tag = test_find_tag (batch->process->tags, "client-uuid");
      for (guint j = 0; j < batch->spans->len; j++)
        g_string_append_printf (text, "%" G_GINT64_FORMAT "\t%s\t%s\n",
                                batch->__isset_seqNo ? batch->seqNo : 0,
                                uuid_tag != NULL && uuid_tag->vStr != NULL ? uuid_tag->vStr : "",
                                ((JaegerSpan *) g_ptr_array_index (batch->spans, j))->operationName);
    }
  return g_file_set_contents (path, text->str, (gssize) text->len, NULL);
}

static void G_GNUC_NORETURN
agent_main (int fd)
{
  TestReceiver *receivers[2];
  guint16 ports[2];
  int null_fd;

  /* Gone with the test program, whatever happens to it; and never writing
   * to its standard output, which meson reads as TAP. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  signal (SIGALRM, SIG_DFL);
  signal (SIGINT, SIG_DFL);
  signal (SIGTERM, SIG_DFL);
  null_fd = open ("/dev/null", O_WRONLY);
  if (null_fd >= 0)
    {
      dup2 (null_fd, STDOUT_FILENO);
      close (null_fd);
    }

  for (guint i = 0; i < G_N_ELEMENTS (receivers); i++)
    {
      receivers[i] = test_receiver_new ("127.0.0.1");
      ports[i] = test_receiver_get_port (receivers[i]);
    }
  if (send (fd, ports, sizeof ports, MSG_NOSIGNAL) == (ssize_t) sizeof ports)
    for (;;)
      {
        AgentQuery query;
        AgentAnswer answer;
        ssize_t n = recv (fd, &query, sizeof query, 0);

        if (n < 0 && errno == EINTR)
          continue;
        /* End of file: every process that could ask has gone. */
        if (n != (ssize_t) sizeof query || query.receiver >= AGENT_QUIT)
          break;
        query.prefix[sizeof query.prefix - 1] = '\0';
        query.dump_path[sizeof query.dump_path - 1] = '\0';
        agent_answer (receivers[query.receiver], &query, &answer);
        if (query.dump_path[0] != '\0' && !agent_write_dump (receivers[query.receiver],
                                                             query.dump_path))
          answer.n_datagrams = G_MAXUINT32;
        if (send (fd, &answer, sizeof answer, MSG_NOSIGNAL) != (ssize_t) sizeof answer)
          break;
      }

  /* The receivers are not freed: that would wait for their threads to
   * decode what is still buffered, which a stress test makes a lot of and
   * a sanitizer on a busy machine makes slow (past the runner's deadline
   * for the agent's exit). The process ends here and takes them along. */
  close (fd);
  _exit (0);
}

typedef struct {
  pid_t   pid;
  int     fd;                      /* this end of the agent's socket pair */
  guint16 ports[2];                /* of AGENT_MAIN and AGENT_OWN */
} Agent;

/* The process check's unchecked fixture runs in, and what it made there. */
static struct {
  pid_t           runner_pid;
  Agent           agent;
  GluetoolTracer *tracer;          /* (owned) the default; long flush interval */
  GluetoolTracer *second;          /* (owned) not the default; 30 s flush timeout */
  char           *parent_uuid;     /* (owned) the tracer's client-uuid in the parent */
} fixture = { .agent = { .fd = -1 } };

/* Waits up to @timeout_s for @fd to be readable (or closed). */
static gboolean
wait_readable (int    fd,
               double timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint64 remaining = deadline - g_get_monotonic_time ();
      int ready;

      if (remaining <= 0)
        return FALSE;
      ready = poll (&pfd, 1, (int) MAX (remaining / 1000, 1));
      if (ready > 0)
        return TRUE;
      if (ready < 0 && errno != EINTR)
        return FALSE;
    }
}

static gboolean
agent_query (Agent       *agent,
             AgentQuery  *query,
             AgentAnswer *answer)
{
  static guint32 n_asked;
  gint64 deadline = g_get_monotonic_time () + (gint64) ((WAIT_S + 10) * G_USEC_PER_SEC);

  /* An answer left over from a test check killed is not this one's. */
  query->id = ((guint32) getpid () << 12) ^ ++n_asked;
  if (send (agent->fd, query, sizeof *query, MSG_NOSIGNAL) != (ssize_t) sizeof *query)
    return FALSE;
  for (;;)
    {
      double remaining = (double) (deadline - g_get_monotonic_time ()) / G_USEC_PER_SEC;

      if (!wait_readable (agent->fd, remaining))
        return FALSE;
      if (recv (agent->fd, answer, sizeof *answer, 0) != (ssize_t) sizeof *answer)
        return FALSE;
      if (answer->id == query->id)
        return TRUE;
    }
}

/* Asks the agent how many spans labelled "@prefix..." reached @receiver,
 * waiting up to WAIT_S for @n_expected of them. Any process. FALSE when the
 * agent did not answer. */
static gboolean
agent_ask (Agent       *agent,
           guint        receiver,
           const char  *prefix,
           guint        n_expected,
           AgentAnswer *answer)
{
  AgentQuery query = { .receiver = receiver, .n_expected = n_expected };

  g_strlcpy (query.prefix, prefix, sizeof query.prefix);
  return agent_query (agent, &query, answer);
}

/* Waits up to WAIT_S for @n_expected spans at @receiver, then has the agent
 * write every span there to @path (see agent_write_dump()). */
static gboolean
agent_dump (Agent       *agent,
            guint        receiver,
            guint        n_expected,
            const char  *path,
            AgentAnswer *answer)
{
  AgentQuery query = { .receiver = receiver, .n_expected = n_expected };

  if (g_strlcpy (query.dump_path, path, sizeof query.dump_path) >= sizeof query.dump_path)
    return FALSE;
  return agent_query (agent, &query, answer) && answer->n_datagrams != G_MAXUINT32;
}

/* In a child: the spans "@prefix..." reached @receiver, @n of them, from
 * one client whose uuid is @uuid, numbered from Batch.seqNo 1 without gaps;
 * and the service was @service. */
static gboolean
expect_arrived (guint       receiver,
                const char *prefix,
                guint       n,
                const char *uuid,
                const char *service)
{
  AgentAnswer answer;

  CHILD_EXPECT (agent_ask (&fixture.agent, receiver, prefix, n, &answer),
                "the agent did not answer");
  CHILD_EXPECT (answer.n_spans == n, "%u spans '%s*' arrived, %u expected", answer.n_spans,
                prefix, n);
  CHILD_EXPECT_UINT_EQ (answer.n_bad, 0);
  CHILD_EXPECT (answer.n_clients == 1, "spans '%s*' came from %u clients", prefix,
                answer.n_clients);
  CHILD_EXPECT (g_str_equal (answer.client_uuid, uuid), "spans '%s*' came from client-uuid %s, "
                "not %s", prefix, answer.client_uuid, uuid);
  CHILD_EXPECT (g_str_equal (answer.service_name, service), "spans '%s*' came from service %s, "
                "not %s", prefix, answer.service_name, service);
  CHILD_EXPECT (answer.min_seq_no == 1, "the first datagram of '%s*' had seqNo %" G_GINT64_FORMAT
                ", not 1", prefix, answer.min_seq_no);
  CHILD_EXPECT (answer.max_seq_no == answer.n_datagrams,
                "datagrams of '%s*': %u, the last numbered %" G_GINT64_FORMAT, prefix,
                answer.n_datagrams, answer.max_seq_no);
  return TRUE;
}

/* ---- The inherited tracer: the unchecked fixture -------------------------- */

#define PARENT_BEFORE 2    /* sent by the parent before any child */
#define PARENT_QUEUED 3    /* queued in the parent, unsent, whenever a child is made */
#define PARENT_AFTER 4     /* made by the parent after every child */

/* What the unchecked teardown saw in the parent, for
 * test_parent_tracer_unharmed. */
static struct {
  gboolean            ran;
  gboolean            flush_ok;
  char               *flush_error;   /* (owned) (nullable) */
  GluetoolTracerStats stats;
  gboolean            asked;
  AgentAnswer         answer;
  gboolean            close_ok;
  char               *close_error;   /* (owned) (nullable) */
  double              close_s;
  gboolean            agent_reaped;
  int                 agent_status;
} parent_report;

/* Starts an agent process. Make it before any tracer, so that it inherits
 * no thread of the library's. */
static void
agent_start (Agent *agent)
{
  int fds[2];
  pid_t pid;

  ck_assert_int_eq (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  pid = fork ();
  ck_assert_int_ge (pid, 0);
  if (pid == 0)
    {
      close (fds[0]);
      agent_main (fds[1]);
    }
  close (fds[1]);
  agent->pid = pid;
  agent->fd = fds[0];
  ck_assert_msg (wait_readable (agent->fd, WAIT_S), "the agent did not start");
  ck_assert_int_eq (recv (agent->fd, agent->ports, sizeof agent->ports, 0), sizeof agent->ports);
}

/* Stops the agent; FALSE when it could not be reaped. */
static gboolean
agent_stop (Agent *agent,
            int   *status)
{
  AgentQuery quit = { .receiver = AGENT_QUIT };
  ssize_t sent = send (agent->fd, &quit, sizeof quit, MSG_NOSIGNAL);

  /* Its end closes when it exits; past the deadline, it is killed. */
  if (sent != (ssize_t) sizeof quit || !wait_readable (agent->fd, WAIT_S))
    kill (agent->pid, SIGKILL);
  close (agent->fd);
  agent->fd = -1;
  return wait_for_child (agent->pid, status);
}

static void
inherited_setup (void)
{
  g_autoptr(GError) error = NULL;

  fixture.runner_pid = getpid ();
  agent_start (&fixture.agent);

  /* A flush interval of an hour: what is queued stays queued until flush()
   * or close(), so every child is made while the parent has exactly
   * PARENT_QUEUED spans unsent. */
  fixture.tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                   "service-name", "fork-parent",
                                   "reporting-host", "127.0.0.1",
                                   "reporting-port", (guint) fixture.agent.ports[AGENT_MAIN],
                                   "flush-interval", 3600.0,
                                   NULL);
  ck_assert_msg (fixture.tracer != NULL, "tracer: %s", error != NULL ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), fixture.tracer);
  fixture.second = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                   "service-name", "fork-second",
                                   "reporting-host", "127.0.0.1",
                                   "reporting-port", (guint) fixture.agent.ports[AGENT_MAIN],
                                   "flush-timeout", 30.0,
                                   NULL);
  ck_assert_msg (fixture.second != NULL, "tracer: %s", error != NULL ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), fixture.tracer);
  fixture.parent_uuid = g_strdup (gluetool_tracer_get_client_uuid (fixture.tracer));

  /* One datagram sent (seqNo 1), then spans left queued. */
  ck_assert_msg (report_labels ("parent/before/", PARENT_BEFORE), "%s", child_failure);
  ck_assert_msg (gluetool_tracer_flush (fixture.tracer, WAIT_S, &error), "flush: %s",
                 error->message);
  ck_assert_msg (report_labels ("parent/queued/", PARENT_QUEUED), "%s", child_failure);
}

static void
inherited_teardown (void)
{
  g_autoptr(GError) flush_error = NULL;
  g_autoptr(GError) close_error = NULL;
  gint64 started;

  /* No ck_assert here: a failure in an unchecked teardown is not reported
   * as one (CK_FORK=no loses it; CK_FORK ends the program). */
  if (fixture.tracer != NULL)
    {
      report_labels ("parent/after/", PARENT_AFTER);
      parent_report.flush_ok = gluetool_tracer_flush (fixture.tracer, WAIT_S, &flush_error);
      if (flush_error != NULL)
        parent_report.flush_error = g_strdup (flush_error->message);
      gluetool_tracer_get_stats (fixture.tracer, &parent_report.stats);
      parent_report.asked = agent_ask (&fixture.agent, AGENT_MAIN, "parent/",
                                       PARENT_BEFORE + PARENT_QUEUED + PARENT_AFTER,
                                       &parent_report.answer);
      started = g_get_monotonic_time ();
      parent_report.close_ok = gluetool_tracer_close (fixture.tracer, WAIT_S, &close_error);
      parent_report.close_s = seconds_since (started);
      if (close_error != NULL)
        parent_report.close_error = g_strdup (close_error->message);
    }
  g_clear_object (&fixture.second);
  g_clear_object (&fixture.tracer);
  parent_report.agent_reaped = agent_stop (&fixture.agent, &parent_report.agent_status);
  parent_report.ran = TRUE;
}

/* ---- The inherited tracer: each test in a child --------------------------- */

typedef gboolean (*ChildBody) (void);

/* Runs @body in a child of the process that ran the unchecked setup: the
 * test's own process when check forked it, else one forked here. */
static void
run_in_child_of_fixture (ChildBody body)
{
  g_autofree char *failure = NULL;
  int verdict_fd = -1;
  pid_t pid;

  ck_assert_msg (fixture.tracer != NULL, "the unchecked setup did not make a tracer");
  if (getpid () != fixture.runner_pid)
    {
      /* check forked this test: this is the child. */
      ck_assert_msg (body (), "in the child check forked: %s", child_failure);
      return;
    }

  /* CK_FORK=no: this is the parent; the child is made here. */
  pid = fork_child (CHILD_ALARM_S, &verdict_fd);
  ck_assert_msg (pid >= 0, "fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      gboolean ok = body ();

      child_exit (ok ? 0 : 1, child_failure);
    }
  failure = reap_child (pid, verdict_fd);
  ck_assert_msg (failure == NULL, "the child forked by the test %s", failure);
}

/* The stats every child's inherited tracer starts from: counters from zero
 * at the fork, and the parent's queued spans left to it. */
static gboolean
expect_child_stats (GluetoolTracer *tracer,
                    guint           n_made)
{
  GluetoolTracerStats stats;

  gluetool_tracer_get_stats (tracer, &stats);
  CHILD_EXPECT_UINT_EQ (stats.spans_reported, n_made);
  CHILD_EXPECT_UINT_EQ (stats.spans_sent, n_made);
  CHILD_EXPECT_UINT_EQ (gluetool_tracer_stats_get_lost (&stats), 0);
  CHILD_EXPECT_UINT_EQ (stats.spans_left_to_parent, PARENT_QUEUED);
  CHILD_EXPECT (stats.datagrams_sent >= 1, "no datagram sent");
  return TRUE;
}

#define FLUSH_N 20

/* The inherited default works with no code of the child's own: spans
 * arrive on flush(), under a new client-uuid, numbered from 1. */
static gboolean
body_inherited_flush (void)
{
  GluetoolTracer *tracer = gluetool_tracer_get_default ();
  g_autoptr(GError) error = NULL;

  CHILD_EXPECT (tracer == fixture.tracer, "the inherited tracer is not the default (%p)",
                (gpointer) tracer);
  CHILD_EXPECT (report_labels ("flush/", FLUSH_N), "%s", child_failure);
  CHILD_EXPECT (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush: %s", error->message);
  CHILD_EXPECT (!g_str_equal (gluetool_tracer_get_client_uuid (tracer), fixture.parent_uuid),
                "the child kept the parent's client-uuid %s", fixture.parent_uuid);
  CHILD_EXPECT (expect_child_stats (tracer, FLUSH_N), "%s", child_failure);
  CHILD_EXPECT (expect_arrived (AGENT_MAIN, "flush/", FLUSH_N,
                                gluetool_tracer_get_client_uuid (tracer), "fork-parent"),
                "%s", child_failure);
  return TRUE;
}

START_TEST (test_inherited_flush)
{
  run_in_child_of_fixture (body_inherited_flush);
}
END_TEST

#define CLOSE_N 10

/* close() of the inherited default returns at once with every span of the
 * child's sent, and ends the default. The new client-uuid is there before
 * the child reports anything. */
static gboolean
body_inherited_close (void)
{
  GluetoolTracer *tracer = fixture.tracer;
  g_autoptr(GError) error = NULL;
  g_autofree char *uuid = NULL;
  gboolean closed;
  gint64 started;
  double took;

  uuid = g_strdup (gluetool_tracer_get_client_uuid (tracer));
  CHILD_EXPECT (!g_str_equal (uuid, fixture.parent_uuid),
                "before any action, the child still had the parent's client-uuid %s", uuid);
  CHILD_EXPECT (report_labels ("close/", CLOSE_N), "%s", child_failure);
  started = g_get_monotonic_time ();
  closed = gluetool_tracer_close (tracer, 30.0, &error);
  took = seconds_since (started);
  CHILD_EXPECT (took < PROMPT_S, "close() in the child took %.1f s", took);
  CHILD_EXPECT (closed, "close: %s", error->message);
  CHILD_EXPECT (gluetool_tracer_is_closed (tracer), "not closed");
  CHILD_EXPECT (gluetool_tracer_get_default () == NULL, "still a default after close()");
  CHILD_EXPECT (g_str_equal (gluetool_tracer_get_client_uuid (tracer), uuid),
                "the client-uuid changed from %s to %s", uuid,
                gluetool_tracer_get_client_uuid (tracer));
  CHILD_EXPECT (expect_child_stats (tracer, CLOSE_N), "%s", child_failure);
  CHILD_EXPECT (expect_arrived (AGENT_MAIN, "close/", CLOSE_N, uuid, "fork-parent"),
                "%s", child_failure);
  return TRUE;
}

START_TEST (test_inherited_close_is_prompt)
{
  run_in_child_of_fixture (body_inherited_close);
}
END_TEST

#define UNREF_N 5

/* Dropping an inherited tracer that is not the default closes it without
 * waiting for a thread that is not there (its flush timeout is 30 s). */
static gboolean
body_inherited_unref (void)
{
  g_autoptr(GError) error = NULL;
  gint64 started;
  double took;

  CHILD_EXPECT (report_labels ("unref/", UNREF_N), "%s", child_failure);
  CHILD_EXPECT (gluetool_tracer_flush (fixture.tracer, WAIT_S, &error), "flush: %s",
                error->message);

  started = g_get_monotonic_time ();
  g_clear_object (&fixture.second);
  took = seconds_since (started);
  CHILD_EXPECT (took < PROMPT_S, "dropping the inherited tracer took %.1f s", took);

  /* The default is unharmed by that. */
  CHILD_EXPECT (gluetool_tracer_get_default () == fixture.tracer, "the default changed");
  CHILD_EXPECT (expect_child_stats (fixture.tracer, UNREF_N), "%s", child_failure);
  CHILD_EXPECT (expect_arrived (AGENT_MAIN, "unref/", UNREF_N,
                                gluetool_tracer_get_client_uuid (fixture.tracer), "fork-parent"),
                "%s", child_failure);
  return TRUE;
}

START_TEST (test_inherited_unref_is_prompt)
{
  run_in_child_of_fixture (body_inherited_unref);
}
END_TEST

#define OWN_N 5

/* The first tracer the child makes becomes its default, though the
 * inherited one was not closed, and the child's spans go there only. */
static gboolean
body_own_tracer (void)
{
  g_autoptr(GluetoolTracer) own = NULL;
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  own = gluetool_tracer_new ("fork-own", "127.0.0.1", fixture.agent.ports[AGENT_OWN],
                             &error);
  CHILD_EXPECT (own != NULL, "tracer: %s", error->message);
  CHILD_EXPECT (gluetool_tracer_get_default () == own,
                "the child's own tracer is not the default (the default is %s)",
                gluetool_tracer_get_default () == fixture.tracer ? "the inherited one" : "another");
  CHILD_EXPECT (report_labels ("own/", OWN_N), "%s", child_failure);
  CHILD_EXPECT (gluetool_tracer_close (own, WAIT_S, &error), "close: %s", error->message);

  gluetool_tracer_get_stats (own, &stats);
  CHILD_EXPECT_UINT_EQ (stats.spans_reported, OWN_N);
  CHILD_EXPECT_UINT_EQ (stats.spans_sent, OWN_N);
  /* None went to the inherited tracer, whose counters start at the fork. */
  gluetool_tracer_get_stats (fixture.tracer, &stats);
  CHILD_EXPECT_UINT_EQ (stats.spans_reported, 0);
  CHILD_EXPECT (expect_arrived (AGENT_OWN, "own/", OWN_N, gluetool_tracer_get_client_uuid (own),
                                "fork-own"),
                "%s", child_failure);
  return TRUE;
}

START_TEST (test_own_tracer_becomes_default)
{
  run_in_child_of_fixture (body_own_tracer);
}
END_TEST

#define NESTED_CHILD_SENT 1    /* sent by the child before it forks */
#define NESTED_CHILD_QUEUED 2  /* queued in the child, unsent, when it forks */
#define NESTED_CHILD_N (NESTED_CHILD_SENT + NESTED_CHILD_QUEUED)
#define NESTED_GRANDCHILD_N 3

static gboolean
body_grandchild_inner (const char *child_uuid)
{
  GluetoolTracer *tracer = gluetool_tracer_get_default ();
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  CHILD_EXPECT (tracer == fixture.tracer, "the twice inherited tracer is not the default");
  CHILD_EXPECT (report_labels ("nested/grandchild/", NESTED_GRANDCHILD_N), "%s", child_failure);
  CHILD_EXPECT (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush: %s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  CHILD_EXPECT_UINT_EQ (stats.spans_reported, NESTED_GRANDCHILD_N);
  CHILD_EXPECT_UINT_EQ (stats.spans_sent, NESTED_GRANDCHILD_N);
  /* What the child had queued, not what the first parent had. */
  CHILD_EXPECT_UINT_EQ (stats.spans_left_to_parent, NESTED_CHILD_QUEUED);
  CHILD_EXPECT (!g_str_equal (gluetool_tracer_get_client_uuid (tracer), child_uuid),
                "the grandchild kept the child's client-uuid");
  CHILD_EXPECT (!g_str_equal (gluetool_tracer_get_client_uuid (tracer), fixture.parent_uuid),
                "the grandchild has the first parent's client-uuid");
  return TRUE;
}

/* A child of a child: the tracer is inherited twice; the grandchild leaves
 * the child's queued spans to it, and each sends its own. */
static gboolean
body_grandchild (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *failure = NULL;
  g_autofree char *uuid = NULL;
  int verdict_fd = -1;
  pid_t pid;
  AgentAnswer answer;

  /* The child's flush thread has started (it sent a span) before the
   * child forks: under AddressSanitizer a thread still starting may be
   * inside malloc(), whose lock the grandchild would inherit held (see
   * test_fork_right_after_tracer_made). */
  CHILD_EXPECT (report_labels ("nested/child/sent/", NESTED_CHILD_SENT), "%s", child_failure);
  CHILD_EXPECT (gluetool_tracer_flush (fixture.tracer, WAIT_S, &error), "flush: %s",
                error->message);
  CHILD_EXPECT (report_labels ("nested/child/queued/", NESTED_CHILD_QUEUED), "%s", child_failure);
  uuid = g_strdup (gluetool_tracer_get_client_uuid (fixture.tracer));
  pid = fork_child (CHILD_ALARM_S, &verdict_fd);
  CHILD_EXPECT (pid >= 0, "fork: %s", g_strerror (errno));
  if (pid == 0)
    {
      gboolean ok = body_grandchild_inner (uuid);

      child_exit (ok ? 0 : 1, child_failure);
    }
  failure = reap_child (pid, verdict_fd);
  CHILD_EXPECT (failure == NULL, "the grandchild %s", failure);

  CHILD_EXPECT (gluetool_tracer_flush (fixture.tracer, WAIT_S, &error), "flush: %s",
                error->message);
  CHILD_EXPECT (expect_child_stats (fixture.tracer, NESTED_CHILD_N), "%s", child_failure);
  CHILD_EXPECT (expect_arrived (AGENT_MAIN, "nested/child/", NESTED_CHILD_N, uuid, "fork-parent"),
                "%s", child_failure);
  CHILD_EXPECT (agent_ask (&fixture.agent, AGENT_MAIN, "nested/grandchild/", NESTED_GRANDCHILD_N,
                           &answer),
                "the agent did not answer");
  CHILD_EXPECT_UINT_EQ (answer.n_spans, NESTED_GRANDCHILD_N);
  CHILD_EXPECT_UINT_EQ (answer.n_clients, 1);
  CHILD_EXPECT (!g_str_equal (answer.client_uuid, uuid), "the grandchild sent as the child");
  CHILD_EXPECT_UINT_EQ (answer.min_seq_no, 1);
  return TRUE;
}

START_TEST (test_grandchild)
{
  run_in_child_of_fixture (body_grandchild);
}
END_TEST

/* ---- The parent after its children ---------------------------------------- */

/* The parent's tracer, after check's children (or the tests' own) used
 * their copies: its queued spans went once, from the parent, under its own
 * client-uuid, and its numbering went on. Written down by
 * inherited_teardown(), which ran in the parent. */
START_TEST (test_parent_tracer_unharmed)
{
  const guint n_parent = PARENT_BEFORE + PARENT_QUEUED + PARENT_AFTER;
  g_autofree char *agent_how = NULL;

  ck_assert_msg (parent_report.ran, "the teardown of test case 'inherited' did not run: its setup "
                 "failed, or only this test case was selected");
  ck_assert_msg (parent_report.flush_ok, "the parent's flush: %s", parent_report.flush_error);
  ck_assert_uint_eq (parent_report.stats.spans_reported, n_parent);
  ck_assert_uint_eq (parent_report.stats.spans_sent, n_parent);
  ck_assert_uint_eq (gluetool_tracer_stats_get_lost (&parent_report.stats), 0);
  ck_assert_uint_eq (parent_report.stats.spans_left_to_parent, 0);

  ck_assert_msg (parent_report.asked, "the agent did not answer");
  /* More would be the parent's queued spans sent again by a child. */
  ck_assert_uint_eq (parent_report.answer.n_spans, n_parent);
  ck_assert_uint_eq (parent_report.answer.n_bad, 0);
  ck_assert_uint_eq (parent_report.answer.n_clients, 1);
  ck_assert_str_eq (parent_report.answer.client_uuid, fixture.parent_uuid);
  ck_assert_str_eq (parent_report.answer.service_name, "fork-parent");
  ck_assert_int_eq (parent_report.answer.min_seq_no, 1);
  ck_assert_int_eq (parent_report.answer.max_seq_no, parent_report.answer.n_datagrams);
  ck_assert_uint_eq (parent_report.stats.datagrams_sent, parent_report.answer.n_datagrams);

  ck_assert_msg (parent_report.close_ok, "the parent's close: %s", parent_report.close_error);
  ck_assert_msg (parent_report.close_s < PROMPT_S, "the parent's close took %.1f s",
                 parent_report.close_s);
  agent_how = describe_status (parent_report.agent_status);
  ck_assert_msg (parent_report.agent_reaped && exited_cleanly (parent_report.agent_status),
                 "the agent %s", agent_how);
}
END_TEST

/* ---- Actions unfinished when the default tracer is closed ----------------- */

/* Whether @message has @number as a whole number in it. */
static gboolean
has_number (const char *message,
            guint64     number)
{
  for (const char *p = message; *p != '\0'; p++)
    if (g_ascii_isdigit (*p) && (p == message || !g_ascii_isdigit (p[-1]))
        && g_ascii_strtoull (p, NULL, 10) == number)
      return TRUE;
  return FALSE;
}

START_TEST (test_unfinished_actions_counted_at_close)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) done = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  g_autoptr(GluetoolAction) child = NULL;
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;

  tracer = gluetool_tracer_new ("unfinished", "127.0.0.1", test_receiver_get_port (receiver),
                                &error);
  ck_assert_msg (tracer != NULL, "tracer: %s", error != NULL ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);

  done = gluetool_action_new ("unfinished/done", NULL);
  ck_assert (gluetool_action_finish (done, NULL));
  root = gluetool_action_new ("unfinished/root", NULL);
  child = gluetool_action_new ("unfinished/child", root);

  ck_assert (!gluetool_tracer_close (tracer, WAIT_S, &error));
  ck_assert_msg (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_SPANS_LOST),
                 "close: %s", error->message);
  ck_assert_msg (strstr (error->message, "unfinished") != NULL && has_number (error->message, 2),
                 "close: \"%s\" does not say 2 actions were unfinished", error->message);
  ck_assert (gluetool_tracer_is_closed (tracer));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.actions_unfinished_at_close, 2);
  ck_assert_uint_eq (stats.spans_reported, 1);
  ck_assert_uint_eq (stats.spans_sent, 1);

  /* Finished after close(): they report nothing, and change no count. */
  ck_assert (gluetool_action_finish (child, NULL));
  ck_assert (gluetool_action_finish (root, NULL));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 1);
  ck_assert_uint_eq (stats.actions_unfinished_at_close, 2);
  ck_assert_ptr_null (gluetool_tracer_get_default ());

  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  test_receiver_expect_span (receiver, "unfinished/done");
  ck_assert_ptr_null (test_receiver_find_span (receiver, "unfinished/root"));
  ck_assert_ptr_null (test_receiver_find_span (receiver, "unfinished/child"));
}
END_TEST

/* ---- fork() while a caller waits for room in a full queue ------------------ */

static gpointer
finish_in_thread (gpointer label)
{
  g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);

  return GINT_TO_POINTER (gluetool_action_finish (action, NULL));
}

/* 100 bytes of label. */
#define BLOCK_FILLER "0123456789012345678901234567890123456789012345678901234567890123456789" \
                     "012345678901234567890123456789"

/* A caller waiting for room in a full queue (the tracer's queue-full-wait)
 * waits outside its region of the process, so fork() goes ahead at once,
 * though the wait allowed is an hour: were it waiting inside, fork()'s
 * prepare handler would wait with it and the case would time out. The queue
 * stays full because the tracer's thread is held in a lookup of
 * "blocked.test" (outside its own region, as lookups are). */
START_TEST (test_fork_while_caller_waits_for_room)
{
  TestResolver *resolver = test_resolver_install ();
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *failure = NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);
  GluetoolTracerStats stats;
  GThread *waiter;
  int verdict_fd = -1;
  pid_t pid;

  tracer = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                           "service-name", "fork-waiting",
                           "reporting-host", "blocked.test",
                           "queue-size", (guint64) 512,
                           "flush-interval", 60.0,
                           "queue-full-wait", 3600.0,
                           NULL);
  ck_assert_msg (tracer != NULL, "tracer: %s", error != NULL ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
  /* The queue's two blocks of 256 bytes, one span each: labels this long
   * make spans of about 200 bytes, two of which never share a block. */
  ck_assert_msg (report_labels ("waiting/queued/" BLOCK_FILLER "/", 2), "%s", child_failure);

  waiter = g_thread_new ("waiter", finish_in_thread, "waiting/waiter");
  do
    {
      gluetool_tracer_get_stats (tracer, &stats);
      ck_assert_msg (g_get_monotonic_time () < deadline, "the caller never waited for room");
      g_thread_yield ();
    }
  while (stats.spans_waited_for_room == 0);

  pid = fork_child (CHILD_ALARM_S, &verdict_fd);
  if (pid == 0)
    child_exit (0, NULL);
  ck_assert_msg (pid > 0, "fork: %s", g_strerror (errno));
  failure = reap_child (pid, verdict_fd);
  ck_assert_msg (failure == NULL, "the child %s", failure);

  /* The caller still waits: close() wakes it, and gives up on the stuck
   * thread at its deadline. */
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 2);
  ck_assert (test_resolver_wait_blocked (resolver, WAIT_S));
  ck_assert (!gluetool_tracer_close (tracer, 0.1, &error));
  ck_assert_msg (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT), "%s", error->message);
  ck_assert (GPOINTER_TO_INT (g_thread_join (waiter)));
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 3);
  ck_assert_uint_eq (stats.spans_failed_to_send, 3);
  ck_assert_uint_eq (stats.spans_waited_for_room, 1);

  g_clear_object (&tracer);
  test_resolver_uninstall (resolver);
}
END_TEST

/* ---- fork() while other threads report ------------------------------------ */

#define STRESS_FORKS 100
#define STRESS_WAVE 10          /* children alive at once */
#define STRESS_CHILD_SPANS 50
#define STRESS_PRODUCERS 2
#define STRESS_PER_FORK 100     /* actions each producer may finish per fork */
#define STRESS_CHILD_ALARM_S 20u

/* Exit codes of reporting children: each failure its own. */
enum {
  FORKED_OK = 0,
  FORKED_NO_DEFAULT = 10,
  FORKED_FINISH_FAILED,
  FORKED_CLOSE_FAILED,
  FORKED_CLOSE_SLOW,
  FORKED_WRONG_REPORTED,
  FORKED_WRONG_SENT,
};

#define FORKED_FAIL(code, ...) \
  G_STMT_START { \
    child_failed (__FILE__, __LINE__, __VA_ARGS__); \
    return (code); \
  } G_STMT_END

/* In a child: some GLib work of its own, as any program does, then
 * @n_spans actions "@prefix@index/@i" to the inherited default, then
 * close() it. A thousand list nodes are more than GSlice's per-thread
 * magazines hold, so they take its process-wide lock, as the child's own
 * GObjects sooner or later would: a child finds that lock held for ever when
 * a thread of its parent held it at fork(). */
static int
forked_child_main (GluetoolTracer *inherited,
                   const char     *prefix,
                   guint           index,
                   guint           n_spans)
{
  GluetoolTracer *tracer = gluetool_tracer_get_default ();
  g_autoptr(GError) error = NULL;
  GluetoolTracerStats stats;
  gboolean closed;
  gint64 started;
  double took;

  GList *work = NULL;

  for (guint i = 0; i < 1000; i++)
    work = g_list_prepend (work, GUINT_TO_POINTER (i));
  g_list_free (work);

  if (tracer != inherited)
    FORKED_FAIL (FORKED_NO_DEFAULT, "the inherited tracer is not the default");
  for (guint i = 0; i < n_spans; i++)
    {
      char label[48];
      g_autoptr(GluetoolAction) action = NULL;

      g_snprintf (label, sizeof label, "%s%u/%u", prefix, index, i);
      action = gluetool_action_new (label, NULL);
      if (!gluetool_action_finish (action, &error))
        FORKED_FAIL (FORKED_FINISH_FAILED, "finish '%s': %s", label, error->message);
    }
  started = g_get_monotonic_time ();
  closed = gluetool_tracer_close (tracer, 10.0, &error);
  took = seconds_since (started);
  if (took >= PROMPT_S)
    FORKED_FAIL (FORKED_CLOSE_SLOW, "close() took %.1f s", took);
  if (!closed)
    FORKED_FAIL (FORKED_CLOSE_FAILED, "close: %s", error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  if (stats.spans_reported != n_spans)
    FORKED_FAIL (FORKED_WRONG_REPORTED, "spans_reported %" G_GUINT64_FORMAT ", not %u",
                 stats.spans_reported, n_spans);
  if (stats.spans_sent != n_spans)
    FORKED_FAIL (FORKED_WRONG_SENT, "spans_sent %" G_GUINT64_FORMAT ", not %u",
                 stats.spans_sent, n_spans);
  return FORKED_OK;
}

typedef struct {
  pid_t pid;
  int   verdict_fd;
} ReportingChild;

/* Forks a child that runs forked_child_main(); FALSE when fork() failed. */
static gboolean
fork_reporting_child (ReportingChild *child,
                      GluetoolTracer *inherited,
                      const char     *prefix,
                      guint           index,
                      guint           n_spans)
{
  child->pid = fork_child (STRESS_CHILD_ALARM_S, &child->verdict_fd);
  if (child->pid == 0)
    child_exit (forked_child_main (inherited, prefix, index, n_spans), child_failure);
  return child->pid > 0;
}

/* Reaps @child; when it failed, adds why to @failures (the first few) and
 * returns FALSE. */
static gboolean
reap_reporting_child (ReportingChild *child,
                      guint           index,
                      guint           n_failed_before,
                      GString        *failures)
{
  g_autofree char *failure = reap_child (child->pid, child->verdict_fd);

  if (failure == NULL)
    return TRUE;
  if (n_failed_before < 5)
    g_string_append_printf (failures, "; child %u %s", index, failure);
  return FALSE;
}

/* The window is short: many rounds to fall in it (fewer under valgrind,
 * where G_SLICE=always-malloc leaves no GSlice lock to find held). */
#define STARTUP_ROUNDS (RUNNING_ON_VALGRIND ? 5u : 50u)
#define STARTUP_FORKS 10

#ifndef UNDER_ADDRESS_SANITIZER
/* A program that makes its tracer and forks at once: the tracer's thread is
 * starting (resolving the agent's address, making its socket) while the
 * children are made. Each round forks its children back to back, from the
 * moment the tracer is made, so that some fork() falls in that window. */
START_TEST (test_fork_right_after_tracer_made)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  Agent agent = { .fd = -1 };
  AgentAnswer answer;
  guint n_failed = 0;
  int agent_status = 0;

  agent_start (&agent);
  /* A round whose children hang costs their alarm: stop at the first. */
  for (guint round = 0; round < STARTUP_ROUNDS && n_failed == 0; round++)
    {
      g_autoptr(GluetoolTracer) tracer = NULL;
      g_autoptr(GError) error = NULL;
      ReportingChild children[STARTUP_FORKS];

      tracer = gluetool_tracer_new ("fork-startup", "127.0.0.1", agent.ports[AGENT_MAIN],
                                    &error);
      ck_assert_msg (tracer != NULL, "tracer: %s", error != NULL ? error->message : "");
      ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
      for (guint f = 0; f < STARTUP_FORKS; f++)
        {
          ck_assert_msg (fork_reporting_child (&children[f], tracer, "startup/",
                                               round * STARTUP_FORKS + f, 1),
                         "fork: %s", g_strerror (errno));
        }
      ck_assert_msg (gluetool_tracer_close (tracer, WAIT_S, &error), "the parent's close: %s",
                     error->message);
      for (guint f = 0; f < STARTUP_FORKS; f++)
        if (!reap_reporting_child (&children[f], round * STARTUP_FORKS + f, n_failed, failures))
          n_failed++;
    }
  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);
  ck_assert (agent_ask (&agent, AGENT_MAIN, "startup/", STARTUP_ROUNDS * STARTUP_FORKS, &answer));
  ck_assert_uint_eq (answer.n_spans, STARTUP_ROUNDS * STARTUP_FORKS);
  ck_assert_uint_eq (answer.n_clients, STARTUP_ROUNDS * STARTUP_FORKS);
  ck_assert_int_eq (answer.max_seq_no, 1);
  ck_assert (agent_stop (&agent, &agent_status));
  ck_assert_msg (exited_cleanly (agent_status), "the agent: wait status 0x%x",
                 (guint) agent_status);
}
END_TEST
#endif

typedef struct {
  GMutex   lock;
  GCond    more;
  guint    budget;                      /* under @lock: actions each producer may finish */
  gboolean stop;                        /* under @lock */
  guint    made[STRESS_PRODUCERS];      /* (atomic) actions each has finished */
  guint    failed;                      /* (atomic) finishes that failed */
} Producers;

typedef struct {
  Producers *producers;
  guint      index;
} Producer;

static gpointer
produce (gpointer data)
{
  Producer *producer = data;
  Producers *producers = producer->producers;

  for (guint i = 0;; i++)
    {
      char label[48];
      gboolean stop;

      g_mutex_lock (&producers->lock);
      while (!producers->stop && i >= producers->budget)
        g_cond_wait (&producers->more, &producers->lock);
      stop = producers->stop;
      g_mutex_unlock (&producers->lock);
      if (stop)
        break;

      g_snprintf (label, sizeof label, "producer/%u/%u", producer->index, i);
      {
        g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);
        g_autoptr(GluetoolAction) inner = gluetool_action_new ("inner", action);

        gluetool_action_set_tag_int64 (action, "i", i);
        gluetool_action_set_tag_string (action, "thread", "producer");
        /* Finished explicitly: actions dropped unfinished are
         * test_fork_while_threads_drop_actions()'s. */
        if (!gluetool_action_finish (inner, NULL))
          g_atomic_int_inc (&producers->failed);
        if (!gluetool_action_finish (action, NULL))
          g_atomic_int_inc (&producers->failed);
      }
      g_atomic_int_set (&producers->made[producer->index], i + 1);
    }
  return NULL;
}

/* Waits until every producer has finished at least @n actions. */
static gboolean
wait_for_producers (Producers *producers,
                    guint      n)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);

  for (guint p = 0; p < STRESS_PRODUCERS; p++)
    while ((guint) g_atomic_int_get (&producers->made[p]) < n)
      {
        if (g_get_monotonic_time () > deadline)
          return FALSE;
        g_thread_yield ();
      }
  return TRUE;
}

static void
count_label (GHashTable *labels,
             const char *label)
{
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (labels, label));

  g_hash_table_replace (labels, (gpointer) label, GUINT_TO_POINTER (n + 1));
}

/* The receiver is in the agent's process, not this one: a thread of the
 * test's own that makes GObjects (as decoding does) could hold one of
 * GLib's locks at fork(), which no library can help. */
START_TEST (test_fork_while_threads_report)
{
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) labels = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) child_of_uuid = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) parent_seq_nos = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GString) failures = g_string_new (NULL);
  g_autofree char *dump_path = NULL;
  g_autofree char *dump = NULL;
  g_auto(GStrv) lines = NULL;
  const char *child_uuid[STRESS_FORKS] = { NULL };
  gint64 child_min_seq_no[STRESS_FORKS] = { 0 };
  gint64 parent_max_seq_no = 0;
  Agent agent = { .fd = -1 };
  AgentAnswer answer;
  Producers producers = { 0 };
  Producer producer[STRESS_PRODUCERS];
  GThread *threads[STRESS_PRODUCERS];
  const char *parent_uuid;
  GluetoolTracerStats stats;
  guint n_failed = 0;
  guint n_produced = 0;
  guint n_expected;
  guint n_spans = 0;
  guint n_unexpected = 0;
  int agent_status = 0;
  int dump_fd;

  agent_start (&agent);
  tracer = gluetool_tracer_new ("fork-stress", "127.0.0.1", agent.ports[AGENT_MAIN], &error);
  ck_assert_msg (tracer != NULL, "tracer: %s", error != NULL ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
  parent_uuid = gluetool_tracer_get_client_uuid (tracer);
  /* The tracer's thread has started and connected: forking while it does
   * is test_fork_right_after_tracer_made()'s. */
  ck_assert (report_labels ("producer/warm-up/", 1));
  ck_assert_msg (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush: %s", error->message);

  g_mutex_init (&producers.lock);
  g_cond_init (&producers.more);
  for (guint p = 0; p < STRESS_PRODUCERS; p++)
    {
      producer[p] = (Producer) { &producers, p };
      threads[p] = g_thread_new ("producer", produce, &producer[p]);
    }

  /* A wave whose children hang costs their alarm: stop at the first. */
  for (guint wave = 0; wave < STRESS_FORKS / STRESS_WAVE && n_failed == 0; wave++)
    {
      ReportingChild children[STRESS_WAVE];

      for (guint w = 0; w < STRESS_WAVE; w++)
        {
          guint budget;

          /* Let the producers go on, and fork while they are at it. */
          g_mutex_lock (&producers.lock);
          budget = producers.budget += STRESS_PER_FORK;
          g_cond_broadcast (&producers.more);
          g_mutex_unlock (&producers.lock);
          ck_assert_msg (wait_for_producers (&producers, budget - STRESS_PER_FORK / 2),
                         "the producers stopped making actions");

          ck_assert_msg (fork_reporting_child (&children[w], tracer, "child/",
                                               wave * STRESS_WAVE + w, STRESS_CHILD_SPANS),
                         "fork: %s", g_strerror (errno));
        }
      for (guint w = 0; w < STRESS_WAVE; w++)
        if (!reap_reporting_child (&children[w], wave * STRESS_WAVE + w, n_failed, failures))
          n_failed++;
    }

  g_mutex_lock (&producers.lock);
  producers.stop = TRUE;
  g_cond_broadcast (&producers.more);
  g_mutex_unlock (&producers.lock);
  for (guint p = 0; p < STRESS_PRODUCERS; p++)
    {
      g_thread_join (threads[p]);
      n_produced += producers.made[p];
    }
  g_cond_clear (&producers.more);
  g_mutex_clear (&producers.lock);

  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);
  ck_assert_uint_eq (producers.failed, 0);

  ck_assert_msg (gluetool_tracer_close (tracer, WAIT_S, &error), "the parent's close: %s",
                 error->message);
  gluetool_tracer_get_stats (tracer, &stats);
  /* Each production is two spans ("inner" too), plus the warm-up. */
  ck_assert_uint_eq (stats.spans_reported, 2 * n_produced + 1);
  ck_assert_uint_eq (stats.spans_sent, 2 * n_produced + 1);

  n_expected = 2 * n_produced + 1 + STRESS_FORKS * STRESS_CHILD_SPANS;
  dump_fd = g_file_open_tmp ("test-fork-XXXXXX", &dump_path, &error);
  ck_assert_msg (dump_fd >= 0, "%s", error != NULL ? error->message : "");
  close (dump_fd);
  ck_assert_msg (agent_dump (&agent, AGENT_MAIN, n_expected, dump_path, &answer),
                 "the agent did not write what it received to %s", dump_path);
  ck_assert_uint_eq (answer.n_spans, n_expected);
  ck_assert_uint_eq (answer.n_bad, 0);
  ck_assert (g_file_get_contents (dump_path, &dump, NULL, &error));
  unlink (dump_path);

  /* Every label once; each child under a client-uuid of its own, numbered
   * from 1; the parent's datagrams numbered 1, 2, ... without a gap. */
  lines = g_strsplit (dump, "\n", -1);
  for (guint l = 0; lines[l] != NULL && lines[l][0] != '\0'; l++)
    {
      /* "seqNo\tuuid\tlabel", cut in place: @lines outlives the tables. */
      char *uuid = strchr (lines[l], '\t');
      char *label = uuid != NULL ? strchr (uuid + 1, '\t') : NULL;
      gboolean from_parent;
      gint64 seq_no;
      guint a, b;

      ck_assert_msg (label != NULL, "a bad line from the agent: %s", lines[l]);
      *uuid++ = '\0';
      *label++ = '\0';
      seq_no = g_ascii_strtoll (lines[l], NULL, 10);
      from_parent = g_str_equal (uuid, parent_uuid);
      n_spans++;

      count_label (labels, label);
      if (from_parent)
        {
          gint64 *key = g_new (gint64, 1);

          *key = seq_no;
          g_hash_table_add (parent_seq_nos, key);
          parent_max_seq_no = MAX (parent_max_seq_no, seq_no);
        }
      if (sscanf (label, "child/%u/%u", &a, &b) == 2 && a < STRESS_FORKS
          && b < STRESS_CHILD_SPANS)
        {
          ck_assert_msg (!from_parent, "'%s' came with the parent's client-uuid", label);
          if (child_uuid[a] == NULL)
            {
              ck_assert_msg (g_hash_table_insert (child_of_uuid, (gpointer) uuid,
                                                  GUINT_TO_POINTER (a)),
                             "children %u and %u had one client-uuid %s", a,
                             GPOINTER_TO_UINT (g_hash_table_lookup (child_of_uuid, uuid)), uuid);
              child_uuid[a] = uuid;
              child_min_seq_no[a] = seq_no;
            }
          ck_assert_str_eq (child_uuid[a], uuid);
          child_min_seq_no[a] = MIN (child_min_seq_no[a], seq_no);
        }
      else if ((sscanf (label, "producer/%u/%u", &a, &b) == 2 && a < STRESS_PRODUCERS
                && b < producers.made[a])
               || g_str_equal (label, "inner") || g_str_equal (label, "producer/warm-up/0"))
        ck_assert_msg (from_parent, "'%s' came with client-uuid %s, not the parent's", label, uuid);
      else
        n_unexpected++;
    }
  ck_assert_uint_eq (n_spans, n_expected);
  ck_assert_uint_eq (n_unexpected, 0);

  for (guint c = 0; c < STRESS_FORKS; c++)
    {
      ck_assert_msg (child_uuid[c] != NULL, "nothing arrived from child %u", c);
      ck_assert_msg (child_min_seq_no[c] == 1, "child %u's first datagram had seqNo %"
                     G_GINT64_FORMAT, c, child_min_seq_no[c]);
      for (guint i = 0; i < STRESS_CHILD_SPANS; i++)
        {
          char label[48];
          guint n;

          g_snprintf (label, sizeof label, "child/%u/%u", c, i);
          n = GPOINTER_TO_UINT (g_hash_table_lookup (labels, label));
          ck_assert_msg (n == 1, "'%s' arrived %u times", label, n);
        }
    }
  for (guint p = 0; p < STRESS_PRODUCERS; p++)
    for (guint i = 0; i < producers.made[p]; i++)
      {
        char label[48];
        guint n;

        g_snprintf (label, sizeof label, "producer/%u/%u", p, i);
        n = GPOINTER_TO_UINT (g_hash_table_lookup (labels, label));
        ck_assert_msg (n == 1, "'%s' arrived %u times", label, n);
      }
  ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (labels, "inner")), n_produced);

  ck_assert_uint_eq (g_hash_table_size (parent_seq_nos), stats.datagrams_sent);
  ck_assert_int_eq (parent_max_seq_no, (gint64) stats.datagrams_sent);
  ck_assert (g_hash_table_contains (parent_seq_nos, &(gint64) { 1 }));

  ck_assert (agent_stop (&agent, &agent_status));
  ck_assert_msg (exited_cleanly (agent_status), "the agent: wait status 0x%x",
                 (guint) agent_status);
}
END_TEST

/* ---- fork() while other threads drop actions unfinished ----------------- */

/* The README's idiom, g_autoptr(GluetoolAction) dropped without finish(),
 * in threads that run while another forks: an action's end must leave no
 * lock of GLib's held in a child, since GLib 2.74's g_object_unref() takes
 * GObject's global notify lock before dispose(). A child that finds it
 * held hangs in its own first g_object_unref(), so each child makes and
 * drops actions the same way, and one that has not finished by the
 * deadline is killed and counted as hung. */
#ifdef UNDER_ADDRESS_SANITIZER
/* Under AddressSanitizer a fork and its child take some 30 ms, not 7. */
#define DROP_FORKS_NATIVE 100u
#else
#define DROP_FORKS_NATIVE 500u
#endif
#define DROP_FORKS (RUNNING_ON_VALGRIND ? 10u : DROP_FORKS_NATIVE)
#define WAVE_SIZE 20                /* children of fork_waves() alive at once */
#define DROP_CHILD_ACTIONS 100
#define DROP_THREADS 3
/* A child's work takes milliseconds (under valgrind, a second or so). */
#define WAVE_HUNG_AFTER_S (RUNNING_ON_VALGRIND ? 60.0 : 5.0)

typedef struct {
  GMutex   lock;
  GCond    started_cond;
  guint    n_started;               /* under @lock: threads past their first action */
  gint     stop;                    /* (atomic) */
  guint    made[DROP_THREADS];      /* (atomic) rounds each has done, two actions each */
} Droppers;

typedef struct {
  Droppers *droppers;
  guint     index;
} Dropper;

/* Starts @n threads named @name running @func, each with its @dropper, and
 * returns once each is past its first action: the rounds made so far. */
static guint
droppers_start (Droppers    *droppers,
                Dropper     *dropper,
                GThread    **threads,
                guint        n,
                const char  *name,
                GThreadFunc  func)
{
  guint n_made = 0;

  g_mutex_init (&droppers->lock);
  g_cond_init (&droppers->started_cond);
  for (guint t = 0; t < n; t++)
    {
      dropper[t] = (Dropper) { droppers, t };
      threads[t] = g_thread_new (name, func, &dropper[t]);
    }
  gluetool_mutex_lock (&droppers->lock);
  while (droppers->n_started < n)
    gluetool_cond_wait (&droppers->started_cond, &droppers->lock);
  gluetool_mutex_unlock (&droppers->lock);
  for (guint t = 0; t < n; t++)
    n_made += (guint) g_atomic_int_get (&droppers->made[t]);
  return n_made;
}

/* Stops and joins the @n threads droppers_start() started: the rounds they
 * made in all. */
static guint
droppers_stop (Droppers  *droppers,
               GThread  **threads,
               guint      n)
{
  guint n_made = 0;

  g_atomic_int_set (&droppers->stop, TRUE);
  for (guint t = 0; t < n; t++)
    {
      g_thread_join (threads[t]);
      n_made += (guint) g_atomic_int_get (&droppers->made[t]);
    }
  g_cond_clear (&droppers->started_cond);
  g_mutex_clear (&droppers->lock);
  return n_made;
}

static gpointer
drop_actions (gpointer data)
{
  Dropper *dropper = data;
  Droppers *droppers = dropper->droppers;

  for (guint i = 0; !g_atomic_int_get (&droppers->stop); i++)
    {
      char label[48];

      g_snprintf (label, sizeof label, "dropped/%u/%u", dropper->index, i);
      {
        g_autoptr(GluetoolAction) action = gluetool_action_new (label, NULL);
        g_autoptr(GluetoolAction) inner = gluetool_action_new ("inner", action);

        gluetool_action_set_tag_int64 (inner, "i", i);
      }
      g_atomic_int_set (&droppers->made[dropper->index], i + 1);
      if (i == 0)
        {
          gluetool_mutex_lock (&droppers->lock);
          droppers->n_started++;
          g_cond_signal (&droppers->started_cond);
          gluetool_mutex_unlock (&droppers->lock);
        }
    }
  return NULL;
}

/* In a child: actions made and dropped as the threads of its parent do,
 * reported through the inherited default tracer. */
static int
dropping_child_main (guint    index,
                     gpointer data)
{
  GluetoolTracerStats stats;

  for (guint i = 0; i < DROP_CHILD_ACTIONS; i++)
    {
      char label[48];
      g_autoptr(GluetoolAction) action = NULL;

      g_snprintf (label, sizeof label, "dropped-in-child/%u/%u", index, i);
      action = gluetool_action_new (label, NULL);
      gluetool_action_set_tag_int64 (action, "i", i);
    }
  if (gluetool_action_get_current () != NULL)
    FORKED_FAIL (FORKED_FINISH_FAILED, "an action dropped is still current");
  gluetool_tracer_get_stats (gluetool_tracer_get_default (), &stats);
  if (stats.spans_reported != DROP_CHILD_ACTIONS)
    FORKED_FAIL (FORKED_WRONG_REPORTED, "spans_reported %" G_GUINT64_FORMAT ", not %u",
                 stats.spans_reported, DROP_CHILD_ACTIONS);
  return FORKED_OK;
}

/* Waits for @child's verdict until @deadline; a child that has none by
 * then is killed. Returns whether it hung; when it did not, adds why it
 * failed, if it did, to @failures (the first few) and counts it. */
static gboolean
reap_waved_child (ReportingChild *child,
                  guint           index,
                  gint64          deadline,
                  guint          *n_failed,
                  GString        *failures)
{
  double remaining_s = (double) (deadline - g_get_monotonic_time ()) / G_USEC_PER_SEC;
  gboolean hung = !wait_readable (child->verdict_fd, MAX (remaining_s, 0.001));
  g_autofree char *failure = NULL;

  if (hung)
    kill (child->pid, SIGKILL);
  failure = reap_child (child->pid, child->verdict_fd);
  if (!hung && failure != NULL)
    {
      if (*n_failed < 5)
        g_string_append_printf (failures, "; child %u %s", index, failure);
      (*n_failed)++;
    }
  return hung;
}

/* What a child of fork_waves() runs: FORKED_OK, or a failure code with
 * child_failure set (FORKED_FAIL()). @index counts the children from 0. */
typedef int (*WaveChildMain) (guint    index,
                              gpointer data);

/* Forks @n_forks children that each run @child_main, in waves of
 * WAVE_SIZE alive at once, and reaps each wave against a deadline of
 * WAVE_HUNG_AFTER_S from its last fork: a child with no verdict by then is
 * killed and counted as hung. Every wave runs, hung children or not, so
 * that the count says how often. Returns the number hung; the children
 * that failed otherwise are counted in @n_failed, the first few with why
 * in @failures. */
static guint
fork_waves (guint          n_forks,
            WaveChildMain  child_main,
            gpointer       data,
            guint         *n_failed,
            GString       *failures)
{
  guint n_hung = 0;

  for (guint first = 0; first < n_forks; first += WAVE_SIZE)
    {
      ReportingChild children[WAVE_SIZE];
      guint n_children = MIN (WAVE_SIZE, n_forks - first);
      gint64 deadline;

      for (guint c = 0; c < n_children; c++)
        {
          children[c].pid = fork_child (CHILD_ALARM_S, &children[c].verdict_fd);
          if (children[c].pid == 0)
            child_exit (child_main (first + c, data), child_failure);
          ck_assert_msg (children[c].pid > 0, "fork: %s", g_strerror (errno));
        }
      deadline = g_get_monotonic_time () + (gint64) (WAVE_HUNG_AFTER_S * G_USEC_PER_SEC);
      for (guint c = 0; c < n_children; c++)
        if (reap_waved_child (&children[c], first + c, deadline, n_failed, failures))
          n_hung++;
    }
  return n_hung;
}

/* _i: 0 with recycling, the default; 1 without, where every action's end
 * is its last g_object_unref(). */
START_TEST (test_fork_while_threads_drop_actions)
{
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) failures = g_string_new (NULL);
  Agent agent = { .fd = -1 };
  Droppers droppers = { 0 };
  Dropper dropper[DROP_THREADS];
  GThread *threads[DROP_THREADS];
  GluetoolTracerStats stats;
  guint n_made = 0;
  guint n_hung;
  guint n_failed = 0;
  gboolean closed;
  int agent_status = 0;

  gluetool_recycler_set_enabled (_i == 0);
  agent_start (&agent);
  tracer = gluetool_tracer_new ("fork-drop", "127.0.0.1", agent.ports[AGENT_MAIN], &error);
  ck_assert_msg (tracer != NULL, "tracer: %s", error != NULL ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
  /* The tracer's thread has started: forking while it does is
   * test_fork_right_after_tracer_made()'s. */
  ck_assert (report_labels ("dropped/warm-up/", 1));
  ck_assert_msg (gluetool_tracer_flush (tracer, WAIT_S, &error), "flush: %s", error->message);

  droppers_start (&droppers, dropper, threads, DROP_THREADS, "dropper", drop_actions);
  n_hung = fork_waves (DROP_FORKS, dropping_child_main, NULL, &n_failed, failures);
  n_made = droppers_stop (&droppers, threads, DROP_THREADS);
  gluetool_recycler_set_enabled (TRUE);

  ck_assert_msg (n_hung == 0, "%u of %u children hung", n_hung, DROP_FORKS);
  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);

  /* Every action dropped was finished and reported: each round is two
   * ("inner" too), plus the warm-up. Three threads finish spans faster than
   * one flush thread sends them: what the queue could not hold is counted,
   * and close() says so; nothing else is lost. */
  closed = gluetool_tracer_close (tracer, WAIT_S, &error);
  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_reported, 2 * (guint64) n_made + 1);
  ck_assert_uint_eq (stats.spans_sent + stats.spans_dropped_queue_full, stats.spans_reported);
  ck_assert_msg (closed == (stats.spans_dropped_queue_full == 0), "the parent's close: %s",
                 error != NULL ? error->message : "no error");
  ck_assert (agent_stop (&agent, &agent_status));
  ck_assert_msg (exited_cleanly (agent_status), "the agent: wait status 0x%x",
                 (guint) agent_status);
}
END_TEST

/* ---- fork() while a thread looks at its stack ---------------------------- */

/* A thread that started an action keeps using its stack, each use holding
 * the stack's lock for a moment: it starts and finishes a child action
 * and looks at the current one (get_current(), dup_current()), while the
 * main thread forks. Each child finishes the first action, which takes it
 * off its home stack, the other thread's: a child would wait for ever for
 * a lock that thread held at fork(). Each of those uses is a region for
 * that (see process-private.h): without them, children hang here. */
#define LOOK_FORKS (RUNNING_ON_VALGRIND ? 10u : DROP_FORKS_NATIVE)

typedef struct {
  GMutex          lock;
  GCond           started_cond;
  GluetoolAction *action;           /* (owned) under @lock: the looker's, unfinished */
  gint            stop;             /* (atomic) */
  guint           n_looks;          /* (atomic) */
} StackLooker;

static gpointer
look_at_own_stack (gpointer data)
{
  StackLooker *looker = data;
  g_autoptr(GluetoolAction) action = gluetool_action_new ("looked-at", NULL);
  g_autoptr(GError) error = NULL;

  gluetool_mutex_lock (&looker->lock);
  looker->action = g_object_ref (action);
  g_cond_signal (&looker->started_cond);
  gluetool_mutex_unlock (&looker->lock);

  while (!g_atomic_int_get (&looker->stop))
    {
      g_autoptr(GluetoolAction) current = NULL;

      /* Started and finished on this thread's stack too. */
      {
        g_autoptr(GluetoolAction) inner = gluetool_action_new ("inner", action);

        if (!gluetool_action_finish (inner, &error))
          break;
      }
      current = gluetool_action_dup_current ();
      if (gluetool_action_get_current () != action || current != action)
        break;
      g_atomic_int_inc (&looker->n_looks);
    }
  if (error != NULL || !gluetool_action_finish (action, &error))
    g_critical ("finish: %s", error->message);
  return NULL;
}

/* In a child: the other thread's action, finished here. */
static int
looked_at_child_main (guint    index,
                      gpointer data)
{
  GluetoolAction *action = data;
  g_autoptr(GError) error = NULL;

  /* Not on this thread's stack: reported, with an error that says so. */
  if (gluetool_action_finish (action, &error)
      || !g_error_matches (error, GLUETOOL_ACTION_ERROR, GLUETOOL_ACTION_ERROR_NOT_ACTIVE))
    FORKED_FAIL (FORKED_FINISH_FAILED, "finish: %s", error != NULL ? error->message : "no error");
  if (!gluetool_action_is_finished (action))
    FORKED_FAIL (FORKED_FINISH_FAILED, "the action is not finished");
  return FORKED_OK;
}

START_TEST (test_fork_while_thread_looks_at_its_stack)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  StackLooker looker = { 0 };
  GThread *thread;
  guint n_hung;
  guint n_failed = 0;
  guint n_looks_before;

  g_mutex_init (&looker.lock);
  g_cond_init (&looker.started_cond);
  thread = g_thread_new ("looker", look_at_own_stack, &looker);
  gluetool_mutex_lock (&looker.lock);
  while (looker.action == NULL)
    gluetool_cond_wait (&looker.started_cond, &looker.lock);
  gluetool_mutex_unlock (&looker.lock);
  n_looks_before = (guint) g_atomic_int_get (&looker.n_looks);

  n_hung = fork_waves (LOOK_FORKS, looked_at_child_main, looker.action, &n_failed, failures);

  /* The thread looked all along, and always found its action. */
  ck_assert_uint_gt ((guint) g_atomic_int_get (&looker.n_looks), n_looks_before);
  g_atomic_int_set (&looker.stop, TRUE);
  g_thread_join (thread);
  ck_assert (gluetool_action_is_finished (looker.action));
  g_clear_object (&looker.action);
  g_cond_clear (&looker.started_cond);
  g_mutex_clear (&looker.lock);

  ck_assert_msg (n_hung == 0, "%u of %u children hung", n_hung, LOOK_FORKS);
  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);
}
END_TEST

/* ---- fork() while a thread drops finished actions with g_object_unref() ---- */

static void
on_notify_ignored (void)
{
}

/* With recycling off, the program's own g_object_unref() of a finished
 * action is its last: GObject's dispose() destroys its handlers under
 * GLib's global signal lock, and takes it again before finalize(). The
 * action's dispose() keeps that stretch in a region. Each child needs only
 * that lock: it connects a handler to a new object. Not run under the
 * sanitizers: see fork_suite(). */
#if !defined(UNDER_ADDRESS_SANITIZER) && !defined(UNDER_THREAD_SANITIZER)
#define UNREF_FORKS (RUNNING_ON_VALGRIND ? 40u : 500u)
#define UNREF_CHILD_ALARM_S (RUNNING_ON_VALGRIND ? 60u : 5u)

static gpointer
finish_and_unref_actions (gpointer data)
{
  gint *stop = data;

  while (!g_atomic_int_get (stop))
    {
      GluetoolAction *action = gluetool_action_new ("unreffed", NULL);

      gluetool_action_finish (action, NULL);
      g_object_unref (action);
    }
  return NULL;
}

START_TEST (test_fork_while_thread_unrefs_actions)
{
  gint stop = FALSE;
  GThread *thread;
  guint n_hung = 0;
  guint n_failed = 0;

  gluetool_recycler_set_enabled (FALSE);
  g_object_unref (gluetool_action_new ("warm-up", NULL));
  thread = g_thread_new ("unreffer", finish_and_unref_actions, &stop);
  for (guint i = 0; i < UNREF_FORKS; i++)
    {
      int status = 0;
      pid_t pid = fork ();

      ck_assert_int_ge (pid, 0);
      if (pid == 0)
        {
          GObject *object;

          signal (SIGALRM, SIG_DFL);
          alarm (UNREF_CHILD_ALARM_S);
          object = g_object_new (G_TYPE_OBJECT, NULL);
          g_signal_connect (object, "notify", G_CALLBACK (on_notify_ignored), NULL);
          _exit (0);
        }
      ck_assert_int_eq (waitpid (pid, &status, 0), pid);
      /* Under valgrind, its leak check at the child's exit counts what the
       * threads fork() left behind held: status 1 there. */
      if (WIFSIGNALED (status) && WTERMSIG (status) == SIGALRM)
        n_hung++;
      else if (!WIFEXITED (status)
               || (WEXITSTATUS (status) != 0 && !(RUNNING_ON_VALGRIND && WEXITSTATUS (status) == 1)))
        n_failed++;
    }
  g_atomic_int_set (&stop, TRUE);
  g_thread_join (thread);
  gluetool_recycler_set_enabled (TRUE);

  ck_assert_msg (n_hung == 0, "%u of %u children hung", n_hung, UNREF_FORKS);
  ck_assert_uint_eq (n_failed, 0);
}
END_TEST
#endif

/* ---- fork() while threads' recyclers let go of actions --------------------- */

/* Threads that finish actions and hold each a little longer than the
 * recycler looks back (TAKE_SCAN_DEPTH in recycler.c), so none is made
 * again: every action is a new object, and the recycler lets go of the
 * oldest it kept at each finish, the last reference by then. That is an
 * object's whole end (GLib 2.74: its notify lock, the signal lock, the
 * slice allocator), in the recycler's region (see process-private.h);
 * children make objects of their own, and hang without it. */
#define RELEASE_THREADS 2
#define RELEASE_HELD 8              /* more than the recycler looks back */

static gpointer
finish_and_hold_actions (gpointer data)
{
  Droppers *droppers = ((Dropper *) data)->droppers;
  guint index = ((Dropper *) data)->index;
  GluetoolAction *held[RELEASE_HELD] = { NULL };

  for (guint i = 0; !g_atomic_int_get (&droppers->stop); i++)
    {
      GluetoolAction *action = gluetool_action_new ("held", NULL);

      if (!gluetool_action_finish (action, NULL))
        break;
      /* Not the last reference: the recycler holds one too. */
      g_clear_object (&held[i % RELEASE_HELD]);
      held[i % RELEASE_HELD] = action;
      g_atomic_int_set (&droppers->made[index], i + 1);
      if (i == 0)
        {
          gluetool_mutex_lock (&droppers->lock);
          droppers->n_started++;
          g_cond_signal (&droppers->started_cond);
          gluetool_mutex_unlock (&droppers->lock);
        }
    }
  for (guint i = 0; i < RELEASE_HELD; i++)
    g_clear_object (&held[i]);
  return NULL;
}

/* In a child: objects of its own, made and dropped. */
static int
releasing_child_main (guint    index,
                      gpointer data)
{
  GList *work = NULL;

  for (guint i = 0; i < 1000; i++)
    work = g_list_prepend (work, GUINT_TO_POINTER (i));
  g_list_free (work);
  for (guint i = 0; i < DROP_CHILD_ACTIONS; i++)
    {
      g_autoptr(GluetoolAction) action = gluetool_action_new ("in-child", NULL);
      g_autoptr(GObject) object G_GNUC_UNUSED = g_object_new (G_TYPE_OBJECT, NULL);

      if (!gluetool_action_finish (action, NULL))
        FORKED_FAIL (FORKED_FINISH_FAILED, "finish failed");
    }
  return FORKED_OK;
}

START_TEST (test_fork_while_recyclers_let_go)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  Droppers droppers = { 0 };
  Dropper dropper[RELEASE_THREADS];
  GThread *threads[RELEASE_THREADS];
  guint made_before = 0;
  guint made_after = 0;
  guint n_hung;
  guint n_failed = 0;

  made_before = droppers_start (&droppers, dropper, threads, RELEASE_THREADS, "holder",
                                finish_and_hold_actions);

  n_hung = fork_waves (DROP_FORKS, releasing_child_main, NULL, &n_failed, failures);

  made_after = droppers_stop (&droppers, threads, RELEASE_THREADS);

  /* More actions than the recyclers keep went by while the children were
   * made, so they let go of some all along. */
  ck_assert_uint_gt (made_after - made_before, 32 * RELEASE_THREADS);
  ck_assert_msg (n_hung == 0, "%u of %u children hung", n_hung, DROP_FORKS);
  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);
}
END_TEST

/* ---- fork() while GLib's objects are made and dropped in the library ------- */

/* A loopback UDP port nothing listens on: bound, then let go. */
static guint16
closed_udp_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, &error);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  ck_assert_msg (socket != NULL, "socket: %s", error != NULL ? error->message : "");
  ck_assert_msg (g_socket_bind (socket, any_port, FALSE, &error), "bind: %s", error->message);
  bound = g_socket_get_local_address (socket, &error);
  ck_assert_msg (bound != NULL, "local address: %s", error != NULL ? error->message : "");
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* In a child: what a program's own GLib code does, which needs GLib's
 * global locks: list nodes (GSlice's process-wide lock once the thread's
 * magazines run dry), a handler connected to a new object (the signal
 * lock), a UDP socket and addresses (objects with properties, whose ends
 * take the signal lock again) connected and sent on to the closed port
 * @data (a GError), all dropped. */
static int
glib_work_child_main (guint    index,
                      gpointer data)
{
  guint16 port = (guint16) GPOINTER_TO_UINT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GObject) object = g_object_new (G_TYPE_OBJECT, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) agent = g_inet_socket_address_new (loopback, port);
  g_autoptr(GSocket) socket = NULL;
  GList *work = NULL;

  for (guint i = 0; i < 1000; i++)
    work = g_list_prepend (work, GUINT_TO_POINTER (i));
  g_list_free (work);
  g_signal_connect (object, "notify", G_CALLBACK (on_notify_ignored), NULL);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         &error);
  if (socket == NULL)
    FORKED_FAIL (FORKED_FINISH_FAILED, "socket: %s", error->message);
  if (!g_socket_connect (socket, agent, NULL, &error))
    FORKED_FAIL (FORKED_FINISH_FAILED, "connect: %s", error->message);
  /* Refused, on this send or the next: an error either way, or none. */
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GError) refusal = NULL;

      g_socket_send (socket, "x", 1, NULL, &refusal);
    }
  return FORKED_OK;
}

/* ---- fork() while tracers are closed ---------------------------------------- */

/* A thread closes tracers made before the forks, one at a time, while the
 * main thread forks a few children after each close it asks for: a tracer's
 * flush thread lets go of its socket as it stops (stop_sender(), a region),
 * an object's end under GLib's signal lock. The tracers are made first, by
 * the main thread: making one is the program's own GLib work.
 *
 * With GLib 2.74's slice allocator, a thread that ends gives its magazines
 * back under the allocator's global lock, after its function has returned,
 * where no region can reach (see docs/design.md, "fork()"): so the case
 * runs with G_SLICE=always-malloc (as under valgrind and the sanitizers),
 * in this program run again when it was not. */
/* Not run under the sanitizers: see fork_suite(). */
#if !defined(UNDER_ADDRESS_SANITIZER) && !defined(UNDER_THREAD_SANITIZER)
#define CLOSE_TRACERS (RUNNING_ON_VALGRIND ? 4u : 100u)
#define CLOSE_FORKS_EACH 5u

typedef struct {
  GMutex           lock;
  GCond            asked;
  GluetoolTracer **tracers;
  guint            n_asked;           /* under @lock: tracers to close so far, one more
                                       * once the thread may end */
  guint            n_closed;          /* (atomic) */
} TracerCloser;

static gpointer
close_tracers (gpointer data)
{
  TracerCloser *closer = data;

  for (guint i = 0; i < CLOSE_TRACERS; i++)
    {
      gluetool_mutex_lock (&closer->lock);
      while (closer->n_asked <= i)
        gluetool_cond_wait (&closer->asked, &closer->lock);
      gluetool_mutex_unlock (&closer->lock);
      gluetool_tracer_close (closer->tracers[i], WAIT_S, NULL);
      g_atomic_int_inc (&closer->n_closed);
    }
  /* Ends only once the forks are over: a child that copies a thread ended
   * and not joined yet "leaks" it, for ThreadSanitizer. */
  gluetool_mutex_lock (&closer->lock);
  while (closer->n_asked <= CLOSE_TRACERS)
    gluetool_cond_wait (&closer->asked, &closer->lock);
  gluetool_mutex_unlock (&closer->lock);
  return NULL;
}

/* Runs this program's test case @tcase again, in a process of its own
 * with G_SLICE=always-malloc, and asserts that it passed. */
static void
run_case_with_plain_malloc (const char *tcase)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  g_auto(GStrv) envp = g_get_environ ();
  g_autofree char *out = NULL;
  int status = 0;

  ck_assert_msg (self != NULL, "/proc/self/exe: %s", error != NULL ? error->message : "");
  {
    char *argv[] = { self, NULL };

    envp = g_environ_setenv (envp, "G_SLICE", "always-malloc", TRUE);
    envp = g_environ_setenv (envp, "CK_RUN_CASE", tcase, TRUE);
    ck_assert_msg (g_spawn_sync (NULL, argv, envp, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                                 NULL, &status, &error),
                   "spawn: %s", error != NULL ? error->message : "");
  }
  ck_assert_msg (g_spawn_check_wait_status (status, NULL) && g_str_has_prefix (out, "ok 1 "),
                 "%s with G_SLICE=always-malloc: wait status 0x%x: %.600s", tcase, (guint) status,
                 out);
}

START_TEST (test_fork_while_tracers_close)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  GluetoolTracer *tracers[CLOSE_TRACERS];
  TracerCloser closer = { .tracers = tracers };
  guint16 port;
  GThread *thread;
  guint n_hung = 0;
  guint n_failed = 0;

  if (g_strcmp0 (g_getenv ("G_SLICE"), "always-malloc") != 0)
    {
      run_case_with_plain_malloc ("closing");
      return;
    }
  port = closed_udp_port ();

  for (guint i = 0; i < CLOSE_TRACERS; i++)
    {
      g_autoptr(GError) error = NULL;

      tracers[i] = gluetool_tracer_new ("fork-close", "127.0.0.1", port, &error);
      ck_assert_msg (tracers[i] != NULL, "tracer: %s", error != NULL ? error->message : "");
    }
  /* Every flush thread has connected: flush() waits for its first pass. */
  for (guint i = 0; i < CLOSE_TRACERS; i++)
    gluetool_tracer_flush (tracers[i], WAIT_S, NULL);

  g_mutex_init (&closer.lock);
  g_cond_init (&closer.asked);
  thread = g_thread_new ("closer", close_tracers, &closer);
  for (guint i = 0; i < CLOSE_TRACERS; i++)
    {
      gluetool_mutex_lock (&closer.lock);
      closer.n_asked = i + 1;
      g_cond_signal (&closer.asked);
      gluetool_mutex_unlock (&closer.lock);
      n_hung += fork_waves (CLOSE_FORKS_EACH, glib_work_child_main, GUINT_TO_POINTER (port),
                            &n_failed, failures);
    }
  gluetool_mutex_lock (&closer.lock);
  closer.n_asked = CLOSE_TRACERS + 1;
  g_cond_signal (&closer.asked);
  gluetool_mutex_unlock (&closer.lock);
  g_thread_join (thread);
  g_cond_clear (&closer.asked);
  g_mutex_clear (&closer.lock);

  ck_assert_uint_eq ((guint) g_atomic_int_get (&closer.n_closed), CLOSE_TRACERS);
  for (guint i = 0; i < CLOSE_TRACERS; i++)
    {
      ck_assert (gluetool_tracer_is_closed (tracers[i]));
      g_object_unref (tracers[i]);
    }
  ck_assert_msg (n_hung == 0, "%u of %u children hung", n_hung, CLOSE_TRACERS * CLOSE_FORKS_EACH);
  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);
}
END_TEST
#endif

/* ---- fork() while a dropped action's handlers are looked for ---------------- */

/* When GLib's handler flag is not trusted (the probe failed on this GLib,
 * or, here, a test forced it), gluetool_action_release() looks for the
 * handlers of an action it may end under GLib's signal lock, in a region
 * of its own (gluetool_quiet_end_find_handler()). A thread drops unfinished
 * actions with g_autoptr, so that each is looked at; the children connect
 * handlers, which needs that lock. */
#define FIND_FORKS (RUNNING_ON_VALGRIND ? 10u : DROP_FORKS_NATIVE)

START_TEST (test_fork_while_handlers_are_looked_for)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  Droppers droppers = { 0 };
  Dropper dropper[DROP_THREADS];
  GThread *threads[DROP_THREADS];
  guint16 port = closed_udp_port ();
  guint made_before = 0;
  guint made_after = 0;
  guint n_hung;
  guint n_failed = 0;

  gluetool_handler_flag_force_unknown (TRUE);
  {
    g_autoptr(GluetoolAction) forced = gluetool_action_new ("forced", NULL);

    ck_assert_int_eq (gluetool_handler_flag_read (G_OBJECT (forced)), GLUETOOL_HANDLER_FLAG_UNKNOWN);
  }
  made_before = droppers_start (&droppers, dropper, threads, DROP_THREADS, "dropper",
                                drop_actions);

  n_hung = fork_waves (FIND_FORKS, glib_work_child_main, GUINT_TO_POINTER (port), &n_failed,
                       failures);

  made_after = droppers_stop (&droppers, threads, DROP_THREADS);
  gluetool_handler_flag_force_unknown (FALSE);

  /* The threads dropped actions all along. */
  ck_assert_uint_gt (made_after - made_before, 0);
  ck_assert_msg (n_hung == 0, "%u of %u children hung", n_hung, FIND_FORKS);
  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);
}
END_TEST

/* ---- fork() while flush threads send, lose and connect again ---------------- */

/* A pass of a flush thread (run_pass(), a region) is GLib work: every
 * datagram a refusing agent turns away is a GError (g_strerror()'s lock,
 * GSlice), copied as the tracer's last loss, and every
 * MAX_REFUSED_BEFORE_RECONNECT refusals the socket is dropped (GObject's
 * notify lock and the signal lock at its end) and a new one made and
 * connected to a new address: the default resolver's lock, then objects
 * made with properties (GParamSpec's pool lock, the notify lock). Several
 * tracers, each sending datagrams of the smallest size to a port of its
 * own that nothing listens on, are fed spans by one thread, so that their
 * flush threads do that all along, while the main thread forks children
 * that do the same GLib work on a socket of their own. Without the pass's
 * region, children hang on the pool lock, the notify lock and the
 * resolver's lock (see docs/design.md, "fork()"). Spans are handed to each
 * tracer's queue directly: actions report to the default tracer only. */
#define PASS_TRACERS 6u
/* Each child has a small chance of finding a lock held (a flush thread
 * preempted inside one); twice the other cases' forks. */
#define PASS_FORKS (RUNNING_ON_VALGRIND ? 10u : 2 * DROP_FORKS_NATIVE)
#define PASS_SPAN_BYTES 100u

typedef struct {
  GluetoolTracer *tracers[PASS_TRACERS];
  gint            stop;               /* (atomic) */
} PassFeeder;

static gpointer
feed_tracers (gpointer data)
{
  PassFeeder *feeder = data;
  guint8 span[PASS_SPAN_BYTES];

  /* Nothing decodes it: nothing listens. */
  memset (span, 0x15, sizeof span);
  for (guint i = 0; !g_atomic_int_get (&feeder->stop); i++)
    {
      /* As an action's end: a region (which fork() waits for, and holds
       * back while it forks), then the push, after it. Pushed flat out
       * with no region, spans keep a pass draining for as long as they
       * come, and fork() waiting for it: the case took 49 s, not 2.5. */
      {
        g_autoptr(GluetoolProcessRegion) region G_GNUC_UNUSED = gluetool_process_region_enter ();
      }
      gluetool_tracer_report_span_mp (feeder->tracers[i % PASS_TRACERS], span, sizeof span);
      /* Valgrind runs one thread at a time, and this one would take most
       * of the turns from the flush threads. */
      if (RUNNING_ON_VALGRIND && i % PASS_TRACERS == PASS_TRACERS - 1)
        g_thread_yield ();
    }
  return NULL;
}

/* In a child: what a pass does, on a socket of its own: the default
 * resolver asked for an address, a UDP socket made, connected to the
 * closed port @data and given a timeout, its remote address asked for,
 * refusals as GErrors, copied; then the rest of a program's GLib work
 * (glib_work_child_main()). */
static int
pass_work_child_main (guint    index,
                      gpointer data)
{
  guint16 port = (guint16) GPOINTER_TO_UINT (data);
  g_autoptr(GResolver) resolver = g_resolver_get_default ();
  g_autoptr(GError) error = NULL;
  g_autolist(GInetAddress) addresses = NULL;
  g_autoptr(GSocketAddress) agent = NULL;
  g_autoptr(GSocketAddress) remote = NULL;
  g_autoptr(GSocket) socket = NULL;

  addresses = g_resolver_lookup_by_name (resolver, "127.0.0.1", NULL, &error);
  if (addresses == NULL)
    FORKED_FAIL (FORKED_FINISH_FAILED, "lookup: %s", error->message);
  agent = g_inet_socket_address_new (addresses->data, port);
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         &error);
  if (socket == NULL)
    FORKED_FAIL (FORKED_FINISH_FAILED, "socket: %s", error->message);
  if (!g_socket_connect (socket, agent, NULL, &error))
    FORKED_FAIL (FORKED_FINISH_FAILED, "connect: %s", error->message);
  g_socket_set_timeout (socket, 5);
  remote = g_socket_get_remote_address (socket, &error);
  if (remote == NULL)
    FORKED_FAIL (FORKED_FINISH_FAILED, "remote address: %s", error->message);
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(GError) refusal = NULL;
      g_autoptr(GError) copy = NULL;

      if (g_socket_send (socket, "x", 1, NULL, &refusal) < 0)
        copy = g_error_copy (refusal);
    }
  return glib_work_child_main (index, data);
}

START_TEST (test_fork_while_flush_threads_pass)
{
  g_autoptr(GString) failures = g_string_new (NULL);
  PassFeeder feeder = { 0 };
  guint64 failed_before = 0;
  guint64 failed_after = 0;
  GThread *thread;
  guint16 port = 0;
  guint n_hung;
  guint n_failed = 0;

  for (guint t = 0; t < PASS_TRACERS; t++)
    {
      g_autoptr(GError) error = NULL;

      port = closed_udp_port ();
      feeder.tracers[t] = g_initable_new (GLUETOOL_TYPE_TRACER, NULL, &error,
                                          "service-name", "fork-pass",
                                          "reporting-host", "127.0.0.1",
                                          "reporting-port", (guint) port,
                                          "max-packet-size", (guint) 512,
                                          /* A pass drains the queue, and fork()
                                           * waits for it: a few tens of
                                           * datagrams, about one new
                                           * connection. */
                                          "queue-size", (guint64) 16384,
                                          "flush-interval", 0.001,
                                          NULL);
      ck_assert_msg (feeder.tracers[t] != NULL, "tracer: %s",
                     error != NULL ? error->message : "");
    }
  thread = g_thread_new ("feeder", feed_tracers, &feeder);
  /* Every flush thread has sent and lost a datagram or more. */
  for (guint t = 0; t < PASS_TRACERS; t++)
    {
      GluetoolTracerStats stats;
      gint64 deadline = g_get_monotonic_time () + (gint64) (WAIT_S * G_USEC_PER_SEC);

      do
        {
          gluetool_tracer_flush (feeder.tracers[t], WAIT_S, NULL);
          gluetool_tracer_get_stats (feeder.tracers[t], &stats);
        }
      while (stats.spans_failed_to_send == 0 && g_get_monotonic_time () < deadline);
      ck_assert_uint_gt (stats.spans_failed_to_send, 0);
      failed_before += stats.spans_failed_to_send;
    }

  n_hung = fork_waves (PASS_FORKS, pass_work_child_main, GUINT_TO_POINTER (port), &n_failed,
                       failures);

  g_atomic_int_set (&feeder.stop, TRUE);
  g_thread_join (thread);
  for (guint t = 0; t < PASS_TRACERS; t++)
    {
      GluetoolTracerStats stats;

      gluetool_tracer_get_stats (feeder.tracers[t], &stats);
      failed_after += stats.spans_failed_to_send;
      /* FALSE: spans were lost. */
      gluetool_tracer_close (feeder.tracers[t], WAIT_S, NULL);
      ck_assert (gluetool_tracer_is_closed (feeder.tracers[t]));
      g_object_unref (feeder.tracers[t]);
    }

  /* The flush threads lost datagrams all along. */
  ck_assert_uint_gt (failed_after - failed_before, 0);
  ck_assert_msg (n_hung == 0, "%u of %u children hung", n_hung, PASS_FORKS);
  ck_assert_msg (n_failed == 0, "%u children failed%s", n_failed, failures->str);
}
END_TEST

/* ---- fork() while the first action does the once-only work -------------- */

/* A process's first action probes GLib's handler flag and runs the
 * recycler's self-check, each once (a g_once), each a region (see
 * process-private.h), and reads TRACEPARENT once, under a lock held across
 * fork(): a child forked in between would copy a g_once "in progress" (and
 * GLib's type and signal locks, which the probes take) and wait for ever at
 * its own first action. Once per process: each attempt
 * is a fresh process, this program run again in the "--first-action"
 * mode (run_first_action_process()), whose main thread forks children in a
 * tight loop while another thread makes the first action. The fresh
 * processes run outside valgrind, which follows no exec(). */
#define FIRST_ACTION_PROCESSES (RUNNING_ON_VALGRIND ? 10u : 200u)
#define FIRST_ACTION_MAX_FORKS 100u
/* A child's first action takes a millisecond or so. */
#define FIRST_ACTION_CHILD_ALARM_S 3u

typedef struct {
  gint   started;     /* (atomic) registered with the process */
  gint   done;        /* (atomic) the first action was made */
  gint   may_end;     /* (atomic) the forks are over */
  gint64 took_us;     /* making it, once @done */
} FirstAction;

static gpointer
make_first_action (gpointer data)
{
  FirstAction *first = data;
  gint64 started;

  /* Registered with the process (its registry's lock) before the forks. */
  gluetool_process_get_thread_record ();
  g_atomic_int_set (&first->started, TRUE);
  started = g_get_monotonic_time ();
  {
    g_autoptr(GluetoolAction) action G_GNUC_UNUSED = gluetool_action_new ("first", NULL);
  }
  first->took_us = g_get_monotonic_time () - started;
  g_atomic_int_set (&first->done, TRUE);
  /* A thread's end (GLib 2.74's slice allocator gives its magazines back
   * under a global lock, outside any region) is no part of this case. */
  while (!g_atomic_int_get (&first->may_end))
    sched_yield ();
  return NULL;
}

/* The fresh process: writes "<forks while the first action was made>
 * <forks> <children hung> <children failed> <microseconds the first action
 * took>" to stdout. */
static int
run_first_action_process (void)
{
  FirstAction first = { 0 };
  pid_t pids[FIRST_ACTION_MAX_FORKS];
  guint n_forks = 0;
  guint n_during = 0;
  guint n_hung = 0;
  guint n_failed = 0;
  GThread *thread;

  /* Else fork() would wait for no region. */
  gluetool_process_ensure_fork_handlers ();
  thread = g_thread_new ("first-action", make_first_action, &first);
  while (!g_atomic_int_get (&first.started))
    sched_yield ();
  /* Until the first action is made, and once after. */
  while (n_forks < FIRST_ACTION_MAX_FORKS)
    {
      gboolean done_before = g_atomic_int_get (&first.done);
      pid_t pid = fork ();

      if (pid == 0)
        {
          signal (SIGALRM, SIG_DFL);
          alarm (FIRST_ACTION_CHILD_ALARM_S);
          gluetool_action_release (gluetool_action_new ("in-child", NULL));
          _exit (0);
        }
      if (pid < 0)
        return 2;
      pids[n_forks++] = pid;
      if (done_before)
        break;
      if (!g_atomic_int_get (&first.done))
        n_during++;
    }
  g_atomic_int_set (&first.may_end, TRUE);
  g_thread_join (thread);

  for (guint i = 0; i < n_forks; i++)
    {
      int status = 0;

      if (!wait_for_child (pids[i], &status))
        return 2;
      if (WIFSIGNALED (status) && WTERMSIG (status) == SIGALRM)
        n_hung++;
      else if (!exited_cleanly (status))
        n_failed++;
    }
  printf ("%u %u %u %u %" G_GINT64_FORMAT "\n", n_during, n_forks, n_hung, n_failed,
          first.took_us);
  return 0;
}

/* Not run under the sanitizers: see fork_suite(). */
#if !defined(UNDER_ADDRESS_SANITIZER) && !defined(UNDER_THREAD_SANITIZER)
static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

START_TEST (test_fork_during_first_action)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", &error);
  g_autoptr(GArray) took_us = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint n_during = 0;
  guint n_forks = 0;
  guint n_hung = 0;
  guint n_failed = 0;
  guint n_processes_hung = 0;

  ck_assert_msg (self != NULL, "/proc/self/exe: %s", error != NULL ? error->message : "");
  for (guint p = 0; p < FIRST_ACTION_PROCESSES; p++)
    {
      char *argv[] = { self, (char *) "--first-action", NULL };
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      guint during, forks, hung, failed;
      gint64 took;
      int status = 0;

      ck_assert_msg (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                                   &status, &error),
                     "spawn: %s", error != NULL ? error->message : "");
      ck_assert_msg (g_spawn_check_wait_status (status, NULL)
                     && sscanf (out, "%u %u %u %u %" G_GINT64_FORMAT, &during, &forks, &hung,
                                &failed, &took) == 5,
                     "process %u: wait status 0x%x, said '%s', wrote '%.400s'", p, (guint) status,
                     out, err);
      n_during += during;
      n_forks += forks;
      n_hung += hung;
      n_failed += failed;
      n_processes_hung += hung > 0;
      g_array_append_val (took_us, took);
    }
  g_array_sort (took_us, compare_gint64);
  /* For the record (docs/design.md, "fork()"): how often a fork fell in
   * the window. */
  fprintf (stderr, "first action: %u processes, %u forks (%u while the first action was made, "
           "median %" G_GINT64_FORMAT " us), %u children hung (in %u processes), %u failed\n",
           FIRST_ACTION_PROCESSES, n_forks, n_during,
           g_array_index (took_us, gint64, took_us->len / 2), n_hung, n_processes_hung, n_failed);

  /* The case tests something only if forks fell in the window. */
  ck_assert_uint_gt (n_during, 0);
  ck_assert_msg (n_hung == 0, "%u of %u children hung, in %u of %u processes", n_hung, n_forks,
                 n_processes_hung, FIRST_ACTION_PROCESSES);
  ck_assert_uint_eq (n_failed, 0);
}
END_TEST
#endif

/* ---- gluetool_action_release(), g_autoptr's ------------------------------ */

/* How deep the calling thread is in the library's regions, which fork()
 * waits for (see process-private.h): the program's code must run at 0, or
 * a fork() in another thread could wait for it while it waits for that
 * thread. */
static guint
region_depth (void)
{
  return atomic_load_explicit (&gluetool_process_get_thread_record ()->depth,
                               memory_order_relaxed);
}

typedef struct {
  guint finished;
  guint handler_destroyed;
  guint weak_notified;
  guint deepest;              /* the deepest region any of them ran in */
} ProgramCode;

static void
program_code_ran (ProgramCode *code,
                  guint       *counter)
{
  (*counter)++;
  code->deepest = MAX (code->deepest, region_depth ());
}

static void
on_finished (GluetoolAction *action,
             gpointer        data)
{
  ProgramCode *code = data;

  program_code_ran (code, &code->finished);
}

static void
on_handler_destroyed (gpointer  data,
                      GClosure *closure)
{
  ProgramCode *code = data;

  program_code_ran (code, &code->handler_destroyed);
}

static void
on_weak_notify (gpointer  data,
                GObject  *where_the_object_was)
{
  ProgramCode *code = data;

  program_code_ran (code, &code->weak_notified);
}

/* An action whose end runs the program's code (a handler, its destroy
 * notification, a weak reference's notification) ends outside the
 * library's regions, dropped by g_autoptr as by g_object_unref(). */
START_TEST (test_release_runs_program_code_outside_regions)
{
  ProgramCode code = { 0 };

  {
    g_autoptr(GluetoolAction) action = gluetool_action_new ("watched", NULL);

    g_signal_connect_data (action, "finished", G_CALLBACK (on_finished), &code,
                           on_handler_destroyed, 0);
    g_object_weak_ref (G_OBJECT (action), on_weak_notify, &code);
  }
  ck_assert_uint_eq (code.finished, 1);
  ck_assert_uint_eq (code.handler_destroyed, 1);
  ck_assert_uint_eq (code.weak_notified, 1);
  ck_assert_uint_eq (code.deepest, 0);
  ck_assert_uint_eq (region_depth (), 0);
  ck_assert_ptr_null (gluetool_action_get_current ());
}
END_TEST

/* Releasing a reference that is not the last leaves the action unfinished,
 * as g_object_unref() does; the last finishes it. NULL is ignored. */
START_TEST (test_release_finishes_at_last_reference)
{
  GluetoolAction *action = gluetool_action_new ("shared", NULL);
  GluetoolAction *other = g_object_ref (action);

  gluetool_action_release (action);
  ck_assert (!gluetool_action_is_finished (other));
  ck_assert_ptr_eq (gluetool_action_get_current (), other);

  /* Finished: taken off the thread's stack. */
  gluetool_action_release (other);
  ck_assert_ptr_null (gluetool_action_get_current ());
  ck_assert_uint_eq (region_depth (), 0);

  gluetool_action_release (NULL);
}
END_TEST

static Suite *
fork_suite (void)
{
  Suite *suite = suite_create ("fork");
  TCase *tc;

  /* In check's default mode each of these runs in a child check forked from
   * the process that ran the unchecked setup. */
  tc = tcase_create ("inherited");
  tcase_set_timeout (tc, 60);
  tcase_add_unchecked_fixture (tc, inherited_setup, inherited_teardown);
  tcase_add_test (tc, test_inherited_flush);
  tcase_add_test (tc, test_inherited_close_is_prompt);
  tcase_add_test (tc, test_inherited_unref_is_prompt);
  tcase_add_test (tc, test_own_tracer_becomes_default);
  tcase_add_test (tc, test_grandchild);
  suite_add_tcase (suite, tc);

  /* After "inherited": asserts what its teardown saw. */
  tc = tcase_create ("inherited-parent");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_parent_tracer_unharmed);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("unfinished");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_unfinished_actions_counted_at_close);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("waiting");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_fork_while_caller_waits_for_room);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("stress");
  tcase_set_timeout (tc, 120);
#ifndef UNDER_ADDRESS_SANITIZER
  /* AddressSanitizer's allocator (GCC 12's) takes no lock around fork(): a
   * child forked while another thread is inside malloc() (as a flush
   * thread being started is) waits for ever in the sanitizer's own lock.
   * The test runs in every other setup. */
  tcase_add_test (tc, test_fork_right_after_tracer_made);
#endif
  tcase_add_test (tc, test_fork_while_threads_report);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("release");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_release_runs_program_code_outside_regions);
  tcase_add_test (tc, test_release_finishes_at_last_reference);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("dropping");
  tcase_set_timeout (tc, 120);
  tcase_add_loop_test (tc, test_fork_while_threads_drop_actions, 0, 2);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("unreffing");
  tcase_set_timeout (tc, 120);
#if !defined(UNDER_ADDRESS_SANITIZER) && !defined(UNDER_THREAD_SANITIZER)
  /* The unreffing thread's last g_object_unref() frees each action after
   * the region dispose() keeps (only the signal lock's stretch is in it),
   * and makes the next one: the sanitizers' allocators take no lock around
   * fork(), and a child forked while that thread refills or drains its
   * allocator cache waits for ever on the allocator's own lock (under
   * AddressSanitizer, 1 child of 500 in 1 run of 92 on a loaded machine,
   * stopped in the sanitizer's SizeClassAllocator64::GetFromAllocator(),
   * as in the "closing" case). The test runs in every other setup. */
  tcase_add_test (tc, test_fork_while_thread_unrefs_actions);
#endif
  suite_add_tcase (suite, tc);

  tc = tcase_create ("releasing");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_fork_while_recyclers_let_go);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("looking");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_fork_while_thread_looks_at_its_stack);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("closing");
  tcase_set_timeout (tc, 120);
#if !defined(UNDER_ADDRESS_SANITIZER) && !defined(UNDER_THREAD_SANITIZER)
  /* The thread closing tracers frees and allocates outside the regions (a
   * flush thread's end, its join), and so does each flush thread as it
   * ends: the sanitizers' allocators take no lock around fork(), and a
   * child forked while one of those threads refills or drains its cache
   * waits for ever on the allocator's own lock (under ThreadSanitizer, 1
   * child of 500 in 3 runs of 42 on a loaded machine, every one stopped in
   * the sanitizer's malloc()). The test runs in every other setup. */
  tcase_add_test (tc, test_fork_while_tracers_close);
#endif
  suite_add_tcase (suite, tc);

  tc = tcase_create ("finding");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_fork_while_handlers_are_looked_for);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("passing");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_fork_while_flush_threads_pass);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("first-action");
  tcase_set_timeout (tc, 120);
#if !defined(UNDER_ADDRESS_SANITIZER) && !defined(UNDER_THREAD_SANITIZER)
  /* As for test_fork_right_after_tracer_made(): the thread making the first
   * action (60 ms there) is inside malloc() outside the regions too, and a
   * child forked then waits for ever in the sanitizer's own lock (6 of 328
   * children hung in 20 processes). ThreadSanitizer's runtime does the
   * same (9-16 of 142-187 children in 20 processes, the regions in or the
   * remote parent's taken out alike). The test runs in every other setup. */
  tcase_add_test (tc, test_fork_during_first_action);
#endif
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (int   argc,
      char *argv[])
{
  int status;

  if (argc == 2 && g_str_equal (argv[1], "--first-action"))
    return run_first_action_process ();

  test_unset_tracing_environment ();
  /* Recycling finished actions is the default, but the valgrind setup turns
   * it off (G_SLICE=always-malloc): the suite tests the default, and
   * test_fork_while_threads_drop_actions() runs once without it too. */
  g_setenv ("GLUETOOL_TRACING_RECYCLE_ACTIONS", "1", TRUE);
  status = test_run_suite_tap (fork_suite ());

  g_clear_pointer (&fixture.parent_uuid, g_free);
  g_clear_pointer (&parent_report.flush_error, g_free);
  g_clear_pointer (&parent_report.close_error, g_free);
  return status;
}
