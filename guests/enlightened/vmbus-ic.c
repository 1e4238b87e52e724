/*
 * vmbus-ic - an enlightened guest answering the integration components
 * (guests/slib/hv_ic.c, as Linux's hv_utils): it opens the heartbeat,
 * shutdown, timesync and KVP channels, negotiates each, has its clock set
 * by timesync, answers heartbeats, fills its KVP pools for the host to
 * read and prints the keys the host pushed, then waits for the host to
 * ask for a graceful shutdown and goes down with SBI system reset (or,
 * asked to restart, reboots with it and does it all again).
 *
 * Run with hv run -bios hv --integration (test/guests/vmbus-ic.test.ts
 * pushes HostName and Purpose first, and asks for the shutdown once the
 * guest prints "waiting for shutdown"). Everything it prints is the same
 * on every host.
 */
#include "hv_ic.h"

static struct ic ics[IC_COUNT];
static struct ic *all[IC_COUNT] = { &ics[0], &ics[1], &ics[2], &ics[3] };
static int checks;

static void ok(const char *what)
{
	printf("ok %d %s\n", ++checks, what);
}

static void fail(const char *what, int r)
{
	printf("FAIL %s (%d)\n", what, r);
	exit(1);
}

/*
 * Answers requests until cond() holds; at most `seconds` of the time CSR.
 * The limit is a deadline, not a count of waits: every request wakes us
 * (a busy host sends KVP's enumeration one request per wake-up), and
 * counting wake-ups as seconds gave up after 11 of them.
 */
static void serve_until(int (*cond)(void), int seconds, const char *what)
{
	uint64_t deadline = csr_read(time) + (uint64_t)seconds * MTIME_HZ;
	for (;;) {
		for (int s = 0; s < IC_COUNT; s++) {
			int r = ic_poll(&ics[s]);
			if (r < 0)
				fail(ic_name[s], r);
		}
		if (cond())
			return;
		uint64_t now = csr_read(time);
		if (now >= deadline)
			fail(what, VMBUS_ETIMEDOUT);
		ic_wait(all, IC_COUNT, deadline - now);
	}
}

static int negotiated(void)
{
	for (int s = 0; s < IC_COUNT; s++)
		if (!ics[s].version)
			return 0;
	return 1;
}
static int synced(void) { return ics[IC_TIMESYNC].syncs > 0; }
static int three_beats(void) { return ics[IC_HEARTBEAT].heartbeat_seq >= 3; }
static int pools_read(void) { return ics[IC_KVP].enumerations_done >= 2 && ics[IC_KVP].pool_len[0] >= 2; }
static int asked_down(void) { return ics[IC_SHUTDOWN].shutdown_asked; }

static const char *ver(uint32_t v)
{
	static char s[4][8];
	static int k;
	char *t = s[k++ & 3];
	t[0] = '0' + (v >> 16);
	t[1] = '.';
	t[2] = '0' + (v & 0xffff);
	t[3] = 0;
	return t;
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
	int found = 0;
	for (int i = 0; i < n; i++) {
		char type[37];
		vmbus_guid_str(offers[i].if_type, type);
		for (int s = 0; s < IC_COUNT; s++) {
			if (!vmbus_guid_eq(offers[i].if_type, ic_class_id[s]))
				continue;
			printf("  relid %u: %s (%s)\n", offers[i].child_relid, ic_name[s], type);
			/* our pools before the host can read them (it enumerates once KVP is negotiated) */
			if (s == IC_KVP) {
				kvp_pool_set(&ics[s], 2, "FullyQualifiedDomainName", "vmbus-ic");
				kvp_pool_set(&ics[s], 2, "OSName", "hv enlightened guest");
				kvp_pool_set(&ics[s], 2, "ProcessorArchitecture", "riscv64");
				kvp_pool_set(&ics[s], 1, "GuestState", "serving");
			}
			if ((r = ic_open(&ics[s], &offers[i])))
				fail(ic_name[s], r);
			found |= 1 << s;
		}
	}
	if (found != (1 << IC_COUNT) - 1)
		fail("not all four integration components were offered", found);
	ok("opened the heartbeat, shutdown, timesync and KVP channels");

	serve_until(negotiated, 10, "negotiation");
	for (int s = 0; s < IC_COUNT; s++)
		printf("  %s: framework %s, service %s\n", ic_name[s], ver(ics[s].framework), ver(ics[s].version));
	ok("each negotiated the newest versions both sides speak");

	serve_until(synced, 10, "timesync");
	uint64_t unix = ic_unix_time(&ics[IC_TIMESYNC]);
	printf("  clock set by ICTIMESYNCFLAG_SYNC; UTC after 2024-01-01: %s\n", unix >= 1704067200 ? "yes" : "no");
	ok("timesync set the clock");

	serve_until(three_beats, 10, "heartbeat");
	ok("answered three heartbeats");

	serve_until(pools_read, 10, "kvp");
	for (int i = 0; i < ics[IC_KVP].pool_len[0]; i++)
		printf("  the host pushed %s = %s\n", ics[IC_KVP].pool[0][i].key, ics[IC_KVP].pool[0][i].value);
	ok("the host read our pools and pushed its keys");

	printf("waiting for shutdown\n");
	serve_until(asked_down, 120, "shutdown");
	printf("  the host asks to %s (flags %u)\n", ics[IC_SHUTDOWN].shutdown_flags & 2 ? "restart" : "shut down", ics[IC_SHUTDOWN].shutdown_flags);
	ok("graceful shutdown requested");
	if (ics[IC_SHUTDOWN].shutdown_flags & 2) {
		/* a restart: the next boot finds a fresh VMBus (relids, GPADLs, versions negotiated again) */
		printf("restarting\n");
		sbi_system_reset(SBI_SRST_COLD_REBOOT, SBI_SRST_REASON_NONE);
		fail("SBI system reset returned", 0);
	}
	printf("PASSED all %d checks\n", checks);
	return 0;
}
