/* trace-run.c: `gluetool-trace run`: a command run inside an action
 *
 * SPDX-License-Identifier: MIT
 *
 * The command runs as a child process, inside an action that is a root of
 * this process (so it joins the trace of TRACEPARENT, if this process was
 * given one), with TRACEPARENT set to that action for the child: a traced
 * program, or another `gluetool-trace run`, started by the command joins the
 * same trace. The child shares stdin, stdout, stderr, the other open file
 * descriptors (a make jobserver's, say) and the process group; this process
 * waits for it, forwards the signals meant for the child, and exits with its
 * status. Tracing never changes that status: a tracer that cannot be made or
 * cannot send says so on stderr and the command runs all the same.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include <gluetool/gluetool.h>

#include "trace-run.h"

/* Exit statuses of our own, as env(1) and timeout(1) have them, so that they
 * cannot be mistaken for the command's usual ones. */
#define EXIT_USAGE          125
#define EXIT_RUN_FAILED     125   /* this program failed, not the command */
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND      127

#define PROGRAM "gluetool-trace run"

/* ---- Signals ---------------------------------------------------------------- */

/* What the handler writes down for the main loop: a handler may do nothing
 * but async-signal-safe work, so the decision and the kill() happen later. */
typedef struct {
  int   signo;
  int   code;
  pid_t pid;
} SignalRecord;

/* Those that ask a command to stop; the others keep their defaults. */
static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

/* The self-pipe: written by the handler (non-blocking, so a full pipe drops a
 * record rather than block the handler), read by the main loop until empty
 * (non-blocking too). */
static int signal_pipe[2] = { -1, -1 };

/* Whether SIGCHLD comes through the pipe, so that the main loop learns when
 * the child ends; without it, this process waits for the child blocked and
 * forwards nothing. */
static gboolean catching_sigchld = FALSE;

static void
on_signal (int        signo,
           siginfo_t *info,
           void      *ucontext)
{
  int saved_errno = errno;
  SignalRecord record = { signo, info != NULL ? info->si_code : SI_USER,
                          info != NULL ? info->si_pid : 0 };

  /* Smaller than PIPE_BUF: written whole or not at all. */
  if (write (signal_pipe[1], &record, sizeof record) < 0)
    {
      /* Nothing safe to do here; the signal is lost. */
    }
  errno = saved_errno;
}

static gboolean
catch_signal (int      signo,
              int      flags,
              GError **error)
{
  struct sigaction action = { 0 };

  action.sa_sigaction = on_signal;
  action.sa_flags = SA_SIGINFO | SA_RESTART | flags;
  sigemptyset (&action.sa_mask);
  if (sigaction (signo, &action, NULL) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "Cannot catch signal %d: %s", signo, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}

/* Catches SIGCHLD, and the forwarded signals except those ignored when this
 * process started: a command run in the background by a shell (SIGINT
 * ignored), or under nohup, must keep ignoring them, as it would without the
 * wrapper; the child inherits the ignored disposition through exec. */
static gboolean
install_signal_handlers (GError **error)
{
  if (!g_unix_open_pipe (signal_pipe, FD_CLOEXEC, error)
      || !g_unix_set_fd_nonblocking (signal_pipe[0], TRUE, error)
      || !g_unix_set_fd_nonblocking (signal_pipe[1], TRUE, error))
    return FALSE;

  /* SIGCHLD even when it was ignored: ignored, it would have the kernel reap
   * the child at once and throw its status away. A child that stops is no
   * news. First, so that the main loop can wait for the child even if a
   * forwarded signal cannot be caught. */
  if (!catch_signal (SIGCHLD, SA_NOCLDSTOP, error))
    return FALSE;
  catching_sigchld = TRUE;

  for (gsize i = 0; i < G_N_ELEMENTS (forwarded_signals); i++)
    {
      struct sigaction previous;

      if (sigaction (forwarded_signals[i], NULL, &previous) == 0
          && previous.sa_handler == SIG_IGN)
        continue;
      if (!catch_signal (forwarded_signals[i], 0, error))
        return FALSE;
    }
  return TRUE;
}

/* Whether a signal sent to this process is for the child too. One that the
 * terminal sent (Ctrl-C: SI_KERNEL on Linux) went to the whole foreground
 * process group, the child included, so forwarding it would deliver it
 * twice; one sent with kill() (SI_USER, or sigqueue(), tgkill()) was meant
 * for this process alone, and this process stands for the command. */
static gboolean
is_for_child (const SignalRecord *record,
              GPid                child_pid)
{
  if (record->pid != 0 && record->pid == child_pid)
    return FALSE;
  return record->code == SI_USER || record->code == SI_QUEUE
#ifdef SI_TKILL
         || record->code == SI_TKILL
#endif
         ;
}

/* ---- Running the child -------------------------------------------------------- */

/* The child is spawned with G_SPAWN_DO_NOT_REAP_CHILD and reaped by this
 * thread alone, in reap_child(). So its pid is known from the moment it is
 * started, however soon it exits (a GSubprocess forgets it as soon as GLib's
 * worker thread has seen the child exit, which may be before its caller
 * asks), and a forwarded signal cannot reach another process given the same
 * pid: until this thread reaps the child, the pid stays the child's, a
 * zombie's at worst. GLib's child watch would reap it in the worker thread,
 * in a race with kill() here. */
typedef struct {
  GPid     pid;
  gboolean exited;       /* reaped: the pid may be another process's now */
  int      wait_status;  /* as from waitpid(), once reaped */
  int      wait_errno;   /* when waitpid() failed instead */
} RunState;

/* Reaps the child if it has ended, or waits for it to end when @block. */
static void
reap_child (RunState *state,
            gboolean  block)
{
  pid_t reaped;

  do
    reaped = waitpid (state->pid, &state->wait_status, block ? 0 : WNOHANG);
  while (reaped < 0 && errno == EINTR);

  if (reaped == state->pid)
    state->exited = TRUE;
  else if (reaped < 0)
    {
      /* ECHILD: something else in this process reaped it (a waitpid (-1),
       * or SIGCHLD set to be ignored since); it is gone, and its status
       * with it. */
      state->wait_errno = errno;
      state->exited = TRUE;
    }
}

static void
forward_pending_signals (RunState *state)
{
  SignalRecord record;

  while (read (signal_pipe[0], &record, sizeof record) == sizeof record)
    {
      if (record.signo == SIGCHLD || state->exited || !is_for_child (&record, state->pid))
        continue;
      kill (state->pid, record.signo);
    }

  /* Once the pipe is empty rather than on SIGCHLD's record: a record that
   * found the pipe full is lost, but then there were records to read, and
   * this comes after them. */
  if (!state->exited)
    reap_child (state, FALSE);
}

static gboolean
on_signal_pipe (int          fd,
                GIOCondition condition,
                gpointer     user_data)
{
  forward_pending_signals (user_data);
  return G_SOURCE_CONTINUE;
}

/* Shell words that need no quoting, so the usual command line reads as typed. */
static gboolean
is_plain_word (const char *word)
{
  if (*word == '\0')
    return FALSE;
  for (const char *c = word; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && strchr ("@%+=:,./_-", *c) == NULL)
      return FALSE;
  return TRUE;
}

/* The command as a shell would take it back; valid UTF-8, as Jaeger wants,
 * with any other bytes (file names need not be UTF-8) replaced quietly. */
static char *
format_command_line (char **argv)
{
  g_autoptr(GString) line = g_string_new (NULL);

  for (gsize i = 0; argv[i] != NULL; i++)
    {
      g_autofree char *quoted = is_plain_word (argv[i]) ? NULL : g_shell_quote (argv[i]);

      if (i > 0)
        g_string_append_c (line, ' ');
      g_string_append (line, quoted != NULL ? quoted : argv[i]);
    }
  return g_utf8_make_valid (line->str, -1);
}

static void
tag_failure (GluetoolAction *action,
             const char     *message)
{
  gluetool_action_set_tag_boolean (action, "error", TRUE);
  gluetool_action_add_log (action, g_variant_new_parsed ("{'event': <'error'>, 'message': <%s>}",
                                                         message));
}

/* Why @program cannot be found, or NULL when it can. (transfer full) */
static char *
find_command_error (const char *program)
{
  g_autofree char *found = NULL;

  if (strchr (program, '/') != NULL)
    {
      if (g_file_test (program, G_FILE_TEST_EXISTS))
        return NULL;
      return g_strdup_printf ("%s: %s", program, g_strerror (ENOENT));
    }
  found = g_find_program_in_path (program);
  if (found != NULL)
    return NULL;
  return g_strdup_printf ("%s: command not found", program);
}

/* Parses the --tag options into an a{sv} of strings. */
static GVariant *
parse_tags (char   **tags,
            GError **error)
{
  g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  for (gsize i = 0; tags != NULL && tags[i] != NULL; i++)
    {
      const char *equals = strchr (tags[i], '=');
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      if (equals == NULL || equals == tags[i])
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--tag takes KEY=VALUE, not '%s'", tags[i]);
          return NULL;
        }
      key = g_utf8_make_valid (tags[i], equals - tags[i]);
      value = g_utf8_make_valid (equals + 1, -1);
      g_variant_builder_add (&builder, "{sv}", key, g_variant_new_string (value));
    }
  return g_variant_builder_end (&builder);
}

/* Runs @command to its end and returns the status to exit with. */
static int
run_child (GluetoolAction *action,
           gboolean        tracing,
           char          **command)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  g_auto(GStrv) environment = NULL;
  RunState state = { 0 };
  int status;

  /* With tracing off this action is never sent, so the child had better keep
   * the TRACEPARENT this process was given (if any) and join that trace:
   * NULL, this process's environment. */
  if (tracing)
    {
      g_autoptr(GluetoolSpanContext) context = gluetool_action_dup_context (action);

      environment = gluetool_span_context_inject_environ (context, g_get_environ ());
    }

  /* GLib's fast spawn path (taken when descriptors are inherited) reports
   * every failure as G_SPAWN_ERROR_FAILED, so "not found" is told apart
   * first, as a shell would: searched in PATH without a slash, taken as a
   * path with one. */
  message = find_command_error (command[0]);
  if (message != NULL)
    {
      g_printerr ("%s: %s\n", PROGRAM, message);
      tag_failure (action, message);
      return EXIT_NOT_FOUND;
    }

  /* stdout and stderr are inherited; stdin must be asked for. The other
   * descriptors too: a make jobserver's pipe, say. Not reaped by GLib: see
   * RunState. */
  if (!g_spawn_async (NULL, command, environment,
                      G_SPAWN_SEARCH_PATH | G_SPAWN_CHILD_INHERITS_STDIN
                      | G_SPAWN_LEAVE_DESCRIPTORS_OPEN | G_SPAWN_DO_NOT_REAP_CHILD,
                      NULL, NULL, &state.pid, &error))
    {
      g_printerr ("%s: %s\n", PROGRAM, error->message);
      tag_failure (action, error->message);
      return g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT)
             ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE;
    }
  gluetool_action_set_tag_int64 (action, "process.pid", state.pid);

  if (catching_sigchld)
    {
      GSource *signal_source = g_unix_fd_source_new (signal_pipe[0], G_IO_IN);

      /* Signals that came while the child was being started are for it too,
       * and it may have ended already. */
      forward_pending_signals (&state);
      g_source_set_callback (signal_source, G_SOURCE_FUNC (on_signal_pipe), &state, NULL);
      g_source_attach (signal_source, NULL);
      while (!state.exited)
        g_main_context_iteration (NULL, TRUE);
      g_source_destroy (signal_source);
      g_source_unref (signal_source);
    }
  else
    reap_child (&state, TRUE);
  g_spawn_close_pid (state.pid);

  if (state.wait_errno != 0)
    {
      message = g_strdup_printf ("cannot wait for the command: %s", g_strerror (state.wait_errno));
      g_printerr ("%s: %s\n", PROGRAM, message);
      tag_failure (action, message);
      return EXIT_RUN_FAILED;
    }

  if (WIFSIGNALED (state.wait_status))
    {
      int signo = WTERMSIG (state.wait_status);

      gluetool_action_set_tag_int64 (action, "process.exit.signal", signo);
      message = g_strdup_printf ("killed by signal %d (%s)", signo, g_strsignal (signo));
      tag_failure (action, message);
      /* As shells report a command killed by a signal. */
      status = 128 + signo;
    }
  else
    {
      status = WEXITSTATUS (state.wait_status);
      gluetool_action_set_tag_int64 (action, "process.exit.code", status);
      if (status != 0)
        {
          message = g_strdup_printf ("exited with status %d", status);
          tag_failure (action, message);
        }
    }

  return status;
}

/* ---- The command ------------------------------------------------------------ */

int
gluetool_trace_run_main (int    argc,
                         char **argv)
{
  g_autofree char *label = NULL;
  g_auto(GStrv) tag_options = NULL;
  g_auto(GStrv) command = NULL;
  g_autoptr(GOptionContext) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) tags = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) action = NULL;
  g_autofree char *command_line = NULL;
  gboolean tracing;
  int status;
  const GOptionEntry entries[] = {
    { "label", 'l', 0, G_OPTION_ARG_STRING, &label,
      "The action's label (default: the command's name)", "LABEL" },
    { "tag", 't', 0, G_OPTION_ARG_STRING_ARRAY, &tag_options,
      "A string tag on the action; may be repeated", "KEY=VALUE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &command,
      NULL, "[--] COMMAND [ARG...]" },
    G_OPTION_ENTRY_NULL
  };

  /* For the usage line of --help, which GLib starts with the program name. */
  g_set_prgname ("gluetool-trace run");
  options = g_option_context_new (NULL);
  g_option_context_set_summary (options,
    "Runs COMMAND inside a traced action and exits with its status (128 + N\n"
    "when a signal N killed it). The command gets TRACEPARENT, so traced\n"
    "programs it starts, gluetool-trace run among them, join the same trace.");
  g_option_context_set_description (options,
    "The tracer is configured by the GLUETOOL_TRACING_* variables; tracing errors\n"
    "are warnings and never change the exit status. Statuses of its own: 125 bad\n"
    "usage or cannot wait for COMMAND, 126 COMMAND cannot be run, 127 COMMAND\n"
    "not found.");
  g_option_context_add_main_entries (options, entries, NULL);
  /* Options stop at COMMAND, so its own options are its own without "--". */
  g_option_context_set_strict_posix (options, TRUE);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s: %s\n", PROGRAM, error->message);
      return EXIT_USAGE;
    }
  if (command == NULL || command[0] == NULL)
    {
      g_printerr ("%s: no command given; usage: gluetool-trace run [OPTION...] [--] COMMAND [ARG...]\n",
                  PROGRAM);
      return EXIT_USAGE;
    }
  tags = parse_tags (tag_options, &error);
  if (tags == NULL)
    {
      g_printerr ("%s: %s\n", PROGRAM, error->message);
      return EXIT_USAGE;
    }
  g_variant_ref_sink (tags);

  /* Before anything can take long: a SIGTERM from now on is for the child. */
  if (!install_signal_handlers (&error))
    {
      g_printerr ("%s: warning: signals will not be forwarded: %s\n", PROGRAM, error->message);
      g_clear_error (&error);
    }

  tracer = gluetool_tracer_new (NULL, NULL, 0, &error);
  if (tracer == NULL)
    {
      g_printerr ("%s: warning: tracing is off: %s\n", PROGRAM, error->message);
      g_clear_error (&error);
    }
  tracing = tracer != NULL && gluetool_tracer_is_enabled (tracer);

  if (label == NULL)
    {
      g_autofree char *name = g_path_get_basename (command[0]);

      label = g_utf8_make_valid (name, -1);
    }
  else
    {
      g_autofree char *given = g_steal_pointer (&label);

      label = g_utf8_make_valid (given, -1);
    }

  /* A root: the child of TRACEPARENT's span when this process has one. */
  action = gluetool_action_new (label, NULL);
  command_line = format_command_line (command);
  gluetool_action_set_tag_string (action, "process.command_line", command_line);
  gluetool_action_set_tags (action, tags);

  status = run_child (action, tracing, command);

  if (!gluetool_action_finish (action, &error))
    {
      g_printerr ("%s: warning: tracing: %s\n", PROGRAM, error->message);
      g_clear_error (&error);
    }
  if (tracer != NULL && !gluetool_tracer_close (tracer, 0, &error))
    g_printerr ("%s: warning: tracing: %s\n", PROGRAM, error->message);

  return status;
}
