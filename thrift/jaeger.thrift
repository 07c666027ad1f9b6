# SPDX-License-Identifier: MIT
#
# The Jaeger span model as the UDP agent reads it, written for this project
# from the published field ids and types of jaeger-idl's jaeger.thrift.
# Only the ids, types and required/optional markers matter on the wire; the
# names follow the published ones so that the generated code reads naturally.
#
# The c_glib namespace prefixes every generated name (JaegerSpan,
# JAEGER_TYPE_SPAN ...), which keeps them clear of anything else a test or
# tool links.

namespace c_glib Jaeger

enum TagType {
  STRING = 0,
  DOUBLE = 1,
  BOOL = 2,
  LONG = 3,
  BINARY = 4,
}

# A key and one typed value. Only the value field that vType names is set.
struct Tag {
  1: required string  key
  2: required TagType vType
  3: optional string  vStr
  4: optional double  vDouble
  5: optional bool    vBool
  6: optional i64     vLong
  7: optional binary  vBinary
}

# A timestamped set of fields; timestamp in microseconds since the epoch.
struct Log {
  1: required i64       timestamp
  2: required list<Tag> fields
}

enum SpanRefType {
  CHILD_OF = 0,
  FOLLOWS_FROM = 1,
}

struct SpanRef {
  1: required SpanRefType refType
  2: required i64         traceIdLow
  3: required i64         traceIdHigh
  4: required i64         spanId
}

# Ids are 64-bit values carried as i64, so half of them are negative on the
# wire. Field 12 once existed briefly upstream and is not part of the model.
struct Span {
  1:  required i64           traceIdLow
  2:  required i64           traceIdHigh
  3:  required i64           spanId
  4:  required i64           parentSpanId
  5:  required string        operationName
  6:  optional list<SpanRef> references
  7:  required i32           flags
  8:  required i64           startTime
  9:  required i64           duration
  10: optional list<Tag>     tags
  11: optional list<Log>     logs
}

struct Process {
  1: required string    serviceName
  2: optional list<Tag> tags
}

# Cumulative counters since the client started.
struct ClientStats {
  1: required i64 fullQueueDroppedSpans
  2: required i64 tooLargeDroppedSpans
  3: required i64 failedToEmitSpans
}

struct Batch {
  1: required Process     process
  2: required list<Span>  spans
  3: optional i64         seqNo
  4: optional ClientStats stats
}

# The collector's two-way response type. The collector service that returns
# it (submitBatches over HTTP or TChannel) is left out: a UDP agent never
# uses it, and each service would make the generator write one more pair of
# files that nothing here compiles.
struct BatchSubmitResponse {
  1: required bool ok
}
