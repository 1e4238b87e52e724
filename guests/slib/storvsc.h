/*
 * storvsc.h - the synthetic SCSI disk driver of an enlightened guest, on
 * vmbus.h: the protocol of Linux's drivers/scsi/storvsc_drv.c (6.12):
 * open the channel, BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION newest
 * first, QUERY_PROPERTIES, END_INITIALIZATION, then one SRB at a time
 * (EXECUTE_SRB; its data buffer named page by page in a GPA-direct packet).
 * The host's side: drivers/vmbus/storvsc.ts.
 */
#ifndef STORVSC_H
#define STORVSC_H

#include "vmbus.h"

/* HV_SCSI_GUID ba6163d9-04a1-4d29-b605-72e2ffb1dc7f as guid_t bytes */
extern const uint8_t storvsc_class_id[16];

#define STORVSC_RING_SIZE (128 * 1024)	/* Linux's storvsc_ringbuffer_size, each way */

struct storvsc {
	struct vmbus_channel ch;
	uint16_t version;		/* VMSTOR_PROTO_VERSION(major, minor) */
	uint32_t max_transfer_bytes;
	uint64_t next_id;
};

/* What an SRB came back with. */
struct srb_result {
	uint8_t srb_status;
	uint8_t scsi_status;
	uint8_t sense_len;
	uint8_t sense[20];
	uint32_t transferred;
};

#define SRB_DATA_WRITE 0	/* data_in: WRITE_TYPE, READ_TYPE, UNKNOWN_TYPE */
#define SRB_DATA_READ  1
#define SRB_DATA_NONE  2
#define SRB_STATUS_SUCCESS 0x01

/* Opens the channel of `offer` and runs the initialization; 0 or < 0. */
int storvsc_open(struct storvsc *s, const struct vmbus_offer *offer);
/* One SCSI command and its data buffer (len bytes at buf, any alignment). */
int storvsc_srb(struct storvsc *s, const uint8_t *cdb, int cdb_len, void *buf, uint32_t len, int dir,
		struct srb_result *res);
int storvsc_close(struct storvsc *s);

#endif
