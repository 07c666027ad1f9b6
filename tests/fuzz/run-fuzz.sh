#!/bin/sh
# SPDX-License-Identifier: MIT
#
# A short libFuzzer run of gluetool-trace's decode path, as CI's tests do.
# Usage: run-fuzz.sh FUZZ_TARGET SEED_CORPUS WORK_DIR [MORE_SEED_CORPORA...]
# FUZZ_SECONDS (default 60) sets how long it runs. New inputs go to
# WORK_DIR/corpus (kept between runs), crashes to WORK_DIR/artifacts.
set -eu
target=$1 seeds=$2 work=$3
shift 3
seconds=${FUZZ_SECONDS:-60}

mkdir -p "$work/corpus" "$work/artifacts"

# UBSan reports are failures; leaks are checked at the end of each input.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

# -max_len: the largest UDP payload (an HTTP body may be larger, but no
# part of a Batch's decoding depends on sizes past it). -malloc_limit_mb:
# no input may make the decoder or a format ask for a block anywhere near
# this (every size is bounded by the input's); -rss_limit_mb leaves room for ASan's
# quarantine. -timeout: no input may stall the decoder.
exec "$target" \
  -max_total_time="$seconds" \
  -max_len=65536 \
  -malloc_limit_mb=32 \
  -rss_limit_mb=2048 \
  -timeout=5 \
  -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" \
  "$work/corpus" "$seeds" "$@"
