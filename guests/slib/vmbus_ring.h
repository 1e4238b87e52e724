/*
 * vmbus_ring.h - inside the VMBus client: the ring primitives vmbus_ring.c
 * gives vmbus.c, and the signalling vmbus.c gives the rings.
 */
#ifndef VMBUS_RING_H
#define VMBUS_RING_H

#include "vmbus.h"

void ring_init(struct vmbus_ring *r, void *mem, uint32_t size);
void ring_begin_read(struct vmbus_ring *r);
/* Unmasks, then returns the bytes that arrived meanwhile (read on: no signal will come for them). */
uint32_t ring_end_read(struct vmbus_ring *r);

/* vmbus.c */
void vmbus_setevent(struct vmbus_channel *ch);
/* Waits for the host's signal on the channel (either ring), at most VMBUS_TIMEOUT_TICKS or `ticks`. */
int vmbus_wait_event(struct vmbus_channel *ch);
int vmbus_wait_event_until(struct vmbus_channel *ch, uint64_t ticks);

#endif
