/*
 * rv64c_asm.S - functions built from explicit compressed (C extension)
 * instructions. Each is uint64_t f(uint64_t a0, uint64_t a1) and returns
 * in a0; rv64c.c calls them and checks the results.
 */
	.file	"rv64c_asm.S"	/* fixed name in the symbol table (reproducible builds) */
	.option	rvc
	.text

#define FUNC(name) .globl name; .balign 2; name:

FUNC(c_li)	c.li	a0, -32
		c.jr	ra
FUNC(c_li_pos)	c.li	a0, 31
		c.jr	ra
FUNC(c_lui_neg)	c.lui	a0, 0xfffe0		/* -32 << 12 */
		c.jr	ra
FUNC(c_lui_pos)	c.lui	a0, 0x1f
		c.jr	ra
FUNC(c_addi)	c.addi	a0, -1
		c.jr	ra
FUNC(c_addiw)	c.addiw	a0, 1
		c.jr	ra
FUNC(c_sextw)	c.addiw	a0, 0
		c.jr	ra
FUNC(c_addi16sp) c.mv	t0, sp
		c.addi16sp sp, -496
		sub	a0, t0, sp
		c.addi16sp sp, 496
		c.jr	ra
FUNC(c_addi4spn) c.addi4spn a0, sp, 1020
		sub	a0, a0, sp
		c.jr	ra
FUNC(c_slli)	c.slli	a0, 63
		c.jr	ra
FUNC(c_srli)	c.srli	a0, 60
		c.jr	ra
FUNC(c_srai)	c.srai	a0, 60
		c.jr	ra
FUNC(c_andi)	c.andi	a0, -16
		c.jr	ra
FUNC(c_mv)	c.mv	a0, a1
		c.jr	ra
FUNC(c_add)	c.add	a0, a1
		c.jr	ra
FUNC(c_sub)	c.sub	a0, a1
		c.jr	ra
FUNC(c_xor)	c.xor	a0, a1
		c.jr	ra
FUNC(c_or)	c.or	a0, a1
		c.jr	ra
FUNC(c_and)	c.and	a0, a1
		c.jr	ra
FUNC(c_addw)	c.addw	a0, a1
		c.jr	ra
FUNC(c_subw)	c.subw	a0, a1
		c.jr	ra

/* memory: a0 = pointer, a1 = value */
FUNC(c_lw)	c.lw	a0, 4(a0)
		c.jr	ra
FUNC(c_ld)	c.ld	a0, 8(a0)
		c.jr	ra
FUNC(c_sw)	c.sw	a1, 4(a0)
		c.jr	ra
FUNC(c_sd)	c.sd	a1, 8(a0)
		c.jr	ra
FUNC(c_fld)	c.fld	fa0, 16(a0)
		fmv.x.d	a0, fa0
		c.jr	ra
FUNC(c_fsd)	fmv.d.x	fa1, a1
		c.fsd	fa1, 16(a0)
		c.jr	ra
/* sp-relative: store a0 with c.sdsp/c.swsp, read back with c.ldsp/c.lwsp */
FUNC(c_sdsp_ldsp) c.addi16sp sp, -32
		c.sdsp	a0, 24(sp)
		c.ldsp	a1, 24(sp)
		c.mv	a0, a1
		c.addi16sp sp, 32
		c.jr	ra
FUNC(c_swsp_lwsp) c.addi16sp sp, -32
		c.sdsp	zero, 8(sp)
		c.swsp	a0, 12(sp)
		c.lwsp	a0, 12(sp)
		c.addi16sp sp, 32
		c.jr	ra
FUNC(c_fsdsp_fldsp) c.addi16sp sp, -32
		fmv.d.x	fa1, a0
		c.fsdsp	fa1, 16(sp)
		c.fldsp	fa2, 16(sp)
		fmv.x.d	a0, fa2
		c.addi16sp sp, 32
		c.jr	ra

/* control flow */
FUNC(c_j)	c.li	a0, 0
		c.j	1f
		c.li	a0, 1
1:		c.addi	a0, 2
		c.jr	ra
FUNC(c_j_back)	c.li	a0, 0
		c.li	a1, 5
		c.j	2f
1:		c.addi	a0, 3
		c.addi	a1, -1
2:		c.bnez	a1, 1b
		c.jr	ra
/* returns 1 if c.beqz a0 is taken */
FUNC(c_beqz)	c.beqz	a0, 1f
		c.li	a0, 0
		c.jr	ra
1:		c.li	a0, 1
		c.jr	ra
FUNC(c_bnez)	c.bnez	a0, 1f
		c.li	a0, 0
		c.jr	ra
1:		c.li	a0, 1
		c.jr	ra
/* c.jr to a label: returns 7 */
FUNC(c_jr)	lla	t0, 1f
		c.li	a0, 1
		c.jr	t0
		c.li	a0, 2
1:		c.addi	a0, 6
		c.jr	ra
/* c.jalr: returns link - address after the c.jalr (0 if link = pc + 2) */
FUNC(c_jalr)	c.mv	t1, ra
		lla	t0, 2f
		c.jalr	t0
1:		lla	t2, 1b
		sub	a0, a0, t2
		c.mv	ra, t1
		c.jr	ra
2:		c.mv	a0, ra
		c.jr	ra
/* c.mv/c.add do not touch flags of anything; c.nop does nothing */
FUNC(c_nop)	c.nop
		c.nop
		c.jr	ra

/* a 32-bit instruction at an address = 2 (mod 4), and a branch to it */
	.balign	4
FUNC(c_mixed)	c.nop
		.option	push
		.option	norvc
		addi	a0, a0, 100		/* at 2 mod 4 */
		.option	pop
		c.beqz	a1, 1f
		c.nop
1:
		.option	push
		.option	norvc
		addi	a0, a0, 20		/* 2 mod 4 again, branch target */
		.option	pop
		c.jr	ra

/* a 32-bit instruction that straddles a 4 KiB page boundary */
	.balign	4096
	.skip	4096 - 8
FUNC(c_straddle) c.nop				/* page offset 0xff8 */
		c.nop				/* 0xffa */
		c.nop				/* 0xffc */
		.option	push
		.option	norvc
		addi	a0, a0, 7		/* 0xffe .. 0x1001 */
		.option	pop
		c.jr	ra
