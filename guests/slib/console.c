/*
 * console.c - console through the SBI firmware: printf (../lib/printf.c)
 * calls uart_putc, which collects a line per hart and writes it with one
 * DBCN console_write (a line from one hart is never split by another's), or
 * byte by byte with the legacy console_putchar when the firmware has no
 * DBCN (OpenSBI before v1.3). exit() flushes and shuts down through SRST
 * (legacy shutdown without it).
 *
 * DBCN takes physical addresses: the line buffers are used with satp = 0
 * (or identity-mapped).
 */
#include "sbi.h"

#define LINE 128

int console_has_dbcn;
static int has_srst;
static struct {
	char buf[LINE];
	unsigned len;
} lines[MAX_HARTS];

void console_init(void)
{
	console_has_dbcn = sbi_probe(SBI_EXT_DBCN) > 0;
	has_srst = sbi_probe(SBI_EXT_SRST) > 0;
}

static int legacy_lock;

static void write_all(const char *p, unsigned long n)
{
	if (!console_has_dbcn) {
		/* byte by byte: hold a lock so that lines of different harts do not mix */
		while (__atomic_exchange_n(&legacy_lock, 1, __ATOMIC_ACQUIRE))
			;
		while (n--)
			sbi_legacy(SBI_LEGACY_PUTCHAR, (uint8_t)*p++, 0, 0);
		__atomic_store_n(&legacy_lock, 0, __ATOMIC_RELEASE);
		return;
	}
	while (n) {	/* console_write may write less than asked: go on */
		struct sbiret r = sbi_console_write(n, p);
		if (r.error)
			return;
		p += r.value;
		n -= r.value;
	}
}

void console_flush(void)
{
	unsigned long h = hartid();
	if (h >= MAX_HARTS || !lines[h].len)
		return;
	write_all(lines[h].buf, lines[h].len);
	lines[h].len = 0;
}

void uart_putc(char c)
{
	unsigned long h = hartid();
	if (h >= MAX_HARTS) {
		write_all(&c, 1);
		return;
	}
	lines[h].buf[lines[h].len++] = c;
	if (c == '\n' || lines[h].len == LINE)
		console_flush();
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

int console_getc(void)
{
	if (console_has_dbcn) {
		uint8_t c;
		struct sbiret r = sbi_console_read(1, &c);
		return r.error || r.value == 0 ? -1 : c;
	}
	return (int)sbi_legacy(SBI_LEGACY_GETCHAR, 0, 0, 0);
}

/* 0 = success (SRST reason "none"); otherwise "system failure", or on hv
 * the exact code through hv's implementation-specific reason 0xE0000000|code. */
void exit(int code)
{
	console_flush();
	if (has_srst) {
		uint32_t reason = SBI_SRST_REASON_NONE;
		if (code != 0)
			reason = sbi_impl_id() == SBI_IMPL_ID_HV ? 0xE0000000u | ((uint32_t)code & 0xff)
								  : SBI_SRST_REASON_FAILURE;
		sbi_system_reset(SBI_SRST_SHUTDOWN, reason);
	}
	sbi_legacy(SBI_LEGACY_SHUTDOWN, 0, 0, 0);
	for (;;)
		__asm__ volatile ("wfi");
}
