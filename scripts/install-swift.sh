#!/usr/bin/env bash
# Installs Swift for the ios/ tests: a Debian trixie chroot (debootstrap, minbase) with Debian's
# swiftlang package, cached under $HOME/.cache/timebank/swift-trixie (override with
# TIMEBANK_SWIFT_CHROOT). Idempotent: a chroot is trusted only once its ready-marker is written,
# so an interrupted install is redone from scratch. Needs root and the Debian archive.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/swift-chroot.sh
swift_chroot_require_root

if [ -f "$SWIFT_CHROOT_READY" ] && [ "$(cat "$SWIFT_CHROOT_READY")" = "$SWIFT_CHROOT_VERSION" ]; then
  echo "swift: cached chroot at $SWIFT_CHROOT"
  exit 0
fi

started=$(date +%s)
trap swift_chroot_unmount_all EXIT
swift_chroot_assert_unmounted

if ! command -v debootstrap >/dev/null; then
  echo "swift: installing debootstrap from apt"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
fi
command -v debootstrap >/dev/null || { echo "debootstrap could not be installed; install it with apt-get install debootstrap" >&2; exit 1; }

if [ -e "$SWIFT_CHROOT" ]; then
  echo "swift: removing the unfinished chroot at $SWIFT_CHROOT"
  rm -rf --one-file-system "$SWIFT_CHROOT"
fi
mkdir -p "$(dirname "$SWIFT_CHROOT")"
echo "swift: debootstrap trixie into $SWIFT_CHROOT"
debootstrap --variant=minbase trixie "$SWIFT_CHROOT"

cp /etc/resolv.conf "$SWIFT_CHROOT/etc/resolv.conf"
swift_chroot_mount proc /proc
echo "swift: apt-get install $SWIFT_CHROOT_PACKAGES"
chroot "$SWIFT_CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $SWIFT_CHROOT_PACKAGES && apt-get clean"
chroot "$SWIFT_CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin swift --version
swift_chroot_unmount_all

echo "$SWIFT_CHROOT_VERSION" > "$SWIFT_CHROOT_READY"
echo "swift: chroot ready in $(( $(date +%s) - started ))s"
