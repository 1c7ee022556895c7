/*
 * ctl.c — pgsluice-ctl: a small client of the admin console
 * (doc/operations.md "Admin console" and "pgsluice-ctl").
 *
 *   pgsluice-ctl [-h HOST] [-p PORT] [-U USER] [-d DBNAME] [--json] COMMAND [ARG...]
 *
 * The command words are joined by single spaces and sent as one simple
 * Query; the answer is printed as an aligned table (columns padded and
 * separated by two spaces) or, with --json, as a JSON array of objects.
 *
 * Exit status: 0 done, 1 the server refused (an ERROR, or a FATAL while
 * connecting), 2 the console could not be reached, 64 bad usage.  No option
 * takes a password (libpq reads PGPASSWORD or the password file); none is printed.
 */
#include "autoconf.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#define CTL_EXIT_OK      0
#define CTL_EXIT_SERVER  1
#define CTL_EXIT_CONNECT 2
#define CTL_EXIT_USAGE   64

/* The console takes at most 1024 bytes per query. */
#define CTL_MAX_COMMAND    1024
#define CTL_DEFAULT_PORT   "6432"
#define CTL_DEFAULT_DBNAME "pgsluice"

/* The connection keywords; main() has the values in the same order. */
/* clang-format off */
static const char *const ctl_keys[] = { "host", "port", "user", "dbname", "connect_timeout",
	"client_encoding", "fallback_application_name", NULL };
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(f,
	        "Usage:\n"
	        "  pgsluice-ctl [-h HOST] [-p PORT] [-U USER] [-d DBNAME] [--json] COMMAND "
	        "[ARG...]\n"
	        "  pgsluice-ctl --help | --version\n"
	        "\n"
	        "Commands (sent to the admin console):\n"
	        "  show pools|stats|clients|servers|config|modules|version\n"
	        "  version     the same as: show version\n"
	        "  reload      reload the configuration (SIGHUP)\n"
	        "  shutdown    drain the clients and stop (SIGTERM)\n"
	        "  pause [DB]  hold new transactions; answers once no server is left\n"
	        "  resume [DB] undo pause / kill\n"
	        "  disable DB  refuse new logins to DB;  enable DB  allow them again\n"
	        "  kill DB     close every client and server of DB (then paused)\n"
	        "  any other console command words are passed through, joined by spaces.\n"
	        "\n"
	        "Options:\n"
	        "  -h HOST     host name or Unix socket directory (default: PGHOST, else\n"
	        "              libpq's default socket directory)\n"
	        "  -p PORT     port (default: PGPORT, else " CTL_DEFAULT_PORT ")\n"
	        "  -U USER     admin user (default: PGUSER, else the operating system user)\n"
	        "  -d DBNAME   the console's database (default: " CTL_DEFAULT_DBNAME ")\n"
	        "  --json      print a JSON array of objects (column name -> string value)\n"
	        "\n"
	        "TLS follows PGSSLMODE (or libpq's default); a password comes from PGPASSWORD\n"
	        "or the password file, never from the command line.\n"
	        "Exit status: 0 done, 1 refused by the server, 2 could not connect, 64 usage.\n");
}

/* Whether a command word is printable ASCII or UTF-8 (no control characters). */
static bool word_ok(const char *w)
{
	const unsigned char *p;

	if (*w == '\0')
		return false;
	for (p = (const unsigned char *)w; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/*
 * build_command: the console command from the words argv[0..argc-1] into
 * buf (size CTL_MAX_COMMAND + 1).  "version" alone means SHOW VERSION;
 * "show" needs what to show.  Returns false (with a message) on bad usage.
 */
static bool build_command(int argc, char **argv, char *buf)
{
	size_t len = 0;
	int i;

	if (argc < 1) {
		fprintf(stderr, "pgsluice-ctl: no command given\n");
		return false;
	}
	if (argc == 1 && strcasecmp(argv[0], "version") == 0) {
		strcpy(buf, "SHOW VERSION");
		return true;
	}
	if (argc == 1 && strcasecmp(argv[0], "show") == 0) {
		fprintf(stderr, "pgsluice-ctl: show what? (pools, stats, clients, servers, config, "
		                "modules, "
		                "version)\n");
		return false;
	}
	for (i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);

		if (!word_ok(argv[i])) {
			fprintf(stderr,
			        "pgsluice-ctl: argument %d: empty or has a control character\n",
			        i + 1);
			return false;
		}
		if (len + (i > 0) + n > CTL_MAX_COMMAND) {
			fprintf(stderr, "pgsluice-ctl: the command is longer than %d bytes\n",
			        CTL_MAX_COMMAND);
			return false;
		}
		if (i > 0)
			buf[len++] = ' ';
		memcpy(buf + len, argv[i], n + 1);
		len += n;
	}
	return true;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
	int n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3 and 4 byte forms, surrogates, above U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; bad UTF-8 -> U+FFFD. */
static void json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		int n = utf8_len(s);

		if (n == 0)
			fputs("\\ufffd", f);
		else if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\u%04x", *s);
		else
			fwrite(s, 1, (size_t)n, f);
		s += n ? n : 1;
	}
	fputc('"', f);
}

/* Characters shown on a terminal: UTF-8 lead bytes (and stray bytes) counted. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* A value for the table: control characters shown as '?' (no terminal escapes). */
static void text_cell(FILE *f, const char *str, size_t pad)
{
	const unsigned char *s;

	for (s = (const unsigned char *)str; *s; s++)
		fputc(*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	while (pad-- > 0)
		fputc(' ', f);
}

static void print_json(FILE *f, const PGresult *res)
{
	int nrows = PQntuples(res), ncols = PQnfields(res);
	int r, c;

	fputc('[', f);
	for (r = 0; r < nrows; r++) {
		fputs(r ? ",\n {" : "\n {", f);
		for (c = 0; c < ncols; c++) {
			if (c)
				fputs(", ", f);
			json_string(f, PQfname(res, c));
			fputs(": ", f);
			if (PQgetisnull(res, r, c))
				fputs("null", f);
			else
				json_string(f, PQgetvalue(res, r, c));
		}
		fputc('}', f);
	}
	fputs(nrows ? "\n]\n" : "]\n", f);
}

/* The aligned table: header and rows, columns padded and separated by two spaces. */
static int print_table(FILE *f, const PGresult *res)
{
	int nrows = PQntuples(res), ncols = PQnfields(res);
	size_t *width;
	int r, c;

	width = calloc((size_t)ncols + 1, sizeof(*width));
	if (!width) {
		fprintf(stderr, "pgsluice-ctl: out of memory\n");
		return CTL_EXIT_SERVER;
	}
	for (c = 0; c < ncols; c++) {
		width[c] = text_width(PQfname(res, c));
		for (r = 0; r < nrows; r++) {
			size_t w = text_width(PQgetvalue(res, r, c));

			if (w > width[c])
				width[c] = w;
		}
	}
	for (r = -1; r < nrows; r++) {
		for (c = 0; c < ncols; c++) {
			const char *v = r < 0 ? PQfname(res, c) : PQgetvalue(res, r, c);

			text_cell(f, v, c == ncols - 1 ? 0 : width[c] - text_width(v) + 2);
		}
		fputc('\n', f);
	}
	free(width);
	return CTL_EXIT_OK;
}

/* The server's error: "ERROR 42601: invalid command" plus its detail and hint. */
static void print_error(const PGresult *res, PGconn *conn)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

	if (!msg) {
		fprintf(stderr, "pgsluice-ctl: %s", PQerrorMessage(conn));
		return;
	}
	fprintf(stderr, "pgsluice-ctl: %s %s: %s\n", sev ? sev : "ERROR", state ? state : "?????",
	        msg);
	if (detail)
		fprintf(stderr, "DETAIL: %s\n", detail);
	if (hint)
		fprintf(stderr, "HINT: %s\n", hint);
}

/*
 * A failed connection: refused by the server (a FATAL/ERROR it sent, or it
 * wanted a password we do not have) is 1; anything else (no such host, no
 * answer, TLS failure before the startup packet) is 2.
 */
static int connect_failed(PGconn *conn)
{
	const char *msg = conn ? PQerrorMessage(conn) : "out of memory\n";
	bool server = conn && (PQconnectionNeedsPassword(conn) || strstr(msg, "FATAL:  ") ||
	                       strstr(msg, "ERROR:  "));

	fprintf(stderr, "pgsluice-ctl: %s", msg);
	if (!*msg || msg[strlen(msg) - 1] != '\n')
		fputc('\n', stderr);
	return server ? CTL_EXIT_SERVER : CTL_EXIT_CONNECT;
}

static int run(const char *const *keys, const char *const *vals, const char *command, bool json)
{
	PGconn *conn;
	PGresult *res;
	int rc = CTL_EXIT_OK;

	conn = PQconnectdbParams(keys, vals, 0);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		rc = connect_failed(conn);
		PQfinish(conn);
		return rc;
	}
	res = PQexec(conn, command);
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		if (json)
			print_json(stdout, res);
		else
			rc = print_table(stdout, res);
		break;
	case PGRES_COMMAND_OK:
		if (json) {
			fputs("[\n {\"status\": ", stdout);
			json_string(stdout, PQcmdStatus(res));
			fputs("}\n]\n", stdout);
		} else {
			text_cell(stdout, PQcmdStatus(res), 0);
			fputc('\n', stdout);
		}
		break;
	default:
		print_error(res, conn);
		rc = CTL_EXIT_SERVER;
		break;
	}
	PQclear(res);
	PQfinish(conn);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'H'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	const char *host = NULL, *port = NULL, *user = NULL, *dbname = CTL_DEFAULT_DBNAME;
	char command[CTL_MAX_COMMAND + 1];
	bool json = false;
	int opt, rc;

	/* "+": stop at the first command word, so "show pools" is never an option. */
	while ((opt = getopt_long(argc, argv, "+h:p:U:d:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			host = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'U':
			user = optarg;
			break;
		case 'd':
			dbname = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'H':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("pgsluice-ctl %s\n", PACKAGE_VERSION);
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	/* Options may also follow the command: "show modules --json". */
	while (argc - optind > 0 && strcmp(argv[argc - 1], "--json") == 0) {
		json = true;
		argc--;
	}
	if (!build_command(argc - optind, argv + optind, command)) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (!port)
		port = getenv("PGPORT") && *getenv("PGPORT") ? getenv("PGPORT") : CTL_DEFAULT_PORT;

	{
		/* NULL values (no -h, no -U) are skipped: libpq's environment and defaults apply. */
		const char *const vals[] = {host, port, user, dbname, "10", "UTF8", "pgsluice-ctl"};

		rc = run(ctl_keys, vals, command, json);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "pgsluice-ctl: could not write the output\n");
		if (rc == CTL_EXIT_OK)
			rc = CTL_EXIT_SERVER;
	}
	return rc;
}
