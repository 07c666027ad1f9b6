/* listen-process.h: `gluetool-trace listen` run as a child process
 *
 * SPDX-License-Identifier: MIT
 *
 * The suites that talk to the real receiver start it here, as a user runs
 * it: `gluetool-trace listen --port 0 --idle N [more options] ARGS`, found
 * through GLUETOOL_TRACE_PROGRAM. Every port is 0 (suites run in parallel),
 * so listen_process_start() returns only once the program said on stderr
 * which ports it bound. Failures fail the running test (check's asserts);
 * nothing waits on a clock: reading the program's output blocks until it
 * comes, and --idle ends a listener that a broken test forgot.
 */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What the suites choose; all zero (or a NULL pointer for the whole
 * struct) is a UDP listener with stdout to a file, in C.UTF-8. */
typedef struct {
  /* More arguments, after `listen --port 0 --idle N`; NULL-terminated. */
  const char *const *args;
  /* --idle, in seconds; 0 is 20. */
  guint              idle_s;
  /* Adds --http-port 0; the HTTP (or HTTPS) port must be announced. */
  gboolean           http;
  /* The text of a strategies file, written to strategies_path, and
   * --sampling-strategies strategies_path --sampling-port 0. */
  const char        *sampling_strategies;
  /* LC_ALL for the program; NULL is C.UTF-8. */
  const char        *locale;
  /* Stdout is a pipe, read with listen_process_read_stdout_line();
   * else it goes to a file, read with listen_process_stdout(). */
  gboolean           pipe_stdout;
  /* At most this many open descriptors (RLIMIT_NOFILE); 0: as inherited. */
  guint              max_files;
  /* listen_process_finish() prints stderr when the status is not 0. */
  gboolean           show_stderr_on_failure;
} ListenProcessOptions;

typedef struct {
  GSubprocess      *process;          /* (owned) */
  GString          *err_text;         /* (owned) all of stderr read so far */
  guint16           udp_port;
  guint16           http_port;        /* 0: none announced */
  guint16           sampling_port;    /* 0: none announced */
  char             *strategies_path;  /* (owned) (nullable) with sampling_strategies */

  /* private */
  GDataInputStream *err;              /* (owned) */
  GDataInputStream *out;              /* (owned) (nullable) with pipe_stdout */
  char             *dir;              /* (owned) removed with what it holds */
  char             *out_path;         /* (owned) (nullable) without pipe_stdout */
  gboolean          show_stderr_on_failure;
} ListenProcess;

/* The program's path, from GLUETOOL_TRACE_PROGRAM; fails the test if unset. */
const char    *listen_process_program               (void);

/* Starts the listener with @options (NULL: defaults) and returns once it
 * announced its UDP port, the last of its "listening on" lines. */
ListenProcess *listen_process_start                 (const ListenProcessOptions *options);

/* listen_process_start() with the default options and @args. */
ListenProcess *listen_process_start_with_args       (const char *const *args);

/* The next line of stdout (with pipe_stdout), without its newline; NULL at
 * its end. Blocks until the line comes. */
char          *listen_process_read_stdout_line      (ListenProcess *self);

/* Reads stderr (kept in err_text) until a line starting with @prefix, and
 * returns that line; fails the test if stderr ends first. */
char          *listen_process_wait_for_stderr_line  (ListenProcess *self,
                                                     const char    *prefix);

/* Reads stdout and stderr to their ends, waits for the program to exit by
 * itself (--count, --idle or a signal sent before), returns its status. */
int            listen_process_finish                (ListenProcess *self);

/* Sends SIGTERM, which ends the listener cleanly, then listen_process_finish(). */
int            listen_process_stop                  (ListenProcess *self);

/* The whole of stdout written to its file (without pipe_stdout); call it
 * after listen_process_finish() to get everything. */
char          *listen_process_stdout                (ListenProcess *self);

/* Writes @text to @path (a strategies file, say) whole, as a new file
 * renamed over the old one, so that a listener rereading it on change
 * never reads half; fails the test if it cannot. */
void           listen_process_write_file            (const char    *path,
                                                     const char    *text);

/* Kills the program if it still runs, and removes its temporary files. */
void           listen_process_free                  (ListenProcess *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ListenProcess, listen_process_free)

G_END_DECLS
