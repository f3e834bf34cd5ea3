#!/usr/bin/env bash
# with_servers.sh "NAMES" CMD ARGS...: start the named real servers
# (scripts/servers.sh) in a fresh directory, export their URLs (FXP_*_URL),
# run CMD, and stop the servers (by PID) whatever happened.
set -euo pipefail
names=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/fxp-srv.XXXXXX); chmod 755 "$dir"
trap '"$here/../../scripts/servers.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
# shellcheck disable=SC2086
"$here/../../scripts/servers.sh" start "$dir" $names
touch "$dir/env"
set -a; . "$dir/env"; set +a
export FXP_SERVERS_DIR=$dir
"$@"
