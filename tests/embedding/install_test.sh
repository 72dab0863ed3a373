#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR CXX [VARIANT_FLAGS]
# Installs the engine into a staging prefix and uses it as an outside project would: the
# example's CMake project with find_package(streamgate), and the same program compiled with
# pkg-config's flags only. Both programs run and must pass their own checks.
set -eu
build=$1
src=$2
cxx=$3
variant=${4:-}  # -fsanitize=... or --coverage: what an instrumented library needs
stage=$build/embed-stage
rm -rf "$stage"
mkdir -p "$stage"

cmake --install "$build" --prefix "$stage/prefix" --component engine >"$stage/install.log"
echo "installed:"
(cd "$stage/prefix" && find . -type f -o -type l | sort)
# Nothing of the build tree or of our internals is installed: only include/streamgate.
if find "$stage/prefix/include" -type f | grep -v '/include/streamgate/'; then
  echo "FAIL: files outside include/streamgate were installed" >&2
  exit 1
fi

launcher=""
if command -v ccache >/dev/null 2>&1; then launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"; fi
cmake -S "$src/examples/embed" -B "$stage/example" -DCMAKE_PREFIX_PATH="$stage/prefix" \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release $launcher \
  -DCMAKE_CXX_FLAGS="$variant" -DCMAKE_EXE_LINKER_FLAGS="$variant" >"$stage/configure.log"
cmake --build "$stage/example" -j2 >"$stage/build.log" 2>&1 || {
  cat "$stage/build.log"
  exit 1
}
echo "--- examples/embed (find_package)"
"$stage/example/embed_example"
echo "--- examples/embed serve_http (find_package)"
"$stage/example/embed_serve_http"

echo "--- examples/embed (pkg-config)"
pc_dir=$(dirname "$(find "$stage/prefix" -name streamgate.pc)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs streamgate)
echo "pkg-config: $flags"
compiler=$cxx
if [ -n "$launcher" ]; then compiler="ccache $cxx"; fi
# shellcheck disable=SC2086
$compiler -std=c++17 -O1 $variant "$src/examples/embed/main.cpp" -o "$stage/embed_pkgconfig" $flags
lib_dir=$(dirname "$(find "$stage/prefix" -name 'libstreamgate.so' | head -n1)")
LD_LIBRARY_PATH="$lib_dir" "$stage/embed_pkgconfig"

echo "--- add_subdirectory (configured, not built)"
# A host project that takes the source tree in: only the engine's targets come with it (no
# tests, tools, server or benchmarks, so neither GTest nor Google Benchmark is looked for), and
# none of our flags reach the host's own code.
host=$stage/host
mkdir -p "$host/src"
cat >"$host/src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.22)
project(host LANGUAGES CXX)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
add_subdirectory("$src" streamgate)
add_executable(host_app main.cpp)
target_link_libraries(host_app PRIVATE streamgate::engine)
CMAKE
printf '#include <streamgate/spawn_gateway.hpp>\nint main() { return 0; }\n' >"$host/src/main.cpp"
cmake -S "$host/src" -B "$host/build" -DCMAKE_CXX_COMPILER="$cxx" >"$host/configure.log" 2>&1 || {
  cat "$host/configure.log"
  exit 1
}
if grep -Eq "^(GTest|benchmark)_DIR" "$host/build/CMakeCache.txt"; then
  echo "FAIL: the host's configuration looked for GTest or Google Benchmark" >&2
  exit 1
fi
# Only the engine's libraries: no server, tools, tests or benchmarks.
targets=$(cmake --build "$host/build" --target help | sed -n 's/^\.\.\. \([^ ]*\).*/\1/p')
echo "targets in the host build:" $targets
extra=$(echo "$targets" | grep -Ev '^(all|clean|depend|edit_cache|install.*|list_install_components|rebuild_cache|host_app|main\..|sg_.*|streamgate_engine)$' || true)
if [ -n "$extra" ]; then
  echo "FAIL: add_subdirectory brought these targets into the host:" $extra >&2
  exit 1
fi
# compile_commands.json lists directory, command, file: the command is the line before.
host_flags=$(grep -B1 '"file": ".*/host/src/main.cpp"' "$host/build/compile_commands.json" | head -n1)
case "$host_flags" in
  *host_app.dir*) ;;
  *)
    echo "FAIL: no compile command found for host_app" >&2
    exit 1
    ;;
esac
echo "host_app compiles with: $host_flags"
for leaked in -Werror -Wall BOOST_ASIO_NO_DEPRECATED; do
  case "$host_flags" in
    *"$leaked"*)
      echo "FAIL: $leaked reached the host's own code" >&2
      exit 1
      ;;
  esac
done
echo "embedding install test: all checks passed"
