/* trace-scan-cursor.h: a cursor over bytes read in place, for the scans
 *
 * SPDX-License-Identifier: MIT
 *
 * What trace-scan.c (compact) and trace-scan-binary.c (binary) read their
 * protocol's values with: every step checks what is left first, so no
 * read passes the end.
 */

#pragma once

#include <glib.h>

typedef struct {
  const guint8 *p;
  const guint8 *end;
} Cursor;

static inline gsize
remaining (const Cursor *c)
{
  return (gsize) (c->end - c->p);
}

static inline gboolean
read_byte (Cursor *c,
           guint8 *byte)
{
  if (c->p == c->end)
    return FALSE;
  *byte = *c->p++;
  return TRUE;
}

static inline gboolean
skip (Cursor *c,
      gsize   n)
{
  if (remaining (c) < n)
    return FALSE;
  c->p += n;
  return TRUE;
}
