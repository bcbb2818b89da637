#!/usr/bin/env bash
# Builds pgvector from Debian's source package into the machine's PostgreSQL 15 (bookworm ships no binary).
# Idempotent: does nothing when the extension is already installed.
set -euo pipefail
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
if [ -f "$($PG_CONFIG --sharedir)/extension/vector.control" ] && [ -f "$($PG_CONFIG --pkglibdir)/vector.so" ]; then
  echo "pgvector: already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/cogo-trixie-src.list
trap 'rm -f "$src_list"; apt-get update -qq >/dev/null 2>&1 || true' EXIT
echo "deb-src http://deb.debian.org/debian trixie main" > "$src_list"
apt-get update -qq
# Headers pinned to the installed server so apt does not upgrade the server and libpq with them.
server_version=$(dpkg-query -W -f='${Version}' postgresql-15)
apt-get install -y -qq --no-install-recommends "postgresql-server-dev-15=$server_version" build-essential dpkg-dev >/dev/null
work=$(mktemp -d)
(
  cd "$work"
  apt-get source -qq pgvector/trixie >/dev/null 2>&1
  cd pgvector-*/
  make -s PG_CONFIG=$PG_CONFIG OPTFLAGS="" >/dev/null
  make -s PG_CONFIG=$PG_CONFIG install >/dev/null
)
rm -rf "$work"
echo "pgvector: installed $(grep default_version "$($PG_CONFIG --sharedir)/extension/vector.control")"
