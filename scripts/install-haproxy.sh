#!/usr/bin/env bash
# Installs HAProxy from Debian's packages if it is missing (the load balancer of the
# failover test and `timebank-bench load`). Idempotent; needs root (CI runs as root).
set -euo pipefail
if [ -x /usr/sbin/haproxy ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q haproxy >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q haproxy >/dev/null; }
# The package starts a system haproxy with its default configuration: not ours to run.
systemctl stop haproxy >/dev/null 2>&1 || service haproxy stop >/dev/null 2>&1 || true
/usr/sbin/haproxy -v | head -n 1
