/*
 * printf.c - small printf: %d %i %u %x %X %p %s %c %%, length modifiers
 * l/ll/z, flags '-' and '0', field width (number or *). Output goes to the UART.
 */
#include "guest.h"

static int out_pad(int n, char c)
{
	int k = 0;
	for (; n > 0; n--, k++)
		uart_putc(c);
	return k;
}

static int out_str(const char *s, int len, int width, int left)
{
	int n = 0;
	if (!left)
		n += out_pad(width - len, ' ');
	for (int i = 0; i < len; i++)
		uart_putc(s[i]);
	n += len;
	if (left)
		n += out_pad(width - len, ' ');
	return n;
}

static int out_num(uint64_t v, int neg, unsigned base, int upper,
		   int width, int zero, int left)
{
	char buf[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int len = 0, n = 0;
	do {
		buf[len++] = digits[v % base];
		v /= base;
	} while (v);
	int total = len + (neg ? 1 : 0);
	if (!left && !zero)
		n += out_pad(width - total, ' ');
	if (neg) {
		uart_putc('-');
		n++;
	}
	if (!left && zero)
		n += out_pad(width - total, '0');
	while (len)
		uart_putc(buf[--len]), n++;
	if (left)
		n += out_pad(width - total, ' ');
	return n;
}

int vprintf(const char *fmt, va_list ap)
{
	int n = 0;
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			uart_putc(*fmt);
			n++;
			continue;
		}
		fmt++;
		int left = 0, zero = 0, width = 0, lng = 0;
		for (;; fmt++) {
			if (*fmt == '-')
				left = 1;
			else if (*fmt == '0')
				zero = 1;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		while (*fmt == 'l' || *fmt == 'z') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
			n += out_num(u, v < 0, 10, 0, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			n += out_num(v, 0, *fmt == 'u' ? 10 : 16, *fmt == 'X',
				     width, zero, left);
			break;
		}
		case 'p':
			uart_puts("0x");
			n += 2 + out_num((uintptr_t)va_arg(ap, void *), 0, 16, 0,
					 16, 1, 0);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			n += out_str(s, (int)strlen(s), width, left);
			break;
		}
		case 'c': {
			char c = (char)va_arg(ap, int);
			n += out_str(&c, 1, width, left);
			break;
		}
		case '%':
			uart_putc('%');
			n++;
			break;
		case '\0':
			return n;
		default:
			uart_putc('%');
			uart_putc(*fmt);
			n += 2;
			break;
		}
	}
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
