/*
 * vmbus-ping - one of two enlightened guests on the host's virtual switch
 * (the other is vmbus-pong): brings up its synthetic NIC
 * (guests/slib/netvsc.c), finds 10.0.0.2 by ARP (asking again every 100 ms
 * until the peer's NIC is up), then sends it three ICMP echo requests and
 * checks each reply. Prints what it saw; exits 0 when all three came back.
 *
 * With `pings=N` on the command line (npm run bench -- vswitch) it sends N
 * echo requests, each after the last one's reply, and prints only their sum
 * and the ticks of the time CSR (10 MHz) they took:
 *
 *   ping: N of N answered in TICKS ticks
 *
 * Run both on one host, each with a NIC:
 *   hv run --config guests/enlightened/vmbus-net.json
 */
#include "bootarg.h"
#include "netvsc.h"
#include "inet.h"

#define MY_IP   IPV4(10, 0, 0, 1)
#define PEER_IP IPV4(10, 0, 0, 2)
#define PINGS 3

static struct netvsc nic;
static uint8_t frame[NETVSC_MAX_FRAME];

int main(unsigned long hartid, void *dtb)
{
	unsigned long pings = bootarg(dtb, "pings=", 0);
	int quiet = pings != 0;
	if (!quiet)
		pings = PINGS;
	if (netvsc_probe(&nic, 0))
		return 1;
	uint8_t peer[6];
	struct packet p;
	int found = 0;
	uint64_t arp_start = csr_read(time);
	for (int tries = 0; tries < 50 && !found; tries++) {
		uint32_t len = arp_frame(frame, ARP_REQUEST, nic.mac, MY_IP, 0, PEER_IP);
		if (netvsc_send(&nic, frame, len)) {
			printf("FAIL netvsc: ARP request not sent\n");
			return 1;
		}
		uint64_t until = csr_read(time) + MTIME_HZ / 10;
		int n;
		while (!found && csr_read(time) < until && (n = netvsc_recv(&nic, frame, sizeof frame, until - csr_read(time))) > 0) {
			parse_frame(frame, n, &p);
			if (p.kind == PKT_ARP && p.op == ARP_REPLY && p.src_ip == PEER_IP) {
				memcpy(peer, p.src_mac, 6);
				found = 1;
			}
		}
	}
	if (!found) {
		/* 50 tries 100 ms apart: the time shows each try waited only its 100 ms */
		printf("FAIL arp: no answer from %s in 50 tries, %lu ms\n", ip_str(PEER_IP),
		       (unsigned long)((csr_read(time) - arp_start) / (MTIME_HZ / 1000)));
		return 1;
	}
	printf("arp: %s is at %s\n", ip_str(PEER_IP), mac_str(peer));

	unsigned long answered = 0;
	uint64_t start = csr_read(time);
	for (unsigned long i = 1; i <= pings; i++) {
		uint16_t seq = (uint16_t)i;
		char msg[32] = "hv vswitch ping #";
		msg[17] = '0' + i % 10;
		uint32_t len = icmp_echo_frame(frame, ICMP_ECHO_REQUEST, nic.mac, peer, MY_IP, PEER_IP, 0x4876, seq, msg, 18);
		if (netvsc_send(&nic, frame, len)) {
			printf("FAIL netvsc: echo request %u not sent\n", seq);
			return 1;
		}
		int n;
		while ((n = netvsc_recv(&nic, frame, sizeof frame, MTIME_HZ)) > 0) {
			parse_frame(frame, n, &p);
			if (p.kind != PKT_ICMP || p.op != ICMP_ECHO_REPLY || p.src_ip != PEER_IP || p.id != 0x4876 || p.seq != seq)
				continue;
			int same = p.len == 18 && memcmp(p.data, msg, 18) == 0;
			if (!quiet || !same)
				printf("icmp: echo reply from %s: seq=%u ttl=%d bytes=%u%s\n", ip_str(p.src_ip), p.seq, p.ttl, p.len,
				       same ? ", data intact" : ", DATA DIFFERS");
			answered += same;
			break;
		}
		if (n <= 0)
			printf("icmp: no reply to seq=%u\n", seq);
	}
	uint64_t ticks = csr_read(time) - start;
	if (quiet)
		printf("ping: %lu of %lu answered in %lu ticks\n", answered, pings, ticks);
	else
		printf("ping: %lu of %lu answered\n", answered, pings);
	if (netvsc_close(&nic) || vmbus_unload())
		return 1;
	printf("vmbus: NIC closed, unloaded\n");
	return answered == pings ? 0 : 1;
}
