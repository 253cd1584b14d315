#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet
# (apt-get, non-interactive; sudo when not root). Exits non-zero when installing fails.
# Usage: scripts/ensure_apt.sh PACKAGE...
set -uo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
# Services these packages bring (munge, slurmctld) are started by the tests that need them, not
# by the package scripts: policy-rc.d answers 101 ("not allowed") while apt runs.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ] && [ -z "$SUDO" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
fi
status=0
$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || status=$?
[ $own_policy -eq 1 ] && rm -f "$policy"
exit $status
