/*
 * hv_dm.h - Hyper-V Dynamic Memory, the guest's side (the balloon), on
 * vmbus.h, as Linux 6.12's drivers/hv/hv_balloon.c speaks it: version
 * negotiation newest first (WIN10 2.0, WIN8 1.0, WIN7 0.3), a capabilities
 * report (balloon, no hot-add), status reports, and the host's balloon and
 * unballoon requests answered from and into a pool of pages the guest
 * manages (struct dm_pool: its "page allocator"). The host's side:
 * drivers/vmbus/dm.ts.
 */
#ifndef HV_DM_H
#define HV_DM_H

#include "vmbus.h"

/* HV_DM_GUID {525074dc-8985-46e2-8057-a307dc18a502} as guid_t bytes */
extern const uint8_t dm_class_id[16];

#define DM_RING_SIZE (4 * 4096)	/* each way */
#define DM_VERSION_WIN7  0x00003
#define DM_VERSION_WIN8  0x10000
#define DM_VERSION_WIN10 0x20000

/* Page states in a pool. */
enum { DM_PAGE_FREE, DM_PAGE_USED, DM_PAGE_BALLOONED };

/* The guest's pages the balloon takes from (free ones) and gives back to. */
struct dm_pool {
	uint8_t *base;		/* page aligned */
	uint8_t *state;		/* DM_PAGE_* per page */
	uint32_t pages, free, used, ballooned;
	uint32_t floor;		/* free pages the balloon never takes (compute_balloon_floor) */
};

struct dm {
	struct vmbus_channel ch;
	struct dm_pool *pool;
	uint32_t version;	/* negotiated; 0 before */
	uint32_t trans_id;
	/* the host's requests and our answers */
	unsigned long balloon_requests, pages_asked, pages_given, ranges_given, balloon_responses;
	unsigned long unballoon_requests, pages_returned;
	unsigned long statuses;
	uint64_t last_status;	/* time CSR of the last status report */
};

void dm_pool_init(struct dm_pool *p, void *base, uint8_t *state, uint32_t pages, uint32_t floor);
/* A free page of the pool (now used), or 0. */
void *dm_page_alloc(struct dm_pool *p);
void dm_page_free(struct dm_pool *p, void *page);

/* Opens the DM channel of `offer`, negotiates a version and reports our capabilities; 0 or < 0. */
int dm_open(struct dm *dm, const struct vmbus_offer *offer, struct dm_pool *pool);
int dm_close(struct dm *dm);
/* DM_STATUS_REPORT: the pool's free pages as available, used ones as committed. */
int dm_post_status(struct dm *dm);
/* Answers every request waiting in the channel (balloon, unballoon); posts a status report once a second. Returns how many, or < 0. */
int dm_poll(struct dm *dm);
/* Waits (WFI) for the host's signal, at most `ticks` of the time CSR. */
int dm_wait(struct dm *dm, uint64_t ticks);

#endif
