#!/usr/bin/env bash
# End-to-end test of devapi's REST data API with the official Node SDK,
# @upstash/redis (version pinned in package.json / package-lock.json).
#
# Usage: e2e/node/run.sh PATH_TO_DEVAPI_BINARY PLANE
#   PLANE is embedded or redis-server.
#
# Starts the binary on two free ports of 127.0.0.1 with a fresh account and a
# temporary data folder, runs sdk.test.mjs against it, then stops the server
# and removes the folder. Exits non-zero when a test fails. Works from any
# directory; needs node, npm, python3 and curl.
set -euo pipefail

usage() {
	echo "usage: $0 PATH_TO_DEVAPI_BINARY embedded|redis-server" >&2
	exit 2
}
[[ $# -eq 2 ]] || usage
bin=$1
plane=$2
case "$plane" in
embedded | redis-server) ;;
*) usage ;;
esac
# Resolve the binary before leaving the caller's directory.
if [[ $bin != */* ]]; then
	bin=$(command -v -- "$bin") || { echo "$0: $1: not found" >&2; exit 2; }
fi
[[ -x $bin && -f $bin ]] || { echo "$0: $bin is not an executable file" >&2; exit 2; }
bin=$(cd "$(dirname -- "$bin")" && pwd)/$(basename -- "$bin")

root=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/devapi-node-e2e.XXXXXX")
server_pid=
cleanup() {
	local status=$?
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		# SIGTERM lets devapi stop its redis-server processes; SIGKILL after
		# a bounded wait.
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$server_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			echo "devapi did not stop on SIGTERM; killing it" >&2
			kill -KILL "$server_pid" 2>/dev/null || true
		fi
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf -- "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== npm ci (e2e/node)"
if ! (cd e2e/node && npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1); then
	cat "$tmp/npm.log" >&2
	echo "npm ci failed" >&2
	exit 1
fi

# Two distinct free ports, held together while they are chosen.
read -r api_port rest_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
')

export UPSTASH_EMAIL="node-e2e-$(python3 -c 'import secrets; print(secrets.token_hex(4))')@devapi.local"
UPSTASH_API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export UPSTASH_API_KEY
unset UPSTASH_REDIS_REST_URL UPSTASH_REDIS_REST_TOKEN KV_REST_API_URL KV_REST_API_TOKEN

log=$tmp/devapi.log
echo "== devapi serve --plane $plane (api 127.0.0.1:$api_port, rest 127.0.0.1:$rest_port)"
"$bin" serve --addr "127.0.0.1:$api_port" --rest-addr "127.0.0.1:$rest_port" \
	--data "$tmp/data" --plane "$plane" --ports 30000-30999 >"$log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + 30))
until curl -fsS -o /dev/null "http://127.0.0.1:$api_port/healthz" 2>/dev/null; do
	if ! kill -0 "$server_pid" 2>/dev/null; then
		wait "$server_pid" && server_status=0 || server_status=$?
		server_pid=
		echo "devapi exited (status $server_status) before it was healthy; its log:" >&2
		cat "$log" >&2
		exit 1
	fi
	if ((SECONDS >= deadline)); then
		echo "devapi was not healthy within 30s; its log:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.1
done

echo "== node --test e2e/node/sdk.test.mjs"
status=0
DEVAPI_API="http://127.0.0.1:$api_port/v2" DEVAPI_REST_URL="http://127.0.0.1:$rest_port" \
	node --test --test-reporter=spec e2e/node/sdk.test.mjs || status=$?

if ((status != 0)); then
	echo "== node SDK e2e FAILED on plane $plane (status $status); devapi's log:" >&2
	cat "$log" >&2
	exit "$status"
fi
echo "== node SDK e2e passed on plane $plane"
