/* test-resolver.c: a GResolver with names that behave badly on purpose
 *
 * SPDX-License-Identifier: MIT
 */

#include "test-resolver.h"
#include "sync-private.h"

struct _TestResolver {
  GResolver   parent_instance;

  GResolver  *previous;    /* (owned) the default before install */
  GMutex      lock;
  GCond       changed;
  GHashTable *n_lookups;   /* (owned) name -> count, under @lock */
  guint       n_blocked;   /* lookups waiting in "blocked.test" */
  gboolean    unblocked;
};

G_DEFINE_FINAL_TYPE (TestResolver, test_resolver, G_TYPE_RESOLVER)

static void
wake_on_cancel (GCancellable *cancellable,
                gpointer      data)
{
  TestResolver *self = data;

  gluetool_mutex_lock (&self->lock);
  g_cond_broadcast (&self->changed);
  gluetool_mutex_unlock (&self->lock);
}

static GList *
single_address (const char *text)
{
  return g_list_append (NULL, g_inet_address_new_from_string (text));
}

static GList *
test_resolver_lookup (GResolver    *resolver,
                      const char   *name,
                      GCancellable *cancellable,
                      GError      **error)
{
  TestResolver *self = TEST_RESOLVER (resolver);
  guint n;

  gluetool_mutex_lock (&self->lock);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (self->n_lookups, name)) + 1;
  g_hash_table_insert (self->n_lookups, g_strdup (name), GUINT_TO_POINTER (n));
  g_cond_broadcast (&self->changed);
  gluetool_mutex_unlock (&self->lock);

  if (g_str_has_suffix (name, ".invalid"))
    {
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                   "No such host: %s", name);
      return NULL;
    }

  if (g_str_equal (name, "blocked.test"))
    {
      gulong handler = 0;

      if (cancellable != NULL)
        handler = g_cancellable_connect (cancellable, G_CALLBACK (wake_on_cancel), self, NULL);

      gluetool_mutex_lock (&self->lock);
      self->n_blocked++;
      g_cond_broadcast (&self->changed);
      while (!self->unblocked && !g_cancellable_is_cancelled (cancellable))
        gluetool_cond_wait (&self->changed, &self->lock);
      self->n_blocked--;
      gluetool_mutex_unlock (&self->lock);

      if (cancellable != NULL)
        g_cancellable_disconnect (cancellable, handler);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      return single_address ("127.0.0.1");
    }

  if (g_str_equal (name, "moving.test"))
    return single_address (n == 1 ? "::1" : "127.0.0.1");

  return single_address ("127.0.0.1");
}

static GList *
test_resolver_lookup_with_flags (GResolver                *resolver,
                                 const char               *name,
                                 GResolverNameLookupFlags  flags,
                                 GCancellable             *cancellable,
                                 GError                  **error)
{
  return test_resolver_lookup (resolver, name, cancellable, error);
}

/* The asynchronous lookups (GSocketClient's, so libsoup's), as GLib's own
 * resolver makes them: a task on GLib's worker threads, so that a child
 * made by fork() meets what a real lookup meets there. Only the wait is
 * there: the answer is made in _finish(), by the thread that asked, so
 * nothing of the test's crosses threads behind GLib's back
 * (ThreadSanitizer sees no hand-over in GLib's pool). */
static void
answer_in_thread (GTask        *task,
                  gpointer      source,
                  gpointer      data,
                  GCancellable *cancellable)
{
  g_task_return_boolean (task, TRUE);
}

static void
test_resolver_lookup_with_flags_async (GResolver                *resolver,
                                       const char               *name,
                                       GResolverNameLookupFlags  flags,
                                       GCancellable             *cancellable,
                                       GAsyncReadyCallback       callback,
                                       gpointer                  user_data)
{
  g_autoptr(GTask) task = g_task_new (resolver, cancellable, callback, user_data);

  g_task_set_task_data (task, g_strdup (name), g_free);
  g_task_run_in_thread (task, answer_in_thread);
}

static void
test_resolver_lookup_async (GResolver           *resolver,
                            const char          *name,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  test_resolver_lookup_with_flags_async (resolver, name, G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT,
                                         cancellable, callback, user_data);
}

static GList *
test_resolver_lookup_finish (GResolver     *resolver,
                             GAsyncResult  *result,
                             GError       **error)
{
  GTask *task = G_TASK (result);

  if (!g_task_propagate_boolean (task, error))
    return NULL;
  return test_resolver_lookup (resolver, g_task_get_task_data (task),
                               g_task_get_cancellable (task), error);
}

static void
test_resolver_finalize (GObject *object)
{
  TestResolver *self = TEST_RESOLVER (object);

  g_clear_object (&self->previous);
  g_hash_table_unref (self->n_lookups);
  g_cond_clear (&self->changed);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (test_resolver_parent_class)->finalize (object);
}

static void
test_resolver_class_init (TestResolverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  object_class->finalize = test_resolver_finalize;
  resolver_class->lookup_by_name = test_resolver_lookup;
  resolver_class->lookup_by_name_with_flags = test_resolver_lookup_with_flags;
  resolver_class->lookup_by_name_async = test_resolver_lookup_async;
  resolver_class->lookup_by_name_finish = test_resolver_lookup_finish;
  resolver_class->lookup_by_name_with_flags_async = test_resolver_lookup_with_flags_async;
  resolver_class->lookup_by_name_with_flags_finish = test_resolver_lookup_finish;
}

static void
test_resolver_init (TestResolver *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->changed);
  self->n_lookups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

TestResolver *
test_resolver_install (void)
{
  TestResolver *self = g_object_new (TEST_TYPE_RESOLVER, NULL);

  self->previous = g_resolver_get_default ();
  g_resolver_set_default (G_RESOLVER (self));
  return self;
}

void
test_resolver_uninstall (TestResolver *self)
{
  g_resolver_set_default (self->previous);
  g_object_unref (self);
}

guint
test_resolver_get_n_lookups (TestResolver *self,
                             const char   *name)
{
  guint n;

  gluetool_mutex_lock (&self->lock);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (self->n_lookups, name));
  gluetool_mutex_unlock (&self->lock);
  return n;
}

gboolean
test_resolver_wait_blocked (TestResolver *self,
                            double        timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  gboolean blocked;

  gluetool_mutex_lock (&self->lock);
  while (self->n_blocked == 0)
    if (!gluetool_cond_wait_until (&self->changed, &self->lock, deadline)
        && g_get_monotonic_time () >= deadline)
      break;
  blocked = self->n_blocked > 0;
  gluetool_mutex_unlock (&self->lock);
  return blocked;
}

void
test_resolver_unblock (TestResolver *self)
{
  gluetool_mutex_lock (&self->lock);
  self->unblocked = TRUE;
  g_cond_broadcast (&self->changed);
  gluetool_mutex_unlock (&self->lock);
}
