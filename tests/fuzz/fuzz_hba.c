/*
 * fuzz_hba.c — libFuzzer target for the hba module's parsers and matchers.
 *
 * The input is parsed as a pg_hba.conf from memory (@file inclusion
 * disabled: the fuzzer must not read files), then as a pg_ident.conf; what
 * parses is matched against a few fixed connections and map queries.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Imodules/hba \
 *     tests/fuzz/fuzz_hba.c modules/hba/hba_{token,rules,ident}.c -o fuzz_hba
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hba_ident.h"
#include "hba_rules.h"
#include "hba_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct hba_conn conns[] = {
        {"unix", "[local]", "postgres", "postgres"}, {"unix", "[local]", "all", NULL},
        {"tcp", "127.0.0.1", "alice", "db1"},        {"tcp", "10.1.2.3", "svc_api", "all"},
        {"tls", "::1", "bob smith", "db 2"},         {"tls", "192.168.1.77", "a\"b", "replication"},
        {"gss", "2001:db8::5", "x", "sameuser"},     {"gss", "::ffff:1.2.3.4", "+admins", "x"},
        {"tcp", "not-an-address", "u", "d"},
};

static const struct {
	const char *map, *system_user, *role;
} idents[] = {
        {"m", "alice", "alice"},
        {"krb", "alice@EXAMPLE.COM", "alice"},
        {"omicron", "robert", "bob"},
        {"a", "b", "c"},
        {"m", "", ""},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct hba_rules *rules = NULL;
	struct hba_ident *ident = NULL;
	char err[HBA_ERR_LEN];

	if (hba_rules_parse("fuzz_hba.conf", text, size, HBA_NO_INCLUDE, &rules, err,
	                    sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(conns) / sizeof(conns[0]); i++) {
			struct hba_result res;

			if (hba_rules_match(rules, &conns[i], &res)) {
				/* touch what the module hands out */
				for (size_t k = 0; res.options[k] != NULL; k++)
					(void)res.options[k][0];
				(void)res.method[0];
				(void)res.where[0];
			}
		}
		hba_rules_free(rules);
	}
	if (hba_ident_parse("fuzz_ident.conf", text, size, HBA_NO_INCLUDE, &ident, err,
	                    sizeof(err)) == 0) {
		for (size_t i = 0; i < sizeof(idents) / sizeof(idents[0]); i++) {
			(void)hba_ident_match(ident, idents[i].map, idents[i].system_user,
			                      idents[i].role, false);
			(void)hba_ident_match(ident, idents[i].map, idents[i].system_user,
			                      idents[i].role, true);
		}
		hba_ident_free(ident);
	}
	return 0;
}
