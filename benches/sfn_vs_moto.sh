#!/usr/bin/env bash
# Runs benches/sfn_vs_moto.py: makes the Python venv (.ci/python-tools) and builds
# `wildrydes` if needed, then runs the same boto3 workload against moto and wildrydes.
# WILDRYDES_TEST_VENV and WILDRYDES_BIN point at an existing venv or binary.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${WILDRYDES_TEST_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  .ci/python-tools
fi
if [ -z "${WILDRYDES_BIN:-}" ]; then
  cargo build --bin wildrydes
  WILDRYDES_BIN="${CARGO_TARGET_DIR:-target}/debug/wildrydes"
fi
exec "$VENV/bin/python" benches/sfn_vs_moto.py --wildrydes "$WILDRYDES_BIN" "$@"
