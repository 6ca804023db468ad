#!/usr/bin/env bash
# api-check: a change to openapi.yaml that breaks a client fails unless it is
# acknowledged.
#
#   bash scripts/api-check.sh [BASELINE [REVISION [ACKNOWLEDGED]]]
#
# Compares REVISION (default openapi.yaml) with BASELINE (default
# testdata/openapi.baseline.yaml, the spec as last released to users) with
# oasdiff, pinned in go.tools.mod. Exits 1 when oasdiff finds a breaking
# change at level ERR (a removed operation, response field or enum value, a
# new required request field, ...) that no line of ACKNOWLEDGED (default
# openapi.breaks.md) names. Warnings are printed and do not fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
base=$(abs "${1:-$root/testdata/openapi.baseline.yaml}")
revision=$(abs "${2:-$root/openapi.yaml}")
acknowledged=$(abs "${3:-$root/openapi.breaks.md}")
cd "$root" # -modfile is read from the module root, which go finds from here
if ! go tool -modfile=go.tools.mod oasdiff breaking --color never --format singleline --fail-on ERR \
  --err-ignore "$acknowledged" "$base" "$revision"; then
  cat >&2 <<MSG
api-check: $(basename "$revision") breaks clients of $(basename "$base") (the changes above).
Undo the change, or acknowledge it: add a line to $(basename "$acknowledged") that
quotes the change (its method and path, and its text) and says why.
MSG
  exit 1
fi
