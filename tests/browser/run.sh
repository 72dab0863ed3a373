#!/bin/sh
# Installs the pinned npm packages once (npm ci is skipped when they are present), then runs
# the page in Debian's Chromium. Usage: run.sh <streamgate binary> <web root> <output dir>
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node page_test.mjs "$@"
