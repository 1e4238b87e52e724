/*
 * netvsc.h - the synthetic NIC driver of an enlightened guest, on vmbus.h:
 * NVSP and RNDIS in the sequence of Linux's drivers/net/hyperv (6.12,
 * netvsc.c netvsc_connect_vsp / netvsc_init_buf, rndis_filter.c
 * rndis_filter_device_add): open the channel; NVSP INIT newest version
 * first; SEND_NDIS_CONFIG (v2+) and SEND_NDIS_VER; the receive buffer and
 * the send buffer as GPADLs with their completions; RNDIS INITIALIZE,
 * QUERY of the MAC, MTU, link state and speed, SET of the packet filter.
 * Frames go out in send-buffer sections (SEND_RNDIS_PKT, data channel);
 * control messages in GPA-direct pages, as Linux sends them. Frames come in
 * as transfer-page packets naming receive-buffer sections, each completed
 * back to the host. The host's side: drivers/vmbus/netvsc.ts.
 */
#ifndef NETVSC_H
#define NETVSC_H

#include "vmbus.h"

/* HV_NIC_GUID f8615163-df3e-46c5-913f-f2d2f965ed0e as guid_t bytes */
extern const uint8_t netvsc_class_id[16];

#define NETVSC_RING_SIZE (64 * 1024)	/* each way */
#define NETVSC_RX_QUEUE 8		/* frames received while waiting for something else */
#define NETVSC_MAX_FRAME 1518

struct netvsc {
	struct vmbus_channel ch;
	uint32_t nvsp_version;
	uint8_t mac[6];
	uint32_t mtu, link_state, link_speed;	/* link_speed in 100 bit/s */
	uint32_t recv_gpadl, send_gpadl;
	uint32_t recv_section_size, recv_sections, send_section_size, send_sections;
	uint32_t next_section;
	uint64_t next_id;
	uint32_t rndis_req_id;
	/* frames taken off the ring but not yet asked for */
	uint32_t rxq_len[NETVSC_RX_QUEUE], rxq_head, rxq_count;
	uint8_t rxq[NETVSC_RX_QUEUE][NETVSC_MAX_FRAME];
	/* statistics */
	unsigned long tx_frames, rx_frames, rx_dropped, control_msgs;
};

/*
 * Connects to VMBus, finds the first NIC offered and opens it, printing
 * what it found; 0 or < 0. With none offered, waits up to `wait_ticks` of
 * the time CSR for one the host adds while we run (0: fails at once).
 */
int netvsc_probe(struct netvsc *n, uint64_t wait_ticks);
/* Opens the channel of `offer` and brings the NIC up; 0 or < 0 (printing what failed). */
int netvsc_open(struct netvsc *n, const struct vmbus_offer *offer);
/* Sends one Ethernet frame and waits for the host's completion. */
int netvsc_send(struct netvsc *n, const void *frame, uint32_t len);
/* The next frame (its length), waiting at most `ticks` of the time CSR: 0 on timeout. */
int netvsc_recv(struct netvsc *n, void *frame, uint32_t max, uint64_t ticks);
/* RNDIS HALT, buffers revoked and torn down, the channel closed. */
int netvsc_close(struct netvsc *n);

#endif
