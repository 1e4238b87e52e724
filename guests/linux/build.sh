#!/bin/sh
# Builds the Linux guest: a small kernel from Debian's linux-source-6.12 with
# a static busybox (Debian's busybox source package) in its built-in
# initramfs. Nothing of either is committed: the sources come from Debian's
# packages and the output is cached outside the repo, keyed by a hash of
# every input, so each machine builds it once.
#
#   guests/linux/build.sh          build if needed, print the output folder
#   guests/linux/build.sh --path   print the output folder, build nothing
#
# Output folder ($HV_CACHE_DIR, else $XDG_CACHE_HOME/hv, else ~/.cache/hv,
# then linux/<hash>): Image (the kernel, for -kernel), config, System.map,
# busybox.
# Needs: linux-source-6.12 gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
# bc flex bison cpio dpkg-dev, and a deb-src entry for busybox (.ci/run
# sets all of this up).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hv}
CROSS=riscv64-linux-gnu-
LINUX_TAR=/usr/src/linux-source-6.12.tar.xz
JOBS=$(nproc 2>/dev/null || echo 2)

pkgver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo none; }
key=$( {
  for f in build.sh kernel.config busybox.config initramfs.list inittab rcS profile; do cat "$HERE/$f"; done
  cat "$HERE"/scripts/*.sh
  pkgver linux-source-6.12; pkgver gcc-riscv64-linux-gnu; pkgver libc6-dev-riscv64-cross
  apt-cache showsrc busybox 2>/dev/null | sed -n 's/^Version: //p' | head -1
} | sha256sum | cut -c1-16)
OUT=$CACHE/linux/$key
if [ "${1:-}" = "--path" ]; then echo "$OUT"; exit 0; fi
if [ -f "$OUT/Image" ]; then echo "$OUT"; exit 0; fi

step() { echo "linux guest: $(date +%H:%M:%S) $*" >&2; }
fail() { echo "linux guest: $*" >&2; exit 1; }
command -v ${CROSS}gcc >/dev/null || fail "${CROSS}gcc not found (apt-get install gcc-riscv64-linux-gnu)"
[ -f "$LINUX_TAR" ] || fail "$LINUX_TAR not found (apt-get install linux-source-6.12)"

WORK=$OUT.work
rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/src"
LOG=$WORK/build.log
run() { "$@" >>"$LOG" 2>&1 || { tail -40 "$LOG" >&2; fail "failed: $*"; }; }

# Sources, unpacked once per package version.
LSRC=$CACHE/src/linux-$(pkgver linux-source-6.12)
if [ ! -f "$LSRC/Makefile" ]; then
  step "unpacking $LINUX_TAR"
  rm -rf "$LSRC" "$LSRC.tmp" && mkdir -p "$LSRC.tmp"
  tar -xJf "$LINUX_TAR" -C "$LSRC.tmp" --strip-components=1
  mv "$LSRC.tmp" "$LSRC"
fi
BSRC=$(ls -d "$CACHE"/src/busybox/busybox-*/ 2>/dev/null | head -1 || true)
if [ -z "$BSRC" ]; then
  step "fetching Debian's busybox source package"
  rm -rf "$CACHE/src/busybox" && mkdir -p "$CACHE/src/busybox"
  (cd "$CACHE/src/busybox" && apt-get source busybox) >>"$LOG" 2>&1 ||
    fail "apt-get source busybox failed: add a deb-src entry for this release (see .ci/run)"
  BSRC=$(ls -d "$CACHE"/src/busybox/busybox-*/ | head -1)
fi

# busybox: defconfig, then our fragment, static.
step "building busybox ($(basename "$BSRC"))"
B=$WORK/busybox
mkdir -p "$B"
run make -C "$BSRC" O="$B" defconfig
grep -E '^(CONFIG_|# CONFIG_)' "$HERE/busybox.config" | while IFS= read -r line; do
  name=$(echo "$line" | sed -E 's/^# (CONFIG_[A-Z0-9_]+) is not set$/\1/; s/^(CONFIG_[A-Z0-9_]+)=.*/\1/')
  sed -i -E "/^(# )?$name( is not set|=)/d" "$B/.config"
  echo "$line" >>"$B/.config"
done
yes "" | make -C "$B" oldconfig >>"$LOG" 2>&1 || true
run make -C "$B" -j"$JOBS" CROSS_COMPILE=$CROSS busybox
cp "$B/busybox" "$WORK/busybox.bin"

# The initramfs list with this machine's paths.
sed -e "s|@BUSYBOX@|$WORK/busybox.bin|" -e "s|@HERE@|$HERE|" "$HERE/initramfs.list" >"$WORK/initramfs.list"

# Linux: tinyconfig, our fragment, the initramfs.
step "configuring Linux ($(pkgver linux-source-6.12))"
K=$WORK/linux
mkdir -p "$K"
{ cat "$HERE/kernel.config"; echo "CONFIG_INITRAMFS_SOURCE=\"$WORK/initramfs.list\""; } >"$WORK/fragment.config"
run make -C "$LSRC" O="$K" ARCH=riscv CROSS_COMPILE=$CROSS tinyconfig
run sh "$LSRC/scripts/kconfig/merge_config.sh" -m -O "$K" "$K/.config" "$WORK/fragment.config"
run make -C "$LSRC" O="$K" ARCH=riscv CROSS_COMPILE=$CROSS olddefconfig
# Every option we asked for must have survived olddefconfig (a typo or an
# unmet dependency silently drops one).
grep -E '^CONFIG_[A-Z0-9_]+=' "$WORK/fragment.config" | while IFS= read -r line; do
  grep -qxF "$line" "$K/.config" || fail "kernel.config: $line did not take effect (dependency missing?)"
done
step "building Linux (about 5 minutes on 2 cores; log: $LOG)"
run make -C "$LSRC" O="$K" ARCH=riscv CROSS_COMPILE=$CROSS -j"$JOBS" Image

cp "$K/arch/riscv/boot/Image" "$WORK/Image"
cp "$K/.config" "$WORK/config"
cp "$K/System.map" "$WORK/System.map" # for reading a stuck guest's pc
rm -rf "$K" "$B"
mv "$WORK/busybox.bin" "$WORK/busybox"
rm -rf "$OUT" && mv "$WORK" "$OUT"
step "done: $OUT/Image"
echo "$OUT"
