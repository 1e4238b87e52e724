#!/bin/sh
# build.sh - rebuild the scheduler test guests (assembly, no library) into
# guests/bin/sched/ (reproducibly; see ../build.sh, which runs this).
#
#   guests/sched/build.sh              all of them
#   guests/sched/build.sh spin ...     only these
#
# RAM at 0x80000000, no devices but the CLINT timer. spin, sleeper and
# gamer start in M-mode (`hv run`, qemu-system-riscv64 -M virt -bios FILE);
# yielder is enlightened: it starts in S-mode with the hypervisor as its SBI
# firmware and yields through a hypervisor call. ticker (the density tests)
# starts in M-mode too and also prints on the UART and ends through the
# test finisher.
set -eu

cd "$(dirname "$0")/.."
CROSS=${CROSS:-riscv64-unknown-elf-}
CC="${CROSS}gcc"
FLAGS="-march=rv64gc -mabi=lp64d -mcmodel=medany -nostdlib -static -T sched/link.ld
 -Wl,--build-id=none -Wl,--no-warn-rwx-segments"
ALL="spin sleeper gamer yielder ticker"

mkdir -p bin/sched
for g in ${*:-$ALL}; do
	[ -f "sched/$g.S" ] || { echo "unknown scheduler guest: $g" >&2; exit 1; }
	echo "  AS  bin/sched/$g.elf"
	# shellcheck disable=SC2086
	$CC $FLAGS -o "bin/sched/$g.elf" "sched/$g.S"
done
