/* fuzz-decode.c: libFuzzer target for gluetool-trace's decode path
 *
 * SPDX-License-Identifier: MIT
 *
 * Every input is one datagram: decoded by the c_glib reference codec
 * (compact or binary), stored, and written in every output format, whose
 * promises trace_fuzz_one() checks. Run by tests/fuzz/run-fuzz.sh.
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
  return 0;
}
