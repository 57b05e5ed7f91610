#!/usr/bin/env bash
# Fuzzes zee_alloc natively: libFuzzer + AddressSanitizer + UBSan over every
# build of the core listed in test/native/configs.h (harness.c).
#   npm run fuzz [-- DURATION]   fuzz for DURATION (90, 90s, 15m, 1h; default 5m),
#                                keeping new inputs in build/native/fuzz-corpus
#   npm run test:fuzz            (--ci) exactly 60 s from the committed corpus;
#                                fails on any finding
#   bash test/native/fuzz.sh --merge   adds to test/native/corpus the inputs of
#                                build/native/fuzz-corpus that reach new edges
#                                (libFuzzer -merge=1)
# Findings (crash-*, leak-*, timeout-*, oom-*) land in build/native/findings/
# (build/native/ci-findings/ for --ci): copy them into test/native/corpus/
# as regression cases once fixed.  ZEE_CORE=path fuzzes another copy of the
# core (test/native/build.sh).
set -euo pipefail
# Everything runs inside main, parsed whole before it starts, so editing this
# file during a long run can't make bash execute half a line afterwards.
main() {
cd "$(dirname "$0")/../.."
mode=run duration=5m
case "${1:-}" in
  --ci) mode=ci duration=60 ;;
  --merge) mode=merge ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  "") ;;
  *) duration="$1" ;;
esac

# Why: a typo in the duration must not start an unbounded run.
seconds() {
  local d="$1"
  case "$d" in
    *[!0-9smh]*|"") echo "fuzz.sh: bad duration '$d' (use 90, 90s, 15m or 1h)" >&2; exit 2 ;;
    *h) echo $(( ${d%h} * 3600 )) ;;
    *m) echo $(( ${d%m} * 60 )) ;;
    *s) echo "${d%s}" ;;
    *) echo "$d" ;;
  esac
}
secs=$(seconds "$duration")
[ "$secs" -gt 0 ] || { echo "fuzz.sh: duration must be positive" >&2; exit 2; }

bin=$(bash test/native/build.sh fuzz)
findings=build/native/findings
[ "$mode" = ci ] && findings=build/native/ci-findings
mkdir -p "$findings"
opts=(-timeout=20 -rss_limit_mb=2560 -max_len=4096 -print_final_stats=1 -artifact_prefix="$findings/")

if [ "$mode" = merge ]; then
  # Edges only (no hit counters): keeps the committed corpus small.
  exec "$bin" -merge=1 -use_counters=0 -use_value_profile=0 "${opts[@]}" test/native/corpus build/native/fuzz-corpus
fi

if [ "$mode" = ci ]; then
  work=build/native/ci-corpus
  rm -rf "$work" "$findings"/*
else
  work=build/native/fuzz-corpus
fi
mkdir -p "$work"
log="build/native/fuzz-$mode.log"
echo "fuzz.sh: $bin for ${secs}s (log: $log)"
set +e
"$bin" -max_total_time="$secs" "${opts[@]}" "$work" test/native/corpus 2>&1 | tee "$log" \
  | grep -E --line-buffered '^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY|zee harness|page_source|stat::'
status=${PIPESTATUS[0]}
set -e
found=$(find "$findings" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
  echo "fuzz.sh: FINDING (exit $status, $found file(s) in $findings); see $log" >&2
  exit 1
fi
last=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
echo "fuzz.sh: no finding in ${secs}s: ${last}"
}

main "$@"
