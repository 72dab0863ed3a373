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
