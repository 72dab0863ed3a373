#!/bin/sh
# Runs the fuzz targets built in BUILD_DIR (make fuzz-build).
#   run.sh BUILD_DIR fuzz SECONDS [TARGET...]  fuzz each target SECONDS on its corpus
#   run.sh BUILD_DIR corpus [TARGET...]        run each target once over its committed corpus
# Fuzzing never writes into the committed corpus: new inputs go to BUILD_DIR/fuzz-work/<t>/ (log: <t>-fuzz.log),
# crashes to BUILD_DIR/fuzz-work/<t>-crash-*. A target's dictionary (<t>.dict here) is used
# when there is one. Inputs are at most FUZZ_MAX_LEN bytes (4096): a few corpus entries are
# far larger (deep JSON nesting), and would otherwise make every mutation that large. Ends
# with one line per target (executions per second) and fails if any target found something.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=$1
mode=$2
shift 2
seconds=60
if [ "$mode" = fuzz ]; then
  seconds=$1
  shift
fi
targets="$*"
if [ -z "$targets" ]; then
  targets=$(cd "$here/corpus" && ls)
fi

work="$build/fuzz-work"
mkdir -p "$work"
summary=""
failed=0
for t in $targets; do
  bin="$build/fuzz/fuzz_$t"
  corpus="$here/corpus/$t"
  log="$work/$t-$mode.log"
  dict=""
  [ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
  if [ "$mode" = corpus ]; then
    # Files, not the folder: libFuzzer then runs each once and does not fuzz.
    if "$bin" -timeout=10 "$corpus"/* > "$log" 2>&1; then
      summary="$summary$(printf '%-14s %5s inputs ok' "$t" "$(ls "$corpus" | wc -l)")\n"
    else
      failed=1
      summary="$summary$(printf '%-14s FAILED, see %s' "$t" "$log")\n"
    fi
    continue
  fi
  mkdir -p "$work/$t"
  echo "fuzz_$t: ${seconds}s (log: $log)"
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -max_len="${FUZZ_MAX_LEN:-4096}" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$t-" $dict ${FUZZ_ARGS:-} \
    "$work/$t" "$corpus" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ]; then
    failed=1
    summary="$summary$(printf '%-14s FOUND SOMETHING (exit %s): see %s and %s-*' "$t" "$rc" "$log" "$work/$t")\n"
  else
    summary="$summary$(printf '%-14s %10s execs %8s exec/s  %s' "$t" "${execs:-?}" "${rate:-?}" "$cov")\n"
  fi
done
printf "\n$summary"
exit $failed
