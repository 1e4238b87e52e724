/*
 * inet.h - just enough Ethernet, ARP, IPv4 and ICMP for two enlightened
 * guests to find and ping each other over the virtual switch
 * (guests/enlightened/vmbus-ping.c, vmbus-pong.c): frames built and parsed
 * in place, checksums as RFC 1071.
 */
#ifndef INET_H
#define INET_H

#include <stdint.h>

#define ETH_HLEN 14
#define ETH_P_ARP 0x0806
#define ETH_P_IP  0x0800
#define ARP_REQUEST 1
#define ARP_REPLY   2
#define ICMP_ECHO_REPLY   0
#define ICMP_ECHO_REQUEST 8

extern const uint8_t eth_broadcast[6];

/* An ARP frame (60 bytes, the minimum Ethernet payload padded) from `mac`/`ip`. */
uint32_t arp_frame(uint8_t *f, int op, const uint8_t mac[6], uint32_t ip, const uint8_t tmac[6], uint32_t tip);
/* An IPv4 ICMP echo (request or reply) with `len` payload bytes; returns the frame length. */
uint32_t icmp_echo_frame(uint8_t *f, int type, const uint8_t src[6], const uint8_t dst[6], uint32_t sip, uint32_t dip,
			 uint16_t id, uint16_t seq, const void *data, uint32_t len);

/* What a frame is, parsed and checked (checksums included). */
struct packet {
	int kind;		/* 0 other, 1 ARP, 2 ICMP echo */
	int op;			/* ARP op, or ICMP type */
	uint8_t src_mac[6];
	uint32_t src_ip, dst_ip;	/* ARP sender/target, or IP source/destination */
	uint16_t id, seq;
	const uint8_t *data;
	uint32_t len;
	int ttl;
};
#define PKT_OTHER 0
#define PKT_ARP 1
#define PKT_ICMP 2
void parse_frame(const uint8_t *f, uint32_t len, struct packet *p);

const char *mac_str(const uint8_t mac[6]);
const char *ip_str(uint32_t ip);
#define IPV4(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

#endif
