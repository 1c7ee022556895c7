/*
 * modload.h — loading modules through libltdl and checking their descriptor.
 *
 * A module set is every module instance of one configuration snapshot,
 * loaded and initialised.  Reload builds a new set; the old one is released
 * when no connection uses it anymore (reference count).
 */
#ifndef PGS_MODLOAD_H
#define PGS_MODLOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "pgsluice/module.h"

struct pgs_config;
struct cfg_module;

/* The config handle a module instance gets (pgs_cfg is opaque to modules). */
struct pgs_cfg {
	const config_setting_t *group; /* NULL: empty group */
	struct mod_set *set;           /* the set being built (cred_derive_key) */
};

/* Typed getters behind pgs_host.cfg_* (see module.h for the contract). */
int modcfg_str(const pgs_cfg *cfg, const char *key, const char **out);
int modcfg_int(const pgs_cfg *cfg, const char *key, int64_t *out);
int modcfg_bool(const pgs_cfg *cfg, const char *key, bool *out);
/* "file:line" of key (or of the group when key is NULL), in thread-local
 * storage valid until the next call from the same thread. */
const char *modcfg_where(const pgs_cfg *cfg, const char *key);
int modcfg_path(const pgs_cfg *cfg, const char *key, char *out, size_t out_size);

/* One loaded, initialised module instance. */
struct mod_instance {
	char *name;             /* instance name from the config */
	char *file;             /* the resolved file that was opened */
	void *handle;           /* lt_dlhandle */
	const pgs_module *desc; /* the module's descriptor */
	void *state;            /* what init() returned */
	struct pgs_cfg *cfg;    /* the instance's config handle */
};

struct mod_set {
	struct mod_instance *mods;
	size_t nmods;
	atomic_int refs;
};

/*
 * Check a descriptor returned by the entry function of `file`.  Checks, in
 * order: magic, abi_major equal to the host's, abi_minor not newer than the
 * host's, size covering the v1.0 fields, name non-NULL.  Returns 0, or -1
 * with a message naming the file and the first failing field in err, e.g.
 *   module /x/bad.so: field 'magic' is 0xdeadbeef, expected 0x70674d31
 */
int modload_check_descriptor(const pgs_module *desc, const char *file, char *err, size_t errlen)
        __attribute__((warn_unused_result));

/*
 * Open one module file (resolved against module_path when relative; ".so"
 * may be omitted) and check its descriptor.  Does not call init().
 * On success fills inst->handle/desc/file and returns 0; else -1 and err
 * names the file and the failing step (file not found, missing entry symbol
 * `pgs_module_entry_v1`, or a descriptor field).
 */
int modload_open(const char *path, const char *module_path, struct mod_instance *inst, char *err,
                 size_t errlen) __attribute__((warn_unused_result));

/*
 * Load and init every module of cfg (cfg->modules), in config order.
 * Instance names must be unique.  On any failure nothing stays loaded,
 * NULL is returned and err says why (file:line of the module's config,
 * module file, reason).
 */
struct mod_set *modload_set_create(const struct pgs_config *cfg, const pgs_host *host, char *err,
                                   size_t errlen) __attribute__((warn_unused_result));

/* Take / drop a reference; the last drop calls fini() and closes handles. */
void modload_set_ref(struct mod_set *set);
void modload_set_unref(struct mod_set *set);

/* Find an instance by name, NULL if none. */
struct mod_instance *modload_find(const struct mod_set *set, const char *name);

#endif /* PGS_MODLOAD_H */
