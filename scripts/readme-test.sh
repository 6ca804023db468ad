#!/usr/bin/env bash
# readme-test: runs the README's shell blocks as a new user would, and fails
# when one fails.
#
# Every ```sh block of README.md runs, in order, in one bash session
# (set -euo pipefail: a failing command or an unset variable fails it), in a
# fresh HOME with no Upstash or devapi variables, from this clone, with no
# devapi on PATH: the README's own install step has to put it there, and its
# own `devapi serve &` starts the server, on a fresh data folder. A comment
# just before a block changes how it runs:
#   <!-- readme-test: skip (REASON) -->   not run: it needs Upstash itself,
#                                         servers of your own, or minutes
#   <!-- readme-test: stream -->          a command that streams until
#                                         interrupted: run for 3 s, and it
#                                         must still be running then
# Background jobs the blocks start are stopped at the end. The README's
# default ports (8079-8081, 16380-17379 for databases) must be free.
#
# Run from anywhere: bash scripts/readme-test.sh [README]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
readme=${1:-$root/README.md}
work=$(mktemp -d)
pgid=""
cleanup() {
  # The session runs in a process group of its own (setsid): whatever it
  # left running is stopped with it.
  if [ -n "$pgid" ]; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 - "$readme" "$work/session.sh" <<'PY'
import re, shlex, sys
readme, out = sys.argv[1], sys.argv[2]
lines = open(readme).read().split("\n")
script = []
marker = None
i = n = 0
while i < len(lines):
    line = lines[i]
    m = re.match(r"\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$", line)
    if m:
        marker = m.group(1)
    elif line.strip() == "```sh":
        start = i + 1
        j = start
        while lines[j].strip() != "```":
            j += 1
        body = "\n".join(lines[start:j])
        n += 1
        where = "README.md:%d" % (start + 1)
        if marker and marker.startswith("skip"):
            script.append("echo %s" % shlex.quote("== block %d (%s): %s" % (n, where, marker)))
        elif marker == "stream":
            script.append("echo %s" % shlex.quote("== block %d (%s): streams for 3 s" % (n, where)))
            script.append("__block=%d" % n)
            script.append("__stream %s" % shlex.quote(body))
        elif marker:
            sys.exit("%s: unknown readme-test marker %r" % (where, marker))
        else:
            script.append("echo %s" % shlex.quote("== block %d (%s)" % (n, where)))
            script.append("__block=%d" % n)
            script.append(body)
        marker = None
        i = j
    elif line.strip():
        marker = None  # a marker belongs to the block right after it
    i += 1
if n == 0:
    sys.exit("no ```sh blocks in " + readme)
open(out, "w").write("\n".join(script) + "\n")
PY

cat >"$work/prelude.sh" <<'SH'
set -euo pipefail
__block=0
trap 'echo "readme-test: block $__block failed at line $LINENO of the session (exit $?)" >&2' ERR
# __stream BODY runs a block that streams until interrupted, for 3 s; it
# must still be streaming then (exit 124 from timeout). Only exported
# variables reach it, as in a new shell.
__stream() {
  local code=0
  timeout 3 bash -euo pipefail -c "$1" || code=$?
  if [ "$code" != 124 ]; then
    echo "readme-test: a streaming block ended by itself (exit $code) instead of streaming" >&2
    return 1
  fi
}
SH
cat >"$work/epilogue.sh" <<'SH'
echo "== all blocks ran; stopping what they left running"
jobs -p >"$READMETEST_JOBS"   # not $(jobs -p): a subshell has no jobs
while read -r job; do kill -TERM "$job" 2>/dev/null || true; done <"$READMETEST_JOBS"
for _ in $(seq 1 200); do
  __left=""
  while read -r job; do if kill -0 "$job" 2>/dev/null; then __left="$__left $job"; fi; done <"$READMETEST_JOBS"
  [ -z "$__left" ] && break
  sleep 0.1
done
if [ -n "$__left" ]; then
  echo "readme-test: WARNING: still running 20 s after SIGTERM, killed:$__left" >&2
  for job in $__left; do kill -KILL "$job" 2>/dev/null || true; done
fi
wait || true
SH
cat "$work/prelude.sh" "$work/session.sh" "$work/epilogue.sh" >"$work/run.sh"

# A fresh HOME, and no devapi on PATH. The Go caches stay: a new user's first
# build downloads the same modules, which here would only be slower.
gomodcache=$(go env GOMODCACHE) gocache=$(go env GOCACHE) goproxy=$(go env GOPROXY) goflags=$(go env GOFLAGS)
path=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  if [ -n "$d" ] && [ ! -x "$d/devapi" ]; then path="${path:+$path:}$d"; fi
done
mkdir -p "$work/home"
env_args=(-i "HOME=$work/home" "PATH=$path" "USER=${USER:-root}" "LANG=${LANG:-C.UTF-8}" "TERM=dumb"
  "GOMODCACHE=$gomodcache" "GOCACHE=$gocache" "GOPROXY=$goproxy" "GOFLAGS=$goflags" "CI=${CI:-}"
  "READMETEST_JOBS=$work/jobs")
cd "$root"
set +e
# At most 15 minutes (the first build of devapi is most of it); then the
# session's whole process group is stopped.
setsid timeout 900 env "${env_args[@]}" bash "$work/run.sh" </dev/null &
session=$!
pgid=$session
wait "$session"
code=$?
set -e
if [ "$code" != 0 ]; then
  echo "readme-test: the README's blocks failed (exit $code)" >&2
  exit 1
fi
echo "readme-test: every block of $(basename "$readme") ran"
