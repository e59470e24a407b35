#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite, on loopback only.
#
#   .ci/postgres.sh start DIR   initdb in DIR, start the server on a free loopback port,
#                               print its DSN (export it as YAKUBA_TEST_POSTGRES_DSN)
#   .ci/postgres.sh stop DIR    stop that server and delete DIR
#
# Installs Debian's postgresql package when no server is found (root only). PostgreSQL
# refuses to run as root, so as root the server runs as the `postgres` user. Trust
# authentication on 127.0.0.1 and a private socket folder: for tests, never for data.
set -euo pipefail

usage() {
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
command=$1
dir=$2

bindir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n $found && -x $found/postgres ]]; then
        echo "$found"
    elif command -v pg_ctl >/dev/null && [[ -x $(dirname "$(command -v pg_ctl)")/postgres ]]; then
        dirname "$(command -v pg_ctl)"
    fi
}

# as_server CMD...: run CMD as the user that owns the server
as_server() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local bin
    bin=$(bindir)
    if [[ -z $bin ]]; then
        if [[ $(id -u) -ne 0 ]]; then
            echo "postgres.sh: no PostgreSQL server found; install Debian's postgresql package" >&2
            exit 1
        fi
        echo "postgres.sh: installing PostgreSQL (Debian package postgresql)" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        bin=$(bindir)
        [[ -n $bin ]] || { echo "postgres.sh: no server after installing" >&2; exit 1; }
    fi
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi
    # C collation: text sorts by code point, as in SQLite; no fsync: a test server
    as_server "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off" \
            -o "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50" \
            >/dev/null; then
            echo "postgresql://postgres@127.0.0.1:$port/postgres"
            return 0
        fi
        echo "postgres.sh: start on port $port failed (attempt $attempt)" >&2
    done
    cat "$dir/server.log" >&2
    exit 1
}

stop() {
    local bin
    bin=$(bindir)
    if [[ -n $bin && -f $dir/data/postmaster.pid ]]; then
        as_server "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
}

case $command in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac
