/*
 * sbi.h - S-mode guest library: SBI calls (spec v2.0), the hypervisor-call
 * extension of hv, console output through the SBI debug console, SMP start.
 *
 * Builds on ../lib/guest.h for printf, CSR access, struct trap_frame and the
 * check() helpers; printf's output goes through console.c here, not a UART.
 */
#ifndef SBI_H
#define SBI_H

#include "guest.h"

/* ---- calling convention: a7 = EID, a6 = FID, a0-a5 args; a0 = error, a1 = value */
struct sbiret {
	long error;
	long value;
};
struct sbiret sbi_ecall(unsigned long eid, unsigned long fid, unsigned long a0, unsigned long a1,
			unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
/* A legacy (v0.1) call: EID only, the result in a0. */
long sbi_legacy(unsigned long eid, unsigned long a0, unsigned long a1, unsigned long a2);

#define SBI_SUCCESS                0
#define SBI_ERR_FAILED            -1
#define SBI_ERR_NOT_SUPPORTED     -2
#define SBI_ERR_INVALID_PARAM     -3
#define SBI_ERR_DENIED            -4
#define SBI_ERR_INVALID_ADDRESS   -5
#define SBI_ERR_ALREADY_AVAILABLE -6

#define SBI_EXT_BASE   0x10
#define SBI_EXT_TIME   0x54494D45
#define SBI_EXT_IPI    0x735049
#define SBI_EXT_RFENCE 0x52464E43
#define SBI_EXT_HSM    0x48534D
#define SBI_EXT_SRST   0x53525354
#define SBI_EXT_DBCN   0x4442434E
#define SBI_EXT_FIRMWARE_BASE 0x0A000000 /* | impl_id: the firmware-specific range */

#define SBI_LEGACY_SET_TIMER 0x00
#define SBI_LEGACY_PUTCHAR   0x01
#define SBI_LEGACY_GETCHAR   0x02
#define SBI_LEGACY_CLEAR_IPI 0x03
#define SBI_LEGACY_SEND_IPI  0x04
#define SBI_LEGACY_SHUTDOWN  0x08

#define SBI_HSM_STARTED       0
#define SBI_HSM_STOPPED       1
#define SBI_HSM_START_PENDING 2
#define SBI_HSM_STOP_PENDING  3
#define SBI_HSM_SUSPENDED     4

#define SBI_SRST_SHUTDOWN    0
#define SBI_SRST_COLD_REBOOT 1
#define SBI_SRST_WARM_REBOOT 2
#define SBI_SRST_REASON_NONE    0
#define SBI_SRST_REASON_FAILURE 1

#define SBI_IMPL_ID_HV 0x6876      /* "hv": this project's hypervisor */

/* ---- Base */
long sbi_spec_version(void);       /* major << 24 | minor */
long sbi_impl_id(void);
long sbi_impl_version(void);
long sbi_probe(unsigned long eid); /* 0 = not available */
/* ---- TIME, IPI, RFENCE */
long sbi_set_timer(uint64_t stime);
long sbi_send_ipi(unsigned long hart_mask, unsigned long hart_mask_base);
long sbi_remote_fence_i(unsigned long hart_mask, unsigned long hart_mask_base);
long sbi_remote_sfence_vma(unsigned long hart_mask, unsigned long hart_mask_base,
			   unsigned long start, unsigned long size);
/* ---- HSM */
long sbi_hart_start(unsigned long hartid, unsigned long start_addr, unsigned long opaque);
void sbi_hart_stop(void) __attribute__((noreturn));
struct sbiret sbi_hart_get_status(unsigned long hartid);
long sbi_hart_suspend(uint32_t type, unsigned long resume_addr, unsigned long opaque);
/* ---- SRST */
long sbi_system_reset(uint32_t type, uint32_t reason);
/* ---- DBCN (physical addresses: our guests run with satp = 0) */
struct sbiret sbi_console_write(unsigned long n, const void *buf);
struct sbiret sbi_console_read(unsigned long n, void *buf);
long sbi_console_write_byte(uint8_t byte);

/* ---- hv hypervisor calls: EID 0x0A000000 | impl_id (hv only) */
#define HV_GET_PARTITION_ID 0
#define HV_GET_VCPU_INDEX   1
#define HV_YIELD            2
#define HV_GET_STAT         3
#define HV_GET_VCPU_COUNT   4
#define HV_STAT_INSTRET     0
#define HV_STAT_SBI_CALLS   1
#define HV_STAT_TRAPS       2
#define HV_STAT_INTERRUPTS  3
int hv_available(void);            /* does the firmware implement the hv extension? */
unsigned long hv_eid(void);
struct sbiret hv_call(unsigned long fid, unsigned long a0);
long hv_partition_id(void);
long hv_vcpu_index(void);
long hv_vcpu_count(void);
long hv_yield(void);
long hv_stat(unsigned long counter); /* < 0: an SBI error */

/* ---- console (console.c): printf/uart_putc from guest.h write here */
void console_init(void);           /* crt0 calls it on the boot hart */
void console_flush(void);          /* this hart's pending line */
int console_getc(void);            /* -1 if there is no input */
extern int console_has_dbcn;       /* 0: the legacy putchar fallback is in use */

/* ---- harts (smp.c) */
/* Starts hart `hartid` running fn(hartid, arg) in S-mode (SBI HSM); the
 * hart stops when fn returns. Returns the SBI error. */
long smp_start(unsigned long hartid, void (*fn)(unsigned long hartid, void *arg), void *arg);
/* Number of harts: the first hart id get_status rejects (at most MAX_HARTS). */
unsigned long smp_hart_count(void);

/* ---- traps (trap.c): the handler runs in S-mode; NULL = report and exit(99) */
extern volatile trap_handler_t s_trap_handler;

static inline unsigned long hartid(void)
{
	unsigned long id;
	__asm__ volatile ("mv %0, tp" : "=r"(id));
	return id;
}

#endif
