/* config-private.h: a tracer's settings, from arguments, GLUETOOL_TRACING_*
 * variables and defaults, checked once
 *
 * SPDX-License-Identifier: MIT
 */

#pragma once

#include <glib.h>

#include <gluetool/gluetool.h>

G_BEGIN_DECLS

#define GLUETOOL_DEFAULT_SERVICE_NAME    "gluetool"
#define GLUETOOL_DEFAULT_REPORTING_HOST  "127.0.0.1"
#define GLUETOOL_DEFAULT_REPORTING_PORT  6831
#define GLUETOOL_DEFAULT_FLUSH_TIMEOUT_S 30.0
#define GLUETOOL_DEFAULT_FLUSH_INTERVAL_S 0.1
#define GLUETOOL_DEFAULT_QUEUE_SIZE      (4 * 1024 * 1024)
#define GLUETOOL_DEFAULT_MAX_PACKET_SIZE 65000
/* A push that finds the queue full drops the span at once. */
#define GLUETOOL_DEFAULT_QUEUE_FULL_WAIT_S 0.0
/* At a normal exit, what is queued is flushed for at most this long. */
#define GLUETOOL_DEFAULT_EXIT_FLUSH_TIMEOUT_S 2.0

/* Bytes of a POST to a collector, at most: see config.c. */
#define GLUETOOL_DEFAULT_MAX_BATCH_SIZE  (1024 * 1024)

#define GLUETOOL_MIN_QUEUE_SIZE          512
#define GLUETOOL_MAX_QUEUE_SIZE          ((gsize) 1 << 30)
#define GLUETOOL_MIN_MAX_PACKET_SIZE     512
/* The largest UDP payload IPv4 can carry. */
#define GLUETOOL_MAX_MAX_PACKET_SIZE     65507
#define GLUETOOL_MIN_FLUSH_INTERVAL_S    0.001
#define GLUETOOL_MAX_FLUSH_INTERVAL_S    3600.0
/* The queue-full-wait property's default: not given, so the variable or the
 * default decides. Any other negative value is an error. */
#define GLUETOOL_QUEUE_FULL_WAIT_UNSET   (-1.0)
#define GLUETOOL_MAX_QUEUE_FULL_WAIT_S   3600.0
/* The exit-flush-timeout property's default: not given. */
#define GLUETOOL_EXIT_FLUSH_TIMEOUT_UNSET (-1.0)
#define GLUETOOL_MAX_EXIT_FLUSH_TIMEOUT_S 3600.0
/* A POST holds the Process and one span at least. */
#define GLUETOOL_MIN_MAX_BATCH_SIZE      1024
#define GLUETOOL_MAX_MAX_BATCH_SIZE      ((gsize) 256 * 1024 * 1024)

/* Sampling. The sampler-param property's default: not given. */
#define GLUETOOL_SAMPLER_PARAM_UNSET       (-1.0)
/* What the remote sampler samples with until its first good answer, as
 * Jaeger's clients: probabilistic 0.001, unless the param says otherwise. */
#define GLUETOOL_DEFAULT_INITIAL_SAMPLING_RATE 0.001
#define GLUETOOL_DEFAULT_SAMPLING_PORT     5778
#define GLUETOOL_DEFAULT_SAMPLER_REFRESH_INTERVAL_S 60.0
#define GLUETOOL_MIN_SAMPLER_REFRESH_INTERVAL_S 0.01
#define GLUETOOL_MAX_SAMPLER_REFRESH_INTERVAL_S 86400.0
/* Traces per second a rate-limiting sampler may be given. */
#define GLUETOOL_MAX_SAMPLER_RATE          1e9

typedef struct {
  gboolean  disabled;
  char     *service_name;       /* (owned) */
  char     *reporting_host;     /* (owned) without [] around an IPv6 literal */
  guint     reporting_port;
  double    flush_timeout_s;
  double    flush_interval_s;
  gsize     queue_size;         /* bytes */
  guint     max_packet_size;    /* bytes */
  double    queue_full_wait_s;  /* the most a push waits for room; 0: drops at once */
  double    exit_flush_timeout_s; /* the most exit() waits for a flush; 0: none */
  GluetoolSamplerType sampler_type; /* never DEFAULT once loaded */
  double    sampler_param;      /* const: 0 or 1; remote: the initial probability */
  char     *sampling_endpoint;  /* (owned) a URL, without the query */
  double    sampler_refresh_interval_s;
  GPtrArray *tags;              /* (owned) (element-type GluetoolTracerTag) */
  /* HTTP to a collector instead of UDP to an agent when @endpoint is set.
   * The credentials are never printed, in messages or in debug output. */
  char     *endpoint;           /* (owned) (nullable) an http:// or https:// URL */
  gsize     max_batch_size;     /* bytes of one POST's body */
  char     *auth_token;         /* (owned) (nullable) bearer token */
  char     *user;               /* (owned) (nullable) basic authentication */
  char     *password;           /* (owned) (nullable) */
  /* A file of PEM certificates trusted for https:// endpoints, the
   * collector's and the sampling endpoint's, in place of the system's. */
  char     *tls_ca_file;        /* (owned) (nullable) */
} GluetoolConfig;

/* What the caller asked for; "unset" values (NULL, 0, FALSE) fall back to
 * the environment, then to the defaults. The queue-full wait has a flag of
 * its own, as 0 (do not wait) is a value a caller may ask for. */
typedef struct {
  const char *service_name;
  const char *reporting_host;
  guint       reporting_port;
  double      flush_timeout_s;
  double      flush_interval_s;
  gsize       queue_size;
  guint       max_packet_size;
  gboolean    has_queue_full_wait;
  double      queue_full_wait_s;
  gboolean    has_exit_flush_timeout;
  double      exit_flush_timeout_s;
  GluetoolSamplerType sampler_type;  /* DEFAULT: not given */
  gboolean    has_sampler_param;
  double      sampler_param;
  const char *sampling_endpoint;
  double      sampler_refresh_interval_s;
  const char *tags;
  const char *endpoint;
  gsize       max_batch_size;
  const char *auth_token;
  const char *user;
  const char *password;
  const char *tls_ca_file;
} GluetoolConfigRequest;

gboolean gluetool_config_load  (GluetoolConfig              *config,
                                const GluetoolConfigRequest *request,
                                GError                     **error);
void     gluetool_config_clear (GluetoolConfig              *config);

/* ---- What actions read, for the whole process ----------------------------- */

/* These have no argument or property: actions read them, not tracers, once
 * per process when first needed. Parsed here all the same, with the
 * tracers' settings, so every GLUETOOL_TRACING_* variable is read in one
 * file. */
#define GLUETOOL_CONFIG_ENV_RECYCLE_ACTIONS    "GLUETOOL_TRACING_RECYCLE_ACTIONS"
#define GLUETOOL_CONFIG_ENV_IGNORE_TRACEPARENT "GLUETOOL_TRACING_IGNORE_TRACEPARENT"
#define GLUETOOL_CONFIG_ENV_TRACEPARENT        "TRACEPARENT"

/* Whether finished actions are recycled, given GLUETOOL_TRACING_RECYCLE_ACTIONS
 * and G_SLICE as @recycle_actions and @g_slice (NULL: unset): "1" or "0"
 * decide; empty or unset leave it to G_SLICE, whose always-malloc,
 * debug-blocks or all (the memory checkers' switches) turn it off. Any other
 * value of the variable is an error, and then G_SLICE decides too. */
gboolean    gluetool_config_recycle_actions            (const char  *recycle_actions,
                                                        const char  *g_slice,
                                                        GError     **error);
/* The same from the environment. */
gboolean    gluetool_config_recycle_actions_from_env   (GError     **error);
/* The traceparent root actions start under: TRACEPARENT, unless it is
 * empty or GLUETOOL_TRACING_IGNORE_TRACEPARENT is set and not empty. NULL
 * when none. (transfer none) */
const char *gluetool_config_traceparent_from_env       (void);

/* GLUETOOL_TRACING_FLUSH_TIMEOUT, else 30 s, for a close() given <= 0. */
gboolean gluetool_config_flush_timeout_from_env (double  *timeout_s,
                                                 GError **error);

G_END_DECLS
