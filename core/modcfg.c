/*
 * modcfg.c — the typed config getters a module reaches through pgs_host.
 *
 * A module instance sees only its own libconfig group, wrapped in the
 * opaque pgs_cfg.  The getters are strict about types (a quoted "5" is not
 * an int, 1 is not a boolean) so that a typo in the config is reported by
 * the module at load time instead of silently meaning something else.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "modload.h"

/* The member `key` of the instance's group, or NULL. */
static const config_setting_t *modcfg_member(const pgs_cfg *cfg, const char *key)
{
	if (cfg == NULL || cfg->group == NULL || key == NULL)
		return NULL;
	if (!config_setting_is_group(cfg->group))
		return NULL;
	return config_setting_get_member(cfg->group, key);
}

/**
 * modcfg_str() - the string setting `key` of a module's group.
 * Returns 0 and sets *out (valid as long as the config snapshot), -ENOENT
 * when absent, -EINVAL when the setting is not a string.
 */
int modcfg_str(const pgs_cfg *cfg, const char *key, const char **out)
{
	const config_setting_t *s = modcfg_member(cfg, key);

	if (s == NULL)
		return -ENOENT;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return -EINVAL;
	*out = config_setting_get_string(s);
	return 0;
}

/**
 * modcfg_int() - the integer setting `key` (int or 64-bit int, e.g. 5 or
 * 5000000000L).  Returns 0, -ENOENT when absent, -EINVAL for another type.
 */
int modcfg_int(const pgs_cfg *cfg, const char *key, int64_t *out)
{
	const config_setting_t *s = modcfg_member(cfg, key);

	if (s == NULL)
		return -ENOENT;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		*out = config_setting_get_int(s);
		return 0;
	case CONFIG_TYPE_INT64:
		*out = config_setting_get_int64(s);
		return 0;
	default:
		return -EINVAL;
	}
}

/**
 * modcfg_bool() - the boolean setting `key` (true/false only).
 * Returns 0, -ENOENT when absent, -EINVAL for another type.
 */
int modcfg_bool(const pgs_cfg *cfg, const char *key, bool *out)
{
	const config_setting_t *s = modcfg_member(cfg, key);

	if (s == NULL)
		return -ENOENT;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return -EINVAL;
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

/**
 * modcfg_where() - "file:line" of `key` in the module's group, or of the
 * group itself when key is NULL or absent, for messages.  The string lives
 * in a thread-local buffer, valid until the next call from the same thread.
 */
const char *modcfg_where(const pgs_cfg *cfg, const char *key)
{
	static _Thread_local char buf[512];
	const config_setting_t *s = NULL;
	const char *file;

	if (key != NULL)
		s = modcfg_member(cfg, key);
	if (s == NULL && cfg != NULL)
		s = cfg->group;
	if (s == NULL) {
		snprintf(buf, sizeof buf, "(no config)");
		return buf;
	}
	file = config_setting_source_file(s);
	snprintf(buf, sizeof buf, "%s:%u", file ? file : "(config)",
	         (unsigned)config_setting_source_line(s));
	return buf;
}

/**
 * modcfg_path() - the string setting `key` as a file path: as written when
 * absolute, else relative to the directory of the config file that sets it
 * (a conf.d/ file's paths are relative to conf.d/).  Returns 0, -ENOENT,
 * -EINVAL (not a string, or empty), -ENAMETOOLONG.
 */
int modcfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t out_size)
{
	const config_setting_t *s = modcfg_member(cfg, key);
	const char *val, *file, *slash;
	int n;

	if (s == NULL)
		return -ENOENT;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return -EINVAL;
	val = config_setting_get_string(s);
	if (val == NULL || val[0] == 0 || out == NULL || out_size == 0)
		return -EINVAL;
	file = config_setting_source_file(s);
	slash = file ? strrchr(file, '/') : NULL;
	if (val[0] == '/' || slash == NULL)
		n = snprintf(out, out_size, "%s", val);
	else
		n = snprintf(out, out_size, "%.*s/%s", (int)(slash - file), file, val);
	if (n < 0 || (size_t)n >= out_size)
		return -ENAMETOOLONG;
	return 0;
}
