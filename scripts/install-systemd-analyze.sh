#!/usr/bin/env bash
# Installs systemd-analyze and systemd-sysusers (Debian's systemd package) if missing: the
# deploy test checks deploy/'s units and user with them. Idempotent; needs root (CI runs
# as root). Nothing is started: in a container systemd is not PID 1.
set -euo pipefail
if command -v systemd-analyze >/dev/null && command -v systemd-sysusers >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q systemd >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q systemd >/dev/null; }
systemd-analyze --version | head -n 1
