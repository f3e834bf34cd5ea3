#!/usr/bin/env bash
# Install the Debian packages fxpipe builds and tests with. Idempotent: when
# everything is present it only asks dpkg and returns in well under a second.
set -euo pipefail
PKGS=(build-essential cmake pkg-config clang clang-format libclang-rt-dev
      libcmocka-dev libinih-dev libsqlite3-dev sqlite3 tzdata
      libcurl4-openssl-dev libjansson-dev
      python3 python3-pandas bc curl
      libpq-dev libnats-dev librdkafka-dev libmicrohttpd-dev
      nats-server clickhouse-server clickhouse-client postgresql prometheus
      kcat python3-confluent-kafka python3-psycopg2 python3-yaml systemd)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' \
    || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
fi
