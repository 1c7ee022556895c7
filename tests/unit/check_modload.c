/*
 * check_modload.c — unit tests for the module loader (modload.c) and the
 * module config getters (modcfg.c).
 *
 * The fixtures in tests/fixtures/ are built as real shared objects into
 * BUILD_MODULEDIR; each broken one must be refused with a message that
 * names its file and the first field that failed, and a failure while
 * building a set must unload whatever was already loaded.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ltdl.h>

#include "config.h"
#include "modload.h"
#include "test_log.h"

#define MODDIR BUILD_MODULEDIR

/* ------------------------------------------------------------ test host */

static void th_wipe_free(void *p, size_t len)
{
	if (p != NULL)
		memset(p, 0, len);
	free(p);
}

static const pgs_host test_host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = PACKAGE_STRING,
        .log = th_log,
        .alloc = th_alloc,
        .free = free,
        .wipe_free = th_wipe_free,
        .cfg_str = modcfg_str,
        .cfg_int = modcfg_int,
        .cfg_bool = modcfg_bool,
        .cfg_where = modcfg_where,
};

/* ------------------------------------------------------------ config */

/* A libconfig file written to a temporary path, for real file:line. */
struct tconf {
	char path[64];
	config_t lc;
	struct pgs_config cfg;
	struct cfg_module mods[8];
	char where[8][128];
};

static void tconf_load(struct tconf *t, const char *text)
{
	FILE *f;
	int fd;

	memset(t, 0, sizeof *t);
	snprintf(t->path, sizeof t->path, "/tmp/check_modload.XXXXXX");
	fd = mkstemp(t->path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	config_init(&t->lc);
	ck_assert_msg(config_read_file(&t->lc, t->path) == CONFIG_TRUE, "%s:%d: %s", t->path,
	              config_error_line(&t->lc), config_error_text(&t->lc));
}

/* Fill t->cfg.modules from the `modules` group, the way config.c does. */
static void tconf_modules(struct tconf *t, const char *module_path)
{
	const config_setting_t *mods = config_lookup(&t->lc, "modules");
	int n = mods ? config_setting_length(mods) : 0;

	ck_assert_int_le(n, 8);
	t->cfg.module_path = (char *)module_path;
	t->cfg.modules = t->mods;
	t->cfg.nmodules = (size_t)n;
	for (int i = 0; i < n; i++) {
		config_setting_t *g = config_setting_get_elem(mods, (unsigned)i);
		const char *path = NULL;

		char where[sizeof t->where[i]];

		ck_assert(config_setting_lookup_string(g, "path", &path));
		/* via a local buffer: gcc -O1 sees t->path and t->where as overlapping */
		snprintf(where, sizeof where, "%s:%d", t->path, config_setting_source_line(g));
		memcpy(t->where[i], where, sizeof where);
		t->mods[i].name = config_setting_name(g);
		t->mods[i].path = (char *)path;
		t->mods[i].group = g;
		t->mods[i].where = t->where[i];
	}
}

static void tconf_free(struct tconf *t)
{
	config_destroy(&t->lc);
	unlink(t->path);
}

/* ------------------------------------------------------------ modcfg */

START_TEST(test_modcfg_getters)
{
	struct tconf t;
	struct pgs_cfg pc, empty = {NULL};
	const char *s = NULL;
	int64_t v = 0;
	bool b = false;
	char want[128];

	tconf_load(&t, "m = {\n"
	               "  s = \"text\";\n"
	               "  i = 42;\n"
	               "  big = 5000000000L;\n"
	               "  b = true;\n"
	               "  f = 1.5;\n"
	               "};\n");
	pc.group = config_lookup(&t.lc, "m");
	ck_assert_ptr_nonnull(pc.group);

	ck_assert_int_eq(modcfg_str(&pc, "s", &s), 0);
	ck_assert_str_eq(s, "text");
	ck_assert_int_eq(modcfg_str(&pc, "i", &s), -EINVAL);
	ck_assert_int_eq(modcfg_str(&pc, "b", &s), -EINVAL);
	ck_assert_int_eq(modcfg_str(&pc, "none", &s), -ENOENT);

	ck_assert_int_eq(modcfg_int(&pc, "i", &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(modcfg_int(&pc, "big", &v), 0);
	ck_assert(v == 5000000000LL);
	ck_assert_int_eq(modcfg_int(&pc, "s", &v), -EINVAL);
	ck_assert_int_eq(modcfg_int(&pc, "b", &v), -EINVAL);
	ck_assert_int_eq(modcfg_int(&pc, "f", &v), -EINVAL);
	ck_assert_int_eq(modcfg_int(&pc, "none", &v), -ENOENT);

	ck_assert_int_eq(modcfg_bool(&pc, "b", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(modcfg_bool(&pc, "i", &b), -EINVAL);
	ck_assert_int_eq(modcfg_bool(&pc, "s", &b), -EINVAL);
	ck_assert_int_eq(modcfg_bool(&pc, "none", &b), -ENOENT);

	/* An instance without a config group: everything is absent. */
	ck_assert_int_eq(modcfg_str(&empty, "s", &s), -ENOENT);
	ck_assert_int_eq(modcfg_int(&empty, "i", &v), -ENOENT);
	ck_assert_int_eq(modcfg_bool(NULL, "b", &b), -ENOENT);

	snprintf(want, sizeof want, "%s:3", t.path);
	ck_assert_str_eq(modcfg_where(&pc, "i"), want);
	snprintf(want, sizeof want, "%s:1", t.path);
	ck_assert_str_eq(modcfg_where(&pc, NULL), want);
	ck_assert_str_eq(modcfg_where(&pc, "none"), want);
	ck_assert_str_eq(modcfg_where(&empty, "x"), "(no config)");
	tconf_free(&t);
}
END_TEST

/* ------------------------------------------------------------ descriptor */

static pgs_module good_desc(void)
{
	pgs_module d = {
	        PGS_MODULE_INIT("mem", "1"),
	};
	return d;
}

START_TEST(test_descriptor_fields)
{
	char err[512];
	pgs_module d;

	d = good_desc();
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), 0);

	ck_assert_int_eq(modload_check_descriptor(NULL, "/m.so", err, sizeof err), -1);
	ck_assert_str_eq(err, "module /m.so: entry function "
	                      "'pgs_module_entry_v1' returned NULL");

	d = good_desc();
	d.magic = 0x12345678u;
	d.abi_major = 9; /* magic is checked first */
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), -1);
	ck_assert_str_eq(err, "module /m.so: field 'magic' is 0x12345678, "
	                      "expected 0x70674d31");

	d = good_desc();
	d.abi_major = 0;
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), -1);
	ck_assert_str_eq(err, "module /m.so: field 'abi_major' is 0, "
	                      "expected 1");

	d = good_desc();
	d.abi_minor = PGS_ABI_MINOR + 3;
	d.size = 8; /* minor is checked before size */
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), -1);
	{
		char want[96];

		snprintf(want, sizeof want, "field 'abi_minor' is %d, newer than the host's %d",
		         PGS_ABI_MINOR + 3, PGS_ABI_MINOR);
		ck_assert_msg(strstr(err, want) != NULL, "%s", err);
	}

	d = good_desc();
	d.size = 16;
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), -1);
	{
		char want[128];

		snprintf(want, sizeof want,
		         "module /m.so: field 'size' is 16, "
		         "need at least %zu",
		         (size_t)PGS_MODULE_V1_0_SIZE);
		ck_assert_str_eq(err, want);
	}

	/* A bigger descriptor (a newer minor appended fields) is fine. */
	d = good_desc();
	d.size = sizeof(pgs_module) + 64;
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), 0);

	d = good_desc();
	d.name = NULL;
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), -1);
	ck_assert_str_eq(err, "module /m.so: field 'name' is NULL");

	d = good_desc();
	d.build_id = "pgsluice 0.0.0-other";
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), -1);
	ck_assert_str_eq(err, "module /m.so: field 'build_id' is \"pgsluice "
	                      "0.0.0-other\", this host is \"" PACKAGE_STRING "\"");

	d = good_desc();
	d.build_id = PACKAGE_STRING;
	ck_assert_int_eq(modload_check_descriptor(&d, "/m.so", err, sizeof err), 0);
}
END_TEST

/* ------------------------------------------------------------ open */

static const struct refusal {
	const char *file;
	const char *message; /* after "module <MODDIR>/<file>: " */
} refusals[] = {
        {"fx_nosym.so", "missing entry symbol 'pgs_module_entry_v1'"},
        {"fx_badmagic.so", "field 'magic' is 0xdeadbeef, expected 0x70674d31"},
        {"fx_badmajor.so", "field 'abi_major' is 2, expected 1"},
        {"fx_newminor.so", NULL}, /* "field 'abi_minor' is N+1, newer than the host's N" */
        {"fx_small.so", "field 'size' is "},
        {"fx_noname.so", "field 'name' is NULL"},
};

START_TEST(test_open_refusal)
{
	const struct refusal *r = &refusals[_i];
	struct mod_instance inst = {0};
	char err[1024], want[1024];

	ck_assert_int_eq(modload_open(r->file, MODDIR, &inst, err, sizeof err), -1);
	if (r->message != NULL)
		snprintf(want, sizeof want, "module %s/%s: %s", MODDIR, r->file, r->message);
	else
		snprintf(want, sizeof want,
		         "module %s/%s: field 'abi_minor' is %d, newer than the host's %d", MODDIR,
		         r->file, PGS_ABI_MINOR + 1, PGS_ABI_MINOR);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "got \"%s\", want \"%s...\"", err,
	              want);
	ck_assert_ptr_null(inst.handle);
	ck_assert_ptr_null(inst.desc);
	ck_assert_ptr_null(inst.file);
}
END_TEST

START_TEST(test_open_small_size)
{
	struct mod_instance inst = {0};
	char err[1024], want[128];

	ck_assert_int_eq(modload_open(MODDIR "/fx_small.so", NULL, &inst, err, sizeof err), -1);
	snprintf(want, sizeof want, ", need at least %zu", (size_t)PGS_MODULE_V1_0_SIZE);
	ck_assert_msg(strlen(err) > strlen(want) &&
	                      strcmp(err + strlen(err) - strlen(want), want) == 0,
	              "%s", err);
}
END_TEST

START_TEST(test_open_missing)
{
	struct mod_instance inst = {0};
	char err[1024];

	ck_assert_int_eq(modload_open("fx_missing", MODDIR, &inst, err, sizeof err), -1);
	ck_assert_str_eq(err, "module " MODDIR "/fx_missing: cannot load: "
	                      "file not found");

	ck_assert_int_eq(modload_open("/nonexistent/dir/x.so", MODDIR, &inst, err, sizeof err), -1);
	ck_assert_msg(strncmp(err, "module /nonexistent/dir/x.so: cannot load:", 41) == 0, "%s",
	              err);
	ck_assert_int_eq(modload_open("", MODDIR, &inst, err, sizeof err), -1);
}
END_TEST

/* Undo a successful modload_open() (no init() ran). */
static void close_instance(struct mod_instance *inst)
{
	ck_assert_int_eq(lt_dlclose((lt_dlhandle)inst->handle), 0);
	free(inst->file);
	memset(inst, 0, sizeof *inst);
}

START_TEST(test_open_paths)
{
	struct mod_instance inst = {0};
	char err[1024];

	/* Relative, no extension: lt_dlopenext finds it in module_path. */
	ck_assert_int_eq(modload_open("fx_good", MODDIR, &inst, err, sizeof err), 0);
	ck_assert_ptr_nonnull(inst.handle);
	ck_assert_str_eq(inst.desc->name, "fx_good");
	ck_assert_msg(strncmp(inst.file, MODDIR "/fx_good", strlen(MODDIR) + 8) == 0, "%s",
	              inst.file);
	close_instance(&inst);

	/* Relative with an extension, module_path with a trailing slash. */
	memset(&inst, 0, sizeof inst);
	ck_assert_int_eq(modload_open("fx_good.so", MODDIR "/", &inst, err, sizeof err), 0);
	ck_assert_str_eq(inst.file, MODDIR "/fx_good.so");
	close_instance(&inst);

	/* Absolute: module_path does not matter. */
	memset(&inst, 0, sizeof inst);
	ck_assert_int_eq(modload_open(MODDIR "/fx_good.so", "/nowhere", &inst, err, sizeof err), 0);
	ck_assert_str_eq(inst.desc->name, "fx_good");
	close_instance(&inst);

	/* Relative to a module_path that is itself a different directory. */
	memset(&inst, 0, sizeof inst);
	ck_assert_int_eq(modload_open(".libs/fx_good.so", MODDIR "/..", &inst, err, sizeof err), 0);
	close_instance(&inst);
}
END_TEST

START_TEST(test_open_trust_reject)
{
	struct mod_instance inst = {0};
	char err[1024];

	ck_assert_int_eq(modload_open("trust", MODDIR, &inst, err, sizeof err), 0);
	ck_assert_str_eq(inst.desc->name, "trust");
	ck_assert_ptr_nonnull(inst.desc->auth);
	ck_assert_uint_eq(inst.desc->auth->flags & PGS_AUTH_INTERACTIVE, 0);
	close_instance(&inst);

	memset(&inst, 0, sizeof inst);
	ck_assert_int_eq(modload_open("reject", MODDIR, &inst, err, sizeof err), 0);
	ck_assert_str_eq(inst.desc->name, "reject");
	ck_assert_ptr_nonnull(inst.desc->auth);
	close_instance(&inst);
}
END_TEST

/* A module built against the frozen v1.0 header still loads, and the
 * host finds its v1.0 fields where the module put them. */
START_TEST(test_open_frozen_v1_0)
{
	struct mod_instance inst = {0};
	char err[1024];

	ck_assert_msg(modload_open("fx_abi10", MODDIR, &inst, err, sizeof err) == 0, "%s", err);
	ck_assert_str_eq(inst.desc->name, "fx_abi10");
	ck_assert_str_eq(inst.desc->version, "1.0.0");
	ck_assert_uint_eq(inst.desc->abi_major, 1);
	ck_assert_uint_eq(inst.desc->abi_minor, 0);
	ck_assert_uint_ge(inst.desc->size, PGS_MODULE_V1_0_SIZE);
	ck_assert_ptr_nonnull(inst.desc->auth);
	ck_assert_uint_eq(inst.desc->auth->flags, PGS_AUTH_INTERACTIVE);
	ck_assert_ptr_nonnull(inst.desc->auth->step);
	ck_assert_ptr_nonnull(inst.desc->backend);
	ck_assert_uint_eq(inst.desc->backend->auth_codes, PGS_AUTH_CODE_BIT(3));
	ck_assert_ptr_null(inst.desc->cred);
	close_instance(&inst);
}
END_TEST

/* ------------------------------------------------------------ sets */

START_TEST(test_set_create_refs)
{
	struct tconf t;
	struct mod_set *set;
	char err[1024];

	tconf_load(&t, "modules = {\n"
	               "  a = { path = \"fx_good\"; };\n"
	               "  b = { path = \"" MODDIR "/fx_good.so\"; };\n"
	               "  t = { path = \"trust\"; };\n"
	               "};\n");
	tconf_modules(&t, MODDIR);
	set = modload_set_create(&t.cfg, &test_host, err, sizeof err);
	ck_assert_msg(set != NULL, "%s", err);
	ck_assert_uint_eq(set->nmods, 3);
	ck_assert_int_eq(th_log_count("fx_good init"), 2);
	ck_assert_ptr_eq(modload_find(set, "b"), &set->mods[1]);
	ck_assert_str_eq(modload_find(set, "t")->desc->name, "trust");
	ck_assert_ptr_null(modload_find(set, "nope"));
	/* Each instance has its own config handle pointing at its group. */
	ck_assert_ptr_eq(set->mods[0].cfg->group, t.mods[0].group);

	modload_set_ref(set);
	modload_set_unref(set);
	ck_assert_int_eq(th_log_count("fx_good fini"), 0);
	modload_set_unref(set);
	ck_assert_int_eq(th_log_count("fx_good fini"), 2);
	tconf_free(&t);
}
END_TEST

START_TEST(test_set_create_empty)
{
	struct pgs_config cfg;
	struct mod_set *set;
	char err[256];

	memset(&cfg, 0, sizeof cfg);
	set = modload_set_create(&cfg, &test_host, err, sizeof err);
	ck_assert_ptr_nonnull(set);
	ck_assert_uint_eq(set->nmods, 0);
	ck_assert_ptr_null(modload_find(set, "x"));
	modload_set_unref(set);
}
END_TEST

START_TEST(test_set_create_bad_module)
{
	struct tconf t;
	struct mod_set *set;
	char err[1024], want[1024];

	tconf_load(&t, "modules = {\n"
	               "  good = { path = \"fx_good\"; };\n"
	               "  bad = { path = \"fx_badmajor.so\"; };\n"
	               "  never = { path = \"fx_good\"; };\n"
	               "};\n");
	tconf_modules(&t, MODDIR);
	set = modload_set_create(&t.cfg, &test_host, err, sizeof err);
	ck_assert_ptr_null(set);
	snprintf(want, sizeof want,
	         "%s:3: module instance \"bad\": module "
	         "%s/fx_badmajor.so: field 'abi_major' is 2, expected 1",
	         t.path, MODDIR);
	ck_assert_str_eq(err, want);
	/* The instance loaded before the bad one was finished again; the
	 * one after it was never loaded. */
	ck_assert_int_eq(th_log_count("fx_good init"), 1);
	ck_assert_int_eq(th_log_count("fx_good fini"), 1);
	tconf_free(&t);
}
END_TEST

START_TEST(test_set_create_init_fails)
{
	struct tconf t;
	struct mod_set *set;
	char err[1024], want[1024];

	tconf_load(&t, "modules = {\n"
	               "  one = { path = \"fx_good\"; };\n"
	               "  two = { path = \"fx_good.so\";\n"
	               "          fail_init = true; };\n"
	               "};\n");
	tconf_modules(&t, MODDIR);
	set = modload_set_create(&t.cfg, &test_host, err, sizeof err);
	ck_assert_ptr_null(set);
	snprintf(want, sizeof want,
	         "%s:3: module instance \"two\" (module "
	         "%s/fx_good.so): init failed: %s",
	         t.path, MODDIR, strerror(EINVAL));
	ck_assert_str_eq(err, want);
	/* The module said why through the host log, with its own file:line. */
	snprintf(want, sizeof want, "fx_good: fail_init is set (%s:4)", t.path);
	ck_assert_int_eq(th_log_count(want), 1);
	ck_assert_int_eq(th_log_count("fx_good fini"), 1);
	tconf_free(&t);
}
END_TEST

START_TEST(test_set_create_missing_file)
{
	struct tconf t;
	struct mod_set *set;
	char err[1024], want[1024];

	tconf_load(&t, "modules = {\n"
	               "  gone = { path = \"fx_missing\"; };\n"
	               "};\n");
	tconf_modules(&t, MODDIR);
	set = modload_set_create(&t.cfg, &test_host, err, sizeof err);
	ck_assert_ptr_null(set);
	snprintf(want, sizeof want,
	         "%s:2: module instance \"gone\": module "
	         "%s/fx_missing: cannot load: file not found",
	         t.path, MODDIR);
	ck_assert_str_eq(err, want);
	tconf_free(&t);
}
END_TEST

START_TEST(test_set_create_duplicate)
{
	struct cfg_module mods[2] = {
	        {.name = "same", .path = "fx_good", .where = "a.conf:1"},
	        {.name = "same", .path = "trust", .where = "b.conf:7"},
	};
	struct pgs_config cfg;
	struct mod_set *set;
	char err[1024];

	memset(&cfg, 0, sizeof cfg);
	cfg.module_path = MODDIR;
	cfg.modules = mods;
	cfg.nmodules = 2;
	set = modload_set_create(&cfg, &test_host, err, sizeof err);
	ck_assert_ptr_null(set);
	ck_assert_str_eq(err, "b.conf:7: module instance \"same\" is defined "
	                      "twice");
	ck_assert_int_eq(th_log_count("fx_good fini"), 1);
}
END_TEST

/* Each test starts with an empty log, forked or not. */
static void reset_log(void)
{
	th_log_reset();
}

static Suite *modload_suite(void)
{
	Suite *s = suite_create("modload");
	TCase *tc;

	tc = tcase_create("modcfg");
	tcase_add_test(tc, test_modcfg_getters);
	suite_add_tcase(s, tc);

	tc = tcase_create("descriptor");
	tcase_add_test(tc, test_descriptor_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_loop_test(tc, test_open_refusal, 0, (int)(sizeof refusals / sizeof refusals[0]));
	tcase_add_test(tc, test_open_small_size);
	tcase_add_test(tc, test_open_missing);
	tcase_add_test(tc, test_open_paths);
	tcase_add_test(tc, test_open_trust_reject);
	tcase_add_test(tc, test_open_frozen_v1_0);
	suite_add_tcase(s, tc);

	tc = tcase_create("set");
	tcase_add_checked_fixture(tc, reset_log, NULL);
	tcase_add_test(tc, test_set_create_refs);
	tcase_add_test(tc, test_set_create_empty);
	tcase_add_test(tc, test_set_create_bad_module);
	tcase_add_test(tc, test_set_create_init_fails);
	tcase_add_test(tc, test_set_create_missing_file);
	tcase_add_test(tc, test_set_create_duplicate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(modload_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
