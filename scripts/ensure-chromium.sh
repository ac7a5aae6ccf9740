#!/usr/bin/env bash
# The HTML report's test opens the page in Debian's chromium (/usr/bin/chromium). Installs it when missing and this
# user can (root, or sudo without a password); otherwise says how, and fails: the test never skips.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then as_root=(sudo -n); else
    echo "the HTML report's test needs Debian's chromium: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi
echo "installing chromium from Debian (for the HTML report's browser test)" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
