#!/usr/bin/env bash
# Install Debian packages for the test set-up: apt-install.sh "<what they are for>" PACKAGE... (as root, or with sudo).
# Exits 1 where there is no apt-get or no way to become root, having said what to install; the caller adds how
# to do it without apt-get. Used by ensure-chromium.sh and ensure-gettext.sh.
set -euo pipefail
what="$1"; shift
if ! command -v apt-get >/dev/null 2>&1; then
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Install $what as root: apt-get update && apt-get install -y $*" >&2; exit 1
  fi
fi
echo "Installing the Debian package(s) $*..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
