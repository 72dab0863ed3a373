#!/bin/sh
# Installs the Debian packages streamgate needs, and only those that are missing, so a
# second run costs a dpkg query and nothing else. Non-interactive: CI has no stdin.
set -eu

PACKAGES="build-essential cmake ccache pkg-config
libcaf-dev libboost1.81-dev nlohmann-json3-dev libcurl4-openssl-dev libssl-dev ca-certificates
googletest libgtest-dev libbenchmark-dev libspdlog-dev
curl python3 chromium nginx-light gnuplot-nox openssl
clang libclang-rt-14-dev gcovr"

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

# Node.js may come from another source (nodesource bundles npm); only ask Debian when absent.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing="$missing nodejs npm"
fi

if [ -z "$missing" ]; then
  exit 0
fi

echo "install-deps: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
