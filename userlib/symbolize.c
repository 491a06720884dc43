/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * Naming the heap profile's return addresses from inside the process:
 * its executable file mappings, read from /proc/self/maps (the main
 * executable first), and for each mapped ELF64 file its function symbols
 * (.symtab, else .dynsym), loaded the first time an address falls in it.
 * An address becomes a file offset through its mapping, a virtual
 * address through the file's executable PT_LOAD segment, and a name
 * through the last function symbol at or below it that covers it.  A
 * file that cannot be read or parsed leaves its addresses unnamed, for
 * pprof to symbolize from the binaries.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gca_pprof.h"


static int sym_cmp(const void *x, const void *y)
{
	const struct sym *a = x, *b = y;

	return a->value < b->value ? -1 : a->value > b->value;
}

static bool pread_all(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n;

	while (len) {
		n = pread(fd, buf, len, off);
		if (n <= 0)
			return false;
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return true;
}

/* Function symbols of an ELF64 file, sorted by value. */
void __gca_elf_load(struct elfsyms *e, const char *path)
{
	Elf64_Shdr *sh = NULL, *symsec = NULL, *strsec;
	Elf64_Sym *raw = NULL;
	Elf64_Ehdr eh;
	struct stat st;
	size_t i, n;
	int fd;

	e->loaded = true;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || !pread_all(fd, &eh, sizeof(eh), 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_shnum)
		goto out;
	e->phdr = calloc(eh.e_phnum, sizeof(*e->phdr));
	sh = calloc(eh.e_shnum, sizeof(*sh));
	if (!e->phdr || !sh ||
	    !pread_all(fd, e->phdr, eh.e_phnum * sizeof(*e->phdr), eh.e_phoff) ||
	    !pread_all(fd, sh, eh.e_shnum * sizeof(*sh), eh.e_shoff))
		goto out;
	e->nphdr = eh.e_phnum;
	for (i = 0; i < eh.e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB)
			symsec = &sh[i];
	if (!symsec)
		for (i = 0; i < eh.e_shnum; i++)
			if (sh[i].sh_type == SHT_DYNSYM)
				symsec = &sh[i];
	if (!symsec || symsec->sh_link >= eh.e_shnum ||
	    symsec->sh_entsize != sizeof(Elf64_Sym) ||
	    symsec->sh_offset + symsec->sh_size > (uint64_t)st.st_size)
		goto out;
	strsec = &sh[symsec->sh_link];
	if (strsec->sh_offset + strsec->sh_size > (uint64_t)st.st_size ||
	    !strsec->sh_size)
		goto out;
	n = symsec->sh_size / sizeof(Elf64_Sym);
	raw = malloc(symsec->sh_size);
	e->strs = malloc(strsec->sh_size + 1);
	e->syms = calloc(n ? n : 1, sizeof(*e->syms));
	if (!raw || !e->strs || !e->syms ||
	    !pread_all(fd, raw, symsec->sh_size, symsec->sh_offset) ||
	    !pread_all(fd, e->strs, strsec->sh_size, strsec->sh_offset))
		goto out;
	e->strs[strsec->sh_size] = '\0';
	for (i = 0; i < n; i++) {
		unsigned int type = ELF64_ST_TYPE(raw[i].st_info);

		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    !raw[i].st_value || raw[i].st_shndx == SHN_UNDEF ||
		    raw[i].st_name >= strsec->sh_size)
			continue;
		e->syms[e->nsyms].value = raw[i].st_value;
		e->syms[e->nsyms].size = raw[i].st_size;
		e->syms[e->nsyms].name = e->strs + raw[i].st_name;
		e->nsyms++;
	}
	qsort(e->syms, e->nsyms, sizeof(*e->syms), sym_cmp);
out:
	free(raw);
	free(sh);
	close(fd);
}

static void elf_free(struct elfsyms *e)
{
	free(e->syms);
	free(e->strs);
	free(e->phdr);
}

/* The function containing runtime address addr of mapping m, or NULL. */
const char *__gca_elf_lookup(const struct elfsyms *e,
			     const struct mapping *m, uint64_t addr)
{
	uint64_t foff = addr - m->start + m->offset, vaddr = 0;
	size_t lo = 0, hi = e->nsyms;
	unsigned int i;
	bool found = false;

	for (i = 0; i < e->nphdr; i++) {
		const Elf64_Phdr *p = &e->phdr[i];

		if (p->p_type == PT_LOAD && (p->p_flags & PF_X) &&
		    foff >= p->p_offset && foff < p->p_offset + p->p_filesz) {
			vaddr = foff - p->p_offset + p->p_vaddr;
			found = true;
			break;
		}
	}
	if (!found || !e->nsyms)
		return NULL;
	/* The last symbol whose value is <= vaddr. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (e->syms[mid].value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	for (i = 0; lo > 0 && i < 8; i++, lo--) {
		const struct sym *s = &e->syms[lo - 1];

		/* Aliases share a value; a sized symbol must cover vaddr. */
		if (!s->size || vaddr < s->value + s->size)
			return s->name;
	}
	return NULL;
}

void __gca_maps_free(struct maps *ms)
{
	size_t i;

	for (i = 0; i < ms->nfiles; i++)
		elf_free(&ms->syms[i]);
	free(ms->syms);
	free(ms->files);
	free(ms->m);
}

/* Executable file mappings of this process, the main executable first. */
int __gca_maps_read(struct maps *ms)
{
	char line[1024], exe[512], perms[8], path[512];
	unsigned long long start, end, off, inode;
	size_t cap = 0, i;
	ssize_t len;
	FILE *f;

	memset(ms, 0, sizeof(*ms));
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct mapping *m;

		path[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %*s %llu %511[^\n]",
			   &start, &end, perms, &off, &inode, path) < 5)
			continue;
		if (!strchr(perms, 'x') || path[0] != '/')
			continue;
		if (ms->n == cap) {
			struct mapping *nm;

			cap = cap ? cap * 2 : 16;
			nm = realloc(ms->m, cap * sizeof(*nm));
			if (!nm) {
				fclose(f);
				return -ENOMEM;
			}
			ms->m = nm;
		}
		m = &ms->m[ms->n++];
		memset(m, 0, sizeof(*m));
		m->start = start;
		m->limit = end;
		m->offset = off;
		snprintf(m->path, sizeof(m->path), "%s", path);
	}
	fclose(f);
	/* The main executable first: pprof's command-line binary goes there. */
	for (i = 0; i < ms->n; i++) {
		if (!strcmp(ms->m[i].path, exe)) {
			struct mapping t = ms->m[i];

			memmove(&ms->m[1], &ms->m[0], i * sizeof(*ms->m));
			ms->m[0] = t;
			break;
		}
	}
	/* One symbol table per file, loaded on first use. */
	ms->files = calloc(ms->n ? ms->n : 1, sizeof(*ms->files));
	ms->syms = calloc(ms->n ? ms->n : 1, sizeof(*ms->syms));
	if (!ms->files || !ms->syms)
		return -ENOMEM;
	for (i = 0; i < ms->n; i++) {
		size_t j;

		for (j = 0; j < ms->nfiles; j++)
			if (!strcmp(ms->files[j], ms->m[i].path))
				break;
		if (j == ms->nfiles)
			snprintf(ms->files[ms->nfiles++], 512, "%s",
				 ms->m[i].path);
		ms->m[i].file = j;
		ms->m[i].all_named = true;
	}
	return 0;
}

struct mapping *__gca_maps_find(struct maps *ms, uint64_t addr,
				uint64_t *id)
{
	size_t i;

	for (i = 0; i < ms->n; i++) {
		if (addr >= ms->m[i].start && addr < ms->m[i].limit) {
			*id = i + 1;
			return &ms->m[i];
		}
	}
	*id = 0;
	return NULL;
}
