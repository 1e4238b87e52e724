/* irq_spin - interrupt-driven disk reads and UART input, idle by spinning with interrupts on (irq_latency.h). */
#define IDLE_WFI 0
#include "irq_latency.h"
