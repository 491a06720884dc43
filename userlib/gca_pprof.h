/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * libgcarena internals of the heap profile's writer, shared by its three
 * files only: protobuf.c (the protobuf wire encoding), symbolize.c (the
 * process's executable mappings and their ELF function symbols) and
 * pprof.c (profile.proto itself, gca_write_heap_profile()'s output).
 */
#ifndef _LIBGCARENA_PPROF_H
#define _LIBGCARENA_PPROF_H

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gca_int.h"

/* protobuf.c: a message being encoded; err is sticky (-ENOMEM) */
struct pb {
	uint8_t *p;
	size_t len, cap;
	int err;
};

void __gca_pb_varint(struct pb *b, uint64_t v) __hidden;
void __gca_pb_u64(struct pb *b, unsigned int field, uint64_t v) __hidden;
void __gca_pb_bytes(struct pb *b, unsigned int field, const void *data,
		    size_t len) __hidden;
/* m as field of b; m is emptied for the next message */
void __gca_pb_msg(struct pb *b, unsigned int field, struct pb *m) __hidden;

/* symbolize.c */

struct sym {
	uint64_t value, size;
	const char *name;		/* into the file's string table */
};

struct elfsyms {
	bool loaded;
	struct sym *syms;
	size_t nsyms;
	char *strs;
	Elf64_Phdr *phdr;
	unsigned int nphdr;
};

struct mapping {
	uint64_t start, limit, offset;
	char path[512];
	unsigned int file;		/* index into files[] */
	bool all_named;
};

struct maps {
	struct mapping *m;
	size_t n;
	char (*files)[512];
	struct elfsyms *syms;
	size_t nfiles;
};

/* Executable file mappings of this process, the main executable first. */
int __gca_maps_read(struct maps *ms) __hidden;
void __gca_maps_free(struct maps *ms) __hidden;
/* The mapping holding addr (*id: its number from 1, 0 = none) */
struct mapping *__gca_maps_find(struct maps *ms, uint64_t addr,
				uint64_t *id) __hidden;
/* Function symbols of an ELF64 file, sorted by value. */
void __gca_elf_load(struct elfsyms *e, const char *path) __hidden;
/* The function containing runtime address addr of mapping m, or NULL. */
const char *__gca_elf_lookup(const struct elfsyms *e,
			     const struct mapping *m, uint64_t addr) __hidden;

#endif /* _LIBGCARENA_PPROF_H */
