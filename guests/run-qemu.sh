#!/bin/sh
# run-qemu.sh - run the guests on QEMU (the reference) and compare.
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
ALL="hello rv64i rv64m rv64a rv64c zicsr traps interrupts privilege mmu asid fp-rounding cpu"
fail=0
for g in ${*:-$ALL}; do
	out=$(mktemp)
	timeout 60 "$QEMU" -M virt -bios none -nographic -kernel "bin/$g.elf" \
		</dev/null >"$out" 2>/dev/null
	rc=$?
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
	rm -f "$out"
done
exit $fail
