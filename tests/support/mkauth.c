/*
 * mkauth UUID SECRET [M T P]: prints the Authorization header the lambda
 * platform sends (NOTES.md): UUID followed at once by the PHC string of
 * argon2i(SECRET) with a fresh 16-byte salt and a 32-byte hash; m=4096,
 * t=3, p=1 unless given. The integration tests use it, since Python's
 * standard library has no argon2.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <argon2.h>

#define MKAUTH_SALT 16
#define MKAUTH_HASH 32

int
main(int argc, char **argv)
{
	unsigned char salt[MKAUTH_SALT];
	char encoded[256];
	unsigned long m = 4096, t = 3, p = 1;
	int rc;

	if (argc != 3 && argc != 6) {
		fprintf(stderr, "usage: mkauth UUID SECRET [M T P]\n");
		return 2;
	}
	if (argc == 6) {
		m = strtoul(argv[3], NULL, 10);
		t = strtoul(argv[4], NULL, 10);
		p = strtoul(argv[5], NULL, 10);
	}
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
		perror("getrandom");
		return 1;
	}
	rc = argon2i_hash_encoded((uint32_t)t, (uint32_t)m, (uint32_t)p,
	                          argv[2], strlen(argv[2]), salt, sizeof(salt),
	                          MKAUTH_HASH, encoded, sizeof(encoded));
	if (rc != ARGON2_OK) {
		fprintf(stderr, "argon2i_hash_encoded failed: %s\n",
		        argon2_error_message(rc));
		return 1;
	}
	printf("%s%s\n", argv[1], encoded);
	return 0;
}
