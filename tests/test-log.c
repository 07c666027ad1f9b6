/* test-log.c: every message a suite logs, kept for its tests to read
 *
 * SPDX-License-Identifier: MIT
 *
 * See test-log.h.
 */

#include "test-log.h"

#include "sync-private.h"

static GMutex   log_lock;
static GString *log_text;  /* (owned) under @log_lock */

static GLogWriterOutput
record_message (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         data)
{
  gluetool_mutex_lock (&log_lock);
  for (gsize i = 0; i < n_fields; i++)
    if (fields[i].length < 0 && (g_str_equal (fields[i].key, "MESSAGE")
                                 || g_str_equal (fields[i].key, "GLIB_DOMAIN")))
      g_string_append_printf (log_text, "%s ", (const char *) fields[i].value);
  g_string_append_c (log_text, '\n');
  gluetool_mutex_unlock (&log_lock);
  if ((level & G_LOG_LEVEL_DEBUG) != 0)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, data);
}

void
test_log_record (void)
{
  log_text = g_string_new (NULL);
  g_log_set_writer_func (record_message, NULL, NULL);
}

char *
test_log_dup_text (void)
{
  char *text;

  gluetool_mutex_lock (&log_lock);
  text = g_strdup (log_text->str);
  gluetool_mutex_unlock (&log_lock);
  return text;
}
