/*
 * Fault injection for the integration tests, off unless the environment of
 * probed has PROBED_FAULT_DIR. Then a worker reads, at start-up, the file
 * <dir>/<name> ("trace/1" as "trace_1") and acts on its first word:
 *   crash        exit 1 at once (a crash loop while the file exists)
 *   exit100      exit with WORKER_EXIT_PERMANENT
 *   ignore-term  ignore SIGTERM and SIGINT (tests the KILL after timeout)
 *   not-ready    run, but never report ready
 * Tests remove the file to let the worker recover.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

int
fault_check(struct worker *w)
{
	const char *dir = getenv("PROBED_FAULT_DIR");
	char path[512], word[32] = "";
	FILE *f;

	if (dir == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, w->name);
	for (char *p = path + strlen(dir) + 1; *p != '\0'; p++) {
		if (*p == '/')
			*p = '_';
	}
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%31s", word) != 1)
		word[0] = '\0';
	fclose(f);
	if (strcmp(word, "crash") == 0)
		_exit(1);
	if (strcmp(word, "exit100") == 0)
		_exit(WORKER_EXIT_PERMANENT);
	if (strcmp(word, "ignore-term") == 0)
		return FAULT_IGNORE_TERM;
	if (strcmp(word, "not-ready") == 0)
		return FAULT_NOT_READY;
	return 0;
}
