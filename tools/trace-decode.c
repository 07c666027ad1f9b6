/* trace-decode.c: one datagram to one Jaeger batch, whichever Thrift
 * protocol it was sent with
 *
 * SPDX-License-Identifier: MIT
 */

#include "trace-decode.h"

#include "reference-binary.h"

#include <string.h>

/* The first byte of each message header the reference decoders read. */
#define COMPACT_PROTOCOL_ID      0x82
#define BINARY_STRICT_FIRST_BYTE 0x80  /* of the version word 0x8001xxxx */
#define BINARY_OLD_FIRST_BYTE    0x00  /* of the name's big-endian length */

gboolean
trace_decode_datagram (const guint8  *data,
                       gsize          len,
                       TraceDecoded  *decoded,
                       GError       **error)
{
  JaegerBatch *batch;
  TraceProtocol protocol;
  gint32 seqid = 0;
  gint32 message_type = 0;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (decoded != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (decoded, 0, sizeof *decoded);

  if (len == 0)
    {
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "an empty datagram");
      return FALSE;
    }

  switch (data[0])
    {
    case COMPACT_PROTOCOL_ID:
      protocol = TRACE_PROTOCOL_COMPACT;
      batch = gluetool_reference_decode_datagram (data, len, &seqid,
                                                  &message_type, error);
      break;

    case BINARY_STRICT_FIRST_BYTE:
    case BINARY_OLD_FIRST_BYTE:
      protocol = TRACE_PROTOCOL_BINARY;
      batch = gluetool_reference_decode_datagram_binary (data, len, &seqid,
                                                         &message_type, error);
      break;

    default:
      g_set_error (error, GLUETOOL_REFERENCE_ERROR,
                   GLUETOOL_REFERENCE_ERROR_NOT_EMIT_BATCH,
                   "not a Thrift message: it starts with 0x%02x, where the "
                   "compact protocol has 0x82 and the binary protocol 0x80 "
                   "(or 0x00)", data[0]);
      return FALSE;
    }

  if (batch == NULL)
    return FALSE;

  decoded->batch = batch;
  decoded->protocol = protocol;
  decoded->seqid = seqid;
  decoded->message_type = message_type;
  return TRUE;
}

gboolean
trace_decode_http_body (const guint8  *data,
                        gsize          len,
                        TraceDecoded  *decoded,
                        GError       **error)
{
  JaegerBatch *batch;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (decoded != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (decoded, 0, sizeof *decoded);

  batch = gluetool_reference_decode_batch_binary (data, len, error);
  if (batch == NULL)
    return FALSE;

  decoded->batch = batch;
  decoded->protocol = TRACE_PROTOCOL_HTTP;
  return TRUE;
}

void
trace_decoded_clear (TraceDecoded *decoded)
{
  g_return_if_fail (decoded != NULL);

  g_clear_object (&decoded->batch);
  memset (decoded, 0, sizeof *decoded);
}

const char *
trace_protocol_name (TraceProtocol protocol)
{
  switch (protocol)
    {
    case TRACE_PROTOCOL_COMPACT:
      return "compact";
    case TRACE_PROTOCOL_BINARY:
      return "binary";
    case TRACE_PROTOCOL_HTTP:
      return "http";
    default:
      g_return_val_if_reached ("unknown");
    }
}
