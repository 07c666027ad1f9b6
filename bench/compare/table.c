/* table.c: the side-by-side comparison's table, from compare-sink's results
 *
 * SPDX-License-Identifier: MIT
 *
 * Usage: compare-table [--base LABEL] [--markdown] RESULTS.tsv
 *
 * Reads the lines compare-sink printed (several runs of each client at each
 * N), and prints one table: for each client and N, the medians of the runs
 * (CPU per span, wall time, peak RSS, datagrams, spans sent and received,
 * spans lost), then the marginal cost between the smallest and the largest
 * N, which leaves out what does not grow with N (an interpreter's start-up,
 * loading code). Every figure but the counts comes with its ratio to the
 * base client's (this library's) on the same row: 4.0x means four times as
 * much CPU, time or memory.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

/* The columns of compare-sink's result line that are read here. */
enum {
  COL_LABEL = 0,
  COL_N = 1,
  COL_STATUS = 2,
  COL_WALL = 3,
  COL_USER = 4,
  COL_SYS = 5,
  COL_MAXRSS = 6,
  COL_DATAGRAMS = 7,
  COL_BAD = 9,
  COL_RECEIVED = 12,
  COL_MISSING = 13,
  COL_KERNEL_DROPS = 14,
  COL_SNMP_DROPS = 15,
  COL_WIRE = 17,
  N_COLS = 20,
};

typedef struct {
  char   *label;       /* (owned) */
  guint64 n;
  GArray *cpu_s;       /* (element-type double) one per run */
  GArray *wall_s;
  GArray *rss_mib;
  GArray *datagrams;
  GArray *received;
  GArray *lost;
  guint64 sink_drops;  /* summed over the runs */
  guint64 bad;
  guint   failed;      /* runs whose child did not exit 0 */
  char   *wire;        /* (owned) */
} Group;

typedef struct {
  double cpu_us;       /* per span */
  double wall_s;
  double rss_mib;
  double marginal_cpu_us;
  double marginal_wall_us;
  double marginal_rss_mib;
} Figures;

static void
group_free (gpointer data)
{
  Group *group = data;

  g_free (group->label);
  g_free (group->wire);
  g_array_unref (group->cpu_s);
  g_array_unref (group->wall_s);
  g_array_unref (group->rss_mib);
  g_array_unref (group->datagrams);
  g_array_unref (group->received);
  g_array_unref (group->lost);
  g_free (group);
}

static Group *
group_new (const char *label,
           guint64     n)
{
  Group *group = g_new0 (Group, 1);

  group->label = g_strdup (label);
  group->n = n;
  group->cpu_s = g_array_new (FALSE, FALSE, sizeof (double));
  group->wall_s = g_array_new (FALSE, FALSE, sizeof (double));
  group->rss_mib = g_array_new (FALSE, FALSE, sizeof (double));
  group->datagrams = g_array_new (FALSE, FALSE, sizeof (double));
  group->received = g_array_new (FALSE, FALSE, sizeof (double));
  group->lost = g_array_new (FALSE, FALSE, sizeof (double));
  return group;
}

static void
append (GArray *array,
        double  value)
{
  g_array_append_val (array, value);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The median (the mean of the middle two for an even count). Sorts. */
static double
median (GArray *values)
{
  guint n = values->len;

  if (n == 0)
    return 0;
  g_array_sort (values, compare_doubles);
  if (n % 2 == 1)
    return g_array_index (values, double, n / 2);
  return (g_array_index (values, double, n / 2 - 1) + g_array_index (values, double, n / 2)) / 2;
}

static double
minimum (GArray *values)
{
  double low = values->len > 0 ? g_array_index (values, double, 0) : 0;

  for (guint i = 1; i < values->len; i++)
    low = MIN (low, g_array_index (values, double, i));
  return low;
}

static double
maximum (GArray *values)
{
  double high = values->len > 0 ? g_array_index (values, double, 0) : 0;

  for (guint i = 1; i < values->len; i++)
    high = MAX (high, g_array_index (values, double, i));
  return high;
}

static Group *
find_group (GPtrArray  *groups,
            const char *label,
            guint64     n)
{
  for (guint i = 0; i < groups->len; i++)
    {
      Group *group = g_ptr_array_index (groups, i);

      if (group->n == n && g_str_equal (group->label, label))
        return group;
    }
  return NULL;
}

static gboolean
read_results (const char  *path,
              GPtrArray   *groups,
              GError     **error)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) cols = NULL;
      Group *group;
      guint64 n;

      if (lines[i][0] == '\0' || lines[i][0] == '#' || g_str_has_prefix (lines[i], "label\t"))
        continue;
      cols = g_strsplit (lines[i], "\t", -1);
      if (g_strv_length (cols) != N_COLS)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                       "%s:%u: %u columns, expected %d", path, i + 1,
                       g_strv_length (cols), N_COLS);
          return FALSE;
        }
      n = g_ascii_strtoull (cols[COL_N], NULL, 10);
      group = find_group (groups, cols[COL_LABEL], n);
      if (group == NULL)
        {
          group = group_new (cols[COL_LABEL], n);
          g_ptr_array_add (groups, group);
        }

      append (group->cpu_s, g_ascii_strtod (cols[COL_USER], NULL) + g_ascii_strtod (cols[COL_SYS], NULL));
      append (group->wall_s, g_ascii_strtod (cols[COL_WALL], NULL));
      append (group->rss_mib, g_ascii_strtod (cols[COL_MAXRSS], NULL) / 1024);
      append (group->datagrams, g_ascii_strtod (cols[COL_DATAGRAMS], NULL));
      append (group->received, g_ascii_strtod (cols[COL_RECEIVED], NULL));
      append (group->lost, g_ascii_strtod (cols[COL_MISSING], NULL));
      group->sink_drops += g_ascii_strtoull (cols[COL_KERNEL_DROPS], NULL, 10)
                           + g_ascii_strtoull (cols[COL_SNMP_DROPS], NULL, 10);
      group->bad += g_ascii_strtoull (cols[COL_BAD], NULL, 10);
      if (!g_str_equal (cols[COL_STATUS], "exit0"))
        group->failed++;
      if (group->wire == NULL)
        group->wire = g_strdup (cols[COL_WIRE]);
      else if (!g_str_equal (group->wire, cols[COL_WIRE]))
        {
          g_free (group->wire);
          group->wire = g_strdup ("mixed");
        }
    }
  return TRUE;
}

/* ---- Output ------------------------------------------------------------------ */

typedef struct {
  gboolean markdown;
  GString *out;
} Table;

static void
table_row (Table       *table,
           const char **cells,
           guint        n_cells)
{
  /* Widths of the plain-text columns. */
  static const int widths[] = { 19, 13, 14, 13, 15, 13, 9, 7, 8, 24, 11, 5 };

  for (guint i = 0; i < n_cells; i++)
    {
      if (table->markdown)
        g_string_append_printf (table->out, "| %s ", cells[i]);
      else
        g_string_append_printf (table->out, "%-*s ", i < G_N_ELEMENTS (widths) ? widths[i] : 8, cells[i]);
    }
  if (table->markdown)
    g_string_append (table->out, "|");
  else
    while (table->out->len > 0 && table->out->str[table->out->len - 1] == ' ')
      g_string_truncate (table->out, table->out->len - 1);
  g_string_append_c (table->out, '\n');
}

/* "value (ratio x)" against the base's value, with @digits decimals. */
static char *
with_ratio (double value,
            double base,
            int    digits)
{
  if (base <= 0 || value <= 0)
    return g_strdup_printf ("%.*f", digits, value);
  return g_strdup_printf ("%.*f (%.*fx)", digits, value, value / base >= 10 ? 0 : 1, value / base);
}

static Figures
group_figures (Group *group)
{
  Figures figures = { 0 };

  figures.cpu_us = median (group->cpu_s) * 1e6 / (group->n > 0 ? group->n : 1);
  figures.wall_s = median (group->wall_s);
  figures.rss_mib = median (group->rss_mib);
  return figures;
}

static Figures
marginal_figures (Group *small,
                  Group *large)
{
  Figures figures = { 0 };
  double dn = (double) (large->n - small->n);

  figures.marginal_cpu_us = (median (large->cpu_s) - median (small->cpu_s)) * 1e6 / dn;
  figures.marginal_wall_us = (median (large->wall_s) - median (small->wall_s)) * 1e6 / dn;
  figures.marginal_rss_mib = median (large->rss_mib) - median (small->rss_mib);
  return figures;
}

/* The groups of one client, smallest N first. */
static GPtrArray *
client_groups (GPtrArray  *groups,
               const char *label)
{
  GPtrArray *mine = g_ptr_array_new ();

  for (guint i = 0; i < groups->len; i++)
    {
      Group *group = g_ptr_array_index (groups, i);

      if (g_str_equal (group->label, label))
        {
          guint at = 0;

          while (at < mine->len && ((Group *) g_ptr_array_index (mine, at))->n < group->n)
            at++;
          g_ptr_array_insert (mine, (gint) at, group);
        }
    }
  return mine;
}

static void
print_table (GPtrArray  *groups,
             const char *base_label,
             gboolean    markdown)
{
  static const char *header[] = {
    "client", "spans N", "CPU us/span", "CPU range", "wall s", "peak RSS MiB",
    "datagrams", "sent", "received", "lost: median [min-max]", "undecodable", "sink drops",
  };
  static const char *rule[] = { "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:" };
  g_autoptr(GPtrArray) labels = g_ptr_array_new ();
  g_autoptr(GPtrArray) base = client_groups (groups, base_label);
  Table table = { markdown, g_string_new (NULL) };

  /* The base first, the others in the order they ran. */
  if (base->len > 0)
    g_ptr_array_add (labels, (gpointer) base_label);
  for (guint i = 0; i < groups->len; i++)
    {
      const char *label = ((Group *) g_ptr_array_index (groups, i))->label;

      if (!g_ptr_array_find_with_equal_func (labels, label, g_str_equal, NULL))
        g_ptr_array_add (labels, (gpointer) label);
    }

  table_row (&table, header, G_N_ELEMENTS (header));
  if (markdown)
    table_row (&table, rule, G_N_ELEMENTS (rule));

  for (guint l = 0; l < labels->len; l++)
    {
      g_autoptr(GPtrArray) mine = client_groups (groups, g_ptr_array_index (labels, l));

      for (guint g = 0; g < mine->len; g++)
        {
          Group *group = g_ptr_array_index (mine, g);
          Group *base_group = find_group (groups, base_label, group->n);
          Figures figures = group_figures (group);
          Figures base_figures = base_group != NULL ? group_figures (base_group) : (Figures) { 0 };
          double lost = median (group->lost);
          g_autofree char *n = g_strdup_printf ("%" G_GUINT64_FORMAT, group->n);
          g_autofree char *cpu = with_ratio (figures.cpu_us, base_figures.cpu_us, 2);
          g_autofree char *range = g_strdup_printf ("%.2f-%.2f", minimum (group->cpu_s) * 1e6 / group->n,
                                                    maximum (group->cpu_s) * 1e6 / group->n);
          g_autofree char *wall = with_ratio (figures.wall_s, base_figures.wall_s, 3);
          g_autofree char *rss = with_ratio (figures.rss_mib, base_figures.rss_mib, 1);
          g_autofree char *datagrams = g_strdup_printf ("%.0f", median (group->datagrams));
          g_autofree char *sent = g_strdup_printf ("%" G_GUINT64_FORMAT, group->n + 1);
          g_autofree char *received = g_strdup_printf ("%.0f", median (group->received));
          g_autofree char *lost_text = g_strdup_printf ("%.0f (%.1f%%) [%.0f-%.0f]%s", lost,
                                                        100.0 * lost / (group->n + 1),
                                                        minimum (group->lost), maximum (group->lost),
                                                        group->failed > 0 ? " FAILED RUNS" : "");
          g_autofree char *bad = g_strdup_printf ("%" G_GUINT64_FORMAT, group->bad);
          g_autofree char *drops = g_strdup_printf ("%" G_GUINT64_FORMAT, group->sink_drops);
          const char *cells[] = { group->label, n, cpu, range, wall, rss, datagrams, sent, received, lost_text, bad, drops };

          table_row (&table, cells, G_N_ELEMENTS (cells));
        }

      if (mine->len >= 2)
        {
          Group *small = g_ptr_array_index (mine, 0);
          Group *large = g_ptr_array_index (mine, mine->len - 1);
          Group *base_small = find_group (groups, base_label, small->n);
          Group *base_large = find_group (groups, base_label, large->n);
          Figures figures = marginal_figures (small, large);
          Figures base_figures = base_small != NULL && base_large != NULL
                                 ? marginal_figures (base_small, base_large) : (Figures) { 0 };
          g_autofree char *n = g_strdup_printf ("%" G_GUINT64_FORMAT "->%" G_GUINT64_FORMAT,
                                                small->n, large->n);
          g_autofree char *cpu = with_ratio (figures.marginal_cpu_us, base_figures.marginal_cpu_us, 2);
          g_autofree char *wall = g_strdup_printf ("%.2f us/span", figures.marginal_wall_us);
          /* Rounded first, so that a tiny decrease does not print as "-0.0". */
          double rss_delta = round (figures.marginal_rss_mib * 10) / 10 + 0.0;
          g_autofree char *rss = g_strdup_printf ("%+.1f", rss_delta);
          g_autofree char *label = g_strdup (markdown ? "*marginal*" : "  marginal");
          const char *cells[] = { label, n, cpu, "", wall, rss, "", "", "", "", "", "" };

          table_row (&table, cells, G_N_ELEMENTS (cells));
        }
    }

  /* What each client sent: the sink decodes either protocol. */
  g_string_append (table.out, markdown ? "\nWire protocol: " : "\nwire protocol: ");
  for (guint l = 0; l < labels->len; l++)
    {
      g_autoptr(GPtrArray) mine = client_groups (groups, g_ptr_array_index (labels, l));
      Group *group = g_ptr_array_index (mine, 0);

      g_string_append_printf (table.out, "%s%s %s", l > 0 ? ", " : "", group->label,
                              group->wire != NULL ? group->wire : "?");
    }
  g_string_append (table.out, ".\n");

  g_print ("%s", table.out->str);
  g_string_free (table.out, TRUE);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *base_label = NULL;
  gboolean markdown = FALSE;
  GOptionEntry entries[] = {
    { "base", 0, 0, G_OPTION_ARG_STRING, &base_label, "The client ratios are taken against", "LABEL" },
    { "markdown", 0, 0, G_OPTION_ARG_NONE, &markdown, "Print a Markdown table", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("RESULTS.tsv...");
  g_autoptr(GPtrArray) groups = g_ptr_array_new_with_free_func (group_free);
  g_autoptr(GError) error = NULL;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc < 2)
    {
      g_printerr ("compare-table: %s\n", error != NULL ? error->message : "no results file given");
      return 2;
    }
  if (base_label == NULL)
    base_label = g_strdup ("gluetool-action");

  for (int i = 1; i < argc; i++)
    if (!read_results (argv[i], groups, &error))
      {
        g_printerr ("compare-table: %s\n", error->message);
        return 1;
      }

  print_table (groups, base_label, markdown);
  return 0;
}
