/* inet.c - Ethernet, ARP, IPv4 and ICMP echo, in place (see inet.h). */
#include "inet.h"
#include "sbi.h"

const uint8_t eth_broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* RFC 1071: the ones' complement of the ones' complement sum. */
static uint16_t checksum(const uint8_t *p, uint32_t len)
{
	uint32_t sum = 0;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

uint32_t arp_frame(uint8_t *f, int op, const uint8_t mac[6], uint32_t ip, const uint8_t tmac[6], uint32_t tip)
{
	static const uint8_t zero[6];
	memset(f, 0, 60);
	eth(f, op == ARP_REQUEST ? eth_broadcast : tmac, mac, ETH_P_ARP);
	uint8_t *a = f + ETH_HLEN;
	put16(a, 1);		/* hardware: Ethernet */
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, mac, 6);
	put32(a + 14, ip);
	memcpy(a + 18, op == ARP_REQUEST ? zero : tmac, 6);
	put32(a + 24, tip);
	return 60;
}

uint32_t icmp_echo_frame(uint8_t *f, int type, const uint8_t src[6], const uint8_t dst[6], uint32_t sip, uint32_t dip,
			 uint16_t id, uint16_t seq, const void *data, uint32_t len)
{
	eth(f, dst, src, ETH_P_IP);
	uint8_t *ip = f + ETH_HLEN, *icmp = ip + 20;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 20 + 8 + len);
	ip[8] = 64;		/* ttl */
	ip[9] = 1;		/* ICMP */
	put32(ip + 12, sip);
	put32(ip + 16, dip);
	put16(ip + 10, checksum(ip, 20));
	icmp[0] = type;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, id);
	put16(icmp + 6, seq);
	memcpy(icmp + 8, data, len);
	put16(icmp + 2, checksum(icmp, 8 + len));
	return ETH_HLEN + 20 + 8 + len;
}

void parse_frame(const uint8_t *f, uint32_t len, struct packet *p)
{
	memset(p, 0, sizeof *p);
	if (len < ETH_HLEN)
		return;
	memcpy(p->src_mac, f + 6, 6);
	const uint8_t *b = f + ETH_HLEN;
	uint32_t n = len - ETH_HLEN;
	if (get16(f + 12) == ETH_P_ARP && n >= 28 && get16(b) == 1 && get16(b + 2) == ETH_P_IP && b[4] == 6 && b[5] == 4) {
		p->kind = PKT_ARP;
		p->op = get16(b + 6);
		p->src_ip = get32(b + 14);
		p->dst_ip = get32(b + 24);
		return;
	}
	if (get16(f + 12) != ETH_P_IP || n < 20 || b[0] != 0x45 || b[9] != 1 || checksum(b, 20))
		return;
	uint32_t total = get16(b + 2);
	if (total < 28 || total > n || checksum(b + 20, total - 20))
		return;
	const uint8_t *icmp = b + 20;
	if (icmp[0] != ICMP_ECHO_REQUEST && icmp[0] != ICMP_ECHO_REPLY)
		return;
	p->kind = PKT_ICMP;
	p->op = icmp[0];
	p->src_ip = get32(b + 12);
	p->dst_ip = get32(b + 16);
	p->ttl = b[8];
	p->id = get16(icmp + 4);
	p->seq = get16(icmp + 6);
	p->data = icmp + 8;
	p->len = total - 28;
}

const char *mac_str(const uint8_t m[6])
{
	static char s[2][18];
	static int k;
	static const char hex[] = "0123456789abcdef";
	char *t = s[k++ & 1];
	for (int i = 0; i < 6; i++) {
		t[3 * i] = hex[m[i] >> 4];
		t[3 * i + 1] = hex[m[i] & 15];
		t[3 * i + 2] = i == 5 ? 0 : ':';
	}
	return t;
}

const char *ip_str(uint32_t ip)
{
	static char s[2][16];
	static int k;
	char *t = s[k++ & 1];
	int n = 0;
	for (int i = 3; i >= 0; i--) {
		unsigned b = ip >> (8 * i) & 0xff;
		if (b >= 100)
			t[n++] = '0' + b / 100;
		if (b >= 10)
			t[n++] = '0' + b / 10 % 10;
		t[n++] = '0' + b % 10;
		t[n++] = i ? '.' : 0;
	}
	return t;
}
