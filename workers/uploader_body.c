/*
 * The request bodies of the upload protocol (NOTES.md, "Upload
 * protocol"), built from a chunk-ring record.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "trace_proto.h"
#include "uploader.h"

/* Writes the base64 of p at out; returns the end. */
static char *
upl_base64(const uint8_t *p, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v =
		    (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n) {
			v |= (uint32_t)p[i + 1] << 8;
		}
		*o++ = tab[v >> 18];
		*o++ = tab[(v >> 12) & 63];
		*o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	return o;
}

/*
 * A chunk body written directly: the chunk is most of the traffic, and
 * going through jansson would copy the base64 text twice and scan it for
 * escapes it cannot contain.
 */
static char *
upl_body_chunk(const char *path, const struct trace_rec *tr,
               const uint8_t *data, size_t *len)
{
	json_t *p = json_string(path);
	char *esc = p != NULL ? json_dumps(p, JSON_ENCODE_ANY) : NULL;
	size_t cap;
	char *out, *o;
	int n;

	json_decref(p);
	if (esc == NULL) {
		return NULL;
	}
	cap = strlen(esc) + (tr->data_len + 2) / 3 * 4 + 64;
	out = malloc(cap);
	if (out == NULL) {
		free(esc);
		return NULL;
	}
	n = snprintf(out, cap, "{\"trace\":%s,\"no\":%llu,\"field\":\"", esc,
	             (unsigned long long)tr->no);
	free(esc);
	o = upl_base64(data, tr->data_len, out + n);
	memcpy(o, "\"}", 3);
	*len = (size_t)(o + 2 - out);
	return out;
}

char *
upl_body_json(uint16_t type, const char *path, const struct trace_rec *tr,
              const uint8_t *data, size_t *len)
{
	json_t *o = NULL;
	char *text;

	if (type == TRACE_REC_CHUNK) {
		return upl_body_chunk(path, tr, data, len);
	}
	if (type == TRACE_REC_START) {
		o = json_pack("{s:s, s:s}", "trace", path, "status", "start");
	} else {
		o = json_pack("{s:s, s:s%, s:i, s:s}", "trace", path, "stderr",
		              (const char *)data, (size_t)tr->data_len, "code",
		              (int)tr->code, "status", "finished");
	}
	if (o == NULL) {
		return NULL;
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text != NULL) {
		*len = strlen(text);
	}
	return text;
}
