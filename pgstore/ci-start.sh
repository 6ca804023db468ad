#!/usr/bin/env bash
# ci-start.sh starts a local PostgreSQL for the pgstore tests and prints the
# value for DEVAPI_TEST_PG on stdout (and nothing else there):
#
#	export DEVAPI_TEST_PG="$(sudo bash pgstore/ci-start.sh)"
#
# Run it as root. It is idempotent: it installs postgresql with apt-get only if
# pg_ctlcluster is missing, starts the first cluster pg_lsclusters shows (15
# main by default) unless it runs already and waits for the server to accept
# connections on 127.0.0.1.
#
# The URL is for the postgres role with the password "postgres". The script
# sets that password only under CI=true or with --set-password, since on a
# developer's machine it would replace the one they chose; otherwise it checks
# that the password works and, when it does not, says how to go on.
set -euo pipefail

password=postgres
set_password=false
case "${1:-}" in
--set-password) set_password=true ;;
"") [ "${CI:-}" = true ] && set_password=true ;;
*)
	echo "usage: ci-start.sh [--set-password]" >&2
	exit 2
	;;
esac

# Everything but the URL goes to stderr. Commands that may start the server
# get fd 3 closed: a daemon holding it would keep "$(ci-start.sh)" waiting.
exec 3>&1 1>&2

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q postgresql 3>&- </dev/null
fi

version=15
cluster=main
if listed=$(pg_lsclusters --no-header 2>/dev/null | awk 'NR == 1 { print $1, $2 }') && [ -n "$listed" ]; then
	read -r version cluster <<<"$listed"
else
	pg_createcluster "$version" "$cluster" 3>&- </dev/null
fi
port=$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { print $3 }')
port=${port:-5432}

if ! pg_ctlcluster "$version" "$cluster" status >/dev/null 2>&1; then
	pg_ctlcluster "$version" "$cluster" start 3>&- </dev/null
fi

for i in $(seq 1 60); do
	if pg_isready -q -h 127.0.0.1 -p "$port"; then
		break
	fi
	if [ "$i" -eq 60 ]; then
		echo "ci-start.sh: PostgreSQL $version/$cluster is not ready on 127.0.0.1:$port" >&2
		exit 1
	fi
	sleep 1
done

# psql runs from / : postgres may not read the caller's directory, and psql
# would say so ("could not change directory ... Permission denied").
if [ "$set_password" = true ]; then
	(cd / && su postgres -c "psql -q -p $port -c \"ALTER USER postgres PASSWORD '$password'\"") >/dev/null
elif ! (cd / && PGPASSWORD=$password psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc 'SELECT 1') >/dev/null 2>&1; then
	echo "ci-start.sh: the postgres role's password on 127.0.0.1:$port is not \"$password\"." >&2
	echo "  Rerun with --set-password to set it (this changes this machine's PostgreSQL password)," >&2
	echo "  or export DEVAPI_TEST_PG yourself with the URL of a role that may create databases." >&2
	exit 1
fi

echo "postgres://postgres:$password@127.0.0.1:$port/postgres?sslmode=disable" >&3
