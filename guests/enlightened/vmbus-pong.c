/*
 * vmbus-pong - the answering side of vmbus-ping on the host's virtual
 * switch: brings up its synthetic NIC as 10.0.0.2, answers ARP requests for
 * it and ICMP echo requests to it (the reply carries the request's data
 * back), and stops after three echoes. Prints what it saw (the first ARP
 * request only: vmbus-ping asks again until it is answered, so how many
 * arrive depends on when this NIC came up). With `waitnic=N` and no NIC
 * offered it waits up to N seconds for one the host hot-adds. With
 * `renic=1` it answers nothing: it waits for the host to remove its NIC and
 * add another (see renic()).
 */
#include "bootarg.h"
#include "netvsc.h"
#include "inet.h"

#define MY_IP IPV4(10, 0, 0, 2)
#define ECHOES 3

static struct netvsc nic;
static uint8_t frame[NETVSC_MAX_FRAME], reply[NETVSC_MAX_FRAME];

/*
 * The host removes the NIC and adds another (hv control remove-device,
 * add-nic): the rescind ends the wait for frames, the library has closed
 * the channel and released its relid (guests/slib/vmbus.c), and the next
 * NIC is brought up; the host offers it under the released relid.
 */
static int renic(uint64_t wait)
{
	uint32_t relid = nic.ch.offer.child_relid;
	int n;
	while ((n = netvsc_recv(&nic, frame, sizeof frame, wait)) > 0)
		;
	if (n != VMBUS_ENODEV) {
		printf("FAIL renic: the NIC was not removed (%d)\n", n);
		return 1;
	}
	printf("vmbus: NIC at relid %u rescinded, closed, relid released\n", relid);
	struct vmbus_offer o;
	if (vmbus_wait_offer(netvsc_class_id, &o, wait)) {
		printf("FAIL renic: no NIC added\n");
		return 1;
	}
	printf("vmbus: NIC offered, relid %u\n", o.child_relid);
	if (netvsc_open(&nic, &o))
		return 1;
	printf("netvsc: NIC up again, MAC %s\n", mac_str(nic.mac));
	if (netvsc_close(&nic) || vmbus_unload())
		return 1;
	printf("vmbus: NIC closed, unloaded\n");
	return 0;
}

int main(unsigned long hartid, void *dtb)
{
	/* `echoes=N` (npm run bench -- vswitch): answer N, printing only their sum. */
	unsigned long want = bootarg(dtb, "echoes=", 0);
	int quiet = want != 0;
	if (!quiet)
		want = ECHOES;
	if (netvsc_probe(&nic, bootarg(dtb, "waitnic=", 0) * MTIME_HZ))
		return 1;
	if (bootarg(dtb, "renic=", 0))
		return renic(bootarg(dtb, "waitnic=", 10) * MTIME_HZ);
	unsigned long echoes = 0;
	int arps = 0, n;
	struct packet p;
	/* Ten seconds without a frame ends it: vmbus-ping never came. */
	while (echoes < want && (n = netvsc_recv(&nic, frame, sizeof frame, 10 * MTIME_HZ)) > 0) {
		parse_frame(frame, n, &p);
		if (p.kind == PKT_ARP && p.op == ARP_REQUEST && p.dst_ip == MY_IP) {
			if (!arps++)
				printf("arp: who-has %s tell %s (%s): answered\n", ip_str(p.dst_ip), ip_str(p.src_ip), mac_str(p.src_mac));
			uint32_t len = arp_frame(reply, ARP_REPLY, nic.mac, MY_IP, p.src_mac, p.src_ip);
			if (netvsc_send(&nic, reply, len))
				break;
		} else if (p.kind == PKT_ICMP && p.op == ICMP_ECHO_REQUEST && p.dst_ip == MY_IP) {
			char text[40];
			uint32_t shown = p.len < sizeof text - 1 ? p.len : sizeof text - 1;
			memcpy(text, p.data, shown);
			text[shown] = 0;
			if (!quiet)
				printf("icmp: echo request from %s: seq=%u bytes=%u \"%s\": answered\n", ip_str(p.src_ip), p.seq, p.len, text);
			uint32_t len = icmp_echo_frame(reply, ICMP_ECHO_REPLY, nic.mac, p.src_mac, MY_IP, p.src_ip, p.id, p.seq, p.data, p.len);
			if (netvsc_send(&nic, reply, len))
				break;
			echoes++;
		}
	}
	printf("pong: %lu echo requests answered\n", echoes);
	if (netvsc_close(&nic) || vmbus_unload())
		return 1;
	printf("vmbus: NIC closed, unloaded\n");
	return echoes == want ? 0 : 1;
}
