#!/bin/sh
# build.sh - rebuild the enlightened (S-mode, SBI) guests into
# guests/bin/enlightened/ (reproducibly; see ../build.sh, which runs this).
#
#   guests/enlightened/build.sh                  all of them
#   guests/enlightened/build.sh sbi-hello ...    only these
#
# They link at 0x80200000 with guests/slib (S-mode crt0, SBI calls, console
# through the SBI firmware) plus printf/string/check from guests/lib, and run
# on `hv run -bios hv` or on QEMU's default OpenSBI (qemu-system-riscv64 -M
# virt -kernel FILE).
set -eu

cd "$(dirname "$0")/.."
GUESTS_DIR=$(pwd)
CROSS=${CROSS:-riscv64-unknown-elf-}
CC="${CROSS}gcc"

CFLAGS="-march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -nostdlib -static
 -ffreestanding -fno-common -fno-pic -Wall -Wextra -Wno-unused-parameter
 -ffile-prefix-map=$GUESTS_DIR=. -Islib -Ilib"
LDFLAGS="-T slib/link.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments"

SLIB="slib/crt0.S slib/trap.S slib/sbi.c slib/console.c slib/smp.c slib/trap.c
 lib/printf.c lib/string.c lib/check.c"
VMBUS="slib/vmbus.c slib/vmbus_ring.c slib/storvsc.c slib/hv_ic.c slib/netvsc.c slib/inet.c"
ALL="sbi-hello sbi-smp sbi-timer sbi-probe vmbus-disk vmbus-ic vmbus-dm vmbus-ping vmbus-pong disk-bench"

mkdir -p bin/enlightened
for g in ${*:-$ALL}; do
	[ -f "enlightened/$g.c" ] || { echo "unknown enlightened guest: $g" >&2; exit 1; }
	# VMBus guests also link the VMBus client and the synthetic disk and NIC
	# drivers; those a benchmark sizes from the command line, bootarg.c.
	case "$g" in
	vmbus-ping | vmbus-pong | disk-bench) extra="$VMBUS slib/bootarg.c" ;;
	vmbus-dm) extra="$VMBUS slib/hv_dm.c" ;;
	vmbus-*) extra="$VMBUS" ;;
	*) extra="" ;;
	esac
	echo "  CC  bin/enlightened/$g.elf"
	# shellcheck disable=SC2086
	$CC $CFLAGS $LDFLAGS -o "bin/enlightened/$g.elf" $SLIB $extra "enlightened/$g.c" -lgcc
done
