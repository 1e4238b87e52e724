/*
 * guest.h - tiny M-mode bare-metal library for the QEMU "virt" board.
 *
 * Everything a guest program needs: board addresses, CSR accessors, UART
 * output, printf, exit through the sifive_test finisher, trap helpers,
 * privilege-mode switching and the "ok N name" self-check helpers.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdint.h>
#include <stddef.h>
#include <stdarg.h>

/* ---- board (QEMU virt) ------------------------------------------------ */
#define UART_BASE      0x10000000UL /* 16550: THR at +0, LSR at +5 */
#define UART_LSR_THRE  0x20         /* LSR bit 5: transmit holding reg empty */
#define FINISHER_BASE  0x00100000UL /* sifive_test */
#define FINISHER_PASS  0x5555
#define FINISHER_FAIL  0x3333       /* (code << 16) | FINISHER_FAIL */
#define CLINT_BASE     0x02000000UL
#define CLINT_MSIP(h)     (CLINT_BASE + 4UL * (h))
#define CLINT_MTIMECMP(h) (CLINT_BASE + 0x4000UL + 8UL * (h))
#define CLINT_MTIME       (CLINT_BASE + 0xbff8UL)
#define MTIME_HZ       10000000UL   /* 10 MHz */
#define RAM_BASE       0x80000000UL

#define MAX_HARTS      8

/* ---- privilege modes, CSR bits ---------------------------------------- */
#define MODE_U 0
#define MODE_S 1
#define MODE_M 3

#define MSTATUS_SIE   (1UL << 1)
#define MSTATUS_MIE   (1UL << 3)
#define MSTATUS_SPIE  (1UL << 5)
#define MSTATUS_MPIE  (1UL << 7)
#define MSTATUS_SPP   (1UL << 8)
#define MSTATUS_MPP   (3UL << 11)
#define MSTATUS_FS    (3UL << 13)
#define MSTATUS_MPRV  (1UL << 17)
#define MSTATUS_SUM   (1UL << 18)
#define MSTATUS_MXR   (1UL << 19)
#define MSTATUS_TVM   (1UL << 20)
#define MSTATUS_TW    (1UL << 21)
#define MSTATUS_TSR   (1UL << 22)

#define IRQ_S_SOFT   1
#define IRQ_M_SOFT   3
#define IRQ_S_TIMER  5
#define IRQ_M_TIMER  7
#define IRQ_S_EXT    9
#define IRQ_M_EXT   11
#define CAUSE_INTR  (1UL << 63)

#define EXC_INST_MISALIGNED   0
#define EXC_INST_ACCESS       1
#define EXC_ILLEGAL_INST      2
#define EXC_BREAKPOINT        3
#define EXC_LOAD_MISALIGNED   4
#define EXC_LOAD_ACCESS       5
#define EXC_STORE_MISALIGNED  6
#define EXC_STORE_ACCESS      7
#define EXC_ECALL_U           8
#define EXC_ECALL_S           9
#define EXC_ECALL_M          11
#define EXC_INST_PAGE_FAULT  12
#define EXC_LOAD_PAGE_FAULT  13
#define EXC_STORE_PAGE_FAULT 15

/* ---- CSR access (name must be a literal CSR name or number) ----------- */
#define csr_read(csr) ({ uint64_t __v; \
	__asm__ volatile ("csrr %0, " #csr : "=r"(__v) :: "memory"); __v; })
#define csr_write(csr, val) ({ uint64_t __v = (uint64_t)(val); \
	__asm__ volatile ("csrw " #csr ", %0" :: "rK"(__v) : "memory"); })
#define csr_swap(csr, val) ({ uint64_t __v = (uint64_t)(val); \
	__asm__ volatile ("csrrw %0, " #csr ", %1" : "=r"(__v) : "rK"(__v) : "memory"); __v; })
#define csr_set(csr, val) ({ uint64_t __v = (uint64_t)(val); \
	__asm__ volatile ("csrrs %0, " #csr ", %1" : "=r"(__v) : "rK"(__v) : "memory"); __v; })
#define csr_clear(csr, val) ({ uint64_t __v = (uint64_t)(val); \
	__asm__ volatile ("csrrc %0, " #csr ", %1" : "=r"(__v) : "rK"(__v) : "memory"); __v; })

/* ---- MMIO -------------------------------------------------------------- */
static inline void mmio_write8(uintptr_t a, uint8_t v)   { *(volatile uint8_t *)a = v; }
static inline uint8_t mmio_read8(uintptr_t a)            { return *(volatile uint8_t *)a; }
static inline void mmio_write32(uintptr_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint32_t mmio_read32(uintptr_t a)          { return *(volatile uint32_t *)a; }
static inline void mmio_write64(uintptr_t a, uint64_t v) { *(volatile uint64_t *)a = v; }
static inline uint64_t mmio_read64(uintptr_t a)          { return *(volatile uint64_t *)a; }

static inline uint64_t mtime_read(void) { return mmio_read64(CLINT_MTIME); }

/* ---- console, printf, exit (uart.c, printf.c, exit.c) ----------------- */
void uart_putc(char c);           /* raw byte, no "\n" -> "\r\n" translation */
void uart_puts(const char *s);    /* string, no newline appended */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
void exit(int code) __attribute__((noreturn)); /* 0 = pass, else fail(code) */

/* string.c (gcc may emit calls to these even with -ffreestanding) */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- program entry points (crt0.S) ------------------------------------ */
int main(unsigned long hartid, void *dtb);
/* Optional: define this to let harts != 0 run (they wait until hart 0 has
 * zeroed .bss). If it is not defined, those harts are parked in a WFI loop. */
void secondary_main(unsigned long hartid, void *dtb) __attribute__((weak));

/* ---- traps (trap.S, trap.c) ------------------------------------------- */
/* Register frame built by m_trap_entry / s_trap_entry. x[2] is the
 * interrupted sp. A handler may change x[] and epc (and status); they are
 * written back before mret/sret. */
struct trap_frame {
	uint64_t x[32];
	uint64_t cause, epc, tval, status;
};
typedef void (*trap_handler_t)(struct trap_frame *f);

/* NULL = default handler: print "unexpected ... trap" and exit(99). */
extern volatile trap_handler_t m_trap_handler; /* runs in M-mode */
extern volatile trap_handler_t s_trap_handler; /* runs in S-mode (medeleg/mideleg) */

void m_trap_entry(void);  /* mtvec target (crt0 installs it), uses mscratch */
void s_trap_entry(void);  /* stvec target (crt0 installs it), uses sscratch */
void trap_skip(struct trap_frame *f); /* epc += length of insn at epc (2 or 4) */

/* Call fn(arg) in privilege mode `mode` (MODE_U/S/M) via mret; returns fn's
 * result once fn returns (fn's return executes an ecall that brings us back
 * to M-mode; if U-mode ecalls are delegated, the S-mode trap code forwards it
 * with an S-mode ecall, so S-mode ecalls must not be delegated when fn
 * returns). Not reentrant. mstatus is restored on return; satp is not. */
uint64_t run_in_mode(int mode, uint64_t (*fn)(uint64_t), uint64_t arg);

/* ---- self-checks (check.c) -------------------------------------------- */
/* Prints "ok N name" or "FAIL N name got 0x.. want 0x..". */
void check(const char *name, uint64_t got, uint64_t want);
/* Prints "PASSED all N checks" or "FAILED F of N checks"; returns 0 or 1. */
int check_summary(void);

#endif
