#!/usr/bin/env bash
# Make sure GNU gettext (xgettext, msgmerge, msgfmt) is installed: Django's makemessages and compilemessages run it,
# and tests/test_translations.py checks the shipped catalogue with it (scripts/messages.py).
set -euo pipefail
if command -v xgettext >/dev/null 2>&1 && command -v msgmerge >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1; then
  exit 0
fi
echo "The translation checks need GNU gettext (xgettext, msgmerge, msgfmt)."
"$(dirname "$0")/apt-install.sh" "GNU gettext" gettext && exit 0
command -v apt-get >/dev/null 2>&1 && exit 1  # apt-get, but no way to become root: said above
cat >&2 <<'MSG'
No apt-get here. Install GNU gettext yourself (macOS: brew install gettext; Fedora: dnf install gettext).
MSG
exit 1
