/*
 * Refusals that return their reason to the caller instead of logging it:
 * checks whose caller decides where the text goes (an HTTP 400, a run's
 * finished record, a test). why may be NULL.
 */
#ifndef PROBED_WHY_H
#define PROBED_WHY_H

#include <stddef.h>

/* Formats the reason into why and returns -1. */
int why_refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
