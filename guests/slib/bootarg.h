/*
 * bootarg.h - a number from the kernel command line (`hv run -append`,
 * a partition's `append`), as the enlightened guests' benchmarks take
 * their sizes and counts.
 */
#ifndef BOOTARG_H
#define BOOTARG_H

/* The decimal value after `key` (e.g. "reqs=") in the device tree's
 * bootargs, or `dflt` when the key is not there. */
unsigned long bootarg(const void *dtb, const char *key, unsigned long dflt);

#endif
