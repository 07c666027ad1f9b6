/* config.c: a tracer's settings, from arguments, GLUETOOL_TRACING_*
 * variables and defaults, checked once
 *
 * SPDX-License-Identifier: MIT
 */

#include <math.h>
#include <stddef.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "config-private.h"
#include "tracer-tags-private.h"

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

/* ---- HTTP to a collector -------------------------------------------------- */

/* A collector's URL: http or https, a host, a port if any from 1 to 65535,
 * no user or password in it (they would be printed wherever the URL is:
 * credentials have settings of their own, never printed). Refused when the
 * library was built without libsoup. */
static gboolean
parse_http_url (const char *what,
                const char *value,
                char      **out,
                GError    **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) uri_error = NULL;
  g_autofree char *host = NULL;
  const char *scheme;

  if (!check_text (what, value, error))
    return FALSE;
  /* Whatever precedes an '@' may be a password: such a value is not
   * printed, not even when it is not a URL at all. */
  uri = g_uri_parse (value, G_URI_FLAGS_NONE, &uri_error);
  if (uri != NULL && g_uri_get_userinfo (uri) != NULL)
    return invalid (error, "%s has a user name or password in it; set them with "
                    "GLUETOOL_TRACING_USER and GLUETOOL_TRACING_PASSWORD (or the user and "
                    "password properties) instead", what);
  if (uri == NULL && strchr (value, '@') != NULL)
    return invalid (error, "%s is not a URL: %s", what, uri_error->message);
  if (uri == NULL)
    return invalid (error, "%s '%s' is not a URL: %s", what, value, uri_error->message);

  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return invalid (error, "%s '%s' is not an http:// or https:// URL", what, value);
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return invalid (error, "%s '%s' has no host", what, value);
  if (g_uri_get_port (uri) == 0)
    return invalid (error, "%s '%s' has port 0; a port is a number from 1 to 65535", what, value);
  if (!parse_host (what, g_uri_get_host (uri), &host, error))
    return FALSE;

  *out = g_strdup (value);
  return TRUE;
}

/* A file of PEM certificates to trust, loaded now as the senders will
 * load it, so that a path that cannot be used is an error at once. */
static gboolean
parse_ca_file (const char *what,
               const char *value,
               char      **out,
               GError    **error)
{
  g_autoptr(GTlsDatabase) database = NULL;
  g_autoptr(GError) tls_error = NULL;
  g_autofree char *absolute = NULL;

  if (!check_text (what, value, error))
    return FALSE;
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    return invalid (error, "%s is set, but GIO has no TLS support here (install glib-networking)",
                    what);
  /* GIO takes only an absolute path; a relative one is taken from the
   * directory the tracer is made in, as a user would expect. */
  absolute = g_canonicalize_filename (value, NULL);
  database = g_tls_file_database_new (absolute, &tls_error);
  if (database == NULL)
    return invalid (error, "%s '%s' cannot be used: %s", what, value, tls_error->message);
  *out = g_steal_pointer (&absolute);
  return TRUE;
}

/* An https:// URL needs GIO's TLS backend (glib-networking), which a
 * system may lack: said when the tracer is made, not at the first batch. */
static gboolean
check_tls_support (const char *what,
                   const char *url,
                   GError    **error)
{
  if (url == NULL || g_ascii_strncasecmp (url, "https:", 6) != 0
      || g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    return TRUE;
  return invalid (error, "%s '%s' is an https:// URL, but GIO has no TLS support here "
                  "(install glib-networking)", what, url);
}

/* A token, user or password: goes into an HTTP header, so no line break
 * or other control character; never shown in a message. */
static gboolean
parse_secret (const char *what,
              const char *value,
              gboolean    is_user,
              char      **out,
              GError    **error)
{
  if (*value == '\0')
    return invalid (error, "%s is empty", what);
  if (!g_utf8_validate (value, -1, NULL))
    return invalid (error, "%s is not valid UTF-8", what);
  for (const char *p = value; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return invalid (error, "%s contains a line break or another control character", what);
  /* Basic authentication joins them with a colon. */
  if (is_user && strchr (value, ':') != NULL)
    return invalid (error, "%s contains ':', which basic authentication cannot carry", what);
  *out = g_strdup (value);
  return TRUE;
}

/* ---- The table ------------------------------------------------------------ */

typedef enum {
  KIND_TEXT,     /* char *: non-empty UTF-8 */
  KIND_HOST,     /* char *: a host name or an IP address */
  KIND_UINT,     /* guint */
  KIND_SIZE,     /* gsize */
  KIND_SECONDS,  /* double */
  KIND_ENDPOINT, /* char *: an http:// or https:// URL */
  KIND_SECRET,   /* char *: never shown */
  KIND_USER,     /* char *: never shown, no ':' */
  KIND_CA_FILE,  /* char *: a file of PEM certificates */
} Kind;

/* One setting: an argument (a field of the request), its variable, its
 * default. The argument wins when given, then the variable when set, then
 * the default; a value that cannot be used is an error naming the argument
 * or the variable it came from. */
typedef struct {
  const char *what;            /* the argument, in messages */
  const char *variable;
  Kind        kind;
  const char *unit;            /* numbers: what the range counts, in messages */
  double      min;
  double      max;
  gboolean    above_min;       /* numbers: more than @min, not @min itself */
  const char *default_text;
  double      default_number;
  gsize       request_offset;
  /* A gboolean of the request saying the argument was given, or -1: given
   * when not NULL or 0, as gluetool treats an argument of 0. */
  gssize      given_offset;
  gsize       config_offset;
} Setting;

#define REQUEST(field) offsetof (GluetoolConfigRequest, field)
#define CONFIG(field)  offsetof (GluetoolConfig, field)
#define NOT_GIVEN      (-1)

#define SECONDS "a number of seconds"
#define BYTES   "a number of bytes"

enum { SETTING_FLUSH_TIMEOUT = 3 };

static const Setting settings[] = {
  { "service name", "GLUETOOL_TRACING_SERVICE_NAME", KIND_TEXT, NULL, 0, 0, FALSE,
    GLUETOOL_DEFAULT_SERVICE_NAME, 0,
    REQUEST (service_name), NOT_GIVEN, CONFIG (service_name) },
  { "reporting host", "GLUETOOL_TRACING_REPORTING_HOST", KIND_HOST, NULL, 0, 0, FALSE,
    GLUETOOL_DEFAULT_REPORTING_HOST, 0,
    REQUEST (reporting_host), NOT_GIVEN, CONFIG (reporting_host) },
  /* 0 means "not given", as in gluetool, so it can never be chosen. */
  { "reporting port", "GLUETOOL_TRACING_REPORTING_PORT", KIND_UINT, "a port number", 1, 65535,
    FALSE, NULL, GLUETOOL_DEFAULT_REPORTING_PORT,
    REQUEST (reporting_port), NOT_GIVEN, CONFIG (reporting_port) },
  /* Used by close() when it is given none (see flush_timeout_from_env()). */
  [SETTING_FLUSH_TIMEOUT] =
  { "flush timeout", "GLUETOOL_TRACING_FLUSH_TIMEOUT", KIND_SECONDS, SECONDS, 0, G_MAXINT32,
    TRUE, NULL, GLUETOOL_DEFAULT_FLUSH_TIMEOUT_S,
    REQUEST (flush_timeout_s), NOT_GIVEN, CONFIG (flush_timeout_s) },
  { "flush interval", "GLUETOOL_TRACING_FLUSH_INTERVAL", KIND_SECONDS, SECONDS,
    GLUETOOL_MIN_FLUSH_INTERVAL_S, GLUETOOL_MAX_FLUSH_INTERVAL_S, FALSE,
    NULL, GLUETOOL_DEFAULT_FLUSH_INTERVAL_S,
    REQUEST (flush_interval_s), NOT_GIVEN, CONFIG (flush_interval_s) },
  { "queue size", "GLUETOOL_TRACING_QUEUE_SIZE", KIND_SIZE, BYTES,
    GLUETOOL_MIN_QUEUE_SIZE, (double) GLUETOOL_MAX_QUEUE_SIZE, FALSE,
    NULL, GLUETOOL_DEFAULT_QUEUE_SIZE,
    REQUEST (queue_size), NOT_GIVEN, CONFIG (queue_size) },
  { "max packet size", "GLUETOOL_TRACING_MAX_PACKET_SIZE", KIND_UINT, BYTES,
    GLUETOOL_MIN_MAX_PACKET_SIZE, GLUETOOL_MAX_MAX_PACKET_SIZE, FALSE,
    NULL, GLUETOOL_DEFAULT_MAX_PACKET_SIZE,
    REQUEST (max_packet_size), NOT_GIVEN, CONFIG (max_packet_size) },
  /* 0 (drop at once) is a value like any other here. */
  { "queue full wait", "GLUETOOL_TRACING_QUEUE_FULL_WAIT", KIND_SECONDS, SECONDS,
    0, GLUETOOL_MAX_QUEUE_FULL_WAIT_S, FALSE, NULL, GLUETOOL_DEFAULT_QUEUE_FULL_WAIT_S,
    REQUEST (queue_full_wait_s), REQUEST (has_queue_full_wait), CONFIG (queue_full_wait_s) },
  /* So is 0 (no flush at exit). */
  { "exit flush timeout", "GLUETOOL_TRACING_EXIT_FLUSH_TIMEOUT", KIND_SECONDS, SECONDS,
    0, GLUETOOL_MAX_EXIT_FLUSH_TIMEOUT_S, FALSE, NULL, GLUETOOL_DEFAULT_EXIT_FLUSH_TIMEOUT_S,
    REQUEST (exit_flush_timeout_s), REQUEST (has_exit_flush_timeout),
    CONFIG (exit_flush_timeout_s) },
  /* The remote sampler's; the others' settings are in load_sampling(). */
  { "sampler refresh interval", "GLUETOOL_TRACING_SAMPLER_REFRESH_INTERVAL", KIND_SECONDS,
    SECONDS, GLUETOOL_MIN_SAMPLER_REFRESH_INTERVAL_S, GLUETOOL_MAX_SAMPLER_REFRESH_INTERVAL_S,
    FALSE, NULL, GLUETOOL_DEFAULT_SAMPLER_REFRESH_INTERVAL_S,
    REQUEST (sampler_refresh_interval_s), NOT_GIVEN, CONFIG (sampler_refresh_interval_s) },
  /* HTTP to a collector: unset means UDP to the agent above. */
  { "endpoint", "GLUETOOL_TRACING_ENDPOINT", KIND_ENDPOINT, NULL, 0, 0, FALSE, NULL, 0,
    REQUEST (endpoint), NOT_GIVEN, CONFIG (endpoint) },
  /* 1 MiB: the most a default nginx in front of a collector takes
   * (client_max_body_size 1m), and some 5,000 typical spans (about 200
   * bytes each in the binary protocol), so the cost of a request is spread
   * thin. */
  { "max batch size", "GLUETOOL_TRACING_MAX_BATCH_SIZE", KIND_SIZE, BYTES,
    GLUETOOL_MIN_MAX_BATCH_SIZE, (double) GLUETOOL_MAX_MAX_BATCH_SIZE, FALSE,
    NULL, GLUETOOL_DEFAULT_MAX_BATCH_SIZE,
    REQUEST (max_batch_size), NOT_GIVEN, CONFIG (max_batch_size) },
  { "auth token", "GLUETOOL_TRACING_AUTH_TOKEN", KIND_SECRET, NULL, 0, 0, FALSE, NULL, 0,
    REQUEST (auth_token), NOT_GIVEN, CONFIG (auth_token) },
  { "user", "GLUETOOL_TRACING_USER", KIND_USER, NULL, 0, 0, FALSE, NULL, 0,
    REQUEST (user), NOT_GIVEN, CONFIG (user) },
  { "password", "GLUETOOL_TRACING_PASSWORD", KIND_SECRET, NULL, 0, 0, FALSE, NULL, 0,
    REQUEST (password), NOT_GIVEN, CONFIG (password) },
  /* For the collector and the sampling endpoint; unset: the system's. */
  { "tls ca file", "GLUETOOL_TRACING_TLS_CA_FILE", KIND_CA_FILE, NULL, 0, 0, FALSE, NULL, 0,
    REQUEST (tls_ca_file), NOT_GIVEN, CONFIG (tls_ca_file) },
};

static gboolean
is_text_kind (Kind kind)
{
  return kind == KIND_TEXT || kind == KIND_HOST || kind == KIND_ENDPOINT || kind == KIND_SECRET
         || kind == KIND_USER || kind == KIND_CA_FILE;
}

/* ---- Reading one setting ---------------------------------------------------------- */

static gboolean
in_range (const Setting *setting,
          double         value)
{
  return isfinite (value) && value <= setting->max
         && (setting->above_min ? value > setting->min : value >= setting->min);
}

static gboolean
out_of_range (const Setting *setting,
              const char    *name,
              const char    *value,
              GError       **error)
{
  if (setting->above_min)
    return invalid (error, "%s %s is not %s more than %.15g and at most %.15g", name, value,
                    setting->unit, setting->min, setting->max);
  return invalid (error, "%s %s is not %s from %.15g to %.15g", name, value, setting->unit,
                  setting->min, setting->max);
}

/* A number from a variable: plain decimal only, no sign, no spaces, no
 * hexadecimal; whole for counts. */
static gboolean
parse_number (const Setting *setting,
              const char    *text,
              double        *out,
              GError       **error)
{
  g_autofree char *quoted = g_strdup_printf ("'%s'", text);
  gboolean whole = setting->kind != KIND_SECONDS;
  char *end = NULL;

  if (*text == '\0')
    return invalid (error, "%s is empty", setting->variable);
  for (const char *p = text; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p) && (whole || (*p != '.' && *p != 'e' && *p != 'E' && *p != '-')))
      return out_of_range (setting, setting->variable, quoted, error);
  if (!g_ascii_isdigit (text[0]) && text[0] != '.')
    return out_of_range (setting, setting->variable, quoted, error);

  *out = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !in_range (setting, *out))
    return out_of_range (setting, setting->variable, quoted, error);
  return TRUE;
}

/* What the request holds for @setting, and whether it was given. */
static gboolean
get_argument (const Setting               *setting,
              const GluetoolConfigRequest *request,
              const char                 **text,
              double                      *number)
{
  /* Through void *: the offsets come from offsetof(), so aligned. */
  const void *field = (const guint8 *) request + setting->request_offset;

  *text = NULL;
  *number = 0.0;
  if (is_text_kind (setting->kind))
    {
      *text = *(const char *const *) field;
      return *text != NULL;
    }
  switch (setting->kind)
    {
    case KIND_UINT:
      *number = *(const guint *) field;
      break;
    case KIND_SIZE:
      *number = (double) *(const gsize *) field;
      break;
    case KIND_SECONDS:
      *number = *(const double *) field;
      break;
    default:
      g_assert_not_reached ();
    }
  if (setting->given_offset != NOT_GIVEN)
    {
      const void *given = (const guint8 *) request + setting->given_offset;

      return *(const gboolean *) given;
    }
  return *number != 0.0;
}

static void
store (const Setting  *setting,
       GluetoolConfig *config,
       char           *text,
       double          number)
{
  void *field = (guint8 *) config + setting->config_offset;

  if (is_text_kind (setting->kind))
    {
      *(char **) field = text;
      return;
    }
  switch (setting->kind)
    {
    case KIND_UINT:
      *(guint *) field = (guint) number;
      break;
    case KIND_SIZE:
      *(gsize *) field = (gsize) number;
      break;
    case KIND_SECONDS:
      *(double *) field = number;
      break;
    default:
      g_assert_not_reached ();
    }
}

/* A value of @setting, given as @text or @number, from @name (the argument
 * or the variable), checked and stored. */
static gboolean
take_value (const Setting  *setting,
            const char     *name,
            const char     *text,
            double          number,
            gboolean        from_variable,
            GluetoolConfig *config,
            GError        **error)
{
  g_autofree char *checked = NULL;
  g_autofree char *shown = NULL;

  switch (setting->kind)
    {
    case KIND_TEXT:
      if (!parse_service_name (name, text, &checked, error))
        return FALSE;
      break;
    case KIND_HOST:
      if (!parse_host (name, text, &checked, error))
        return FALSE;
      break;
    case KIND_ENDPOINT:
#ifndef GLUETOOL_HAVE_SOUP
      return invalid (error, "%s is set, but gluetool was built without HTTP support (libsoup 3): "
                      "spans can only go to an agent over UDP", name);
#endif
      if (!parse_http_url (name, text, &checked, error))
        return FALSE;
      break;
    case KIND_CA_FILE:
#ifndef GLUETOOL_HAVE_SOUP
      return invalid (error, "%s is set, but gluetool was built without HTTP support (libsoup 3): "
                      "spans can only go to an agent over UDP", name);
#endif
      if (!parse_ca_file (name, text, &checked, error))
        return FALSE;
      break;
    case KIND_SECRET:
    case KIND_USER:
      if (!parse_secret (name, text, setting->kind == KIND_USER, &checked, error))
        return FALSE;
      break;
    default:
      if (from_variable)
        {
          if (!parse_number (setting, text, &number, error))
            return FALSE;
        }
      else if (!in_range (setting, number))
        {
          shown = g_strdup_printf (setting->kind == KIND_SECONDS ? "%g" : "%.0f", number);
          return out_of_range (setting, name, shown, error);
        }
    }
  store (setting, config, g_steal_pointer (&checked), number);
  return TRUE;
}

/* The argument, else the variable, else the default. */
static gboolean
load_setting (const Setting               *setting,
              const GluetoolConfigRequest *request,
              GluetoolConfig              *config,
              GError                     **error)
{
  const char *text;
  double number;

  if (request != NULL && get_argument (setting, request, &text, &number))
    return take_value (setting, setting->what, text, number, FALSE, config, error);
  if ((text = g_getenv (setting->variable)) != NULL)
    return take_value (setting, setting->variable, text, 0.0, TRUE, config, error);
  store (setting, config, g_strdup (setting->default_text), setting->default_number);
  return TRUE;
}

gboolean
gluetool_config_flush_timeout_from_env (double  *timeout_s,
                                        GError **error)
{
  GluetoolConfig config = { 0 };

  if (!load_setting (&settings[SETTING_FLUSH_TIMEOUT], NULL, &config, error))
    return FALSE;
  *timeout_s = config.flush_timeout_s;
  return TRUE;
}

static gboolean load_sampling (GluetoolConfig              *config,
                               const GluetoolConfigRequest *request,
                               GError                     **error);

/* The token, the user and the password are one choice: when the caller
 * gives any of them, none of the three variables counts, so that a user
 * and password given as properties are not refused for a token in the
 * environment, nor paired with a password from it. */
static void
keep_credentials_together (GluetoolConfig              *config,
                           const GluetoolConfigRequest *request)
{
  if (request->auth_token == NULL && request->user == NULL && request->password == NULL)
    return;
  if (request->auth_token == NULL)
    g_clear_pointer (&config->auth_token, g_free);
  if (request->user == NULL)
    g_clear_pointer (&config->user, g_free);
  if (request->password == NULL)
    g_clear_pointer (&config->password, g_free);
}

/* One way to authenticate, whole. */
static gboolean
check_credentials (const GluetoolConfig *config,
                   GError              **error)
{
  if (config->auth_token != NULL && config->user != NULL)
    return invalid (error, "Both an auth token and a user are set: give a bearer token "
                    "(GLUETOOL_TRACING_AUTH_TOKEN) or a user and password "
                    "(GLUETOOL_TRACING_USER, GLUETOOL_TRACING_PASSWORD), not both");
  if (config->password != NULL && config->user == NULL)
    return invalid (error, "A password is set without a user (GLUETOOL_TRACING_USER)");
  return TRUE;
}

static gboolean
load (GluetoolConfig              *config,
      const GluetoolConfigRequest *request,
      GError                     **error)
{
  const char *env = g_getenv ("GLUETOOL_TRACING_DISABLE");

  /* gluetool's rule: set and not empty. */
  config->disabled = env != NULL && *env != '\0';
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++)
    if (!load_setting (&settings[i], request, config, error))
      return FALSE;
  keep_credentials_together (config, request);
  return load_sampling (config, request, error) && check_credentials (config, error)
         && check_tls_support ("endpoint", config->endpoint, error)
         && (config->sampler_type != GLUETOOL_SAMPLER_TYPE_REMOTE
             || check_tls_support ("sampling endpoint", config->sampling_endpoint, error));
}

/* ---- What actions read, for the whole process ----------------------------- */

gboolean
gluetool_config_recycle_actions (const char  *recycle_actions,
                                 const char  *g_slice,
                                 GError     **error)
{
  g_auto(GStrv) tokens = NULL;

  if (recycle_actions != NULL && *recycle_actions != '\0')
    {
      if (g_str_equal (recycle_actions, "1"))
        return TRUE;
      if (g_str_equal (recycle_actions, "0"))
        return FALSE;
      invalid (error, "%s is '%s'; expected 0 or 1 (or empty)",
               GLUETOOL_CONFIG_ENV_RECYCLE_ACTIONS, recycle_actions);
      /* Then as if it were unset. */
    }

  if (g_slice == NULL)
    return TRUE;
  /* The separators g_parse_debug_string() accepts. */
  tokens = g_strsplit_set (g_slice, ":;, \t", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    {
      if (g_ascii_strcasecmp (tokens[i], "always-malloc") == 0
          || g_ascii_strcasecmp (tokens[i], "debug-blocks") == 0
          || g_ascii_strcasecmp (tokens[i], "all") == 0)
        return FALSE;
    }
  return TRUE;
}

gboolean
gluetool_config_recycle_actions_from_env (GError **error)
{
  return gluetool_config_recycle_actions (g_getenv (GLUETOOL_CONFIG_ENV_RECYCLE_ACTIONS),
                                          g_getenv ("G_SLICE"), error);
}

const char *
gluetool_config_traceparent_from_env (void)
{
  const char *ignore = g_getenv (GLUETOOL_CONFIG_ENV_IGNORE_TRACEPARENT);
  const char *traceparent = g_getenv (GLUETOOL_CONFIG_ENV_TRACEPARENT);

  if (ignore != NULL && *ignore != '\0')
    return NULL;
  /* Empty means none, so a test or a wrapper can clear it without unsetting. */
  if (traceparent == NULL || *traceparent == '\0')
    return NULL;
  return traceparent;
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
  g_clear_pointer (&config->endpoint, g_free);
  g_clear_pointer (&config->auth_token, g_free);
  g_clear_pointer (&config->user, g_free);
  g_clear_pointer (&config->password, g_free);
  g_clear_pointer (&config->tls_ca_file, g_free);
  g_clear_pointer (&config->sampling_endpoint, g_free);
  g_clear_pointer (&config->tags, g_ptr_array_unref);
}

/* ---- Sampling and the process's tags --------------------------------------- */

/* Which sampler and its param depend on each other (the param's range is
 * the type's), so they are read here rather than by the table: the type
 * from its argument or variable, then the param the same way, checked
 * against the type. */

#define ENV_SAMPLER_TYPE       "GLUETOOL_TRACING_SAMPLER_TYPE"
#define ENV_SAMPLER_PARAM      "GLUETOOL_TRACING_SAMPLER_PARAM"
#define ENV_SAMPLING_ENDPOINT  "GLUETOOL_TRACING_SAMPLING_ENDPOINT"
#define ENV_TAGS               "GLUETOOL_TRACING_TAGS"

static gboolean
parse_sampler_type (const char          *text,
                    GluetoolSamplerType *type,
                    GError             **error)
{
  /* Jaeger's names (JAEGER_SAMPLER_TYPE's). */
  static const struct {
    const char          *name;
    GluetoolSamplerType  type;
  } types[] = {
    { "const", GLUETOOL_SAMPLER_TYPE_CONST },
    { "probabilistic", GLUETOOL_SAMPLER_TYPE_PROBABILISTIC },
    { "ratelimiting", GLUETOOL_SAMPLER_TYPE_RATE_LIMITING },
    { "remote", GLUETOOL_SAMPLER_TYPE_REMOTE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_equal (text, types[i].name))
      {
        *type = types[i].type;
        return TRUE;
      }
  return invalid (error, "%s is '%s'; expected const, probabilistic, ratelimiting or remote",
                  ENV_SAMPLER_TYPE, text);
}

/* The param's range for @type, and its default. */
static void
param_range (GluetoolSamplerType type,
             double             *min,
             double             *max,
             double             *default_param)
{
  *min = 0.0;
  *max = 1.0;
  switch (type)
    {
    case GLUETOOL_SAMPLER_TYPE_RATE_LIMITING:
      *max = GLUETOOL_MAX_SAMPLER_RATE;
      *default_param = 1.0;
      break;
    case GLUETOOL_SAMPLER_TYPE_PROBABILISTIC:
    case GLUETOOL_SAMPLER_TYPE_REMOTE:
      *default_param = GLUETOOL_DEFAULT_INITIAL_SAMPLING_RATE;
      break;
    case GLUETOOL_SAMPLER_TYPE_CONST:
    case GLUETOOL_SAMPLER_TYPE_DEFAULT:
    default:
      *default_param = 1.0;
      break;
    }
}

static gboolean
check_sampler_param (GluetoolSamplerType type,
                     const char         *name,
                     const char         *shown,
                     double              param,
                     GError            **error)
{
  double min, max, default_param;

  param_range (type, &min, &max, &default_param);
  if (type == GLUETOOL_SAMPLER_TYPE_CONST && param != 0.0 && param != 1.0)
    return invalid (error, "%s %s is not 0 or 1, as a const sampler takes", name, shown);
  if (!isfinite (param) || param < min || param > max)
    return invalid (error, "%s %s is not %s from %.15g to %.15g", name, shown,
                    type == GLUETOOL_SAMPLER_TYPE_RATE_LIMITING ? "a number of traces per second"
                                                                : "a probability",
                    min, max);
  return TRUE;
}

static gboolean
load_sampler_param (GluetoolConfig              *config,
                    const GluetoolConfigRequest *request,
                    GError                     **error)
{
  const char *text = g_getenv (ENV_SAMPLER_PARAM);
  double min, max;
  char *end = NULL;

  param_range (config->sampler_type, &min, &max, &config->sampler_param);
  if (request->has_sampler_param)
    {
      g_autofree char *shown = g_strdup_printf ("%g", request->sampler_param);

      config->sampler_param = request->sampler_param;
      return check_sampler_param (config->sampler_type, "sampler param", shown,
                                  config->sampler_param, error);
    }
  if (text == NULL)
    return TRUE;
  if (*text == '\0')
    return invalid (error, "%s is empty", ENV_SAMPLER_PARAM);
  config->sampler_param = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || g_ascii_isspace (*text))
    return invalid (error, "%s '%s' is not a number", ENV_SAMPLER_PARAM, text);
  {
    g_autofree char *shown = g_strdup_printf ("'%s'", text);

    return check_sampler_param (config->sampler_type, ENV_SAMPLER_PARAM, shown,
                                config->sampler_param, error);
  }
}

/* An http or https URL with a host: where the remote sampler asks. */
static gboolean
parse_endpoint (const char *name,
                const char *text,
                char      **out,
                GError    **error)
{
  g_autofree char *url = NULL;

  if (!parse_http_url (name, text, &url, error))
    return FALSE;
  if (strchr (url, '?') != NULL)
    return invalid (error, "%s '%s' has a query; the service is added as ?service=NAME",
                    name, text);
  *out = g_steal_pointer (&url);
  return TRUE;
}

static char *
default_endpoint (const char *reporting_host)
{
  /* An IPv6 literal takes brackets in a URL. */
  if (strchr (reporting_host, ':') != NULL)
    return g_strdup_printf ("http://[%s]:%d/sampling", reporting_host,
                            GLUETOOL_DEFAULT_SAMPLING_PORT);
  return g_strdup_printf ("http://%s:%d/sampling", reporting_host, GLUETOOL_DEFAULT_SAMPLING_PORT);
}

static gboolean
load_sampling (GluetoolConfig              *config,
               const GluetoolConfigRequest *request,
               GError                     **error)
{
  const char *env;

  config->sampler_type = GLUETOOL_SAMPLER_TYPE_CONST;
  if (request->sampler_type != GLUETOOL_SAMPLER_TYPE_DEFAULT)
    config->sampler_type = request->sampler_type;
  else if ((env = g_getenv (ENV_SAMPLER_TYPE)) != NULL
           && !parse_sampler_type (env, &config->sampler_type, error))
    return FALSE;
  if (!load_sampler_param (config, request, error))
    return FALSE;

  if (request->sampling_endpoint != NULL)
    {
      if (!parse_endpoint ("sampling endpoint", request->sampling_endpoint,
                           &config->sampling_endpoint, error))
        return FALSE;
    }
  else if ((env = g_getenv (ENV_SAMPLING_ENDPOINT)) != NULL)
    {
      if (!parse_endpoint (ENV_SAMPLING_ENDPOINT, env, &config->sampling_endpoint, error))
        return FALSE;
    }
  else
    config->sampling_endpoint = default_endpoint (config->reporting_host);

#ifndef GLUETOOL_HAVE_SOUP
  if (config->sampler_type == GLUETOOL_SAMPLER_TYPE_REMOTE)
    return invalid (error, "The remote sampler asks its strategy over HTTP, and this gluetool "
                    "was built without HTTP support (the soup feature)");
#endif

  if (request->tags != NULL)
    config->tags = gluetool_tracer_tags_parse ("tags", request->tags, error);
  else if ((env = g_getenv (ENV_TAGS)) != NULL)
    config->tags = gluetool_tracer_tags_parse (ENV_TAGS, env, error);
  else
    config->tags = g_ptr_array_new ();
  return config->tags != NULL;
}
