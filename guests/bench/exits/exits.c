/*
 * exits - a VM-exit benchmark guest: reads the UART's line status register
 * 20000 times. Each read is an access to an emulated device, which the
 * root partition services (on a threaded host: an exit from the vCPU's pCPU
 * thread to the root partition's thread and back). The output is the same
 * on every emulator.
 */
#include "guest.h"

#define READS 20000

int main(unsigned long hartid, void *dtb)
{
	(void)hartid;
	(void)dtb;
	unsigned long thre = 0;
	for (int i = 0; i < READS; i++)
		thre += (mmio_read8(UART_BASE + 5) & UART_LSR_THRE) != 0;
	printf("exits: %d UART status reads, transmitter empty in %lu\n", READS, thre);
	return 0;
}
