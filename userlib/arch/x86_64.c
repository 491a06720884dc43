/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * gca_enter_blocking() on x86-64 (park.c has the rest of parking).
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

#if defined(__x86_64__)
__asm__(
	"	.text\n"
	"	.globl	gca_enter_blocking\n"
	"	.type	gca_enter_blocking, @function\n"
	"	.p2align 4\n"
	"gca_enter_blocking:\n"
	"	.cfi_startproc\n"
#ifdef __CET__
	"	endbr64\n"
#endif
	/* 8 slots: rbx rbp r12 r13 r14 r15, 0, 0 (then 16-byte aligned) */
	"	pushq	$0\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	$0\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r15\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r14\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r13\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%r12\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%rbp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	pushq	%rbx\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	movq	%rsp, %rsi\n"
	"	leaq	72(%rsp), %rdx\n"	/* the caller's sp */
	"	subq	$8, %rsp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	call	__gca_enter_blocking\n"
	"	addq	$72, %rsp\n"
	"	.cfi_adjust_cfa_offset -72\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size	gca_enter_blocking, .-gca_enter_blocking\n"
);
_Static_assert(GCA_PARK_WORDS == 8, "x86-64 stub pushes 8 words");
#endif
