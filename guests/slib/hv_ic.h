/*
 * hv_ic.h - integration component handlers of an enlightened guest, on
 * vmbus.h, as Linux 6.12's drivers/hv/hv_util.c and hv_kvp.c answer them:
 * the host asks (an inband packet: vmbuspipe_hdr, icmsg_hdr, message), the
 * guest answers in the same buffer with ICMSGHDRFLAG_TRANSACTION |
 * ICMSGHDRFLAG_RESPONSE and the request's trans_id. The first request is
 * ICMSGTYPE_NEGOTIATE (vmbus_prep_negotiate_resp). The host's side:
 * drivers/vmbus/ic*.ts.
 */
#ifndef HV_IC_H
#define HV_IC_H

#include "vmbus.h"

enum ic_service { IC_HEARTBEAT, IC_SHUTDOWN, IC_TIMESYNC, IC_KVP, IC_COUNT };

/* The class GUIDs (HV_HEART_BEAT_GUID, HV_SHUTDOWN_GUID, HV_TS_GUID, HV_KVP_GUID) as guid_t bytes. */
extern const uint8_t ic_class_id[IC_COUNT][16];
extern const char *const ic_name[IC_COUNT];

#define IC_RING_SIZE (4 * 4096)	/* VMBUS_RING_SIZE(3 * HV_HYP_PAGE_SIZE), each way */
#define KVP_POOLS 5
#define KVP_ITEMS 8
#define KVP_KEY 64
#define KVP_VALUE 128

struct kvp_item {
	char key[KVP_KEY];
	char value[KVP_VALUE];
};

struct ic {
	enum ic_service service;
	struct vmbus_channel ch;
	uint32_t framework, version;	/* negotiated (major << 16 | minor), 0 before */
	unsigned long requests;
	/* heartbeat */
	uint64_t heartbeat_seq;
	/* shutdown: set when asked; flags as the host sent them */
	int shutdown_asked;
	uint32_t shutdown_flags;
	/* timesync: the host's UTC in 100 ns since 1601, and our `time` when it was right */
	uint64_t host_time, ref_time;
	unsigned long syncs, samples;
	/* kvp: the pools (KVP_POOL_EXTERNAL 0 .. AUTO_INTERNAL 4) and enumerations the host finished */
	struct kvp_item pool[KVP_POOLS][KVP_ITEMS];
	int pool_len[KVP_POOLS];
	unsigned long kvp_sets, enumerations_done;
};

/* Opens the IC channel of `offer` (its service told by the class GUID) in `ic` (zeroed before first use); 0 or < 0. */
int ic_open(struct ic *ic, const struct vmbus_offer *offer);
/* Answers every request waiting in the channel; returns how many, or < 0. */
int ic_poll(struct ic *ic);
/* Waits (WFI) until one of the `n` ICs has a request, or `ticks` of the time CSR pass. */
int ic_wait(struct ic **ics, int n, uint64_t ticks);
int ic_close(struct ic *ic);
/* A key in one of our pools (what the host reads with KVP enumerate); 0 or < 0 when full. */
int kvp_pool_set(struct ic *kvp, int pool, const char *key, const char *value);
/* The value of `key` in `pool`, or 0. */
const char *kvp_pool_get(const struct ic *kvp, int pool, const char *key);
/* UTC seconds since 1970 now, from the last sync (0 before one). */
uint64_t ic_unix_time(const struct ic *timesync);

#endif
