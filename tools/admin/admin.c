/*
 * admin.c — pgsluice-admin: command line, usage text, and the helpers the
 * commands share: messages, the master key passphrase and the password to
 * store (file, environment, terminal or generated).
 *
 * There is deliberately no option that takes a password or passphrase
 * itself: a command line is visible to every user of the machine.
 * Secrets are only ever held in fixed buffers on the stack (or a wiped
 * library buffer) and wiped on every path; the process also refuses to
 * dump core, so none reaches a core file.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "admin_audit.h"
#include "admin_key.h"
#include "admin_user.h"
#include "admin_util.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage:\n"
	        "  pgsluice-admin master-key [-k FILE] [--passphrase-file F] [--force]\n"
	        "  pgsluice-admin user add  -f VAULT -U USER [-k FILE] [--passphrase-file F]\n"
	        "                           [--password-file F | --generate] [--scram]\n"
	        "  pgsluice-admin user edit -f VAULT -U USER [-k FILE] [--passphrase-file F]\n"
	        "                           [--password-file F | --generate] [--scram]\n"
	        "  pgsluice-admin user del  -f VAULT -U USER\n"
	        "  pgsluice-admin user ls   -f VAULT [-k FILE] [--passphrase-file F] [--check]\n"
	        "  pgsluice-admin audit-key -k FILE [--force]\n"
	        "  pgsluice-admin audit-verify -k FILE AUDITFILE...\n"
	        "  pgsluice-admin audit-verify -m MASTERKEY [--passphrase-file F] AUDITFILE...\n"
	        "  pgsluice-admin --help | --version\n"
	        "\n"
	        "Commands:\n"
	        "  master-key  create the master key file from a passphrase (PBKDF2-HMAC-SHA256,\n"
	        "              %u rounds).  An existing file is refused unless --force is\n"
	        "              given; replacing it makes every vault made with the old key\n"
	        "              unreadable.\n"
	        "  user add    add USER to VAULT; creates VAULT (mode 0600) when it does not "
	        "exist.\n"
	        "              USER must not exist yet.\n"
	        "  user edit   replace the password of USER, who must exist.\n"
	        "  user del    remove USER, who must exist.  Needs no key.\n"
	        "  user ls     the users of VAULT, one per line, in file order.  Needs no key,\n"
	        "              except with --check: decrypt every entry and name each one that\n"
	        "              does not decrypt.\n"
	        "  add and edit check the passphrase against the master key file, and that the\n"
	        "  other entries of VAULT decrypt with that key, before writing.  Every write\n"
	        "  replaces the file atomically: a failed run leaves the old file intact.\n"
	        "  audit-key   create the audit trail's key file: a random 32-byte key as 64 hex\n"
	        "              digits, mode 0600.  An existing file is refused unless --force\n"
	        "              is given; audit files chained with the old key verify only\n"
	        "              with the old key.\n"
	        "  audit-verify  check each AUDITFILE's HMAC chain with the audit key, stopping\n"
	        "              at the first problem, which is named by its line.  Prints \"OK:\"\n"
	        "              and the line and seq range for each good file, and a note for\n"
	        "              each chain_start and gap event met.  With -m, the key is\n"
	        "              derived from the vault's master key as the audit module's\n"
	        "              key_vault setting does (HKDF-SHA256, label \"audit-hmac\").\n"
	        "\n"
	        "Options:\n"
	        "  -f, --file VAULT        the vault file\n"
	        "  -U, --user USER         the user name (1 to %d bytes, no control characters)\n"
	        "  -k, --key FILE          the master key file; default: master.key in the\n"
	        "                          directory of VAULT (master-key: ./master.key).\n"
	        "                          audit-key, audit-verify: the audit key file\n"
	        "                          (a private file, mode 0600 or 0400)\n"
	        "  -m, --vault-master-key FILE  audit-verify: the vault's master key file, for\n"
	        "                          a trail keyed with key_vault (instead of -k; the\n"
	        "                          passphrase as for the vault commands)\n"
	        "  --passphrase-file F     the master key passphrase is the first line of F, a\n"
	        "                          private file (mode 0600); else the environment\n"
	        "                          variable " VAULT_ENV_PASSPHRASE ";\n"
	        "                          else it is asked on the terminal\n"
	        "  --password-file F       the password is the first line of F, a private file\n"
	        "                          (mode 0600); else the environment variable\n"
	        "                          " ADMIN_ENV_PASSWORD "; else it is asked twice on the\n"
	        "                          terminal.  No option takes a password itself.\n"
	        "  --generate              a random password of %d letters and digits, printed\n"
	        "                          once on stdout (nothing else is printed there)\n"
	        "  --scram                 store a SCRAM-SHA-256 verifier of the password (random\n"
	        "                          %d-byte salt, %d iterations, SASLprep as PostgreSQL)\n"
	        "                          instead of the password.  Only for the frontend-users\n"
	        "                          and admins vaults: pgsluice logs in to PostgreSQL with\n"
	        "                          the passwords of the users vault and needs them as\n"
	        "                          they are.\n"
	        "  --force                 master-key, audit-key: replace an existing key file\n"
	        "  --check                 user ls: decrypt every entry\n"
	        "  -h, --help              this text\n"
	        "  -V, --version           the version\n"
	        "Passwords are 1 to %d bytes.  A password that is an MD5 hash (\"md5\" and 32 hex\n"
	        "digits) or a SCRAM-SHA-256 verifier is stored as it is and used as one.\n"
	        "\n"
	        "Exit status:\n"
	        "  0  success\n"
	        "  1  error (I/O, permissions, a corrupt file, no terminal, a refused password)\n"
	        "  2  usage error\n"
	        "  3  wrong passphrase, or vault entries that do not decrypt\n"
	        "  4  the user exists (add) or does not exist (edit, del)\n"
	        "  5  the master key file exists (master-key without --force), or the audit\n"
	        "     key file (audit-key without --force)\n"
	        "audit-verify: 0 every file verified, 1 a file is broken (its first problem is\n"
	        "on stdout), 2 usage error, 3 the key file or an audit file is missing,\n"
	        "unreadable or malformed, or the key file is not private, or the master key\n"
	        "cannot be unlocked (the check stops there).\n",
	        VAULT_MASTER_ITERATIONS, VAULT_MAX_USER, ADMIN_GENERATED_LEN, ADMIN_SCRAM_SALT_LEN,
	        ADMIN_SCRAM_ITER, VAULT_MAX_SECRET);
}

/* ------------------------------------------------------------ command line */

enum opt_bit {
	OPT_FILE = 1 << 0,
	OPT_USER = 1 << 1,
	OPT_KEY = 1 << 2,
	OPT_PASSPHRASE = 1 << 3,
	OPT_PASSWORD = 1 << 4,
	OPT_GENERATE = 1 << 5,
	OPT_SCRAM = 1 << 6,
	OPT_FORCE = 1 << 7,
	OPT_CHECK = 1 << 8,
	OPT_MASTER = 1 << 9,
};

enum long_only { LO_PASSPHRASE = 256, LO_PASSWORD, LO_GENERATE, LO_SCRAM, LO_FORCE, LO_CHECK };

/* Which options each command takes.  del and a plain ls need no key, but
 * take -k and --passphrase-file (ignored) so scripts may pass them always. */
static const struct command {
	const char *word, *sub;
	unsigned allowed, required;
	bool operands;   /* takes file names after the options */
	unsigned one_of; /* exactly one of these options is required */
} commands[] = {
        {"master-key", NULL, OPT_KEY | OPT_PASSPHRASE | OPT_FORCE, 0, false, 0},
        {"user", "add",
         OPT_FILE | OPT_USER | OPT_KEY | OPT_PASSPHRASE | OPT_PASSWORD | OPT_GENERATE | OPT_SCRAM,
         OPT_FILE | OPT_USER, false, 0},
        {"user", "edit",
         OPT_FILE | OPT_USER | OPT_KEY | OPT_PASSPHRASE | OPT_PASSWORD | OPT_GENERATE | OPT_SCRAM,
         OPT_FILE | OPT_USER, false, 0},
        {"user", "del", OPT_FILE | OPT_USER | OPT_KEY | OPT_PASSPHRASE, OPT_FILE | OPT_USER, false,
         0},
        {"user", "ls", OPT_FILE | OPT_KEY | OPT_PASSPHRASE | OPT_CHECK, OPT_FILE, false, 0},
        {"audit-key", NULL, OPT_KEY | OPT_FORCE, OPT_KEY, false, 0},
        {"audit-verify", NULL, OPT_KEY | OPT_MASTER | OPT_PASSPHRASE, 0, true,
         OPT_KEY | OPT_MASTER},
};

/* In the order of the OPT_ bits, which opt_name() relies on. */
static const struct option opts[] = {
        {"file", required_argument, NULL, 'f'},
        {"user", required_argument, NULL, 'U'},
        {"key", required_argument, NULL, 'k'},
        {"passphrase-file", required_argument, NULL, LO_PASSPHRASE},
        {"password-file", required_argument, NULL, LO_PASSWORD},
        {"generate", no_argument, NULL, LO_GENERATE},
        {"scram", no_argument, NULL, LO_SCRAM},
        {"force", no_argument, NULL, LO_FORCE},
        {"check", no_argument, NULL, LO_CHECK},
        {"vault-master-key", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
};

/* The long option an OPT_ bit stands for (without "--"), in messages. */
static const char *opt_name(unsigned bit)
{
	return opts[__builtin_ctz(bit)].name;
}

/* The option word getopt_long() just took: argv[optind - 1], or the one
 * before when its argument was the next word (glibc resets optarg to
 * NULL on every call). */
static const char *option_word(char **argv)
{
	return optarg != NULL && optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
}

/* getopt_long() takes any unambiguous prefix of a long option: refuse
 * that, so that "--password SECRET" is not read as "--password-file
 * SECRET". */
static bool long_exact(char **argv, int idx)
{
	const char *word = option_word(argv);
	size_t n = strlen(opts[idx].name);

	return strncmp(word, "--", 2) == 0 && strncmp(word + 2, opts[idx].name, n) == 0 &&
	       (word[2 + n] == '\0' || word[2 + n] == '=');
}

/* Set a string option once; a repeated one is a usage error. */
static int set_once(const char **dst, unsigned bit, unsigned *seen)
{
	if (*seen & bit) {
		admin_msg("--%s given twice", opt_name(bit));
		return -1;
	}
	*seen |= bit;
	*dst = optarg;
	if (optarg[0] == '\0') {
		admin_msg("--%s: empty argument", opt_name(bit));
		return -1;
	}
	return 0;
}

/* Parse argv (argv[0] is the last command word); ADMIN_OK, ADMIN_USAGE, or
 * -1 when --help or --version was answered.  The file names of a command
 * that takes them are then argv[optind..argc): getopt_long() moves them
 * behind the options. */
static int parse_options(int argc, char **argv, const struct command *cmd, struct admin_opts *o)
{
	unsigned seen = 0, bad;
	int c, idx, rc = 0;

	opterr = 0;
	optind = 1;
	while (rc == 0 &&
	       (c = getopt_long(argc, argv, ":f:U:k:m:hV", opts, (idx = -1, &idx))) != -1) {
		if (idx >= 0 && !long_exact(argv, idx))
			c = '?';
		switch (c) {
		case 'f':
			rc = set_once(&o->vault, OPT_FILE, &seen);
			break;
		case 'U':
			rc = set_once(&o->user, OPT_USER, &seen);
			break;
		case 'k':
			rc = set_once(&o->key_file, OPT_KEY, &seen);
			break;
		case 'm':
			rc = set_once(&o->master_key, OPT_MASTER, &seen);
			break;
		case LO_PASSPHRASE:
			rc = set_once(&o->passphrase_file, OPT_PASSPHRASE, &seen);
			break;
		case LO_PASSWORD:
			rc = set_once(&o->password_file, OPT_PASSWORD, &seen);
			break;
		case LO_GENERATE:
			seen |= OPT_GENERATE;
			o->generate = true;
			break;
		case LO_SCRAM:
			seen |= OPT_SCRAM;
			o->scram = true;
			break;
		case LO_FORCE:
			seen |= OPT_FORCE;
			o->force = true;
			break;
		case LO_CHECK:
			seen |= OPT_CHECK;
			o->check = true;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("%s\n", PACKAGE_STRING);
			return -1;
		case ':':
			admin_msg("%s needs an argument", argv[optind - 1]);
			return ADMIN_USAGE;
		default: /* the name only: "--password=x" must not show x */
			admin_msg("unknown option %.*s", (int)strcspn(option_word(argv), "="),
			          option_word(argv));
			return ADMIN_USAGE;
		}
	}
	if (rc != 0)
		return ADMIN_USAGE;
	if (optind < argc && !cmd->operands) {
		/* Not echoed: it may be a password typed where none belongs. */
		admin_msg("unexpected argument after the options (a password is never given on "
		          "the command line: see --help)");
		return ADMIN_USAGE;
	}
	bad = seen & ~cmd->allowed;
	if (bad != 0) {
		admin_msg("%s%s%s does not take --%s", cmd->word, cmd->sub ? " " : "",
		          cmd->sub ? cmd->sub : "", opt_name(bad & -bad));
		return ADMIN_USAGE;
	}
	bad = cmd->required & ~seen;
	if (bad != 0) {
		admin_msg("%s%s%s needs --%s", cmd->word, cmd->sub ? " " : "",
		          cmd->sub ? cmd->sub : "", opt_name(bad & -bad));
		return ADMIN_USAGE;
	}
	if (cmd->one_of != 0 && __builtin_popcount(seen & cmd->one_of) != 1) {
		admin_msg("%s needs exactly one of --%s and --%s", cmd->word,
		          opt_name(cmd->one_of & -cmd->one_of),
		          opt_name(cmd->one_of & ~(cmd->one_of & -cmd->one_of)));
		return ADMIN_USAGE;
	}
	if (cmd->operands && optind >= argc) {
		admin_msg("%s needs at least one file to check", cmd->word);
		return ADMIN_USAGE;
	}
	if (o->generate && o->password_file != NULL) {
		admin_msg("--password-file and --generate exclude each other");
		return ADMIN_USAGE;
	}
	return ADMIN_OK;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int main(int argc, char **argv)
{
	/* Secrets must not reach a core file; new files are private. */
	const struct rlimit no_core = {0, 0};
	const struct command *cmd = NULL;
	struct admin_opts o = {0};
	int words, rc;

	(void)setrlimit(RLIMIT_CORE, &no_core);
	umask(077);
	if (argc < 2) {
		usage(stderr);
		return ADMIN_USAGE;
	}
	if (is_help(argv[1])) {
		usage(stdout);
		return ADMIN_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("%s\n", PACKAGE_STRING);
		return ADMIN_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].word) != 0)
			continue;
		if (commands[i].sub == NULL ||
		    (argc > 2 && strcmp(argv[2], commands[i].sub) == 0)) {
			cmd = &commands[i];
			break;
		}
	}
	if (cmd == NULL) {
		if (strcmp(argv[1], "user") == 0 && argc > 2 && is_help(argv[2])) {
			usage(stdout);
			return ADMIN_OK;
		}
		if (strcmp(argv[1], "user") == 0)
			admin_msg("user: expected add, edit, del or ls, not \"%s\"",
			          argc > 2 ? argv[2] : "");
		else
			admin_msg("unknown command \"%s\" (--help lists them)", argv[1]);
		return ADMIN_USAGE;
	}
	words = cmd->sub != NULL ? 2 : 1;
	rc = parse_options(argc - words, argv + words, cmd, &o);
	if (rc < 0)
		return fflush(stdout) == 0 ? ADMIN_OK : ADMIN_ERROR;
	if (rc != ADMIN_OK)
		return rc;
	if (strcmp(cmd->word, "audit-key") == 0)
		rc = admin_cmd_audit_key(&o);
	else if (strcmp(cmd->word, "audit-verify") == 0)
		rc = admin_cmd_audit_verify(&o, argc - words - optind, argv + words + optind);
	else if (cmd->sub == NULL)
		rc = admin_cmd_master_key(&o);
	else
		rc = admin_cmd_user(cmd->sub, &o);
	if (fflush(stdout) != 0 && rc == ADMIN_OK) {
		admin_msg("stdout: %s", strerror(errno));
		rc = ADMIN_ERROR;
	}
	return rc;
}
