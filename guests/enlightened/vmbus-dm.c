/*
 * vmbus-dm - an enlightened guest with a Dynamic Memory balloon
 * (guests/slib/hv_dm.c, as Linux's hv_balloon): it opens the DM channel,
 * negotiates the protocol and reports its capabilities, allocates every
 * page of an 8 MiB pool and frees every other one (so what it can give is
 * scattered), reports its status every second, answers the host's balloon
 * request with the free pages (two responses: more than one page of
 * ranges), checks its own pages kept their bytes, answers the unballoon
 * requests, checks the pages it got back read as zeros and are usable,
 * and closes the channel.
 *
 * The host asks (test/guests/vmbus-dm.test.ts): once the guest prints
 * "waiting for balloon" it sets a balloon target, once it prints "waiting
 * for unballoon" it sets the target back to all of RAM. Everything it
 * prints is the same on every host.
 */
#include "hv_dm.h"

#define POOL_PAGES 2048
static uint8_t pool_mem[POOL_PAGES * 4096] __attribute__((aligned(4096)));
static uint8_t pool_state[POOL_PAGES];
static struct dm_pool pool;
static struct dm dm;
static int checks;

static void ok(const char *what) { printf("ok %d %s\n", ++checks, what); }

static void fail(const char *what, long r)
{
	printf("FAIL %s (%ld)\n", what, r);
	exit(1);
}

static void serve_until(int (*cond)(void), int seconds, const char *what)
{
	for (int i = 0; i <= seconds; i++) {
		int r = dm_poll(&dm);
		if (r < 0)
			fail(what, r);
		if (cond())
			return;
		dm_wait(&dm, MTIME_HZ);
	}
	fail(what, VMBUS_ETIMEDOUT);
}

static int ballooned(void) { return dm.balloon_requests > 0; }
static int all_back(void) { return dm.unballoon_requests > 0 && pool.ballooned == 0; }

/* Page i's bytes while we hold it: its index everywhere. */
static int page_holds(uint32_t i, uint64_t v)
{
	const uint64_t *w = (const uint64_t *)&pool_mem[i * 4096];
	for (int k = 0; k < 512; k++)
		if (w[k] != v)
			return 0;
	return 1;
}

static void fill(uint32_t i, uint64_t v)
{
	uint64_t *w = (uint64_t *)&pool_mem[i * 4096];
	for (int k = 0; k < 512; k++)
		w[k] = v;
}

int main(unsigned long hartid, void *dtb)
{
	uint32_t version;
	int r = vmbus_connect(&version);
	if (r)
		fail("vmbus: no connection", r);
	struct vmbus_offer offers[8];
	int n = vmbus_request_offers(offers, 8);
	printf("vmbus: %d offers\n", n);
	const struct vmbus_offer *offer = 0;
	for (int i = 0; i < n; i++)
		if (vmbus_guid_eq(offers[i].if_type, dm_class_id)) {
			char type[37];
			vmbus_guid_str(offers[i].if_type, type);
			printf("  relid %u: dynamic memory (%s)\n", offers[i].child_relid, type);
			offer = &offers[i];
		}
	if (!offer)
		fail("no dynamic memory offer", n);

	dm_pool_init(&pool, pool_mem, pool_state, POOL_PAGES, 64);
	if ((r = dm_open(&dm, offer, &pool)))
		fail("dm_open", r);
	printf("  protocol %u.%u, capabilities accepted\n", dm.version >> 16, dm.version & 0xffff);
	ok("negotiated Dynamic Memory and reported our capabilities");

	for (uint32_t i = 0; i < POOL_PAGES; i++) {
		if (!dm_page_alloc(&pool))
			fail("pool", i);
		fill(i, 0x5a00000000000000ULL | i);
	}
	for (uint32_t i = 0; i < POOL_PAGES; i += 2)
		dm_page_free(&pool, &pool_mem[i * 4096]);
	printf("  pool: %u pages, %u used, %u free\n", pool.pages, pool.used, pool.free);
	if ((r = dm_post_status(&dm)) < 0)
		fail("status", r);
	ok("allocated the pool, freed every other page, reported our status");

	printf("waiting for balloon\n");
	serve_until(ballooned, 30, "balloon");
	printf("  the host asked for %lu pages: gave %lu in %lu ranges, %lu responses\n", dm.pages_asked, dm.pages_given, dm.ranges_given,
	       dm.balloon_responses);
	ok("answered the balloon request");

	for (uint32_t i = 1; i < POOL_PAGES; i += 2)
		if (!page_holds(i, 0x5a00000000000000ULL | i))
			fail("our page lost its bytes", i);
	ok("the pages we kept kept their bytes");

	printf("waiting for unballoon\n");
	serve_until(all_back, 30, "unballoon");
	printf("  the host gave back %lu pages in %lu requests\n", dm.pages_returned, dm.unballoon_requests);
	ok("answered the unballoon requests");

	uint32_t zero = 0, reused = 0;
	for (uint32_t i = 0; i < POOL_PAGES; i += 2) {
		if (page_holds(i, 0))
			zero++;
		if (pool_state[i] == DM_PAGE_FREE) {
			dm_page_alloc(&pool);	/* the lowest free page: this one */
			fill(i, 0x6b00000000000000ULL | i);
			reused++;
		}
	}
	for (uint32_t i = 0; i < POOL_PAGES; i += 2)
		if (!page_holds(i, 0x6b00000000000000ULL | i))
			fail("a page given back does not keep what we write", i);
	printf("  %u of the pages given back read as zeros; %u written and read back\n", zero, reused);
	ok("the pages given back are ours again");

	if ((r = dm_post_status(&dm)) < 0 || (r = dm_close(&dm)))
		fail("close", r);
	ok("closed the channel");
	printf("PASSED all %d checks\n", checks);
	return 0;
}
