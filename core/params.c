/*
 * params.c — ParameterStatus sets kept per server and per client.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

/* FNV-1a over "name=value"; the set's hash is the sum of its entries'
 * hashes, so it does not depend on the order values arrived in. */
static uint64_t entry_hash(const char *name, const char *value)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ '=') * 1099511628211ull;
	for (const char *p = value; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

const char *params_get(const struct param_set *ps, const char *name)
{
	for (uint32_t i = 0; i < ps->n; i++)
		if (strcmp(ps->names[i], name) == 0)
			return ps->values[i];
	return NULL;
}

int params_set(struct param_set *ps, const char *name, const char *value)
{
	char *v;

	for (uint32_t i = 0; i < ps->n; i++) {
		if (strcmp(ps->names[i], name) != 0)
			continue;
		if (strcmp(ps->values[i], value) == 0)
			return 0;
		v = strdup(value);
		if (v == NULL)
			return -ENOMEM;
		ps->hash -= entry_hash(name, ps->values[i]);
		free(ps->values[i]);
		ps->values[i] = v;
		ps->hash += entry_hash(name, v);
		return 0;
	}
	if (ps->n == PARAMS_MAX)
		return 0; /* more than any server reports: ignore the rest */
	ps->names[ps->n] = strdup(name);
	ps->values[ps->n] = strdup(value);
	if (ps->names[ps->n] == NULL || ps->values[ps->n] == NULL) {
		free(ps->names[ps->n]);
		free(ps->values[ps->n]);
		return -ENOMEM;
	}
	ps->hash += entry_hash(name, value);
	ps->n++;
	return 0;
}

void params_clear(struct param_set *ps)
{
	for (uint32_t i = 0; i < ps->n; i++) {
		free(ps->names[i]);
		free(ps->values[i]);
	}
	ps->n = 0;
	ps->hash = 0;
}

int params_copy(struct param_set *dst, const struct param_set *src)
{
	params_clear(dst);
	for (uint32_t i = 0; i < src->n; i++)
		if (params_set(dst, src->names[i], src->values[i]) < 0)
			return -ENOMEM;
	return 0;
}
