#!/bin/sh
# run-qemu.sh - run the guests on QEMU (the reference) and compare. The test
# suite compares hv with expected/ only; this script is how expected/ is made.
#
#   guests/run-qemu.sh                 run all, compare with expected/NAME.out
#   guests/run-qemu.sh rv64i mmu       only these
#   guests/run-qemu.sh --update [...]  rewrite expected/NAME.out from QEMU
#
# A guest passes if QEMU exits with status 0 (finisher 0x5555) and the
# console output is byte-for-byte equal to expected/NAME.out.
set -u
cd "$(dirname "$0")"
QEMU=${QEMU:-qemu-system-riscv64}
update=0
if [ "${1:-}" = "--update" ]; then
	update=1
	shift
fi
ALL="hello rv64i rv64m rv64a rv64c zicsr traps interrupts privilege mmu asid fp-rounding cpu plic_uart smp_ipi smc
enlightened/sbi-smp enlightened/sbi-timer"
fail=0
for g in ${*:-$ALL}; do
	out=$(mktemp)
	# -icount: time from instruction counts (1 ns each, as hv's --icount), so
	# timer tests do not depend on how busy the machine is. Not for the SMP
	# guest: icount serializes QEMU's harts and its spin-waits then crawl.
	case $g in
	smp_ipi) opts="-bios none -smp 4" ;;
	enlightened/*) opts="-smp 2" ;; # S-mode guests on OpenSBI (QEMU's default firmware)
	smc) # a scratch disk: it writes code to it and reads it back over itself
		truncate -s 64K "$out.img"
		opts="-bios none -icount shift=0,sleep=off -drive file=$out.img,format=raw,if=none,id=d0 -device virtio-blk-device,drive=d0" ;;
	*) opts="-bios none -icount shift=0,sleep=off" ;;
	esac
	timeout 60 "$QEMU" -M virt -nographic $opts -kernel "bin/$g.elf" \
		</dev/null >"$out" 2>/dev/null
	rc=$?
	case $g in
	enlightened/*)
		# The guest's lines after OpenSBI's banner; OpenSBI picks its boot
		# hart by lottery and the harts' lines interleave: hart ids become N
		# and the lines are sorted (test/runtime/enlightened.test.ts does the same).
		sed -n '/^Boot HART MEDELEG/,$p' "$out" | sed 1d | tr -d '\r' |
			sed 's/hart [0-9][0-9]*/hart N/g' | LC_ALL=C sort >"$out.n"
		mv "$out.n" "$out"
		;;
	esac
	if [ $update = 1 ]; then
		cat "$out" >"expected/$g.out"
	fi
	if [ $rc -ne 0 ]; then
		echo "FAIL $g: exit status $rc"
		fail=1
	elif ! cmp -s "$out" "expected/$g.out"; then
		echo "FAIL $g: output differs from expected/$g.out"
		diff "expected/$g.out" "$out" | head -20
		fail=1
	else
		echo "ok   $g ($(wc -l <"$out") lines)"
	fi
	rm -f "$out" "$out.img"
done
exit $fail
