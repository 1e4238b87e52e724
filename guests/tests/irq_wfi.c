/* irq_wfi - interrupt-driven disk reads and UART input, idle in WFI (irq_latency.h). */
#define IDLE_WFI 1
#include "irq_latency.h"
