/* Every key of the table with good values and bad ones, each bad one with
 * its exact message. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "test_conf.h"

/* The YAML for key = value: "database.port" nests in "database:". */
static void
key_yaml(char *buf, size_t len, const char *key, const char *value)
{
	const char *dot = strchr(key, '.');

	if (dot == NULL) {
		snprintf(buf, len, "%s: %s\n", key, value);
	} else {
		snprintf(buf, len, "%.*s:\n  %s: %s\n", (int)(dot - key), key,
		         dot + 1, value);
	}
}

struct good {
	const char *key, *yaml, *value; /* value as conf_key_value shows it */
};

static const struct good goods[] = {
    {"host", "::1", "::1"},
    {"host", "probe-1.example.com", "probe-1.example.com"},
    {"port", "1", "1"},
    {"port", "\"65535\"", "65535"},
    {"admin-host", "0.0.0.0", "0.0.0.0"},
    {"admin-port", "8080", "8080"},
    {"state-dir", "/srv/probed", "/srv/probed"},
    {"user", "probed", "probed"},
    {"trace-workers", "64", "64"},
    {"api-threads", "1", "1"},
    {"stop-timeout", "0.25", "0.25"},
    {"log-level", "warning", "warning"},
    {"log-level", "debug", "debug"},
    {"max-body", "64k", "65536"},
    {"max-body", "2M", "2097152"},
    {"max-body", "4096", "4096"},
    {"cluster.name", "eu-1", "eu-1"},
    {"cluster.heartbeat-interval", "2", "2"},
    {"cluster.node-timeout", "60", "60"},
    {"database.mode", "external", "external"},
    {"database.host", "/run/postgresql", "/run/postgresql"},
    {"database.port", "5433", "5433"},
    {"database.user", "lambda", "lambda"},
    {"database.password", "pw", "***"},
    {"database.name", "lambda", "lambda"},
    {"database.database", "lambda2", "lambda2"},
    {"database.poolsize", "64", "64"},
    {"database.os-user", "pg", "pg"},
    {"database.bin-dir", "/opt/pg/bin", "/opt/pg/bin"},
    {"auth.argon2-max-m", "4096", "4096"},
    {"auth.argon2-max-t", "3", "3"},
    {"auth.argon2-max-p", "1", "1"},
    {"auth.cache-size", "0", "0"},
    {"auth.cache-ttl", "1.5", "1.5"},
    {"trace.lasting-max", "60", "60"},
    {"trace.max-running", "1", "1"},
    {"uploader.spool-max-bytes", "0", "0"},
    {"uploader.timeout", "5", "5"},
    {"uploader.backoff-max", "120", "120"},
    {"ring.chunk-bytes", "128k", "131072"},
    {"ring.request-bytes", "256M", "268435456"},
    {"root-password", "\"\"", "***"},
    {"bpf-path", "/usr/local/bin/bpftrace", "/usr/local/bin/bpftrace"},
    {"stap-path", "/opt/stap", "/opt/stap"},
    {"submit-chunk-size", "50k", "51200"},
    {"platform-url", "http://10.0.0.1:8080", "http://10.0.0.1:8080"},
    {"secret", "x", "***"},
    {"endpoint-uuid", "4633D686-F75D-4D1F-8415-02CE37D9E5F8",
     "4633D686-F75D-4D1F-8415-02CE37D9E5F8"},
};

void
test_conf_every_key_accepts_good_values(void **state)
{
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		const struct good *g = &goods[i];
		const char *name = strcmp(g->key, "database.database") == 0
		                       ? "database.name"
		                       : g->key;
		char yaml[256], *errors, *v;
		struct conf *c;

		key_yaml(yaml, sizeof(yaml), g->key, g->yaml);
		if (is_lambda_key(g->key)) {
			c = load("", lambda_text(yaml, g->key), &errors);
		} else {
			c = load(yaml, lambda_text(NULL, NULL), &errors);
		}
		if (c == NULL) {
			print_error("%s: %s\n", yaml, errors);
		}
		assert_non_null(c);
		v = conf_key_value(c, name);
		assert_non_null(v);
		assert_string_equal(v, g->value);
		free(v);
		conf_free(c);
	}
}

struct bad {
	const char *key, *yaml, *expect;
};

#define PORT "an integer 1..65535"
#define SIZE "(bytes, or suffix k, M, G, T)"

static const struct bad bads[] = {
    {"host", "a b", "a host name or IP address, got \"a b\""},
    {"host", "\"\"", "a host name or IP address, got \"\""},
    {"port", "80a", PORT ", got \"80a\""},
    {"port", "0", PORT ", got \"0\""},
    {"port", "65536", PORT ", got \"65536\""},
    {"port", "0x50", PORT ", got \"0x50\""},
    {"admin-host", "h/x", "a host name or IP address, got \"h/x\""},
    {"admin-port", "-1", PORT ", got \"-1\""},
    {"state-dir", "var/lib", "an absolute path, got \"var/lib\""},
    {"user", "-x", "a user name, got \"-x\""},
    {"trace-workers", "65", "an integer 1..64, got \"65\""},
    {"api-threads", "0", "an integer 1..256, got \"0\""},
    {"stop-timeout", "0", "seconds, a number >0 and <=3600, got \"0\""},
    {"stop-timeout", "nan", "seconds, a number >0 and <=3600, got \"nan\""},
    {"log-level", "loud", "one of error, warning, info, debug, got \"loud\""},
    {"max-body", "1X", "a size 1k..1G " SIZE ", got \"1X\""},
    {"max-body", "2G", "a size 1k..1G " SIZE ", got \"2G\""},
    {"max-body", "-5", "a size 1k..1G " SIZE ", got \"-5\""},
    {"cluster.name", "a b",
     "1..63 letters, digits, '.', '-' or '_', got \"a b\""},
    {"cluster.heartbeat-interval", "x",
     "seconds, a number >0 and <=3600, got \"x\""},
    {"cluster.node-timeout", "-3",
     "seconds, a number >0 and <=86400, got \"-3\""},
    {"database.mode", "both", "one of embedded, external, got \"both\""},
    {"database.host", "a b",
     "a host name, IP address or socket directory, without spaces, got "
     "\"a b\""},
    {"database.port", "5432x", PORT ", got \"5432x\""},
    {"database.user", "\"\"",
     "a name of 1..63 characters without spaces, got \"\""},
    {"database.password", "[1]", "a string, got a list"},
    {"database.name", "\"a\\tb\"",
     "a name of 1..63 characters without spaces, got \"a\\x09b\""},
    {"database.poolsize", "65", "an integer 1..64, got \"65\""},
    {"database.os-user", "\"a:b\"", "a user name, got \"a:b\""},
    {"database.bin-dir", "bin", "an absolute path, got \"bin\""},
    {"auth.argon2-max-m", "65537", "an integer 8..65536, got \"65537\""},
    {"auth.argon2-max-t", "17", "an integer 1..16, got \"17\""},
    {"auth.argon2-max-p", "9", "an integer 1..8, got \"9\""},
    {"auth.cache-size", "-1", "an integer 0..1048576, got \"-1\""},
    {"auth.cache-ttl", "1e9", "seconds, a number >0 and <=86400, got \"1e9\""},
    {"trace.lasting-max", "86401", "an integer 1..86400, got \"86401\""},
    {"trace.max-running", "0", "an integer 1..4096, got \"0\""},
    {"uploader.spool-max-bytes", "2T", "a size 0..1T " SIZE ", got \"2T\""},
    {"uploader.timeout", "0", "seconds, a number >0 and <=3600, got \"0\""},
    {"uploader.backoff-max", "inf",
     "seconds, a number >0 and <=3600, got \"inf\""},
    {"ring.chunk-bytes", "100k",
     "a power of two 64k..1G " SIZE ", got \"100k\""},
    {"ring.request-bytes", "512M",
     "a power of two 64k..256M " SIZE ", got \"512M\""},
    {"root-password", "{a: b}", "a string, got a mapping"},
    {"bpf-path", "bpftrace", "an absolute path, got \"bpftrace\""},
    {"stap-path", "~", "an absolute path, got null"},
    {"submit-chunk-size", "0", "a size 1..16M " SIZE ", got \"0\""},
    {"platform-url", "ftp://x", "an http:// or https:// URL, got \"ftp://x\""},
    {"platform-url", "http://", "an http:// or https:// URL, got \"http://\""},
    {"secret", "\"\"", "a non-empty string, got <hidden>"},
    {"endpoint-uuid", "4633d686-f75d-4d1f-8415-02ce37d9e5f",
     "a UUID like 4633d686-f75d-4d1f-8415-02ce37d9e5f8, got "
     "\"4633d686-f75d-4d1f-8415-02ce37d9e5f\""},
};

void
test_conf_every_key_refuses_bad_values_exactly(void **state)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		int lambda = is_lambda_key(b->key);
		char yaml[256], want[512];

		key_yaml(yaml, sizeof(yaml), b->key, b->yaml);
		snprintf(want, sizeof(want), "%s:%d: %s: expected %s",
		         lambda ? "lambda-settings.yml" : "settings.yml",
		         strchr(b->key, '.') != NULL ? 2 : 1, b->key,
		         b->expect);
		if (lambda) {
			assert_errors("", lambda_text(yaml, b->key), want);
		} else {
			assert_errors(yaml, lambda_text(NULL, NULL), want);
		}
	}
}
