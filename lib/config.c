/* config.c: a tracer's settings, from arguments, GLUETOOL_TRACING_*
 * variables and defaults, checked once
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "config-private.h"

/* An explicit value is never replaced by a default: a variable that is set
 * but cannot be used is an error, so a typo never sends spans somewhere
 * unexpected. Only GLUETOOL_TRACING_DISABLE follows gluetool's rule that an
 * empty value counts as unset. */

static gboolean
invalid (GError    **error,
         const char *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError    **error,
         const char *format,
         ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error_literal (error, GLUETOOL_TRACER_ERROR,
                       GLUETOOL_TRACER_ERROR_INVALID_CONFIG, message);
  return FALSE;
}

static gboolean
check_text (const char *what,
            const char *value,
            GError    **error)
{
  if (*value == '\0')
    return invalid (error, "%s is empty", what);
  if (!g_utf8_validate (value, -1, NULL))
    return invalid (error, "%s is not valid UTF-8", what);
  return TRUE;
}

static gboolean
parse_service_name (const char *what,
                    const char *value,
                    char      **out,
                    GError    **error)
{
  if (!check_text (what, value, error))
    return FALSE;
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
is_host_name (const char *ascii)
{
  gsize len = strlen (ascii);
  g_auto(GStrv) labels = NULL;

  /* One trailing dot names the root zone: "example.com." is fine. */
  if (len > 0 && ascii[len - 1] == '.')
    len--;
  if (len == 0 || len > 253)
    return FALSE;

  labels = g_strsplit (ascii, ".", -1);
  for (guint i = 0; labels[i] != NULL; i++)
    {
      const char *label = labels[i];
      gsize label_len = strlen (label);

      /* The empty label after a trailing dot. */
      if (label_len == 0 && labels[i + 1] == NULL && i > 0)
        break;
      if (label_len == 0 || label_len > 63 || label[0] == '-' || label[label_len - 1] == '-')
        return FALSE;
      for (const char *p = label; *p != '\0'; p++)
        if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
          return FALSE;
    }
  return TRUE;
}

static gboolean
parse_host (const char *what,
            const char *value,
            char      **out,
            GError    **error)
{
  g_autofree char *host = NULL;
  g_autofree char *ascii = NULL;
  gsize len;

  if (!check_text (what, value, error))
    return FALSE;

  /* "[::1]" is how people write an IPv6 literal next to a port; brackets
   * around anything else are a mistake. */
  len = strlen (value);
  if (value[0] == '[' && value[len - 1] == ']')
    {
      host = g_strndup (value + 1, len - 2);
      if (!g_hostname_is_ip_address (host) || strchr (host, ':') == NULL)
        return invalid (error, "%s '%s' has brackets around something that is not an IPv6 address",
                        what, value);
      *out = g_steal_pointer (&host);
      return TRUE;
    }

  host = g_strdup (value);
  if (g_hostname_is_ip_address (host))
    {
      *out = g_steal_pointer (&host);
      return TRUE;
    }

  /* A name: dot-separated labels of letters, digits and hyphens once in
   * ASCII (IDNA), none empty or starting or ending with a hyphen. */
  ascii = g_hostname_to_ascii (host);
  if (ascii == NULL || !is_host_name (ascii))
    return invalid (error, "%s '%s' is not a host name or an IP address",
                    what, value);

  *out = g_steal_pointer (&host);
  return TRUE;
}

static gboolean
parse_unsigned (const char *what,
                const char *text,
                guint64     min,
                guint64     max,
                guint64    *out,
                GError    **error)
{
  g_autoptr(GError) local_error = NULL;

  if (*text == '\0')
    return invalid (error, "%s is empty", what);
  if (!g_ascii_string_to_unsigned (text, 10, min, max, out, &local_error))
    return invalid (error, "%s '%s' is not a whole number from %" G_GUINT64_FORMAT
                    " to %" G_GUINT64_FORMAT, what, text, min, max);
  return TRUE;
}

static gboolean
parse_seconds (const char *what,
               const char *text,
               double      min,
               double      max,
               double     *out,
               GError    **error)
{
  char *end = NULL;
  double value;

  if (*text == '\0')
    return invalid (error, "%s is empty", what);

  /* Plain decimal only, as for the whole-number settings: no sign, no
   * spaces, no hexadecimal. */
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && *p != '.' && *p != 'e' && *p != 'E' && *p != '-')
      return invalid (error, "%s '%s' is not a number of seconds from %g to %g",
                      what, text, min, max);
  if (!g_ascii_isdigit (text[0]) && text[0] != '.')
    return invalid (error, "%s '%s' is not a number of seconds from %g to %g",
                    what, text, min, max);

  value = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !isfinite (value) || value < min || value > max)
    return invalid (error, "%s '%s' is not a number of seconds from %g to %g",
                    what, text, min, max);
  *out = value;
  return TRUE;
}

static gboolean
check_seconds (const char *what,
               double      value,
               double      min,
               double      max,
               GError    **error)
{
  if (!isfinite (value) || value < min || value > max)
    return invalid (error, "%s %g is not a number of seconds from %g to %g",
                    what, value, min, max);
  return TRUE;
}

gboolean
gluetool_config_flush_timeout_from_env (double  *timeout_s,
                                        GError **error)
{
  const char *env = g_getenv ("GLUETOOL_TRACING_FLUSH_TIMEOUT");

  if (env == NULL)
    {
      *timeout_s = GLUETOOL_DEFAULT_FLUSH_TIMEOUT_S;
      return TRUE;
    }
  return parse_seconds ("GLUETOOL_TRACING_FLUSH_TIMEOUT", env,
                        0.0, G_MAXINT32, timeout_s, error)
         && (*timeout_s > 0.0
             || invalid (error, "GLUETOOL_TRACING_FLUSH_TIMEOUT must be more than 0"));
}

static gboolean
load (GluetoolConfig              *config,
      const GluetoolConfigRequest *request,
      GError                     **error)
{
  const char *env;
  guint64 number;

  env = g_getenv ("GLUETOOL_TRACING_DISABLE");
  config->disabled = env != NULL && *env != '\0';

  /* Service name */
  if (request->service_name != NULL)
    {
      if (!parse_service_name ("service name", request->service_name,
                               &config->service_name, error))
        return FALSE;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_SERVICE_NAME")) != NULL)
    {
      if (!parse_service_name ("GLUETOOL_TRACING_SERVICE_NAME", env,
                               &config->service_name, error))
        return FALSE;
    }
  else
    config->service_name = g_strdup (GLUETOOL_DEFAULT_SERVICE_NAME);

  /* Host */
  if (request->reporting_host != NULL)
    {
      if (!parse_host ("reporting host", request->reporting_host,
                       &config->reporting_host, error))
        return FALSE;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_REPORTING_HOST")) != NULL)
    {
      if (!parse_host ("GLUETOOL_TRACING_REPORTING_HOST", env,
                       &config->reporting_host, error))
        return FALSE;
    }
  else
    config->reporting_host = g_strdup (GLUETOOL_DEFAULT_REPORTING_HOST);

  /* Port: 0 means "not given", as in gluetool, so it can never be chosen. */
  if (request->reporting_port != 0)
    {
      if (request->reporting_port > 65535)
        {
          invalid (error, "reporting port %u is not a port number from 1 to 65535",
                   request->reporting_port);
          return FALSE;
        }
      config->reporting_port = request->reporting_port;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_REPORTING_PORT")) != NULL)
    {
      if (!parse_unsigned ("GLUETOOL_TRACING_REPORTING_PORT", env, 1, 65535, &number, error))
        return FALSE;
      config->reporting_port = (guint) number;
    }
  else
    config->reporting_port = GLUETOOL_DEFAULT_REPORTING_PORT;

  /* Flush timeout, used by close() when it is given none. */
  if (request->flush_timeout_s != 0.0)
    {
      if (!check_seconds ("flush timeout", request->flush_timeout_s,
                          0.0, G_MAXINT32, error))
        return FALSE;
      config->flush_timeout_s = request->flush_timeout_s;
    }
  else if (!gluetool_config_flush_timeout_from_env (&config->flush_timeout_s, error))
    return FALSE;

  /* Flush interval */
  if (request->flush_interval_s != 0.0)
    {
      if (!check_seconds ("flush interval", request->flush_interval_s,
                          GLUETOOL_MIN_FLUSH_INTERVAL_S,
                          GLUETOOL_MAX_FLUSH_INTERVAL_S, error))
        return FALSE;
      config->flush_interval_s = request->flush_interval_s;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_FLUSH_INTERVAL")) != NULL)
    {
      if (!parse_seconds ("GLUETOOL_TRACING_FLUSH_INTERVAL", env,
                          GLUETOOL_MIN_FLUSH_INTERVAL_S,
                          GLUETOOL_MAX_FLUSH_INTERVAL_S,
                          &config->flush_interval_s, error))
        return FALSE;
    }
  else
    config->flush_interval_s = GLUETOOL_DEFAULT_FLUSH_INTERVAL_S;

  /* Queue size */
  if (request->queue_size != 0)
    {
      if (request->queue_size < GLUETOOL_MIN_QUEUE_SIZE
          || request->queue_size > GLUETOOL_MAX_QUEUE_SIZE)
        {
          invalid (error, "queue size %" G_GSIZE_FORMAT " is not a number of bytes from %d to %"
                   G_GSIZE_FORMAT, request->queue_size, GLUETOOL_MIN_QUEUE_SIZE,
                   GLUETOOL_MAX_QUEUE_SIZE);
          return FALSE;
        }
      config->queue_size = request->queue_size;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_QUEUE_SIZE")) != NULL)
    {
      if (!parse_unsigned ("GLUETOOL_TRACING_QUEUE_SIZE", env,
                           GLUETOOL_MIN_QUEUE_SIZE, GLUETOOL_MAX_QUEUE_SIZE,
                           &number, error))
        return FALSE;
      config->queue_size = (gsize) number;
    }
  else
    config->queue_size = GLUETOOL_DEFAULT_QUEUE_SIZE;

  /* Max packet size */
  if (request->max_packet_size != 0)
    {
      if (request->max_packet_size < GLUETOOL_MIN_MAX_PACKET_SIZE
          || request->max_packet_size > GLUETOOL_MAX_MAX_PACKET_SIZE)
        {
          invalid (error, "max packet size %u is not a number of bytes from %d to %d",
                   request->max_packet_size, GLUETOOL_MIN_MAX_PACKET_SIZE,
                   GLUETOOL_MAX_MAX_PACKET_SIZE);
          return FALSE;
        }
      config->max_packet_size = request->max_packet_size;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_MAX_PACKET_SIZE")) != NULL)
    {
      if (!parse_unsigned ("GLUETOOL_TRACING_MAX_PACKET_SIZE", env,
                           GLUETOOL_MIN_MAX_PACKET_SIZE, GLUETOOL_MAX_MAX_PACKET_SIZE,
                           &number, error))
        return FALSE;
      config->max_packet_size = (guint) number;
    }
  else
    config->max_packet_size = GLUETOOL_DEFAULT_MAX_PACKET_SIZE;

  /* Queue-full wait: 0 (drop at once) is a value like any other here. */
  if (request->has_queue_full_wait)
    {
      if (!check_seconds ("queue full wait", request->queue_full_wait_s,
                          0.0, GLUETOOL_MAX_QUEUE_FULL_WAIT_S, error))
        return FALSE;
      config->queue_full_wait_s = request->queue_full_wait_s;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_QUEUE_FULL_WAIT")) != NULL)
    {
      if (!parse_seconds ("GLUETOOL_TRACING_QUEUE_FULL_WAIT", env,
                          0.0, GLUETOOL_MAX_QUEUE_FULL_WAIT_S,
                          &config->queue_full_wait_s, error))
        return FALSE;
    }
  else
    config->queue_full_wait_s = GLUETOOL_DEFAULT_QUEUE_FULL_WAIT_S;

  /* Exit flush timeout: 0 (no flush at exit) is a value too. */
  if (request->has_exit_flush_timeout)
    {
      if (!check_seconds ("exit flush timeout", request->exit_flush_timeout_s,
                          0.0, GLUETOOL_MAX_EXIT_FLUSH_TIMEOUT_S, error))
        return FALSE;
      config->exit_flush_timeout_s = request->exit_flush_timeout_s;
    }
  else if ((env = g_getenv ("GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT")) != NULL)
    {
      if (!parse_seconds ("GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT", env,
                          0.0, GLUETOOL_MAX_EXIT_FLUSH_TIMEOUT_S,
                          &config->exit_flush_timeout_s, error))
        return FALSE;
    }
  else
    config->exit_flush_timeout_s = GLUETOOL_DEFAULT_EXIT_FLUSH_TIMEOUT_S;

  return TRUE;
}

gboolean
gluetool_config_load (GluetoolConfig              *config,
                      const GluetoolConfigRequest *request,
                      GError                     **error)
{
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (request != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (config, 0, sizeof *config);
  if (!load (config, request, error))
    {
      gluetool_config_clear (config);
      return FALSE;
    }
  return TRUE;
}

void
gluetool_config_clear (GluetoolConfig *config)
{
  g_clear_pointer (&config->service_name, g_free);
  g_clear_pointer (&config->reporting_host, g_free);
}
