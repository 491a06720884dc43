/* SPDX-License-Identifier: (LGPL-2.1 OR MIT) */
/*
 * The protobuf wire encoding the heap profile needs
 * (protobuf.dev/programming-guides/encoding): a growing byte buffer,
 * base-128 varints, varint fields (wire type 0) and length-delimited
 * fields (wire type 2).  A sub-message is encoded into a scratch buffer
 * of its own, then copied into its parent as a length-delimited field.
 * A failed allocation is kept in err and makes every later call on that
 * buffer (and on a parent it is copied into) a no-op, so that the writer
 * checks once, at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "gca_pprof.h"


static void pb_grow(struct pb *b, size_t more)
{
	size_t ncap;
	uint8_t *np;

	if (b->err || b->len + more <= b->cap)
		return;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + more)
		ncap *= 2;
	np = realloc(b->p, ncap);
	if (!np) {
		b->err = -ENOMEM;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

static void pb_raw(struct pb *b, const void *data, size_t len)
{
	pb_grow(b, len);
	if (b->err)
		return;
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

void __gca_pb_varint(struct pb *b, uint64_t v)
{
	uint8_t tmp[10];
	int n = 0;

	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	pb_raw(b, tmp, n);
}

/* A varint field (wire type 0); zero is the default and is left out. */
void __gca_pb_u64(struct pb *b, unsigned int field, uint64_t v)
{
	if (!v)
		return;
	__gca_pb_varint(b, (uint64_t)field << 3);
	__gca_pb_varint(b, v);
}

/* A length-delimited field (wire type 2). */
void __gca_pb_bytes(struct pb *b, unsigned int field, const void *data,
		    size_t len)
{
	__gca_pb_varint(b, (uint64_t)field << 3 | 2);
	__gca_pb_varint(b, len);
	pb_raw(b, data, len);
}

void __gca_pb_msg(struct pb *b, unsigned int field, struct pb *m)
{
	if (m->err)
		b->err = m->err;
	__gca_pb_bytes(b, field, m->p, m->len);
	m->len = 0;
}
