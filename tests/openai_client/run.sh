#!/bin/sh
# Installs the pinned npm packages once (npm ci is skipped when they are present), then runs.
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules/openai ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
exec node stream_test.mjs "$1"
