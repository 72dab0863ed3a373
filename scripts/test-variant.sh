#!/bin/sh
# Builds everything in a folder of its own with AddressSanitizer + UndefinedBehaviorSanitizer
# (asan), ThreadSanitizer (tsan) or gcov instrumentation (coverage), then runs the whole ctest
# suite there. Usage: test-variant.sh asan|tsan|coverage <build dir> [ctest arguments...]
#
# Sanitizer reports go to files in <build dir>/sanitizer-logs rather than to stderr: the
# streamgate and fake-upstream processes that tests start keep their stderr in temporary
# files, and a report there would be lost with them. Any file there fails the run, whatever
# the tests said, and is printed.
set -eu
kind=${1:?usage: test-variant.sh asan|tsan|coverage <build dir> [ctest arguments...]}
build=${2:?usage: test-variant.sh asan|tsan|coverage <build dir> [ctest arguments...]}
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
supp=$root/tests/sanitizers
jobs=${JOBS:-$(nproc)}

# -O1 keeps instrumented tests fast enough; -g1 (line tables, all a sanitizer's stack trace
# needs) compiles in far less time and memory than full debug info; Debug keeps assert() on.
case "$kind" in
  asan) variant="-DSG_SANITIZE=address,undefined" opt="-O1 -g1" ;;
  tsan) variant="-DSG_SANITIZE=thread" opt="-O1 -g1" ;;
  coverage) variant="-DSG_COVERAGE=ON" opt="-O0" ;;
  *) echo "test-variant.sh: unknown kind '$kind' (asan, tsan or coverage)" >&2; exit 2 ;;
esac

# With -g, ccache would hash the working directory; without it, every clone (CI's fresh one,
# each worktree) shares the cache, at the price of debug info naming another clone's folder.
export CCACHE_NOHASHDIR=1
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=$opt" $variant \
  -DSG_BUILD_BENCH=OFF > "$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j"$jobs"

build=$(cd "$build" && pwd)
logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
report="log_path=$logs/report:log_exe_name=1"
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:$report"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp:$report"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:$report"

if [ "$kind" = coverage ]; then
  find "$build" -name '*.gcda' -delete
fi

status=0
# One test at a time: instrumented code runs several times slower, and two at a time on two
# cores made timing-bound tests (breaker probes, expiry, a spinning-accept check) miss their
# windows. CTEST_ARGS=-j2 runs two at a time where that is known to be fine.
(cd "$build" && ctest --output-on-failure --timeout 900 "$@") || status=$?

if [ -n "$(ls -A "$logs")" ]; then
  for f in "$logs"/*; do
    echo "=== sanitizer report $(basename "$f")"
    cat "$f"
  done
  echo "test-variant.sh: $(ls "$logs" | wc -l) sanitizer report(s), above" >&2
  status=1
fi

if [ "$kind" = coverage ]; then
  "$root/scripts/coverage-report.py" "$root" "$build" || status=1
fi
exit $status
