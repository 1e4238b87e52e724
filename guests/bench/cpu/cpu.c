/*
 * cpu - CPU-bound benchmark guest (M-mode, no MMU, no interrupts).
 *
 * A fixed mix of small kernels written for this project (CoreMark-like in
 * spirit, not CoreMark): linked-list walk, integer and double matrix
 * multiply, CRC32, a character-class state machine, a sieve, quicksort, and
 * a mul/div kernel (gcd, modular exponentiation). Every input comes from a
 * fixed LCG seed, so the instruction count and the output are the same on
 * every run and every emulator. Each kernel prints a result line; the last
 * line is a combined checksum. See guests/README.md for the instruction count.
 */
#include "guest.h"

#ifndef SCALE
#define SCALE 1			/* repeat the whole kernel mix SCALE times */
#endif

static uint64_t lcg_state;

static void seed(uint64_t s) { lcg_state = s; }

static uint32_t rnd(void)
{
	lcg_state = lcg_state * 6364136223846793005UL + 1442695040888963407UL;
	return (uint32_t)(lcg_state >> 33);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15UL + (h << 6) + (h >> 2);
	return h;
}

/* ---- linked list ---------------------------------------------------------- */
#define LIST_N 2000
struct node {
	struct node *next;
	uint32_t key;
	int32_t val;
};
static struct node nodes[LIST_N];
static uint32_t perm[LIST_N];

static uint64_t k_list(int rounds)
{
	uint64_t sum = 0;
	for (int r = 0; r < rounds; r++) {
		/* build the list in a random order */
		for (int i = 0; i < LIST_N; i++)
			perm[i] = i;
		for (int i = LIST_N - 1; i > 0; i--) {
			uint32_t j = rnd() % (i + 1), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		struct node *head = 0;
		for (int i = 0; i < LIST_N; i++) {
			struct node *n = &nodes[perm[i]];
			n->key = perm[i];
			n->val = (int32_t)(rnd() & 0xffff) - 0x8000;
			n->next = head;
			head = n;
		}
		/* walk: find keys, sum values */
		for (int q = 0; q < 40; q++) {
			uint32_t want = rnd() % LIST_N;
			int pos = 0;
			for (struct node *n = head; n; n = n->next, pos++)
				if (n->key == want) {
					sum += pos + (uint32_t)n->val;
					break;
				}
		}
		/* reverse in place, then remove every node with a negative value */
		struct node *prev = 0, *cur = head;
		while (cur) {
			struct node *nx = cur->next;
			cur->next = prev;
			prev = cur;
			cur = nx;
		}
		head = prev;
		struct node **pp = &head;
		while (*pp) {
			if ((*pp)->val < 0)
				*pp = (*pp)->next;
			else
				pp = &(*pp)->next;
		}
		uint64_t s = 0;
		for (struct node *n = head; n; n = n->next)
			s = s * 31 + n->key + n->val;
		sum = mix(sum, s);
	}
	return sum;
}

/* ---- integer matrix multiply ------------------------------------------------ */
#define MI 40
static int32_t ma[MI][MI], mb[MI][MI], mc[MI][MI];

static uint64_t k_matmul_int(int rounds)
{
	uint64_t sum = 0;
	for (int i = 0; i < MI; i++)
		for (int j = 0; j < MI; j++) {
			ma[i][j] = (int32_t)(rnd() % 2001) - 1000;
			mb[i][j] = (int32_t)(rnd() % 2001) - 1000;
		}
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < MI; i++)
			for (int j = 0; j < MI; j++) {
				int32_t acc = 0;
				for (int k = 0; k < MI; k++)
					acc += ma[i][k] * mb[k][j];
				mc[i][j] = acc;
			}
		for (int i = 0; i < MI; i++)
			for (int j = 0; j < MI; j++)
				sum = sum * 7 + (uint32_t)mc[i][j];
		ma[r % MI][(r * 7) % MI] += 1;	/* make each round different */
	}
	return sum;
}

/* ---- double matrix multiply ------------------------------------------------- */
#define MD 24
static double da[MD][MD], db[MD][MD], dc[MD][MD];

static uint64_t k_matmul_double(int rounds)
{
	uint64_t sum = 0;
	for (int i = 0; i < MD; i++)
		for (int j = 0; j < MD; j++) {
			da[i][j] = (double)((int32_t)(rnd() % 20001) - 10000) / 1024.0;
			db[i][j] = (double)((int32_t)(rnd() % 20001) - 10000) / 3000.0;
		}
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < MD; i++)
			for (int j = 0; j < MD; j++) {
				double acc = 0.0;
				for (int k = 0; k < MD; k++)
					acc += da[i][k] * db[k][j];
				dc[i][j] = acc;
			}
		/* feed back a scaled result so values stay bounded but change */
		for (int i = 0; i < MD; i++)
			for (int j = 0; j < MD; j++) {
				double v = dc[i][j];
				da[i][j] = v / (1.0 + (v < 0 ? -v : v)) * 8.0;
			}
		double tr = 0.0;
		for (int i = 0; i < MD; i++)
			tr += dc[i][i];
		union { double d; uint64_t u; } u = { tr };
		sum = mix(sum, u.u);
	}
	return sum;
}

/* ---- CRC32 ------------------------------------------------------------------ */
#define CRC_BUF 4096
static uint8_t crc_buf[CRC_BUF];
static uint32_t crc_table[256];

static uint32_t crc32_bitwise(const uint8_t *p, int n, uint32_t crc)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

static uint32_t crc32_table(const uint8_t *p, int n, uint32_t crc)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static uint64_t k_crc(int rounds)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
		crc_table[i] = c;
	}
	for (int i = 0; i < CRC_BUF; i++)
		crc_buf[i] = (uint8_t)rnd();
	uint32_t a = 0, b = 0;
	for (int r = 0; r < rounds; r++) {
		a = crc32_table(crc_buf, CRC_BUF, a);
		crc_buf[r % CRC_BUF] ^= (uint8_t)a;
		if ((r & 7) == 0)
			b = crc32_bitwise(crc_buf, 1024, b);
	}
	if (crc32_table((const uint8_t *)"123456789", 9, 0) != 0xcbf43926u ||
	    crc32_bitwise((const uint8_t *)"123456789", 9, 0) != 0xcbf43926u)
		return 0;	/* wrong CRC implementation: checksum will differ */
	return ((uint64_t)a << 32) | b;
}

/* ---- state machine ------------------------------------------------------------ */
#define SM_BUF 8192
static char sm_buf[SM_BUF];

enum { S_START, S_INT, S_FRAC, S_EXP, S_EXPSIGN, S_EXPNUM, S_WORD, S_SPACE, S_PUNCT, S_N };

static uint64_t k_state(int rounds)
{
	static const char alphabet[] = "0123456789.eE+- abcdxyz,;\n";
	for (int i = 0; i < SM_BUF; i++)
		sm_buf[i] = alphabet[rnd() % (sizeof(alphabet) - 1)];
	uint64_t sum = 0;
	for (int r = 0; r < rounds; r++) {
		uint32_t count[S_N] = { 0 }, numbers = 0, words = 0, errors = 0;
		int s = S_START;
		for (int i = 0; i < SM_BUF; i++) {
			char c = sm_buf[(i + r * 13) & (SM_BUF - 1)];
			int digit = c >= '0' && c <= '9';
			int alpha = c >= 'a' && c <= 'z';
			int space = c == ' ' || c == '\n';
			switch (s) {
			case S_START:
			case S_SPACE:
			case S_PUNCT:
				s = digit ? S_INT : alpha ? S_WORD : space ? S_SPACE : S_PUNCT;
				break;
			case S_INT:
				if (digit) s = S_INT;
				else if (c == '.') s = S_FRAC;
				else if (c == 'e' || c == 'E') s = S_EXP;
				else { numbers++; s = space ? S_SPACE : alpha ? S_WORD : S_PUNCT; }
				break;
			case S_FRAC:
				if (digit) s = S_FRAC;
				else if (c == 'e' || c == 'E') s = S_EXP;
				else { numbers++; s = space ? S_SPACE : S_PUNCT; }
				break;
			case S_EXP:
				if (c == '+' || c == '-') s = S_EXPSIGN;
				else if (digit) s = S_EXPNUM;
				else { errors++; s = S_PUNCT; }
				break;
			case S_EXPSIGN:
				if (digit) s = S_EXPNUM;
				else { errors++; s = S_PUNCT; }
				break;
			case S_EXPNUM:
				if (!digit) { numbers++; s = space ? S_SPACE : S_PUNCT; }
				break;
			case S_WORD:
				if (!alpha && !digit) { words++; s = space ? S_SPACE : S_PUNCT; }
				break;
			}
			count[s]++;
		}
		uint64_t h = numbers | ((uint64_t)words << 20) | ((uint64_t)errors << 40);
		for (int k = 0; k < S_N; k++)
			h = mix(h, count[k]);
		sum = mix(sum, h);
	}
	return sum;
}

/* ---- sieve -------------------------------------------------------------------- */
#define SIEVE_N 65536
static uint8_t sieve[SIEVE_N];

static uint64_t k_sieve(int rounds)
{
	uint64_t sum = 0;
	for (int r = 0; r < rounds; r++) {
		int n = SIEVE_N - (r * 1000) % 8192;
		memset(sieve, 1, n);
		sieve[0] = sieve[1] = 0;
		for (int i = 2; i * i < n; i++)
			if (sieve[i])
				for (int j = i * i; j < n; j += i)
					sieve[j] = 0;
		uint32_t count = 0, last = 0;
		for (int i = 0; i < n; i++)
			if (sieve[i]) {
				count++;
				last = i;
			}
		sum = mix(sum, ((uint64_t)count << 32) | last);
	}
	return sum;
}

/* ---- quicksort ---------------------------------------------------------------- */
#define QS_N 6000
static int32_t qs[QS_N];

static void quicksort(int32_t *a, int lo, int hi)
{
	while (lo < hi) {
		int32_t pivot = a[lo + (hi - lo) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (a[i] < pivot) i++;
			while (a[j] > pivot) j--;
			if (i <= j) {
				int32_t t = a[i];
				a[i] = a[j];
				a[j] = t;
				i++;
				j--;
			}
		}
		/* recurse into the smaller half, loop on the larger */
		if (j - lo < hi - i) {
			quicksort(a, lo, j);
			lo = i;
		} else {
			quicksort(a, i, hi);
			hi = j;
		}
	}
}

static uint64_t k_qsort(int rounds)
{
	uint64_t sum = 0;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < QS_N; i++)
			qs[i] = (int32_t)rnd() - (int32_t)0x40000000;
		quicksort(qs, 0, QS_N - 1);
		uint32_t sorted = 1;
		for (int i = 1; i < QS_N; i++)
			sorted &= qs[i - 1] <= qs[i];
		sum = mix(sum, ((uint64_t)sorted << 63) ^ (uint32_t)qs[QS_N / 2] ^
			       ((uint64_t)(uint32_t)qs[0] << 32));
	}
	return sum;
}

/* ---- mul/div ------------------------------------------------------------------ */
static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
	return (uint64_t)(((unsigned __int128)a * b) % m);
}

static uint64_t powmod(uint64_t b, uint64_t e, uint64_t m)
{
	uint64_t r = 1 % m;
	b %= m;
	while (e) {
		if (e & 1)
			r = mulmod(r, b, m);
		b = mulmod(b, b, m);
		e >>= 1;
	}
	return r;
}

static uint64_t k_muldiv(int rounds)
{
	uint64_t sum = 0;
	for (int r = 0; r < rounds; r++) {
		uint64_t a = ((uint64_t)rnd() << 32) | rnd(), b = ((uint64_t)rnd() << 32) | rnd();
		sum = mix(sum, gcd(a, b | 1));
		int64_t sa = (int64_t)a, sb = (int64_t)(b >> 20) | 1;
		sum = mix(sum, (uint64_t)(sa / sb) ^ (uint64_t)(sa % sb));
		sum = mix(sum, (uint32_t)((int32_t)a / (int32_t)(b | 1)));
		uint32_t m32 = (rnd() | 1) & 0x7fffffff;
		uint64_t m = 0xffffffffffffffc5UL - (r & 0xff);	/* near 2^64 */
		sum = mix(sum, powmod(a, b, m) ^ ((uint64_t)(a % m32) << 1));
	}
	return sum;
}

/* ------------------------------------------------------------------------------ */
struct kernel {
	const char *name;
	uint64_t (*fn)(int);
	int rounds;
};

static const struct kernel kernels[] = {
	{ "list",       k_list,          130 },
	{ "matmul-int", k_matmul_int,    90 },
	{ "matmul-dbl", k_matmul_double, 450 },
	{ "crc32",      k_crc,           1000 },
	{ "state",      k_state,         220 },
	{ "sieve",      k_sieve,         60 },
	{ "qsort",      k_qsort,         70 },
	{ "muldiv",     k_muldiv,        9000 },
};

int main(unsigned long hartid, void *dtb)
{
	uint64_t total = 0;
	printf("bench cpu\n");
	for (int s = 0; s < SCALE; s++) {
		for (unsigned k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
			seed(0x5eed0000UL + k);
#ifdef REPORT_KERNEL_INSTRET
			uint64_t i0 = csr_read(minstret);
#endif
			uint64_t r = kernels[k].fn(kernels[k].rounds);
			if (s == 0)
				printf("%-10s 0x%016lx\n", kernels[k].name, r);
#ifdef REPORT_KERNEL_INSTRET
			printf("  instret %lu\n", csr_read(minstret) - i0);
#endif
			total = mix(total, r);
		}
	}
	printf("checksum   0x%016lx\n", total);
#ifdef REPORT_INSTRET
	/* Only for measuring (see README); never in the committed ELF, whose
	 * output must not depend on the emulator. */
	printf("minstret %lu\n", csr_read(minstret));
#endif
	return 0;
}
