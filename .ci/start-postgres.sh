#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster (fsync off) on port ${PGPORT:-55432}; prints nothing else.
# Usage: .ci/start-postgres.sh DATADIR   (stop with: runuser -u postgres -- pg_ctl -D DATADIR stop)
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
data=$1
port=${PGPORT:-55432}
mkdir -p "$data"
chown postgres:postgres "$data"
if [ ! -f "$data/PG_VERSION" ]; then
  runuser -u postgres -- "$BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
fi
runuser -u postgres -- "$BIN/pg_ctl" -D "$data" -l "$data/server.log" -w start \
  -o "-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=256MB" >/dev/null
echo "postgres: listening on 127.0.0.1:$port (data in $data)"
