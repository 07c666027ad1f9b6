# SPDX-License-Identifier: MIT
#
# The one method a Jaeger agent's compact UDP port (6831) dispatches for this
# client: a oneway emitBatch carrying a jaeger.thrift Batch.
#
# The published agent service also declares emitZipkinBatch, which pulls in
# the Zipkin model. It is left out on purpose: the Zipkin model defines its
# own Span, whose generated c_glib names collide with jaeger.thrift's; this
# client never sends Zipkin batches; and the receivers that still take UDP
# (Jaeger v2, the OpenTelemetry jaeger receiver) do not accept them. Method
# dispatch is by name, so leaving a method out changes nothing on the wire.

include "jaeger.thrift"

namespace c_glib Jaeger

service Agent {
  oneway void emitBatch(1: jaeger.Batch batch)
}
