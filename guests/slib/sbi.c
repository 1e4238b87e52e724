/* sbi.c - SBI calls and hv hypercalls (see sbi.h). */
#include "sbi.h"

struct sbiret sbi_ecall(unsigned long eid, unsigned long fid, unsigned long a0, unsigned long a1,
			unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r3 __asm__("a3") = a3;
	register unsigned long r4 __asm__("a4") = a4;
	register unsigned long r5 __asm__("a5") = a5;
	register unsigned long r6 __asm__("a6") = fid;
	register unsigned long r7 __asm__("a7") = eid;
	__asm__ volatile ("ecall"
			  : "+r"(r0), "+r"(r1)
			  : "r"(r2), "r"(r3), "r"(r4), "r"(r5), "r"(r6), "r"(r7)
			  : "memory");
	return (struct sbiret){ (long)r0, (long)r1 };
}

long sbi_legacy(unsigned long eid, unsigned long a0, unsigned long a1, unsigned long a2)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r7 __asm__("a7") = eid;
	__asm__ volatile ("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r7) : "memory");
	return (long)r0;
}

#define CALL0(e, f)          sbi_ecall(e, f, 0, 0, 0, 0, 0, 0)
#define CALL1(e, f, a)       sbi_ecall(e, f, a, 0, 0, 0, 0, 0)
#define CALL2(e, f, a, b)    sbi_ecall(e, f, a, b, 0, 0, 0, 0)
#define CALL3(e, f, a, b, c) sbi_ecall(e, f, a, b, c, 0, 0, 0)

/* Base: a value, or the error if there is one. */
static long value_or_error(struct sbiret r)
{
	return r.error ? r.error : r.value;
}

long sbi_spec_version(void) { return value_or_error(CALL0(SBI_EXT_BASE, 0)); }
long sbi_impl_id(void)      { return value_or_error(CALL0(SBI_EXT_BASE, 1)); }
long sbi_impl_version(void) { return value_or_error(CALL0(SBI_EXT_BASE, 2)); }
long sbi_probe(unsigned long eid) { return value_or_error(CALL1(SBI_EXT_BASE, 3, eid)); }

long sbi_set_timer(uint64_t stime) { return CALL1(SBI_EXT_TIME, 0, stime).error; }

long sbi_send_ipi(unsigned long mask, unsigned long base)
{
	return CALL2(SBI_EXT_IPI, 0, mask, base).error;
}

long sbi_remote_fence_i(unsigned long mask, unsigned long base)
{
	return CALL2(SBI_EXT_RFENCE, 0, mask, base).error;
}

long sbi_remote_sfence_vma(unsigned long mask, unsigned long base, unsigned long start, unsigned long size)
{
	return sbi_ecall(SBI_EXT_RFENCE, 1, mask, base, start, size, 0, 0).error;
}

long sbi_hart_start(unsigned long hartid, unsigned long start_addr, unsigned long opaque)
{
	return CALL3(SBI_EXT_HSM, 0, hartid, start_addr, opaque).error;
}

void sbi_hart_stop(void)
{
	CALL0(SBI_EXT_HSM, 1);
	for (;;)	/* not reached: hart_stop does not return on success */
		__asm__ volatile ("wfi");
}

struct sbiret sbi_hart_get_status(unsigned long hartid) { return CALL1(SBI_EXT_HSM, 2, hartid); }

long sbi_hart_suspend(uint32_t type, unsigned long resume_addr, unsigned long opaque)
{
	return CALL3(SBI_EXT_HSM, 3, type, resume_addr, opaque).error;
}

long sbi_system_reset(uint32_t type, uint32_t reason)
{
	return CALL2(SBI_EXT_SRST, 0, type, reason).error;
}

struct sbiret sbi_console_write(unsigned long n, const void *buf)
{
	return CALL3(SBI_EXT_DBCN, 0, n, (unsigned long)buf, 0);
}

struct sbiret sbi_console_read(unsigned long n, void *buf)
{
	return CALL3(SBI_EXT_DBCN, 1, n, (unsigned long)buf, 0);
}

long sbi_console_write_byte(uint8_t byte) { return CALL1(SBI_EXT_DBCN, 2, byte).error; }

/* ---- hv ---- */

unsigned long hv_eid(void)
{
	static unsigned long eid;
	if (!eid)
		eid = SBI_EXT_FIRMWARE_BASE | (unsigned long)sbi_impl_id();
	return eid;
}

int hv_available(void)
{
	return sbi_impl_id() == SBI_IMPL_ID_HV && sbi_probe(hv_eid()) > 0;
}

struct sbiret hv_call(unsigned long fid, unsigned long a0) { return CALL1(hv_eid(), fid, a0); }

long hv_partition_id(void) { return value_or_error(hv_call(HV_GET_PARTITION_ID, 0)); }
long hv_vcpu_index(void)   { return value_or_error(hv_call(HV_GET_VCPU_INDEX, 0)); }
long hv_vcpu_count(void)   { return value_or_error(hv_call(HV_GET_VCPU_COUNT, 0)); }
long hv_yield(void)        { return hv_call(HV_YIELD, 0).error; }
long hv_stat(unsigned long counter) { return value_or_error(hv_call(HV_GET_STAT, counter)); }
