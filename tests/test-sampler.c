/* test-sampler.c: samplers' decisions, the settings that choose them, the
 * process's tags, and what arrives at a receiver over loopback UDP
 *
 * SPDX-License-Identifier: MIT
 */

#include <check.h>
#include <string.h>

#include <gluetool/gluetool.h>

#include "config-private.h"
#include "receiver.h"
#include "sampler-private.h"
#include "test-expect.h"
#include "tracer-tags-private.h"
#include "check-tap.h"

#define WAIT_S 20.0
#define SECOND_NS G_GINT64_CONSTANT (1000000000)

/* ---- The samplers alone ---------------------------------------------------- */

static gboolean
sampled_at (GluetoolSampler *sampler,
            guint64          trace_id_low,
            const char      *operation,
            gint64           now_ns,
            GluetoolSamplingDecision *decision)
{
  gluetool_sampler_decide_at (sampler, trace_id_low, operation, now_ns, decision);
  return decision->sampled;
}

START_TEST (test_const)
{
  g_autoptr(GluetoolSampler) always = gluetool_sampler_new_const (TRUE);
  g_autoptr(GluetoolSampler) never = gluetool_sampler_new_const (FALSE);
  GluetoolSamplingDecision decision;
  gboolean value;

  ck_assert (sampled_at (always, 12345, "x", 0, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_CONST);
  ck_assert (decision.param == 1.0);
  ck_assert (!sampled_at (never, 12345, "x", 0, &decision));
  ck_assert (gluetool_sampler_is_const (never, &value));
  ck_assert (!value);
  ck_assert_str_eq (gluetool_sampler_tag_name (GLUETOOL_SAMPLER_TAG_CONST), "const");
}
END_TEST

START_TEST (test_probabilistic_boundary)
{
  g_autoptr(GluetoolSampler) half = gluetool_sampler_new_probabilistic (0.5);
  g_autoptr(GluetoolSampler) none = gluetool_sampler_new_probabilistic (0.0);
  g_autoptr(GluetoolSampler) all = gluetool_sampler_new_probabilistic (1.0);
  GluetoolSamplingDecision decision;
  const guint64 halfway = G_GUINT64_CONSTANT (0x3fffffffffffffff);

  /* Jaeger's boundary: (2^63 - 1) * rate against the low 63 bits. */
  ck_assert (sampled_at (half, halfway, "x", 0, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_PROBABILISTIC);
  ck_assert (decision.param == 0.5);
  ck_assert (!sampled_at (half, halfway + 2, "x", 0, &decision));
  /* The top bit does not count. */
  ck_assert (sampled_at (half, halfway | G_GUINT64_CONSTANT (0x8000000000000000), "x", 0, &decision));
  ck_assert (!sampled_at (none, 1, "x", 0, &decision));
  ck_assert (sampled_at (all, G_MAXUINT64, "x", 0, &decision));
}
END_TEST

START_TEST (test_probabilistic_proportion)
{
  g_autoptr(GluetoolSampler) quarter = gluetool_sampler_new_probabilistic (0.25);
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  GluetoolSamplingDecision decision;
  guint n_sampled = 0;

  for (guint i = 0; i < 100000; i++)
    {
      guint64 id = ((guint64) g_rand_int (rand) << 32) | g_rand_int (rand);

      n_sampled += sampled_at (quarter, id, "x", 0, &decision);
    }
  ck_assert_uint_ge (n_sampled, 24000);
  ck_assert_uint_le (n_sampled, 26000);
}
END_TEST

START_TEST (test_rate_limiting)
{
  g_autoptr(GluetoolSampler) two = gluetool_sampler_new_rate_limiting (2.0);
  g_autoptr(GluetoolSampler) half = gluetool_sampler_new_rate_limiting (0.5);
  GluetoolSamplingDecision decision;
  gint64 t = 100 * SECOND_NS;

  /* Full at the start: a second's worth (2), then none. */
  ck_assert (sampled_at (two, 1, "x", t, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_RATE_LIMITING);
  ck_assert (decision.param == 2.0);
  ck_assert (sampled_at (two, 1, "x", t, &decision));
  ck_assert (!sampled_at (two, 1, "x", t, &decision));
  /* Half a second gives one credit back. */
  ck_assert (sampled_at (two, 1, "x", t + SECOND_NS / 2, &decision));
  ck_assert (!sampled_at (two, 1, "x", t + SECOND_NS / 2, &decision));
  /* A long pause fills the bucket, but no further than a second's worth. */
  t += 60 * SECOND_NS;
  ck_assert (sampled_at (two, 1, "x", t, &decision));
  ck_assert (sampled_at (two, 1, "x", t, &decision));
  ck_assert (!sampled_at (two, 1, "x", t, &decision));

  /* Below one per second, the bucket holds one: every two seconds. */
  ck_assert (sampled_at (half, 1, "x", t, &decision));
  ck_assert (!sampled_at (half, 1, "x", t + SECOND_NS, &decision));
  ck_assert (sampled_at (half, 1, "x", t + 2 * SECOND_NS, &decision));
}
END_TEST

START_TEST (test_per_operation)
{
  const char *operations[] = { "always", "never" };
  const double rates[] = { 1.0, 0.0 };
  g_autoptr(GluetoolSampler) sampler =
    gluetool_sampler_new_per_operation (0.0, 1.0, operations, rates, 2);
  GluetoolSamplingDecision decision;
  gint64 t = 100 * SECOND_NS;

  /* By probability, with its tags; the lower bound's credit is taken too. */
  ck_assert (sampled_at (sampler, 5, "always", t, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_PROBABILISTIC);
  ck_assert (decision.param == 1.0);
  /* Not by probability: the lower bound, once a second, tagged so. */
  ck_assert (sampled_at (sampler, 5, "never", t, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_LOWER_BOUND);
  ck_assert (decision.param == 0.0);
  ck_assert (!sampled_at (sampler, 5, "never", t, &decision));
  ck_assert (sampled_at (sampler, 5, "never", t + SECOND_NS, &decision));
  /* A label not named: the default probability and a bound of its own,
   * made on its first root; another such label has another. */
  ck_assert (sampled_at (sampler, 5, "other", t, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_LOWER_BOUND);
  ck_assert (!sampled_at (sampler, 5, "other", t, &decision));
  ck_assert (sampled_at (sampler, 5, "yet another", t, &decision));
  ck_assert (!sampled_at (sampler, 5, "yet another", t, &decision));
  ck_assert_str_eq (gluetool_sampler_tag_name (GLUETOOL_SAMPLER_TAG_LOWER_BOUND), "lowerbound");
}
END_TEST

/* Every operation the strategy names is kept, past the bound too (as
 * jaeger-client-go's NewPerOperationSampler keeps them); a label added
 * beyond the bound is decided by the default probability alone. */
START_TEST (test_per_operation_bounded)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) rates = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GluetoolSampler) sampler = NULL;
  g_autofree char *description = NULL;
  g_autofree char *expected = NULL;
  GluetoolSamplingDecision decision;
  const guint n_named = GLUETOOL_SAMPLER_MAX_OPERATIONS + 500;
  gint64 t = 100 * SECOND_NS;

  for (guint i = 0; i < n_named; i++)
    {
      /* The last named never sampled by probability, the others always. */
      double rate = i == n_named - 1 ? 0.0 : 1.0;

      g_ptr_array_add (names, g_strdup_printf ("op%u", i));
      g_array_append_val (rates, rate);
    }
  sampler = gluetool_sampler_new_per_operation (0.5, 0.0, (const char *const *) names->pdata,
                                                (const double *) (void *) rates->data, names->len);
  description = gluetool_sampler_describe (sampler);
  expected = g_strdup_printf ("per-operation 0.5 (lower bound 0/s, %u operations)", n_named);
  ck_assert_str_eq (description, expected);

  /* The one named last, past the bound, has its own rate and lower bound. */
  ck_assert (sampled_at (sampler, 5, names->pdata[n_named - 1], t, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_LOWER_BOUND);
  ck_assert (decision.param == 0.0);
  ck_assert (!sampled_at (sampler, 5, names->pdata[n_named - 1], t, &decision));
  ck_assert (sampled_at (sampler, 5, names->pdata[n_named - 2], t, &decision));
  ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_PROBABILISTIC);
  ck_assert (decision.param == 1.0);

  /* A label not named, with the table past the bound: the default
   * probability (0.5) alone, every time, no lower bound, tagged so. */
  for (guint i = 0; i < 3; i++)
    {
      ck_assert (sampled_at (sampler, 5, "unnamed", t, &decision));
      ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_PROBABILISTIC);
      ck_assert (decision.param == 0.5);
      ck_assert (!sampled_at (sampler, G_GUINT64_CONSTANT (0x7fffffffffffff00), "unnamed", t,
                              &decision));
      ck_assert_int_eq (decision.tag, GLUETOOL_SAMPLER_TAG_PROBABILISTIC);
    }
}
END_TEST

/* Labels are added on first use until there are
 * GLUETOOL_SAMPLER_MAX_OPERATIONS; those beyond are decided by the default
 * probability alone. A lower bound of 0 gives each added sampler one trace
 * (a full bucket of one, never refilled) and a default probability of 0
 * samples nothing, so the count of sampled roots is the count of samplers
 * added, however many threads add labels at once. */
typedef struct {
  GluetoolSampler *sampler;
  atomic_uint      n_sampled;
  atomic_uint      n_probabilistic;
} Shared;

static gpointer
decide_many_labels (gpointer data)
{
  Shared *shared = data;

  for (guint i = 0; i < GLUETOOL_SAMPLER_MAX_OPERATIONS + 1000; i++)
    {
      g_autofree char *label = g_strdup_printf ("op%u", i);
      GluetoolSamplingDecision decision;

      gluetool_sampler_decide_at (shared->sampler, 5, label, 100 * SECOND_NS, &decision);
      if (decision.sampled)
        atomic_fetch_add (&shared->n_sampled, 1);
      if (decision.tag == GLUETOOL_SAMPLER_TAG_PROBABILISTIC)
        atomic_fetch_add (&shared->n_probabilistic, 1);
    }
  return NULL;
}

START_TEST (test_per_operation_added_on_first_use)
{
  g_autoptr(GluetoolSampler) sampler = gluetool_sampler_new_per_operation (0.0, 0.0, NULL, NULL, 0);
  Shared shared = { sampler, 0, 0 };
  GThread *threads[4];
  g_autofree char *description = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("labels", decide_many_labels, &shared);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  ck_assert_uint_eq (atomic_load (&shared.n_sampled), GLUETOOL_SAMPLER_MAX_OPERATIONS);
  /* 1000 labels were never added, and each thread asked for each of them;
   * which labels those are depends on how the threads ran. */
  ck_assert_uint_ge (atomic_load (&shared.n_probabilistic), G_N_ELEMENTS (threads) * 1000);
  /* Only the strategy's operations are described. */
  description = gluetool_sampler_describe (sampler);
  ck_assert_str_eq (description, "per-operation 0 (lower bound 0/s, 0 operations)");
}
END_TEST

START_TEST (test_equal)
{
  g_autoptr(GluetoolSampler) a = gluetool_sampler_new_probabilistic (0.5);
  g_autoptr(GluetoolSampler) b = gluetool_sampler_new_probabilistic (0.5);
  g_autoptr(GluetoolSampler) c = gluetool_sampler_new_probabilistic (0.25);
  g_autoptr(GluetoolSampler) d = gluetool_sampler_new_rate_limiting (0.5);

  ck_assert (gluetool_sampler_equal (a, b));
  ck_assert (!gluetool_sampler_equal (a, c));
  ck_assert (!gluetool_sampler_equal (a, d));
}
END_TEST

/* ---- Tags ---------------------------------------------------------------------- */

static const GluetoolTracerTag *
tag_at (GPtrArray *tags,
        guint      i)
{
  ck_assert_uint_lt (i, tags->len);
  return g_ptr_array_index (tags, i);
}

START_TEST (test_tags_parse)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tags = NULL;

  g_setenv ("SAMPLER_TEST_SET", "from-env", TRUE);
  g_unsetenv ("SAMPLER_TEST_UNSET");
  tags = gluetool_tracer_tags_parse ("tags", " env = prod ,n=-42,x=0.5,e=1e3,on=true,off=false,"
                                     "v=${SAMPLER_TEST_SET:no},d=${SAMPLER_TEST_UNSET:dflt},"
                                     "u=${SAMPLER_TEST_UNSET},big=99999999999999999999,ver=1.2.3",
                                     &error);
  ck_assert_msg (error == NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (tags->len, 11);
  ck_assert_str_eq (tag_at (tags, 0)->key, "env");
  ck_assert_str_eq (tag_at (tags, 0)->text, "prod");
  ck_assert_int_eq (tag_at (tags, 0)->type, GLUETOOL_TRACER_TAG_STRING);
  ck_assert_int_eq (tag_at (tags, 1)->type, GLUETOOL_TRACER_TAG_LONG);
  ck_assert_int_eq (tag_at (tags, 1)->number, -42);
  ck_assert_int_eq (tag_at (tags, 2)->type, GLUETOOL_TRACER_TAG_DOUBLE);
  ck_assert (tag_at (tags, 2)->decimal == 0.5);
  /* 1000 would be written "1000": the text is kept. */
  ck_assert_int_eq (tag_at (tags, 3)->type, GLUETOOL_TRACER_TAG_STRING);
  ck_assert_str_eq (tag_at (tags, 3)->text, "1e3");
  ck_assert_int_eq (tag_at (tags, 4)->type, GLUETOOL_TRACER_TAG_BOOL);
  ck_assert (tag_at (tags, 4)->boolean);
  ck_assert_int_eq (tag_at (tags, 5)->type, GLUETOOL_TRACER_TAG_BOOL);
  ck_assert (!tag_at (tags, 5)->boolean);
  ck_assert_str_eq (tag_at (tags, 6)->text, "from-env");
  ck_assert_str_eq (tag_at (tags, 7)->text, "dflt");
  ck_assert_str_eq (tag_at (tags, 8)->text, "");
  /* Too big for a long, and not how the double would be written. */
  ck_assert_int_eq (tag_at (tags, 9)->type, GLUETOOL_TRACER_TAG_STRING);
  ck_assert_int_eq (tag_at (tags, 10)->type, GLUETOOL_TRACER_TAG_STRING);
  ck_assert_str_eq (tag_at (tags, 10)->text, "1.2.3");

  g_clear_pointer (&tags, g_ptr_array_unref);
  tags = gluetool_tracer_tags_parse ("tags", "  ", &error);
  ck_assert_ptr_nonnull (tags);
  ck_assert_uint_eq (tags->len, 0);
}
END_TEST

/* A value is typed only where the type keeps it as written: a receiver
 * shows the typed value, so "1.10" typed would read 1.1, "007" 7. */
START_TEST (test_tags_typed_without_change)
{
  static const struct {
    const char           *text;
    GluetoolTracerTagType type;
  } cases[] = {
    { "1.10", GLUETOOL_TRACER_TAG_STRING },
    { "007", GLUETOOL_TRACER_TAG_STRING },
    { "02134", GLUETOOL_TRACER_TAG_STRING },
    { "+5", GLUETOOL_TRACER_TAG_STRING },
    { "-0", GLUETOOL_TRACER_TAG_STRING },
    { "1.0", GLUETOOL_TRACER_TAG_STRING },
    { ".5", GLUETOOL_TRACER_TAG_STRING },
    { "1e400", GLUETOOL_TRACER_TAG_STRING },
    { "9223372036854775808", GLUETOOL_TRACER_TAG_STRING },
    { "0x10", GLUETOOL_TRACER_TAG_STRING },
    { "inf", GLUETOOL_TRACER_TAG_STRING },
    { "nan", GLUETOOL_TRACER_TAG_STRING },
    { "TRUE", GLUETOOL_TRACER_TAG_STRING },
    { "\"7\"", GLUETOOL_TRACER_TAG_STRING },
    { "\"true\"", GLUETOOL_TRACER_TAG_STRING },
    { "0", GLUETOOL_TRACER_TAG_LONG },
    { "7", GLUETOOL_TRACER_TAG_LONG },
    { "-9223372036854775808", GLUETOOL_TRACER_TAG_LONG },
    { "9223372036854775807", GLUETOOL_TRACER_TAG_LONG },
    { "0.1", GLUETOOL_TRACER_TAG_DOUBLE },
    { "-2.25", GLUETOOL_TRACER_TAG_DOUBLE },
    { "1e+20", GLUETOOL_TRACER_TAG_DOUBLE },
    { "1e+00", GLUETOOL_TRACER_TAG_DOUBLE },
    { "1.23456789012e+11", GLUETOOL_TRACER_TAG_DOUBLE },
    { "1.0e+00", GLUETOOL_TRACER_TAG_STRING },
    { "0.30000000000000004", GLUETOOL_TRACER_TAG_DOUBLE },
    { "true", GLUETOOL_TRACER_TAG_BOOL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *text = g_strdup_printf ("k=%s", cases[i].text);
      g_autoptr(GPtrArray) tags = gluetool_tracer_tags_parse ("tags", text, &error);
      const GluetoolTracerTag *tag;
      char written[G_ASCII_DTOSTR_BUF_SIZE];

      ck_assert_msg (error == NULL, "%s", error ? error->message : "");
      tag = tag_at (tags, 0);
      ck_assert_msg (tag->type == cases[i].type, "%s: type %d, not %d", cases[i].text,
                     tag->type, cases[i].type);
      /* What a receiver would show is the text. */
      switch (tag->type)
        {
        case GLUETOOL_TRACER_TAG_LONG:
          g_snprintf (written, sizeof written, "%" G_GINT64_FORMAT, tag->number);
          ck_assert_str_eq (written, cases[i].text);
          break;
        case GLUETOOL_TRACER_TAG_DOUBLE:
          ck_assert (tag->decimal == g_ascii_strtod (cases[i].text, NULL));
          break;
        case GLUETOOL_TRACER_TAG_STRING:
          {
            /* Quoted: the text between the quotes. */
            gsize len = strlen (cases[i].text);
            gboolean quoted = cases[i].text[0] == '"';
            g_autofree char *unquoted = g_strndup (cases[i].text + quoted,
                                                   len - 2 * (gsize) quoted);

            ck_assert_str_eq (tag->text, unquoted);
          }
          break;
        case GLUETOOL_TRACER_TAG_BOOL:
        default:
          break;
        }
    }
}
END_TEST

START_TEST (test_tags_malformed)
{
  const char *bad[] = { "novalue", "a=1,b", "=1", " =1", "a=1,", "a=1,,b=2" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) tags = gluetool_tracer_tags_parse ("tags", bad[i], &error);

      ck_assert_msg (tags == NULL, "'%s' parsed", bad[i]);
      ck_assert (g_error_matches (error, GLUETOOL_TRACER_ERROR,
                                  GLUETOOL_TRACER_ERROR_INVALID_CONFIG));
    }
}
END_TEST

/* ---- Settings --------------------------------------------------------------------- */

static void
assert_config_error (const char *variable,
                     const char *value,
                     const char *message_part)
{
  GluetoolConfigRequest request = { 0 };
  GluetoolConfig config;
  g_autoptr(GError) error = NULL;

  test_unset_tracing_environment ();
  if (g_str_has_prefix (variable, "GLUETOOL_TRACING_SAMPLER_PARAM="))
    {
      g_setenv ("GLUETOOL_TRACING_SAMPLER_TYPE", variable + strlen ("GLUETOOL_TRACING_SAMPLER_PARAM="),
                TRUE);
      variable = "GLUETOOL_TRACING_SAMPLER_PARAM";
    }
  g_setenv (variable, value, TRUE);
  ck_assert_msg (!gluetool_config_load (&config, &request, &error), "%s=%s loaded", variable, value);
  ck_assert (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_INVALID_CONFIG));
  ck_assert_msg (strstr (error->message, message_part) != NULL, "'%s' lacks '%s'",
                 error->message, message_part);
  test_unset_tracing_environment ();
}

START_TEST (test_config_errors)
{
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_TYPE", "adaptive", "GLUETOOL_TRACING_SAMPLER_TYPE");
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_TYPE", "", "GLUETOOL_TRACING_SAMPLER_TYPE");
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_PARAM=probabilistic", "1.5", "probability");
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_PARAM=probabilistic", "half", "not a number");
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_PARAM=ratelimiting", "-1", "traces per second");
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_PARAM=const", "0.5", "0 or 1");
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_PARAM=remote", "2", "probability");
  assert_config_error ("GLUETOOL_TRACING_SAMPLING_ENDPOINT", "localhost:5778", "URL");
  assert_config_error ("GLUETOOL_TRACING_SAMPLING_ENDPOINT", "ftp://host/sampling", "URL");
  assert_config_error ("GLUETOOL_TRACING_SAMPLING_ENDPOINT", "http://host/sampling?service=x", "query");
  assert_config_error ("GLUETOOL_TRACING_SAMPLER_REFRESH_INTERVAL", "0", "0.01");
  assert_config_error ("GLUETOOL_TRACING_TAGS", "a=1,b", "'b' has no '='");
  assert_config_error ("GLUETOOL_TRACING_TAGS", "=1", "empty");
}
END_TEST

/* The remote sampler asks over HTTP: without it, choosing it is an error
 * that says so; with it, a setting like any other. */
START_TEST (test_config_remote)
{
  GluetoolConfigRequest request = { .sampler_type = GLUETOOL_SAMPLER_TYPE_REMOTE };
  GluetoolConfig config;
  g_autoptr(GError) error = NULL;

  test_unset_tracing_environment ();
#ifdef GLUETOOL_HAVE_SOUP
  ck_assert_msg (gluetool_config_load (&config, &request, &error), "%s",
                 error ? error->message : "");
  ck_assert_int_eq (config.sampler_type, GLUETOOL_SAMPLER_TYPE_REMOTE);
  ck_assert (config.sampler_param == 0.001);
  ck_assert_str_eq (config.sampling_endpoint, "http://127.0.0.1:5778/sampling");
  gluetool_config_clear (&config);
#else
  ck_assert (!gluetool_config_load (&config, &request, &error));
  ck_assert (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_INVALID_CONFIG));
  ck_assert_msg (strstr (error->message, "without HTTP support") != NULL, "%s", error->message);
#endif
}
END_TEST

START_TEST (test_config_defaults)
{
  GluetoolConfigRequest request = { .reporting_host = "::1" };
  GluetoolConfig config;
  g_autoptr(GError) error = NULL;

  test_unset_tracing_environment ();
  ck_assert (gluetool_config_load (&config, &request, &error));
  ck_assert_int_eq (config.sampler_type, GLUETOOL_SAMPLER_TYPE_CONST);
  ck_assert (config.sampler_param == 1.0);
  ck_assert_str_eq (config.sampling_endpoint, "http://[::1]:5778/sampling");
  ck_assert (config.sampler_refresh_interval_s == 60.0);
  ck_assert_uint_eq (config.tags->len, 0);
  gluetool_config_clear (&config);

  /* The type's own default param. */
  g_setenv ("GLUETOOL_TRACING_SAMPLER_TYPE", "probabilistic", TRUE);
  ck_assert (gluetool_config_load (&config, &request, &error));
  ck_assert_int_eq (config.sampler_type, GLUETOOL_SAMPLER_TYPE_PROBABILISTIC);
  ck_assert (config.sampler_param == 0.001);
  gluetool_config_clear (&config);
  test_unset_tracing_environment ();
}
END_TEST

static GluetoolTracer *
new_tracer_with (GError    **error,
                 const char *first_property,
                 ...)
{
  va_list args;
  GObject *object;

  va_start (args, first_property);
  object = g_initable_new_valist (GLUETOOL_TYPE_TRACER, first_property, args, NULL, error);
  va_end (args);
  return object != NULL ? GLUETOOL_TRACER (object) : NULL;
}

START_TEST (test_properties)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autofree char *strategy = NULL;
  GluetoolSamplerType type;
  double param;

  test_unset_tracing_environment ();
  g_setenv ("GLUETOOL_TRACING_DISABLE", "1", TRUE);
  /* Refused with a GError, as every bad setting. */
  tracer = new_tracer_with (&error, "sampler-type", GLUETOOL_SAMPLER_TYPE_PROBABILISTIC,
                            "sampler-param", 1.5, NULL);
  ck_assert_ptr_null (tracer);
  ck_assert (g_error_matches (error, GLUETOOL_TRACER_ERROR, GLUETOOL_TRACER_ERROR_INVALID_CONFIG));
  g_clear_error (&error);
  tracer = new_tracer_with (&error, "tags", "a", NULL);
  ck_assert_ptr_null (tracer);
  g_clear_error (&error);
  tracer = new_tracer_with (&error, "sampling-endpoint", "nothing like a URL", NULL);
  ck_assert_ptr_null (tracer);
  g_clear_error (&error);

  tracer = new_tracer_with (&error, "sampler-type", GLUETOOL_SAMPLER_TYPE_RATE_LIMITING,
                            "sampler-param", 2.5, "tags", "a=b", NULL);
  ck_assert_msg (error == NULL, "%s", error ? error->message : "");
  g_object_get (tracer, "sampler-type", &type, "sampler-param", &param, NULL);
  ck_assert_int_eq (type, GLUETOOL_SAMPLER_TYPE_RATE_LIMITING);
  ck_assert (param == 2.5);
  ck_assert_int_eq (gluetool_tracer_get_sampler_type (tracer), GLUETOOL_SAMPLER_TYPE_RATE_LIMITING);
  strategy = gluetool_tracer_dup_sampling_strategy (tracer);
  ck_assert_str_eq (strategy, "ratelimiting 2.5");
  test_expect_close (tracer, WAIT_S);
  test_unset_tracing_environment ();
}
END_TEST

/* ---- What arrives ----------------------------------------------------------- */

static GluetoolTracer *
make_tracer (TestReceiver        *receiver,
             GluetoolSamplerType  type,
             double               param,
             const char          *tags)
{
  g_autoptr(GError) error = NULL;
  GluetoolTracer *tracer;

  tracer = new_tracer_with (&error, "service-name", "sampler",
                            "reporting-host", "127.0.0.1",
                            "reporting-port", (guint) test_receiver_get_port (receiver),
                            "flush-interval", 0.01,
                            "sampler-type", type,
                            "sampler-param", param,
                            "tags", tags,
                            NULL);
  ck_assert_msg (error == NULL, "tracer: %s", error ? error->message : "");
  ck_assert_ptr_eq (gluetool_tracer_get_default (), tracer);
  return tracer;
}

static void
assert_no_loss (GluetoolTracer *tracer,
                guint64         n_sent)
{
  GluetoolTracerStats stats;

  gluetool_tracer_get_stats (tracer, &stats);
  ck_assert_uint_eq (stats.spans_sent, n_sent);
  ck_assert_uint_eq (stats.spans_dropped_queue_full, 0);
  ck_assert_uint_eq (stats.spans_failed_to_send, 0);
}

/* An action whose remote parent says sampled: something that must arrive,
 * to wait for, rather than sleep while nothing else arrives. */
static void
send_marker (const char *label)
{
  g_autoptr(GluetoolSpanContext) remote = gluetool_span_context_new (0, 0x5a5a, 0x77, 0,
                                                                     GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED);
  g_autoptr(GluetoolAction) marker = gluetool_action_new_with_remote_parent (label, remote, NULL);

  test_expect_finish (marker);
}

START_TEST (test_unsampled_trace_sends_nothing)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver, GLUETOOL_SAMPLER_TYPE_PROBABILISTIC,
                                                  0.0, NULL);
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", root);
  g_autoptr(GluetoolSpanContext) context = NULL;
  g_autofree char *trace_id = gluetool_action_dup_trace_id (root);
  g_autofree char *child_trace_id = gluetool_action_dup_trace_id (child);

  /* Everything but the sending works. */
  ck_assert_ptr_eq (gluetool_action_get_current (), child);
  ck_assert_ptr_eq (gluetool_action_get_parent (child), root);
  ck_assert_str_eq (trace_id, child_trace_id);
  ck_assert_uint_ne (gluetool_action_get_span_id (child), 0);
  context = gluetool_action_dup_context (child);
  ck_assert_uint_eq (gluetool_span_context_get_flags (context), 0);
  ck_assert_uint_eq (gluetool_span_context_get_parent_span_id (context),
                     gluetool_action_get_span_id (root));
  test_expect_finish (child);
  ck_assert_ptr_eq (gluetool_action_get_current (), root);
  test_expect_finish (root);

  send_marker ("marker");
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert_ptr_nonnull (test_receiver_find_span (receiver, "marker"));
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), 1);
  /* Not sent, and not lost either. */
  assert_no_loss (tracer, 1);
}
END_TEST

START_TEST (test_sampled_root_tags)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver, GLUETOOL_SAMPLER_TYPE_PROBABILISTIC,
                                                  1.0, NULL);
  g_autoptr(GluetoolAction) root = gluetool_action_new ("root", NULL);
  g_autoptr(GluetoolAction) child = gluetool_action_new ("child", root);
  JaegerSpan *span;
  JaegerTag *tag;

  test_expect_finish (child);
  test_expect_finish (root);
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 2, WAIT_S), 2);

  span = test_receiver_expect_span (receiver, "root");
  ck_assert_int_eq (span->flags, GLUETOOL_SPAN_CONTEXT_FLAG_SAMPLED);
  tag = test_find_tag (span->tags, "sampler.type");
  ck_assert_ptr_nonnull (tag);
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_STRING);
  ck_assert_str_eq (tag->vStr, "probabilistic");
  tag = test_find_tag (span->tags, "sampler.param");
  ck_assert_ptr_nonnull (tag);
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_DOUBLE);
  ck_assert (tag->vDouble == 1.0);
  /* Only the root says how its trace was sampled. */
  span = test_receiver_expect_span (receiver, "child");
  ck_assert_ptr_null (test_find_tag (span->tags, "sampler.type"));
  assert_no_loss (tracer, 2);
}
END_TEST

START_TEST (test_rate_limited_roots)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  /* A second's worth is one trace, and the next comes a thousand seconds
   * later: however slow the machine, only the first root is sampled. */
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver, GLUETOOL_SAMPLER_TYPE_RATE_LIMITING,
                                                  0.001, NULL);
  JaegerSpan *span;
  JaegerTag *tag;

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *label = g_strdup_printf ("root %u", i);
      g_autoptr(GluetoolAction) root = gluetool_action_new (label, NULL);
      g_autoptr(GluetoolAction) child = gluetool_action_new ("child", root);

      test_expect_finish (child);
      test_expect_finish (root);
    }
  send_marker ("marker");
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 3, WAIT_S), 3);
  span = test_receiver_expect_span (receiver, "root 0");
  tag = test_find_tag (span->tags, "sampler.type");
  ck_assert_str_eq (tag->vStr, "ratelimiting");
  tag = test_find_tag (span->tags, "sampler.param");
  ck_assert (tag->vDouble == 0.001);
  ck_assert_ptr_nonnull (test_receiver_find_span (receiver, "child"));
  ck_assert_ptr_null (test_receiver_find_span (receiver, "root 1"));
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), 3);
}
END_TEST

START_TEST (test_const_zero_from_environment)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;

  g_setenv ("GLUETOOL_TRACING_SAMPLER_TYPE", "const", TRUE);
  g_setenv ("GLUETOOL_TRACING_SAMPLER_PARAM", "0", TRUE);
  tracer = make_tracer (receiver, GLUETOOL_SAMPLER_TYPE_DEFAULT, -1.0, NULL);
  ck_assert_int_eq (gluetool_tracer_get_sampler_type (tracer), GLUETOOL_SAMPLER_TYPE_CONST);
  ck_assert (gluetool_tracer_get_sampler_param (tracer) == 0.0);
  root = gluetool_action_new ("root", NULL);
  test_expect_finish (root);
  send_marker ("marker");
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert_ptr_null (test_receiver_find_span (receiver, "root"));
  test_unset_tracing_environment ();
}
END_TEST

/* The default remote parent (TRACEPARENT's, set here through the API that
 * TRACEPARENT feeds) decides for the process, whatever the sampler says. */
START_TEST (test_remote_parent_decides)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = make_tracer (receiver, GLUETOOL_SAMPLER_TYPE_CONST, 1.0, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GluetoolSpanContext) unsampled =
    gluetool_span_context_new_from_traceparent ("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
                                                &error);
  g_autoptr(GluetoolSpanContext) sampled =
    gluetool_span_context_new_from_traceparent ("00-0af7651916cd43dd8448eb211c80319d-b7ad6b7169203331-01",
                                                &error);
  g_autoptr(GluetoolSpanContext) context = NULL;

  ck_assert_ptr_nonnull (unsampled);
  ck_assert_ptr_nonnull (sampled);

  gluetool_action_set_default_remote_parent (unsampled);
  {
    g_autoptr(GluetoolAction) root = gluetool_action_new ("under unsampled", NULL);
    g_autoptr(GluetoolAction) child = gluetool_action_new ("unsampled child", root);

    context = gluetool_action_dup_context (child);
    ck_assert_uint_eq (gluetool_span_context_get_flags (context), 0);
    test_expect_finish (child);
    test_expect_finish (root);
  }
  gluetool_action_set_default_remote_parent (sampled);
  {
    g_autoptr(GluetoolAction) root = gluetool_action_new ("under sampled", NULL);

    test_expect_finish (root);
  }
  gluetool_action_set_default_remote_parent (NULL);

  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);
  ck_assert_ptr_nonnull (test_receiver_find_span (receiver, "under sampled"));
  ck_assert_uint_eq (test_receiver_get_n_spans (receiver), 1);
}
END_TEST

START_TEST (test_process_tags_arrive)
{
  g_autoptr(TestReceiver) receiver = test_receiver_new ("127.0.0.1");
  g_autoptr(GluetoolTracer) tracer = NULL;
  g_autoptr(GluetoolAction) root = NULL;
  g_autoptr(GPtrArray) datagrams = NULL;
  const TestDatagram *datagram;
  JaegerTag *tag;

  g_setenv ("SAMPLER_TEST_REGION", "eu-1", TRUE);
  tracer = make_tracer (receiver, GLUETOOL_SAMPLER_TYPE_DEFAULT, -1.0,
                        "env=prod,shard=7,weight=0.25,canary=true,"
                        "region=${SAMPLER_TEST_REGION:none}");
  root = gluetool_action_new ("root", NULL);
  test_expect_finish (root);
  test_expect_close (tracer, WAIT_S);
  ck_assert_uint_eq (test_receiver_wait_for_spans (receiver, 1, WAIT_S), 1);

  datagrams = test_receiver_get_datagrams (receiver);
  datagram = g_ptr_array_index (datagrams, 0);
  ck_assert_ptr_nonnull (datagram->batch);
  tag = test_find_tag (datagram->batch->process->tags, "env");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_STRING);
  ck_assert_str_eq (tag->vStr, "prod");
  tag = test_find_tag (datagram->batch->process->tags, "shard");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_LONG);
  ck_assert_int_eq (tag->vLong, 7);
  tag = test_find_tag (datagram->batch->process->tags, "weight");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_DOUBLE);
  ck_assert (tag->vDouble == 0.25);
  tag = test_find_tag (datagram->batch->process->tags, "canary");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_BOOL);
  ck_assert (tag->vBool);
  tag = test_find_tag (datagram->batch->process->tags, "region");
  ck_assert_str_eq (tag->vStr, "eu-1");
  /* The client's own are still there. */
  ck_assert_ptr_nonnull (test_find_tag (datagram->batch->process->tags, "client-uuid"));
  /* And the default sampler's tags on the root. */
  tag = test_find_tag (test_receiver_expect_span (receiver, "root")->tags, "sampler.param");
  ck_assert_int_eq (tag->vType, JAEGER_TAG_TYPE_BOOL);
  ck_assert (tag->vBool);
}
END_TEST

static Suite *
sampler_suite (void)
{
  Suite *suite = suite_create ("sampler");
  TCase *tc;

  tc = tcase_create ("decisions");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_const);
  tcase_add_test (tc, test_probabilistic_boundary);
  tcase_add_test (tc, test_probabilistic_proportion);
  tcase_add_test (tc, test_rate_limiting);
  tcase_add_test (tc, test_per_operation);
  tcase_add_test (tc, test_per_operation_bounded);
  tcase_add_test (tc, test_per_operation_added_on_first_use);
  tcase_add_test (tc, test_equal);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("settings");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_tags_parse);
  tcase_add_test (tc, test_tags_typed_without_change);
  tcase_add_test (tc, test_tags_malformed);
  tcase_add_test (tc, test_config_errors);
  tcase_add_test (tc, test_config_defaults);
  tcase_add_test (tc, test_config_remote);
  tcase_add_test (tc, test_properties);
  suite_add_tcase (suite, tc);

  tc = tcase_create ("e2e");
  tcase_set_timeout (tc, 60);
  tcase_add_test (tc, test_unsampled_trace_sends_nothing);
  tcase_add_test (tc, test_sampled_root_tags);
  tcase_add_test (tc, test_rate_limited_roots);
  tcase_add_test (tc, test_const_zero_from_environment);
  tcase_add_test (tc, test_remote_parent_decides);
  tcase_add_test (tc, test_process_tags_arrive);
  suite_add_tcase (suite, tc);

  return suite;
}

int
main (void)
{
  test_unset_tracing_environment ();
  return test_run_suite_tap (sampler_suite ());
}
