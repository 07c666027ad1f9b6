/* fuzz-decode.c: libFuzzer target for gluetool-trace's decode path
 *
 * SPDX-License-Identifier: MIT
 *
 * Every input is one datagram: decoded by the c_glib reference codec
 * (compact or binary), stored, and written in every output format, whose
 * promises trace_fuzz_one() checks. The same bytes are then taken as the
 * body of a POST to /api/traces (a bare binary Batch), through the same
 * outputs (trace_fuzz_one_http()): one target, so that both are fuzzed in
 * every run, from both seed corpora. Run by tests/fuzz/run-fuzz.sh.
 */

#include <stddef.h>
#include <stdint.h>

#include "trace-fuzz-one.h"

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  trace_fuzz_one (data, size);
  trace_fuzz_one_http (data, size);
  return 0;
}
