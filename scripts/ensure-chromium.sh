#!/usr/bin/env bash
# Make sure Debian's Chromium and ChromeDriver are installed for the browser tests.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
echo "Browser tests need Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver)."
"$(dirname "$0")/apt-install.sh" "Chromium and ChromeDriver" chromium chromium-driver && exit 0
command -v apt-get >/dev/null 2>&1 && exit 1  # apt-get, but no way to become root: said above
cat >&2 <<'MSG'
No apt-get here. Install Chromium and a matching ChromeDriver yourself, then point the tests at them:
  CHROMIUM_BINARY=/path/to/chromium CHROMEDRIVER=/path/to/chromedriver make test
(macOS: brew install --cask chromium && brew install chromedriver)
MSG
exit 1
