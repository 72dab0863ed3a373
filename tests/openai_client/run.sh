#!/bin/sh
# Installs the pinned npm packages once (npm ci is skipped when they are present), then runs
# one test script. Usage: run.sh <script.mjs> <arguments...>
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules/openai ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
script=$1
shift
exec node "$script" "$@"
