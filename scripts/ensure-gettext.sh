#!/usr/bin/env bash
# Make sure GNU gettext (xgettext, msgmerge, msgfmt) is installed: Django's makemessages and compilemessages run it,
# and tests/test_translations.py checks the shipped catalogue with it (scripts/messages.py).
set -euo pipefail
if command -v xgettext >/dev/null 2>&1 && command -v msgmerge >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1; then
  exit 0
fi
echo "The translation checks need GNU gettext (xgettext, msgmerge, msgfmt)."
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "Install it as root: apt-get update && apt-get install -y gettext" >&2; exit 1
    fi
  fi
  echo "Installing the Debian package gettext..."
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gettext >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
No apt-get here. Install GNU gettext yourself (macOS: brew install gettext; Fedora: dnf install gettext).
MSG
exit 1
