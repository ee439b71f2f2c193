#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL, for the tests that need one:
#
#   scripts/postgres.sh cargo test -p timebank-server
#
# When TIMEBANK_TEST_DATABASE_URL is set already, the command runs against that server.
# Otherwise PostgreSQL is installed from Debian's packages if missing (as root), a new
# cluster is made in a temporary directory, owned by the unprivileged `postgres` user when
# run as root, and started on a free port on 127.0.0.1 (trust authentication, fsync off:
# it lives for one run); TIMEBANK_TEST_DATABASE_URL names its `postgres` database (each
# test creates a database of its own from it), the command runs, and the cluster is
# stopped and removed afterwards, whatever happened. The command's exit status is the
# script's.
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: scripts/postgres.sh COMMAND [ARGS...]" >&2
    exit 2
fi
if [ -n "${TIMEBANK_TEST_DATABASE_URL:-}" ]; then
    exec "$@"
fi

server_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bin=$(server_bin)
if [ -z "$bin" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "PostgreSQL is not installed: install Debian's postgresql package (as root: apt-get install postgresql)," >&2
        echo "or set TIMEBANK_TEST_DATABASE_URL to a server where the tests may create databases." >&2
        exit 1
    fi
    echo "==> installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
    bin=$(server_bin)
    if [ -z "$bin" ]; then
        echo "the postgresql package installed no server under /usr/lib/postgresql" >&2
        exit 1
    fi
fi

# initdb refuses to run as root: the cluster belongs to the postgres user then.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/timebank-postgres.XXXXXX")
chmod 755 "$dir"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
fi
cleanup() {
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    echo "initdb failed" >&2
    exit 1
}

started=""
for _ in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        continue # taken
    fi
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null; then
        started=$port
        break
    fi
done
if [ -z "$started" ]; then
    cat "$dir/server.log" >&2 || true
    echo "could not start PostgreSQL on a free port" >&2
    exit 1
fi

export TIMEBANK_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$started/postgres"
echo "==> PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$started (throwaway, in $dir)" >&2
status=0
"$@" || status=$?
exit "$status"
