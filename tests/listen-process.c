/* listen-process.c: `gluetool-trace listen` run as a child process
 *
 * SPDX-License-Identifier: MIT
 */

#include "listen-process.h"

#include <check.h>
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>

/* A listener nothing reaches stops after this long: a safety net for a
 * broken test, never the way a test ends. */
#define DEFAULT_IDLE_S 20

#define LISTENING_ON "gluetool-trace: listening on "

const char *
listen_process_program (void)
{
  const char *path = g_getenv ("GLUETOOL_TRACE_PROGRAM");

  ck_assert_msg (path != NULL, "GLUETOOL_TRACE_PROGRAM is not set");
  return path;
}

static char *
read_line (GDataInputStream *stream)
{
  g_autoptr(GError) error = NULL;
  char *line = g_data_input_stream_read_line_utf8 (stream, NULL, NULL, &error);

  ck_assert_msg (error == NULL, "reading the program's output: %s",
                 error ? error->message : "");
  return line;
}

/* The next line of stderr, also kept in err_text for the test's asserts. */
static char *
read_err_line (ListenProcess *self)
{
  char *line = read_line (self->err);

  if (line != NULL)
    g_string_append_printf (self->err_text, "%s\n", line);
  return line;
}

/* The port of "...listening on WHAT ADDRESS:PORT". */
static guint16
port_at_end (const char *line)
{
  const char *colon = strrchr (line, ':');
  guint64 port;

  ck_assert_ptr_nonnull (colon);
  port = g_ascii_strtoull (colon + 1, NULL, 10);
  ck_assert_msg (port > 0 && port <= G_MAXUINT16, "no port in \"%s\"", line);
  return (guint16) port;
}

/* The command line. The limit on descriptors is set by prlimit(1), which
 * then runs the program: under valgrind, a setrlimit() between fork() and
 * exec() would only change valgrind's idea of the limit. The strings are
 * owned by @self, @options or @keep. */
static GPtrArray *
make_argv (ListenProcess              *self,
           const ListenProcessOptions *options,
           GPtrArray                  *keep)
{
  GPtrArray *argv = g_ptr_array_new ();
  char *idle = g_strdup_printf ("%u", options->idle_s > 0 ? options->idle_s : DEFAULT_IDLE_S);

  g_ptr_array_add (keep, idle);
  if (options->max_files > 0)
    {
      char *prlimit = g_find_program_in_path ("prlimit");

      ck_assert_msg (prlimit != NULL, "prlimit(1) (util-linux) is needed");
      g_ptr_array_add (keep, prlimit);
      g_ptr_array_add (argv, prlimit);
      g_ptr_array_add (keep, g_strdup_printf ("--nofile=%u:%u", options->max_files,
                                              options->max_files));
      g_ptr_array_add (argv, g_ptr_array_index (keep, keep->len - 1));
    }
  g_ptr_array_add (argv, (gpointer) listen_process_program ());
  g_ptr_array_add (argv, (gpointer) "listen");
  g_ptr_array_add (argv, (gpointer) "--port");
  g_ptr_array_add (argv, (gpointer) "0");
  g_ptr_array_add (argv, (gpointer) "--idle");
  g_ptr_array_add (argv, idle);
  if (options->http)
    {
      g_ptr_array_add (argv, (gpointer) "--http-port");
      g_ptr_array_add (argv, (gpointer) "0");
    }
  if (self->strategies_path != NULL)
    {
      g_ptr_array_add (argv, (gpointer) "--sampling-strategies");
      g_ptr_array_add (argv, self->strategies_path);
      g_ptr_array_add (argv, (gpointer) "--sampling-port");
      g_ptr_array_add (argv, (gpointer) "0");
    }
  for (guint i = 0; options->args != NULL && options->args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) options->args[i]);
  g_ptr_array_add (argv, NULL);
  return argv;
}

static GSubprocessLauncher *
make_launcher (ListenProcess              *self,
               const ListenProcessOptions *options)
{
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDERR_PIPE;
  GSubprocessLauncher *launcher;

  if (options->pipe_stdout)
    flags |= G_SUBPROCESS_FLAGS_STDOUT_PIPE;
  launcher = g_subprocess_launcher_new (flags);
  /* What the tests read must not depend on the environment they run in:
   * the locale chooses UTF-8 or ASCII trees, NO_COLOR turns off --color. */
  g_subprocess_launcher_setenv (launcher, "LC_ALL",
                                options->locale != NULL ? options->locale : "C.UTF-8", TRUE);
  g_subprocess_launcher_unsetenv (launcher, "NO_COLOR");
  if (self->out_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, self->out_path);
  return launcher;
}

/* Reads stderr up to the UDP line, which the program writes after those of
 * its HTTP endpoints, and takes the ports from them. */
static void
read_ports (ListenProcess *self)
{
  while (self->udp_port == 0)
    {
      g_autofree char *line = read_err_line (self);

      ck_assert_msg (line != NULL, "the listener ended before it listened: %s",
                     self->err_text->str);
      /* A prefix without the space after HTTP: an HTTPS line counts too. */
      if (g_str_has_prefix (line, LISTENING_ON "HTTP"))
        self->http_port = port_at_end (line);
      else if (g_str_has_prefix (line, LISTENING_ON "sampling HTTP"))
        self->sampling_port = port_at_end (line);
      else if (g_str_has_prefix (line, LISTENING_ON "UDP "))
        self->udp_port = port_at_end (line);
    }
}

ListenProcess *
listen_process_start (const ListenProcessOptions *options)
{
  static const ListenProcessOptions defaults = { 0 };
  g_autoptr(ListenProcess) self = g_new0 (ListenProcess, 1);
  g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) argv = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;

  if (options == NULL)
    options = &defaults;
  self->err_text = g_string_new (NULL);
  self->show_stderr_on_failure = options->show_stderr_on_failure;
  self->dir = g_dir_make_tmp ("gluetool-listen-XXXXXX", &error);
  ck_assert_msg (self->dir != NULL, "temporary directory: %s", error ? error->message : "");
  if (!options->pipe_stdout)
    self->out_path = g_build_filename (self->dir, "stdout.txt", NULL);
  if (options->sampling_strategies != NULL)
    {
      self->strategies_path = g_build_filename (self->dir, "strategies.json", NULL);
      listen_process_write_file (self->strategies_path, options->sampling_strategies);
    }

  argv = make_argv (self, options, keep);
  launcher = make_launcher (self, options);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata,
                                                &error);
  ck_assert_msg (self->process != NULL, "spawn: %s", error ? error->message : "");
  self->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (self->process));
  if (options->pipe_stdout)
    self->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (self->process));

  read_ports (self);
  if (options->http)
    ck_assert_uint_ne (self->http_port, 0);
  if (options->sampling_strategies != NULL)
    ck_assert_uint_ne (self->sampling_port, 0);
  return g_steal_pointer (&self);
}

ListenProcess *
listen_process_start_with_args (const char *const *args)
{
  ListenProcessOptions options = { .args = args };

  return listen_process_start (&options);
}

char *
listen_process_read_stdout_line (ListenProcess *self)
{
  ck_assert_msg (self->out != NULL, "stdout is not a pipe (pipe_stdout)");
  return read_line (self->out);
}

char *
listen_process_wait_for_stderr_line (ListenProcess *self,
                                     const char    *prefix)
{
  for (;;)
    {
      char *line = read_err_line (self);

      ck_assert_msg (line != NULL, "stderr ended before \"%s\": %s", prefix,
                     self->err_text->str);
      if (g_str_has_prefix (line, prefix))
        return line;
      g_free (line);
    }
}

int
listen_process_finish (ListenProcess *self)
{
  g_autoptr(GError) error = NULL;
  char *line;
  int status;

  while ((line = read_err_line (self)) != NULL)
    g_free (line);
  /* A full pipe would block the program before it exits. */
  if (self->out != NULL)
    while ((line = read_line (self->out)) != NULL)
      g_free (line);
  ck_assert_msg (g_subprocess_wait (self->process, NULL, &error), "wait: %s",
                 error ? error->message : "");
  ck_assert_msg (g_subprocess_get_if_exited (self->process),
                 "the listener did not exit normally; stderr:\n%s", self->err_text->str);
  status = g_subprocess_get_exit_status (self->process);
  if (status != 0 && self->show_stderr_on_failure)
    g_printerr ("# the listener's stderr:\n%s", self->err_text->str);
  return status;
}

int
listen_process_stop (ListenProcess *self)
{
  g_subprocess_send_signal (self->process, SIGTERM);
  return listen_process_finish (self);
}

/* Out of line: inlined, GCC 12 at -O3 takes pointers into the text for
 * pointers to the local that received it (-Wdangling-pointer). */
G_GNUC_NO_INLINE char *
listen_process_stdout (ListenProcess *self)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  ck_assert_msg (self->out_path != NULL, "stdout is a pipe (pipe_stdout)");
  ck_assert_msg (g_file_get_contents (self->out_path, &text, NULL, &error),
                 "stdout: %s", error ? error->message : "");
  return text;
}

static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, name, NULL);

      g_remove (file);
    }
  g_rmdir (path);
}

void
listen_process_write_file (const char *path,
                           const char *text)
{
  g_autoptr(GError) error = NULL;

  /* g_file_set_contents() writes a new file (a new inode every time) and
   * renames it over the old one. */
  ck_assert_msg (g_file_set_contents (path, text, -1, &error), "%s: %s", path,
                 error ? error->message : "");
}

void
listen_process_free (ListenProcess *self)
{
  /* Reaped before its files go: a killed listener writes nothing more. */
  if (self->process != NULL && g_subprocess_get_identifier (self->process) != NULL)
    {
      g_subprocess_force_exit (self->process);
      g_subprocess_wait (self->process, NULL, NULL);
    }
  g_clear_object (&self->err);
  g_clear_object (&self->out);
  g_clear_object (&self->process);
  if (self->err_text != NULL)
    g_string_free (self->err_text, TRUE);
  if (self->dir != NULL)
    remove_dir (self->dir);
  g_free (self->dir);
  g_free (self->out_path);
  g_free (self->strategies_path);
  g_free (self);
}
