/* debug.c: debug messages that cost nothing when nobody reads them
 *
 * SPDX-License-Identifier: MIT
 */

#include "debug-private.h"
#include "process-private.h"

atomic_int gluetool_debug_state_ = GLUETOOL_DEBUG_UNKNOWN;

void
gluetool_debug_refresh (void)
{
  gboolean on = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);

  atomic_store_explicit (&gluetool_debug_state_, on ? GLUETOOL_DEBUG_ON : GLUETOOL_DEBUG_OFF,
                         memory_order_relaxed);
}

/* A message kept for the end of the region it was made in. @file, @line
 * and @func are the caller's string literals. */
typedef struct {
  const char *file;
  const char *line;
  const char *func;
  char       *text;  /* (owned) */
} DeferredMessage;

static void
deferred_message_free (gpointer data)
{
  DeferredMessage *message = data;

  g_free (message->text);
  g_free (message);
}

static void
write_message (const char *file,
               const char *line,
               const char *func,
               const char *text)
{
  g_log_structured_standard (G_LOG_DOMAIN, G_LOG_LEVEL_DEBUG, file, line, func, "%s", text);
}

void
gluetool_debug_write (const char *file,
                      const char *line,
                      const char *func,
                      const char *format,
                      ...)
{
  GluetoolThreadRecord *record = gluetool_process_thread_record_;
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  /* Only this thread writes its depth and its list: relaxed. */
  if (record == NULL || atomic_load_explicit (&record->depth, memory_order_relaxed) == 0)
    {
      write_message (file, line, func, text);
      return;
    }

  DeferredMessage *message = g_new (DeferredMessage, 1);

  *message = (DeferredMessage) { file, line, func, g_steal_pointer (&text) };
  if (record->deferred_debug == NULL)
    record->deferred_debug = g_ptr_array_new_with_free_func (deferred_message_free);
  g_ptr_array_add (record->deferred_debug, message);
}

void
gluetool_debug_write_deferred (GPtrArray *deferred)
{
  if (deferred == NULL)
    return;
  for (guint i = 0; i < deferred->len; i++)
    {
      DeferredMessage *message = g_ptr_array_index (deferred, i);

      write_message (message->file, message->line, message->func, message->text);
    }
  g_ptr_array_unref (deferred);
}
