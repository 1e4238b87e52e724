/*
 * rv64c - C extension: the compressed instructions of RV64C (the
 * functions are in rv64c_asm.S, assembled with .option rvc), including
 * sp-relative and FP loads/stores, branches and jumps, link value of
 * c.jalr (pc + 2), 32-bit instructions at 2-byte-aligned addresses and
 * one straddling a page boundary.
 */
#include "guest.h"

typedef uint64_t fn_t(uint64_t, uint64_t);
extern fn_t c_li, c_li_pos, c_lui_neg, c_lui_pos, c_addi, c_addiw, c_sextw,
	c_addi16sp, c_addi4spn, c_slli, c_srli, c_srai, c_andi, c_mv, c_add,
	c_sub, c_xor, c_or, c_and, c_addw, c_subw, c_lw, c_ld, c_sw, c_sd,
	c_fld, c_fsd, c_sdsp_ldsp, c_swsp_lwsp, c_fsdsp_fldsp, c_j, c_j_back,
	c_beqz, c_bnez, c_jr, c_jalr, c_nop, c_mixed, c_straddle;

static uint64_t buf[4] __attribute__((aligned(16)));

int main(unsigned long hartid, void *dtb)
{
	printf("# rv64c\n");
	check("c.li", c_li(0, 0), 0xffffffffffffffe0UL);
	check("c.li pos", c_li_pos(0, 0), 31);
	check("c.lui neg", c_lui_neg(0, 0), 0xfffffffffffe0000UL);
	check("c.lui pos", c_lui_pos(0, 0), 0x1f000);
	check("c.addi", c_addi(0, 0), 0xffffffffffffffffUL);
	check("c.addiw sext", c_addiw(0x7fffffff, 0), 0xffffffff80000000UL);
	check("c.addiw upper", c_addiw(0x12345678ffffffffUL, 0), 0);
	check("c.addiw 0 (sext.w)", c_sextw(0x00000000fedcba98UL, 0), 0xfffffffffedcba98UL);
	check("c.addi16sp", c_addi16sp(0, 0), 496);
	check("c.addi4spn", c_addi4spn(0, 0), 1020);
	check("c.slli", c_slli(3, 0), 0x8000000000000000UL);
	check("c.srli", c_srli(0xf000000000000000UL, 0), 0xf);
	check("c.srai", c_srai(0x8000000000000000UL, 0), 0xfffffffffffffff8UL);
	check("c.andi", c_andi(0x1234567fUL, 0), 0x12345670);
	check("c.mv", c_mv(1, 0xdeadbeefcafeUL), 0xdeadbeefcafeUL);
	check("c.add", c_add(0xfffffffffffffff0UL, 0x20), 0x10);
	check("c.sub", c_sub(5, 7), 0xfffffffffffffffeUL);
	check("c.xor", c_xor(0xff00ff, 0x0ff0f0), 0xf0f00f);
	check("c.or", c_or(0xf000000000000000UL, 0xf), 0xf00000000000000fUL);
	check("c.and", c_and(0xff00ff, 0x0ff0f0), 0x0f00f0);
	check("c.addw", c_addw(0x7fffffff, 1), 0xffffffff80000000UL);
	check("c.subw", c_subw(0, 0x100000001UL), 0xffffffffffffffffUL);

	buf[0] = 0x8000000011111111UL;
	buf[1] = 0x0123456789abcdefUL;
	buf[2] = 0x400921fb54442d18UL; /* pi */
	check("c.lw sext", c_lw((uint64_t)buf, 0), 0xffffffff80000000UL);
	check("c.ld", c_ld((uint64_t)buf, 0), 0x0123456789abcdefUL);
	c_sw((uint64_t)buf, 0xaaaaaaaa55555555UL);
	check("c.sw", buf[0], 0x5555555511111111UL);
	c_sd((uint64_t)buf, 0xfedcba9876543210UL);
	check("c.sd", buf[1], 0xfedcba9876543210UL);
	check("c.fld", c_fld((uint64_t)buf, 0), 0x400921fb54442d18UL);
	c_fsd((uint64_t)buf, 0xbff0000000000000UL);
	check("c.fsd", buf[2], 0xbff0000000000000UL);
	check("c.sdsp/c.ldsp", c_sdsp_ldsp(0x1122334455667788UL, 0), 0x1122334455667788UL);
	check("c.swsp/c.lwsp sext", c_swsp_lwsp(0x00000000deadbeefUL, 0), 0xffffffffdeadbeefUL);
	check("c.fsdsp/c.fldsp", c_fsdsp_fldsp(0x3ff8000000000000UL, 0), 0x3ff8000000000000UL);

	check("c.j", c_j(0, 0), 2);
	check("c.j back + c.bnez loop", c_j_back(0, 0), 15);
	check("c.beqz taken", c_beqz(0, 0), 1);
	check("c.beqz not taken", c_beqz(5, 0), 0);
	check("c.bnez taken", c_bnez(0x8000000000000000UL, 0), 1);
	check("c.bnez not taken", c_bnez(0, 0), 0);
	check("c.jr", c_jr(0, 0), 7);
	check("c.jalr link = pc+2", c_jalr(0, 0), 0);
	check("c.nop", c_nop(42, 0), 42);
	check("32-bit insn at 2 mod 4", c_mixed(0, 1), 120);
	check("branch to 2 mod 4", c_mixed(0, 0), 120);
	check("32-bit insn across page", c_straddle(1, 0), 8);
	return check_summary();
}
