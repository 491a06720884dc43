/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * gca_enter_blocking() on arm64 (park.c has the rest of parking).
 *
 * The entry stub: push the callee-saved registers as the caller left
 * them (the C function's own prologue may already have reused some),
 * then call __gca_enter_blocking(arena, regs, caller's sp).
 *
 * Top-level assembly in a C file, so that the number of words it saves
 * is checked against GCA_PARK_WORDS (gca_int.h).  The Makefile builds
 * every file of arch/; each is empty except on its own architecture.
 */
#include "gca_int.h"

#if defined(__aarch64__)
__asm__(
	"	.text\n"
	"	.globl	gca_enter_blocking\n"
	"	.type	gca_enter_blocking, %function\n"
	"	.p2align 2\n"
	"gca_enter_blocking:\n"
	"	.cfi_startproc\n"
#ifdef __ARM_FEATURE_BTI_DEFAULT
	"	bti	c\n"
#endif
	/* 16 slots: x29 x30 x19..x28, 0 x4; x30 is no pointer: harmless */
	"	stp	x29, x30, [sp, #-128]!\n"
	"	.cfi_def_cfa_offset 128\n"
	"	.cfi_offset x29, -128\n"
	"	.cfi_offset x30, -120\n"
	"	mov	x29, sp\n"
	"	stp	x19, x20, [sp, #16]\n"
	"	stp	x21, x22, [sp, #32]\n"
	"	stp	x23, x24, [sp, #48]\n"
	"	stp	x25, x26, [sp, #64]\n"
	"	stp	x27, x28, [sp, #80]\n"
	"	stp	xzr, xzr, [sp, #96]\n"
	"	stp	xzr, xzr, [sp, #112]\n"
	"	mov	x1, sp\n"
	"	add	x2, sp, #128\n"		/* the caller's sp */
	"	bl	__gca_enter_blocking\n"
	"	ldp	x29, x30, [sp], #128\n"
	"	.cfi_def_cfa_offset 0\n"
	"	.cfi_restore x29\n"
	"	.cfi_restore x30\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size	gca_enter_blocking, .-gca_enter_blocking\n"
);
_Static_assert(GCA_PARK_WORDS == 16, "arm64 stub stores 16 words");
#endif
