/*
 * The uploader's parts: uploader.c consumes the chunk rings and keeps the
 * runs in order; uploader_http.c is libcurl's multi interface on the
 * worker's libev loop, with the Authorization header; uploader_body.c
 * the request bodies.
 */
#ifndef PROBED_UPLOADER_H
#define PROBED_UPLOADER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct conf;
struct upl_http;
struct trace_rec;

/* Called once a request ended: status is the HTTP status, or 0 when
 * there was none (refused, reset, timed out); err says why. */
typedef void (*upl_http_done_fn)(void *arg, long status, const char *err);

/* NULL after logging. */
struct upl_http *upl_http_new(struct ev_loop *loop, const struct conf *conf);
void upl_http_free(struct upl_http *h);

/* PUT <platform-url>/submit with body (taken: free()d when done). 0, or
 * -1 after logging (then done is not called). */
int upl_http_put(struct upl_http *h, char *body, size_t len,
                 upl_http_done_fn done, void *arg);

/* The JSON body for a chunk-ring record of type (uploader_body.c):
 * malloc'ed text and its length, NULL when out of memory. */
char *upl_body_json(uint16_t type, const char *path, const struct trace_rec *tr,
                    const uint8_t *data, size_t *len);

/* Requests in flight. */
int upl_http_busy(const struct upl_http *h);

#endif
