/*
 * sbi-probe - probes every SBI extension, prints what the firmware is, and
 * checks that calls with bad arguments get the errors the SBI v2.0 spec
 * gives them (and the hv hypercalls their ids). Prints "ok N name" per
 * check, then "PASSED all N checks"; exits with the number of failures.
 * Written for hv (-bios hv -smp 2 or more); the hv-specific checks are
 * skipped on another firmware.
 */
#include "sbi.h"

static const struct {
	const char *name;
	unsigned long eid;
} exts[] = {
	{ "BASE", SBI_EXT_BASE },     { "TIME", SBI_EXT_TIME }, { "IPI", SBI_EXT_IPI },
	{ "RFENCE", SBI_EXT_RFENCE }, { "HSM", SBI_EXT_HSM },   { "SRST", SBI_EXT_SRST },
	{ "DBCN", SBI_EXT_DBCN },     { "legacy set_timer", SBI_LEGACY_SET_TIMER },
	{ "legacy putchar", SBI_LEGACY_PUTCHAR }, { "legacy shutdown", SBI_LEGACY_SHUTDOWN },
	{ "PMU", 0x504D55 },          { "SUSP", 0x53555350 },   { "unknown 0x12345678", 0x12345678 },
};

#define E(r) ((uint64_t)(r))	/* an SBI error as check() compares it */

static char msg[] = "DBCN console_write from guest RAM\n";

static void on_trap(struct trap_frame *f)
{
	printf("unexpected trap: scause 0x%lx sepc 0x%lx stval 0x%lx\n", f->cause, f->epc, f->tval);
	exit(99);
}

int main(unsigned long hartid, void *dtb)
{
	s_trap_handler = on_trap;
	long spec = sbi_spec_version();
	long impl = sbi_impl_id();
	int hv = impl == SBI_IMPL_ID_HV;
	printf("SBI spec v%ld.%ld, implementation 0x%lx (%s) version 0x%lx\n", (spec >> 24) & 0x7f,
	       spec & 0xffffff, impl, hv ? "hv" : "not hv", sbi_impl_version());
	for (unsigned i = 0; i < sizeof exts / sizeof exts[0]; i++)
		printf("probe %-20s %ld\n", exts[i].name, sbi_probe(exts[i].eid));
	printf("probe %-20s %ld\n", "hv hypercalls", sbi_probe(SBI_EXT_FIRMWARE_BASE | (unsigned long)impl));
	unsigned long n = smp_hart_count();
	printf("harts: %lu\n", n);

	/* ---- Base */
	check("base: spec version 2.0", E(spec), 2UL << 24);
	check("base: mvendorid", E(sbi_ecall(SBI_EXT_BASE, 4, 0, 0, 0, 0, 0, 0).error), 0);
	check("base: unknown FID", E(sbi_ecall(SBI_EXT_BASE, 99, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));
	check("unknown extension", E(sbi_ecall(0x12345678, 0, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));
	check("unknown extension in the firmware range",
	      E(sbi_ecall(SBI_EXT_FIRMWARE_BASE | 0x123456, 0, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));

	/* ---- TIME */
	check("time: set_timer(-1)", E(sbi_set_timer(~0UL)), 0);
	check("time: unknown FID", E(sbi_ecall(SBI_EXT_TIME, 1, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));

	/* ---- IPI (to ourselves, with SIE off: SSIP pends, no trap) */
	check("ipi: to self", E(sbi_send_ipi(1UL << hartid, 0)), 0);
	check("ipi: SSIP pending", (csr_read(sip) >> IRQ_S_SOFT) & 1, 1);
	csr_clear(sip, 1UL << IRQ_S_SOFT);
	check("ipi: mask base -1 (all harts)", E(sbi_send_ipi(0, ~0UL)), 0);
	csr_clear(sip, 1UL << IRQ_S_SOFT);
	check("ipi: empty mask", E(sbi_send_ipi(0, 0)), 0);
	check("ipi: hart beyond the last", E(sbi_send_ipi(1UL << n, 0)), E(SBI_ERR_INVALID_PARAM));
	check("ipi: bit 63", E(sbi_send_ipi(1UL << 63, 0)), E(SBI_ERR_INVALID_PARAM));
	check("ipi: base beyond the last hart", E(sbi_send_ipi(1, n)), E(SBI_ERR_INVALID_PARAM));
	check("ipi: base + bit overflows", E(sbi_send_ipi(2, ~0UL - 1)), E(SBI_ERR_INVALID_PARAM));
	check("ipi: unknown FID", E(sbi_ecall(SBI_EXT_IPI, 1, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));

	/* ---- RFENCE */
	check("rfence: fence.i on all harts", E(sbi_remote_fence_i(0, ~0UL)), 0);
	check("rfence: sfence.vma on self", E(sbi_remote_sfence_vma(1UL << hartid, 0, 0, ~0UL)), 0);
	check("rfence: sfence.vma on every hart", E(sbi_remote_sfence_vma((1UL << n) - 1, 0, 0, 4096)), 0);
	check("rfence: sfence.vma.asid", E(sbi_ecall(SBI_EXT_RFENCE, 2, 1UL << hartid, 0, 0, 4096, 0, 0).error), 0);
	check("rfence: invalid mask", E(sbi_remote_fence_i(1UL << n, 0)), E(SBI_ERR_INVALID_PARAM));
	check("rfence: hfence (no H extension)", E(sbi_ecall(SBI_EXT_RFENCE, 3, 1, 0, 0, 0, 0, 0).error),
	      E(SBI_ERR_NOT_SUPPORTED));

	/* ---- HSM */
	check("hsm: status of self", E(sbi_hart_get_status(hartid).value), SBI_HSM_STARTED);
	check("hsm: status of a nonexistent hart", E(sbi_hart_get_status(n).error), E(SBI_ERR_INVALID_PARAM));
	check("hsm: start self (already started)", E(sbi_hart_start(hartid, 0x80200000, 0)), E(SBI_ERR_ALREADY_AVAILABLE));
	check("hsm: start a nonexistent hart", E(sbi_hart_start(n, 0x80200000, 0)), E(SBI_ERR_INVALID_PARAM));
	check("hsm: start hart -1", E(sbi_hart_start(~0UL, 0x80200000, 0)), E(SBI_ERR_INVALID_PARAM));
	if (n >= 2) {
		unsigned long other = hartid == 0 ? 1 : 0;
		check("hsm: other hart stopped", E(sbi_hart_get_status(other).value), SBI_HSM_STOPPED);
		check("hsm: start at an address that is not RAM", E(sbi_hart_start(other, 0x1000, 0)),
		      E(SBI_ERR_INVALID_ADDRESS));
		check("hsm: still stopped", E(sbi_hart_get_status(other).value), SBI_HSM_STOPPED);
	}
	check("hsm: reserved suspend type", E(sbi_hart_suspend(1, 0, 0)), E(SBI_ERR_INVALID_PARAM));
	check("hsm: platform suspend type", E(sbi_hart_suspend(0x10000000, 0, 0)), E(SBI_ERR_INVALID_PARAM));
	if (hv)
		check("hsm: non-retentive suspend", E(sbi_hart_suspend(0x80000000, 0x80200000, 0)),
		      E(SBI_ERR_NOT_SUPPORTED));
	/* Retentive suspend returns at the next interrupt: arm the timer first. */
	csr_set(sie, 1UL << IRQ_S_TIMER);
	sbi_set_timer(csr_read(time) + 100);
	check("hsm: retentive suspend until the timer", E(sbi_hart_suspend(0, 0, 0)), 0);
	sbi_set_timer(~0UL);
	csr_clear(sie, 1UL << IRQ_S_TIMER);
	check("hsm: unknown FID", E(sbi_ecall(SBI_EXT_HSM, 9, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));

	/* ---- SRST (only the refusals: success does not return) */
	check("srst: reserved type", E(sbi_system_reset(3, 0)), E(SBI_ERR_INVALID_PARAM));
	check("srst: platform-specific type", E(sbi_system_reset(0xF0000000, 0)), E(SBI_ERR_INVALID_PARAM));
	check("srst: reserved reason", E(sbi_system_reset(SBI_SRST_SHUTDOWN, 2)), E(SBI_ERR_INVALID_PARAM));
	check("srst: unknown FID", E(sbi_ecall(SBI_EXT_SRST, 1, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));

	/* ---- DBCN */
	console_flush();
	/* console_write may write less than asked when the firmware's buffer is full */
	struct sbiret r = sbi_console_write(sizeof msg - 1, msg);
	check("dbcn: write from RAM", E(r.error), 0);
	check("dbcn: bytes written (1 to all)", r.value > 0 && r.value <= (long)sizeof msg - 1, 1);
	for (long done = r.value; r.error == 0 && done < (long)sizeof msg - 1; done += r.value)
		r = sbi_console_write(sizeof msg - 1 - done, msg + done);
	check("dbcn: write nothing", E(sbi_console_write(0, (void *)0x1000).error), 0);
	check("dbcn: write from outside RAM", E(sbi_console_write(8, (void *)0x1000).error), E(SBI_ERR_INVALID_ADDRESS));
	check("dbcn: write from a device (UART)", E(sbi_console_write(1, (void *)0x10000000).error),
	      E(SBI_ERR_INVALID_ADDRESS));
	check("dbcn: range wrapping around", E(sbi_console_write(0x2000, (void *)~0xfffUL).error),
	      E(SBI_ERR_INVALID_ADDRESS));
	check("dbcn: range running off RAM", E(sbi_console_write(~0UL, msg).error), E(SBI_ERR_INVALID_ADDRESS));
	check("dbcn: base_addr_hi set",
	      E(sbi_ecall(SBI_EXT_DBCN, 0, 1, (unsigned long)msg, 1, 0, 0, 0).error), E(SBI_ERR_INVALID_ADDRESS));
	char in[8];
	r = sbi_console_read(sizeof in, in);
	check("dbcn: read with no input", E(r.error), 0);
	check("dbcn: bytes read", E(r.value), 0);
	check("dbcn: read into outside RAM", E(sbi_console_read(4, (void *)0x1000).error), E(SBI_ERR_INVALID_ADDRESS));
	check("dbcn: write_byte", E(sbi_console_write_byte('\n')), 0);
	check("dbcn: unknown FID", E(sbi_ecall(SBI_EXT_DBCN, 3, 0, 0, 0, 0, 0, 0).error), E(SBI_ERR_NOT_SUPPORTED));

	/* ---- legacy */
	check("legacy: getchar with no input", E(sbi_legacy(SBI_LEGACY_GETCHAR, 0, 0, 0)), E(-1));
	unsigned long self_mask = 1UL << hartid;
	check("legacy: send_ipi to self", E(sbi_legacy(SBI_LEGACY_SEND_IPI, (unsigned long)&self_mask, 0, 0)), 0);
	check("legacy: SSIP pending", (csr_read(sip) >> IRQ_S_SOFT) & 1, 1);
	check("legacy: clear_ipi", E(sbi_legacy(SBI_LEGACY_CLEAR_IPI, 0, 0, 0)), 0);
	check("legacy: SSIP clear", (csr_read(sip) >> IRQ_S_SOFT) & 1, 0);
	check("legacy: remote fence.i", E(sbi_legacy(0x05, (unsigned long)&self_mask, 0, 0)), 0);
	check("legacy: remote sfence.vma", E(sbi_legacy(0x06, (unsigned long)&self_mask, 0, ~0UL)), 0);
	if (hv) {
		check("legacy: hart mask pointer not in RAM", E(sbi_legacy(SBI_LEGACY_SEND_IPI, 0x1000, 0, 0)),
		      E(SBI_ERR_INVALID_ADDRESS));
		check("legacy: misaligned hart mask pointer",
		      E(sbi_legacy(SBI_LEGACY_SEND_IPI, (unsigned long)&self_mask + 1, 0, 0)), E(SBI_ERR_INVALID_ADDRESS));
	}
	unsigned long bad_mask = 1UL << n;
	check("legacy: invalid hart in the mask", E(sbi_legacy(SBI_LEGACY_SEND_IPI, (unsigned long)&bad_mask, 0, 0)),
	      E(SBI_ERR_INVALID_PARAM));
	check("legacy: reserved EID 0x09", E(sbi_legacy(0x09, 0, 0, 0)), E(SBI_ERR_NOT_SUPPORTED));

	/* ---- hv hypercalls */
	if (hv) {
		check("hv: probe", E(sbi_probe(hv_eid())), 1);
		check("hv: EID", hv_eid(), 0x0A006876);
		check("hv: partition id", E(hv_partition_id()), 0);
		check("hv: vCPU index", E(hv_vcpu_index()), hartid);
		check("hv: vCPU count", E(hv_vcpu_count()), n);
		long i1 = hv_stat(HV_STAT_INSTRET);
		long i2 = hv_stat(HV_STAT_INSTRET);
		check("hv: instret counts", i1 > 1000 && i2 > i1, 1);
		long c1 = hv_stat(HV_STAT_SBI_CALLS);
		long c2 = hv_stat(HV_STAT_SBI_CALLS);
		check("hv: SBI calls count themselves", E(c2 - c1), 1);
		check("hv: yield", E(hv_yield()), 0);
		check("hv: unknown counter", E(hv_call(HV_GET_STAT, 99).error), E(SBI_ERR_INVALID_PARAM));
		check("hv: unknown FID", E(hv_call(0x3f, 0).error), E(SBI_ERR_NOT_SUPPORTED));
	}
	return check_summary();
}
