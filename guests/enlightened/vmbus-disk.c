/*
 * vmbus-disk - an enlightened guest on its synthetic disk: VMBus from
 * contact to unload (guests/slib/vmbus.c), the storvsc protocol
 * (guests/slib/storvsc.c), and SCSI commands through it: INQUIRY, TEST
 * UNIT READY, READ CAPACITY(16), READ(10), WRITE(10)/(16) of buffers that
 * start mid-page and span pages, SYNCHRONIZE CACHE, reads back, and two
 * commands the disk must refuse with sense data.
 *
 * Run with a disk on VMBus: hv run -bios hv -drive file=IMG,if=vmbus
 * guests/bin/enlightened/vmbus-disk.elf (test/guests/vmbus.test.ts makes a
 * 1 MiB image whose sector 0 starts with a line of text). It writes the
 * disk's last 64 KiB. Everything it prints is the same on every host.
 */
#include "storvsc.h"

static const char *version_name(uint32_t v)
{
	static char s[16];
	int n = 0;
	unsigned major = v >> 16, minor = v & 0xffff;
	if (major >= 10)
		s[n++] = '0' + major / 10;
	s[n++] = '0' + major % 10;
	s[n++] = '.';
	s[n++] = '0' + minor;
	s[n] = 0;
	return s;
}

static uint8_t buf[80 * 1024] __attribute__((aligned(4096)));
static uint8_t back[80 * 1024] __attribute__((aligned(4096)));

static int srb(struct storvsc *s, const uint8_t *cdb, int n, void *data, uint32_t len, int dir, struct srb_result *r)
{
	int e = storvsc_srb(s, cdb, n, data, len, dir, r);
	if (e) {
		printf("FAIL srb 0x%x: error %d\n", cdb[0], e);
		exit(2);
	}
	return r->srb_status == SRB_STATUS_SUCCESS && r->scsi_status == 0;
}

/* printf has no precision: n bytes of text as a string. */
static const char *text(const uint8_t *p, int n)
{
	static char s[4][72];
	static int k;
	char *t = s[k++ & 3];
	int i = 0;
	for (; i < n && i < 71 && p[i] >= 0x20 && p[i] < 0x7f; i++)
		t[i] = p[i];
	t[i] = 0;
	return t;
}

static void put_be32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }
static void put_be64(uint8_t *p, uint64_t v) { put_be32(p, v >> 32); put_be32(p + 4, (uint32_t)v); }
static uint64_t be64(const uint8_t *p) { uint64_t v = 0; for (int i = 0; i < 8; i++) v = v << 8 | p[i]; return v; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static void rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = op;
	put_be32(&cdb[2], lba);
	cdb[7] = blocks >> 8;
	cdb[8] = blocks;
}

static void rw16(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	put_be64(&cdb[2], lba);
	put_be32(&cdb[10], blocks);
}

static void pattern(uint8_t *p, uint32_t n, uint32_t seed)
{
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = seed >> 16;
	}
}

int main(unsigned long hartid, void *dtb)
{
	uint32_t version;
	int r = vmbus_connect(&version);
	if (r) {
		printf("FAIL vmbus: no connection (%d)\n", r);
		return 1;
	}
	printf("vmbus: connected, protocol %s\n", version_name(version));

	struct vmbus_offer offers[8];
	int n = vmbus_request_offers(offers, 8), disk = -1;
	printf("vmbus: %d offer%s\n", n, n == 1 ? "" : "s");
	for (int i = 0; i < n; i++) {
		char type[37], inst[37];
		vmbus_guid_str(offers[i].if_type, type);
		vmbus_guid_str(offers[i].if_instance, inst);
		int is_disk = vmbus_guid_eq(offers[i].if_type, storvsc_class_id);
		printf("  relid %u: class %s%s instance %s\n", offers[i].child_relid, type, is_disk ? " (SCSI)" : "", inst);
		if (is_disk && disk < 0)
			disk = i;
	}
	if (disk < 0) {
		printf("FAIL no synthetic disk offered\n");
		return 1;
	}

	static struct storvsc s;
	if ((r = storvsc_open(&s, &offers[disk]))) {
		printf("FAIL storvsc: open (%d)\n", r);
		return 1;
	}
	printf("storvsc: protocol %d.%d, max transfer %u bytes\n", s.version >> 8, s.version & 0xff, s.max_transfer_bytes);

	struct srb_result res;
	uint8_t cdb[16];
	memset(cdb, 0, 6);
	cdb[0] = 0x12;	/* INQUIRY */
	cdb[4] = 36;
	check("inquiry", srb(&s, cdb, 6, buf, 36, SRB_DATA_READ, &res) && res.transferred == 36, 1);
	printf("  \"%s\" \"%s\" \"%s\", peripheral type %u\n", text(&buf[8], 8), text(&buf[16], 16), text(&buf[32], 4), buf[0] & 0x1f);

	memset(cdb, 0, 6);	/* TEST UNIT READY */
	check("test unit ready", srb(&s, cdb, 6, 0, 0, SRB_DATA_NONE, &res), 1);

	memset(cdb, 0, 16);
	cdb[0] = 0x9e;	/* SERVICE ACTION IN(16) */
	cdb[1] = 0x10;	/* READ CAPACITY(16) */
	put_be32(&cdb[10], 32);
	check("read capacity(16)", srb(&s, cdb, 16, buf, 32, SRB_DATA_READ, &res), 1);
	uint64_t blocks = be64(buf) + 1;
	uint32_t bsize = be32(&buf[8]);
	printf("  %lu blocks of %u bytes (%lu KiB)\n", (unsigned long)blocks, bsize, (unsigned long)(blocks * bsize / 1024));

	rw10(cdb, 0x28, 0, 1);	/* READ(10) of sector 0 */
	check("read(10) sector 0", srb(&s, cdb, 10, buf, 512, SRB_DATA_READ, &res) && res.transferred == 512, 1);
	printf("  sector 0: \"%s\"\n", text(buf, 64));

	/* 64 KiB at the end of the disk, from a buffer that starts mid-page (17 pages) */
	uint32_t bytes = 64 * 1024, nblk = bytes / 512;
	uint64_t lba = blocks - nblk;
	uint8_t *out = buf + 0x234 * 2;
	pattern(out, bytes, 42);
	rw16(cdb, 0x8a, lba, nblk);	/* WRITE(16) */
	check("write(16) 64 KiB at the end, buffer mid-page", srb(&s, cdb, 16, out, bytes, SRB_DATA_WRITE, &res) && res.transferred == bytes, 1);
	memset(cdb, 0, 10);
	cdb[0] = 0x35;	/* SYNCHRONIZE CACHE(10) */
	check("synchronize cache", srb(&s, cdb, 10, 0, 0, SRB_DATA_NONE, &res), 1);
	uint8_t *in = back + 8;
	memset(in, 0, bytes);
	rw10(cdb, 0x28, (uint32_t)lba, nblk);
	check("read(10) it back", srb(&s, cdb, 10, in, bytes, SRB_DATA_READ, &res) && res.transferred == bytes, 1);
	check("the data read back is the data written", memcmp(in, out, bytes) == 0, 1);

	/* a write of 3 sectors over the middle of what was written, then the whole range again */
	static uint8_t three[1536];
	pattern(three, sizeof three, 7);
	rw10(cdb, 0x2a, (uint32_t)lba + 10, 3);	/* WRITE(10) */
	check("write(10) 3 sectors", srb(&s, cdb, 10, three, sizeof three, SRB_DATA_WRITE, &res), 1);
	memcpy(out + 10 * 512, three, sizeof three);
	rw16(cdb, 0x88, lba, nblk);	/* READ(16) */
	check("read(16) sees both writes", srb(&s, cdb, 16, in, bytes, SRB_DATA_READ, &res) && memcmp(in, out, bytes) == 0, 1);

	/* what the disk refuses: CHECK CONDITION with ILLEGAL REQUEST sense */
	rw10(cdb, 0x28, (uint32_t)blocks, 1);
	int refused = !srb(&s, cdb, 10, buf, 512, SRB_DATA_READ, &res);
	printf("  read past the end: scsi status 0x%x, sense key 0x%x asc 0x%x\n", res.scsi_status, res.sense[2] & 15, res.sense[12]);
	check("read past the end is refused", refused && res.scsi_status == 2 && (res.sense[2] & 15) == 5 && res.sense[12] == 0x21, 1);
	memset(cdb, 0, 6);
	cdb[0] = 0xff;
	refused = !srb(&s, cdb, 6, 0, 0, SRB_DATA_NONE, &res);
	check("an unknown command is refused", refused && (res.sense[2] & 15) == 5 && res.sense[12] == 0x20, 1);

	/* the rings' signal rules: at most one signal each way per request (4 of them initialised the channel) */
	unsigned long requests = s.next_id + 4;
	check("at most one signal each way per request", s.ch.signals_sent <= requests && s.ch.signals_taken <= requests, 1);

	check("close the channel and tear down its GPADL", storvsc_close(&s) == 0, 1);
	check("unload", vmbus_unload() == 0, 1);
	return check_summary();
}
