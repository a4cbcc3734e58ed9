/*
 * The request bodies of the upload protocol (NOTES.md, "Upload
 * protocol"), built from a chunk-ring record.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "trace_proto.h"
#include "uploader.h"

static char *
upl_base64(const uint8_t *p, size_t n, size_t *outlen)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out, *o;
	size_t i;

	out = malloc((n + 2) / 3 * 4 + 1);
	if (out == NULL) {
		return NULL;
	}
	o = out;
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
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

char *
upl_body_json(uint16_t type, const char *path, const struct trace_rec *tr,
              const uint8_t *data, size_t *len)
{
	json_t *o = NULL;
	char *b64, *text;
	size_t n;

	if (type == TRACE_REC_START) {
		o = json_pack("{s:s, s:s}", "trace", path, "status", "start");
	} else if (type == TRACE_REC_CHUNK) {
		b64 = upl_base64(data, tr->data_len, &n);
		if (b64 == NULL) {
			return NULL;
		}
		o = json_pack("{s:s, s:I, s:s%}", "trace", path, "no",
		              (json_int_t)tr->no, "field", b64, n);
		free(b64);
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
