# SPDX-License-Identifier: GPL-2.0
#
# The GC core's files, listed once for every build that compiles them:
# kmod/Kbuild (gcarena.ko, and the KUnit module gcarena_test.ko, which
# compiles its own copy), tests/unit (the unit tests and fuzzer) and
# tests/bench (mark_native).  Names are relative to kmod/core/; a new
# source file of the core goes here and nowhere else.
GCA_CORE_SRCS := gca_sizeclass.c gca_pageheap.c gca_span.c gca_mark.c \
		 gca_sweep.c gca_pacer.c gca_check.c
GCA_CORE_HDRS := gca_core.h gca_env.h
