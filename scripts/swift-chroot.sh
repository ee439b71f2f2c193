# Shared by install-swift.sh and test-swift.sh (sourced, not run): where the Debian trixie
# chroot with Swift lives, and mounting/unmounting inside it so nothing stays mounted on exit.

SWIFT_CHROOT="${TIMEBANK_SWIFT_CHROOT:-${HOME}/.cache/timebank/swift-trixie}"
SWIFT_CHROOT_READY="${SWIFT_CHROOT}/.timebank-swift-ready"
# Bump when the package list below changes, so cached chroots are upgraded, not trusted.
SWIFT_CHROOT_VERSION="1"
SWIFT_CHROOT_PACKAGES="swiftlang libc6-dev libstdc++-14-dev libgcc-14-dev libcurl4 libxml2 ca-certificates"

swift_chroot_mounts=()

# Mounts SOURCE (a directory) or a fresh proc at the same path inside the chroot.
swift_chroot_mount() {
  local kind="$1" path="$2"
  local target="${SWIFT_CHROOT}${path}"
  mkdir -p "$target"
  if [ "$kind" = proc ]; then
    mount -t proc proc "$target"
  else
    mount --bind "$path" "$target"
  fi
  swift_chroot_mounts+=("$target")
}

# Unmounts everything swift_chroot_mount mounted, newest first; safe to call twice.
swift_chroot_unmount_all() {
  local i
  for ((i = ${#swift_chroot_mounts[@]} - 1; i >= 0; i--)); do
    umount "${swift_chroot_mounts[$i]}" 2>/dev/null || umount -l "${swift_chroot_mounts[$i]}" 2>/dev/null || true
  done
  swift_chroot_mounts=()
}

# Fails if anything is still mounted below the chroot (so it is never deleted through a bind mount).
swift_chroot_assert_unmounted() {
  if awk -v root="$SWIFT_CHROOT/" 'index($2, root) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    echo "something is still mounted under $SWIFT_CHROOT; unmount it (see /proc/mounts) and retry" >&2
    return 1
  fi
}

swift_chroot_require_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "the Swift chroot needs root (debootstrap, chroot and mount); run this as root" >&2
    exit 1
  fi
  command -v chroot >/dev/null || { echo "chroot is missing (coreutils)" >&2; exit 1; }
  command -v mount >/dev/null || { echo "mount is missing (util-linux)" >&2; exit 1; }
}
