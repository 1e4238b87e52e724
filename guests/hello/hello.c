/* hello - prints one greeting line and exits 0 through the finisher. */
#include "guest.h"

int main(unsigned long hartid, void *dtb)
{
	(void)hartid;
	(void)dtb;
	uart_puts("Hello from RISC-V guest!\n");
	return 0;
}
