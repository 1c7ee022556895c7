/*
 * modload.c — opening module files with libltdl, checking their descriptor
 * field by field, and building the module set of one config snapshot.
 *
 * Everything here fails closed: a module that cannot be opened, whose
 * descriptor does not match this host's ABI, or whose init() fails makes
 * the whole set fail, and whatever was already loaded is unloaded again.
 * Messages name the module file and the first field that did not match, so
 * that an operator can tell a stale build from a wrong path.
 */
#include "autoconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ltdl.h>

#include "config.h"
#include "modload.h"

/*
 * The build a module may pin itself to with pgs_module.build_id.  Modules
 * that set it (for example ones that share private structures with one
 * daemon build) load only into a host whose package string matches.
 */
#define MODLOAD_HOST_BUILD_ID PACKAGE_STRING

#ifndef PGS_MODULE_DIR
#define PGS_MODULE_DIR "/usr/local/lib/pgsluice"
#endif

/*
 * libltdl keeps global state (its error string, its handle list) and is
 * not thread-safe; modules are only loaded at startup and on reload, so a
 * single lock around every libltdl call is plenty.
 */
static pthread_mutex_t modload_lock = PTHREAD_MUTEX_INITIALIZER;
static bool modload_ltdl_ready;

typedef const pgs_module *(*modload_entry_fn)(void);

static void __attribute__((format(printf, 3, 4)))
modload_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* lt_dlinit() once; called with modload_lock held. */
static int modload_ltdl_init_locked(char *err, size_t errlen)
{
	if (modload_ltdl_ready)
		return 0;
	if (lt_dlinit() != 0) {
		const char *why = lt_dlerror();

		modload_err(err, errlen, "cannot initialise libltdl: %s",
		            why ? why : "unknown error");
		return -1;
	}
	modload_ltdl_ready = true;
	return 0;
}

/* True when the last path component has an extension ("x.so", not "x"). */
static bool modload_has_extension(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	return dot != NULL && dot != base && dot[1] != '\0';
}

/**
 * modload_check_descriptor() - check a module descriptor against this
 * host's ABI: magic, abi_major, abi_minor, size, name, then build_id.
 * Returns 0, or -1 with err naming `file` and the first failing field.
 */
int modload_check_descriptor(const pgs_module *desc, const char *file, char *err, size_t errlen)
{
	if (desc == NULL) {
		modload_err(err, errlen,
		            "module %s: entry function '%s' "
		            "returned NULL",
		            file, PGS_ENTRY_SYMBOL);
		return -1;
	}
	/* magic, abi_major, abi_minor and size are the first 12 bytes of
	 * every descriptor ever published: reading them is always safe. */
	if (desc->magic != PGS_MODULE_MAGIC) {
		modload_err(err, errlen,
		            "module %s: field 'magic' is 0x%08x, "
		            "expected 0x%08x",
		            file, (unsigned)desc->magic, (unsigned)PGS_MODULE_MAGIC);
		return -1;
	}
	if (desc->abi_major != PGS_ABI_MAJOR) {
		modload_err(err, errlen,
		            "module %s: field 'abi_major' is %u, "
		            "expected %u",
		            file, (unsigned)desc->abi_major, (unsigned)PGS_ABI_MAJOR);
		return -1;
	}
	if (desc->abi_minor > PGS_ABI_MINOR) {
		modload_err(err, errlen,
		            "module %s: field 'abi_minor' is %u, "
		            "newer than the host's %u",
		            file, (unsigned)desc->abi_minor, (unsigned)PGS_ABI_MINOR);
		return -1;
	}
	if (desc->size < PGS_MODULE_V1_0_SIZE) {
		modload_err(err, errlen,
		            "module %s: field 'size' is %u, need "
		            "at least %zu",
		            file, (unsigned)desc->size, (size_t)PGS_MODULE_V1_0_SIZE);
		return -1;
	}
	if (desc->name == NULL) {
		modload_err(err, errlen, "module %s: field 'name' is NULL", file);
		return -1;
	}
	if (desc->build_id != NULL && strcmp(desc->build_id, MODLOAD_HOST_BUILD_ID) != 0) {
		modload_err(err, errlen,
		            "module %s: field 'build_id' is \"%s\", "
		            "this host is \"%s\"",
		            file, desc->build_id, MODLOAD_HOST_BUILD_ID);
		return -1;
	}
	return 0;
}

/* Close a handle opened by modload_open(). */
static void modload_close_handle(void *handle)
{
	if (handle == NULL)
		return;
	pthread_mutex_lock(&modload_lock);
	lt_dlclose((lt_dlhandle)handle);
	pthread_mutex_unlock(&modload_lock);
}

/* The file libltdl actually opened (it may have added ".la" or ".so"). */
static char *modload_opened_name(lt_dlhandle h, const char *fallback)
{
	const lt_dlinfo *info = lt_dlgetinfo(h);

	if (info != NULL && info->filename != NULL)
		return strdup(info->filename);
	return strdup(fallback);
}

/**
 * modload_open() - open one module file and check its descriptor, without
 * calling init().  A relative `path` resolves against `module_path` (the
 * build's module directory when NULL); without an extension libltdl tries
 * the usual ones (".la", ".so").  Fills inst->handle, inst->desc and
 * inst->file on success and returns 0; returns -1 with err set otherwise,
 * leaving nothing open.
 */
int modload_open(const char *path, const char *module_path, struct mod_instance *inst, char *err,
                 size_t errlen)
{
	char resolved[4096];
	lt_dlhandle h;
	modload_entry_fn entry;
	const pgs_module *desc;
	char *file;
	int n;

	if (path == NULL || *path == '\0') {
		modload_err(err, errlen, "module path is empty");
		return -1;
	}
	if (path[0] == '/') {
		n = snprintf(resolved, sizeof resolved, "%s", path);
	} else {
		const char *dir = module_path && *module_path ? module_path : PGS_MODULE_DIR;
		size_t dl = strlen(dir);

		while (dl > 1 && dir[dl - 1] == '/')
			dl--;
		n = snprintf(resolved, sizeof resolved, "%.*s/%s", (int)dl, dir, path);
	}
	if (n < 0 || (size_t)n >= sizeof resolved) {
		modload_err(err, errlen, "module %s: path too long", path);
		return -1;
	}

	pthread_mutex_lock(&modload_lock);
	if (modload_ltdl_init_locked(err, errlen) < 0) {
		pthread_mutex_unlock(&modload_lock);
		return -1;
	}
	if (modload_has_extension(resolved))
		h = lt_dlopen(resolved);
	else
		h = lt_dlopenext(resolved);
	if (h == NULL) {
		const char *why = lt_dlerror();

		modload_err(err, errlen, "module %s: cannot load: %s", resolved,
		            why ? why : "unknown error");
		pthread_mutex_unlock(&modload_lock);
		return -1;
	}
	file = modload_opened_name(h, resolved);
	if (file == NULL) {
		lt_dlclose(h);
		pthread_mutex_unlock(&modload_lock);
		modload_err(err, errlen, "module %s: out of memory", resolved);
		return -1;
	}
	/* POSIX allows converting the void * of a symbol to a function
	 * pointer; the memcpy keeps -Wpedantic quiet about it. */
	{
		void *sym = lt_dlsym(h, PGS_ENTRY_SYMBOL);

		if (sym == NULL) {
			modload_err(err, errlen,
			            "module %s: missing entry "
			            "symbol '%s'",
			            file, PGS_ENTRY_SYMBOL);
			lt_dlclose(h);
			pthread_mutex_unlock(&modload_lock);
			free(file);
			return -1;
		}
		memcpy(&entry, &sym, sizeof entry);
	}
	pthread_mutex_unlock(&modload_lock);

	desc = entry();
	if (modload_check_descriptor(desc, file, err, errlen) < 0) {
		modload_close_handle(h);
		free(file);
		return -1;
	}
	inst->handle = h;
	inst->desc = desc;
	inst->file = file;
	return 0;
}

/* Undo one instance: fini() when it was initialised, then close it. */
static void modload_instance_release(struct mod_instance *inst, bool initialised)
{
	if (initialised && inst->desc != NULL && inst->desc->fini != NULL)
		inst->desc->fini(inst->state);
	modload_close_handle(inst->handle);
	free(inst->name);
	free(inst->file);
	free(inst->cfg);
	memset(inst, 0, sizeof *inst);
}

/* Release the first nmods (initialised) instances, last loaded first. */
static void modload_set_destroy(struct mod_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = set->nmods; i-- > 0;)
		modload_instance_release(&set->mods[i], true);
	free(set->mods);
	free(set);
}

/* Open and init one configured instance into inst (zeroed on entry). */
static int modload_instance_create(const struct pgs_config *cfg, const struct cfg_module *m,
                                   const pgs_host *host, struct mod_set *set,
                                   struct mod_instance *inst, char *err, size_t errlen)
{
	const char *where = m->where ? m->where : "(config)";
	char why[1024];
	int r;

	inst->name = strdup(m->name);
	inst->cfg = calloc(1, sizeof *inst->cfg);
	if (inst->name == NULL || inst->cfg == NULL) {
		modload_err(err, errlen,
		            "%s: module instance \"%s\": out of "
		            "memory",
		            where, m->name);
		modload_instance_release(inst, false);
		return -1;
	}
	inst->cfg->group = m->group;
	inst->cfg->set = set; /* its first set->nmods instances are initialised */
	if (modload_open(m->path, cfg->module_path, inst, why, sizeof why) < 0) {
		modload_err(err, errlen, "%s: module instance \"%s\": %s", where, m->name, why);
		modload_instance_release(inst, false);
		return -1;
	}
	if (inst->desc->init != NULL) {
		r = inst->desc->init(host, inst->cfg, &inst->state);
		if (r < 0) {
			modload_err(err, errlen,
			            "%s: module instance \"%s\" "
			            "(module %s): init failed: %s",
			            where, m->name, inst->file, strerror(-r));
			modload_instance_release(inst, false);
			return -1;
		}
	}
	return 0;
}

/**
 * modload_set_create() - load and initialise every module instance of cfg
 * in config order.  Returns a set holding one reference, or NULL with err
 * naming the instance's file:line, its module file and the reason; on
 * failure every instance already initialised is finished and closed.
 */
struct mod_set *modload_set_create(const struct pgs_config *cfg, const pgs_host *host, char *err,
                                   size_t errlen)
{
	struct mod_set *set;

	set = calloc(1, sizeof *set);
	if (set == NULL) {
		modload_err(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->nmodules > 0) {
		set->mods = calloc(cfg->nmodules, sizeof *set->mods);
		if (set->mods == NULL) {
			free(set);
			modload_err(err, errlen, "out of memory");
			return NULL;
		}
	}
	for (size_t i = 0; i < cfg->nmodules; i++) {
		const struct cfg_module *m = &cfg->modules[i];

		if (m->name == NULL || m->path == NULL) {
			modload_err(err, errlen,
			            "%s: module instance without "
			            "%s",
			            m->where ? m->where : "(config)",
			            m->name == NULL ? "a name" : "a path");
			goto fail;
		}
		if (modload_find(set, m->name) != NULL) {
			modload_err(err, errlen,
			            "%s: module instance \"%s\" "
			            "is defined twice",
			            m->where ? m->where : "(config)", m->name);
			goto fail;
		}
		if (modload_instance_create(cfg, m, host, set, &set->mods[i], err, errlen) < 0)
			goto fail;
		set->nmods++;
	}
	atomic_init(&set->refs, 1);
	return set;

fail:
	modload_set_destroy(set);
	return NULL;
}

/** modload_set_ref() - take a reference on a module set. */
void modload_set_ref(struct mod_set *set)
{
	atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
}

/**
 * modload_set_unref() - drop a reference; the last one calls every
 * instance's fini() (in reverse load order) and closes the files.
 */
void modload_set_unref(struct mod_set *set)
{
	if (set == NULL)
		return;
	if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
		return;
	modload_set_destroy(set);
}

/** modload_find() - the instance called `name`, NULL if none. */
struct mod_instance *modload_find(const struct mod_set *set, const char *name)
{
	if (set == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < set->nmods; i++)
		if (strcmp(set->mods[i].name, name) == 0)
			return &set->mods[i];
	return NULL;
}
