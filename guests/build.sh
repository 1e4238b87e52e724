#!/bin/sh
# build.sh - rebuild every guest ELF into guests/bin/ (reproducibly).
#
#   guests/build.sh            rebuild all guests
#   guests/build.sh hello mmu  rebuild only the named guests
#
# Needs riscv64-unknown-elf-gcc (Debian: gcc-riscv64-unknown-elf). Override
# the tool prefix with CROSS=... . Output does not depend on the build
# directory, time or user: no debug info, paths mapped with
# -ffile-prefix-map, no build-id, fixed input order.
set -eu

cd "$(dirname "$0")"
GUESTS_DIR=$(pwd)
CROSS=${CROSS:-riscv64-unknown-elf-}
CC="${CROSS}gcc"

CFLAGS="-march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -nostdlib -static
 -ffreestanding -fno-common -fno-pic -Wall -Wextra -Wno-unused-parameter
 -ffile-prefix-map=$GUESTS_DIR=. -Ilib"
LDFLAGS="-T lib/link.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments"

LIB="lib/crt0.S lib/trap.S lib/console.c lib/printf.c lib/string.c lib/trap.c lib/check.c"

# name: sources (besides LIB)
sources() {
	case "$1" in
	hello)       echo "hello/hello.c" ;;
	rv64i)       echo "tests/rv64i.c" ;;
	rv64m)       echo "tests/rv64m.c" ;;
	rv64a)       echo "tests/rv64a.c" ;;
	rv64c)       echo "tests/rv64c.c tests/rv64c_asm.S" ;;
	zicsr)       echo "tests/zicsr.c" ;;
	traps)       echo "tests/traps.c" ;;
	interrupts)  echo "tests/interrupts.c tests/interrupts_vec.S" ;;
	privilege)   echo "tests/privilege.c" ;;
	mmu)         echo "tests/mmu.c" ;;
	asid)        echo "tests/asid.c" ;;
	fp-rounding) echo "tests/fp-rounding.c" ;;
	cpu)         echo "bench/cpu/cpu.c" ;;
	tlb)         echo "bench/tlb/tlb.c" ;;
	exits)       echo "bench/exits/exits.c" ;;
	ctxsw)       echo "bench/ctxsw/ctxsw.c" ;;
	isolation)   echo "tests/isolation.c" ;;
	virtio_blk)  echo "tests/virtio_blk.c" ;;
	disk_writer) echo "tests/disk_writer.c" ;;
	smc)         echo "tests/smc.c" ;;
	swap_pattern) echo "tests/swap_pattern.c" ;;
	plic_uart)   echo "tests/plic_uart.c" ;;
	smp_ipi)     echo "tests/smp_ipi.c" ;;
	irq_spin)    echo "tests/irq_spin.c" ;;
	irq_wfi)     echo "tests/irq_wfi.c" ;;
	*) echo "unknown guest: $1" >&2; exit 1 ;;
	esac
}
ALL="hello rv64i rv64m rv64a rv64c zicsr traps interrupts privilege mmu asid fp-rounding cpu tlb exits ctxsw virtio_blk plic_uart smp_ipi isolation irq_spin irq_wfi disk_writer smc swap_pattern"

mkdir -p bin
for g in ${*:-$ALL}; do
	src=$(sources "$g")
	echo "  CC  bin/$g.elf"
	# shellcheck disable=SC2086
	$CC $CFLAGS $LDFLAGS -o "bin/$g.elf" $LIB $src -lgcc
done

# Enlightened guests (S-mode, the hypervisor as SBI firmware) have their own
# library and layout: guests/enlightened/build.sh, into bin/enlightened/.
# A full rebuild (no names given) builds them too.
if [ $# -eq 0 ]; then
	sh enlightened/build.sh
fi

# Scheduler test guests (assembly, no library): guests/sched/build.sh, into
# bin/sched/. A full rebuild (no names given) builds them too.
if [ $# -eq 0 ]; then
	sh sched/build.sh
fi
