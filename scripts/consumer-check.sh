#!/usr/bin/env bash
# consumer-check: what a module that uses devapi from a clone inherits.
#
# Two throwaway consumer modules point at this clone with a replace directive
# (the module is not published) and run `go mod tidy`:
#   sdk:  imports only the upstash SDK. Its go.mod must name none of the code
#         generator (oapi-codegen/v2 and its yaml, x/tools, speakeasy
#         dependencies), kin-openapi or chi.
#   test: imports devapitest and upstash. devapitest runs the whole server,
#         which validates requests with kin-openapi and routes with chi, so
#         those two are real dependencies there; the generator, staticcheck
#         and oasdiff must still be absent.
# Both must build, and neither go line may be raised above devapi's own.
# Fails (exit 1) on any of it. Run from anywhere: bash scripts/consumer-check.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS="-mod=mod -buildvcs=false"
# GOPROXY is whatever this machine has (go env GOPROXY); offline, set
# GOPROXY=off and the module cache that built devapi serves the same modules.

devapi_go=$(sed -n 's/^go //p' "$root/go.mod")
generator='github.com/oapi-codegen/oapi-codegen/v2|golang.org/x/tools|github.com/speakeasy-api|honnef.co/go/tools|github.com/oasdiff/'
server='github.com/getkin/kin-openapi|github.com/go-chi/chi'
failed=0

consumer() { # name, forbidden pattern, main.go body
  local name=$1 forbidden=$2 dir="$work/$1"
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<MOD
module example.com/consumer-$name

go $devapi_go

require github.com/devapi-dev/devapi v0.0.0

replace github.com/devapi-dev/devapi => $root
MOD
  printf '%s\n' "$3" >"$dir/main.go"
  (cd "$dir" && go mod tidy && go build -o "$dir/bin" .)
  local got_go
  got_go=$(sed -n 's/^go //p' "$dir/go.mod")
  if [ "$got_go" != "$devapi_go" ]; then
    echo "consumer $name: go mod tidy changed its go line from $devapi_go to $got_go" >&2
    failed=1
  fi
  if grep -En "$forbidden" "$dir/go.mod"; then
    echo "consumer $name: go.mod names a module only devapi's tools or server need (lines above)" >&2
    failed=1
  fi
  echo "consumer $name: $(grep -c '^	' "$dir/go.mod") requirements, binary $(( $(stat -c %s "$dir/bin") / 1024 )) KiB"
}

consumer sdk "$generator|$server" 'package main

import (
	"context"
	"fmt"
	"os"

	"github.com/devapi-dev/devapi/upstash"
)

func main() {
	c, err := upstash.New(os.Getenv("UPSTASH_EMAIL"), os.Getenv("UPSTASH_API_KEY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dbs, err := c.ListDatabases(context.Background())
	fmt.Println(len(dbs), err)
}'

consumer test "$generator" 'package main

import (
	"context"
	"fmt"
	"os"

	"github.com/devapi-dev/devapi/devapitest"
	"github.com/devapi-dev/devapi/upstash"
)

func main() {
	s, err := devapitest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer s.Close()
	dbs, err := s.Client.CreateDatabase(context.Background(), upstash.CreateDatabaseRequest{Name: "x", PrimaryRegion: "us-east-1"})
	fmt.Println(dbs.ID, err)
}'

if [ "$failed" != 0 ]; then exit 1; fi
echo "consumer check passed"
