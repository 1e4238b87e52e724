/*
 * bootarg.c - see bootarg.h. The bootargs are the only place the device
 * tree blob holds such text, so a scan of the whole blob finds them
 * without walking its structure.
 */
#include "bootarg.h"
#include "guest.h"

unsigned long bootarg(const void *dtb, const char *key, unsigned long dflt)
{
	const uint8_t *p = dtb;
	uint32_t total = (uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7];
	size_t k = strlen(key);
	for (uint32_t i = 0; i + k < total; i++) {
		if (memcmp(p + i, key, k))
			continue;
		unsigned long v = 0;
		for (const uint8_t *d = p + i + k; *d >= '0' && *d <= '9'; d++)
			v = v * 10 + (*d - '0');
		return v;
	}
	return dflt;
}
