#!/usr/bin/env bash
# Make sure Debian's Chromium and ChromeDriver are installed for the browser tests.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
echo "Browser tests need Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver)."
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "Install them as root: apt-get update && apt-get install -y chromium chromium-driver" >&2; exit 1
    fi
  fi
  echo "Installing the Debian packages chromium and chromium-driver..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
No apt-get here. Install Chromium and a matching ChromeDriver yourself, then point the tests at them:
  CHROMIUM_BINARY=/path/to/chromium CHROMEDRIVER=/path/to/chromedriver make test
(macOS: brew install --cask chromium && brew install chromedriver)
MSG
exit 1
