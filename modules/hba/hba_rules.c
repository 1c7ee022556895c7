/*
 * hba_rules.c — pg_hba.conf parsing and matching (see hba_rules.h).
 *
 * Everything that can be decided once is decided at load time: addresses
 * and masks are parsed to bytes (the network pre-masked), keywords resolved,
 * regexes compiled, so a match is a few compares per rule.  Semantics follow
 * PostgreSQL 15 (plus PostgreSQL 16's /regex in the database and user
 * columns); what needs a database query (samerole, +group) or DNS (host
 * names) is refused at load time with a clear error rather than ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hba_rules.h"
#include "hba_token.h"

enum conn_type {
	CT_LOCAL,
	CT_HOST,
	CT_HOSTSSL,
	CT_HOSTNOSSL,
	CT_HOSTGSSENC,
	CT_HOSTNOGSSENC,
};

/* Bit per transport, and the transports each connection type accepts. */
enum transport {
	TR_UNIX = 1u << 0,
	TR_TCP = 1u << 1,
	TR_TLS = 1u << 2,
	TR_GSS = 1u << 3,
};

static const struct {
	const char *name;
	enum conn_type type;
	unsigned transports;
} conn_types[] = {
        {"local", CT_LOCAL, TR_UNIX},          {"host", CT_HOST, TR_TCP | TR_TLS | TR_GSS},
        {"hostssl", CT_HOSTSSL, TR_TLS},       {"hostnossl", CT_HOSTNOSSL, TR_TCP | TR_GSS},
        {"hostgssenc", CT_HOSTGSSENC, TR_GSS}, {"hostnogssenc", CT_HOSTNOGSSENC, TR_TCP | TR_TLS},
};

enum name_kind {
	NK_NAME,
	NK_ALL,
	NK_SAMEUSER,
	NK_REPLICATION, /* never matches: pgsluice has no replication connections */
	NK_REGEX,
};

struct name_item {
	enum name_kind kind;
	const char *name;
	const regex_t *re;
};

struct name_list {
	struct name_item *items;
	size_t n;
};

enum addr_kind {
	AK_NONE, /* local lines */
	AK_ALL,
	AK_SAMEHOST,
	AK_SAMENET,
	AK_NET, /* family + net/mask */
};

struct rule {
	enum conn_type type;
	unsigned transports;
	enum addr_kind addr_kind;
	int family;
	uint8_t net[16], mask[16]; /* net is already masked */
	struct name_list dbs, users;
	const char *method;
	const char *const *options;
	const char *where;
	unsigned line;
	bool reject;
};

struct hba_rules {
	struct hba_arena *arena;
	struct rule *rules;
	size_t n;
};

/* A connection's facts, parsed once per match. */
struct client {
	unsigned transport;
	int family; /* 0: no IP address */
	uint8_t addr[16];
};

static int line_error(char *err, size_t errlen, const struct hba_line *l, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int line_error(char *err, size_t errlen, const struct hba_line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s:%u: ", l->file, l->lineno);
	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ------------------------------------------------------------ parsing */

/* Field i of l, or NULL; refuses comma lists unless `list`, and @file
 * outside the database and user columns. */
static int get_field(const struct hba_line *l, size_t i, const char *what, bool list,
                     const struct hba_field **out, char *err, size_t errlen)
{
	const struct hba_field *f;

	*out = NULL;
	if (i >= l->nfields)
		return 0;
	f = &l->fields[i];
	if (!list && f->ntoks > 1)
		return line_error(err, errlen, l, "multiple values specified for %s", what);
	for (size_t t = 0; !list && t < f->ntoks; t++) {
		if (hba_token_is_include(&f->toks[t]))
			return line_error(err, errlen, l,
			                  "@file inclusion (\"%s\") is only supported in the "
			                  "database and user columns",
			                  f->toks[t].str);
	}
	*out = f;
	return 0;
}

/* The database (is_db) or user column, @file references expanded. */
static int parse_names(struct hba_ctx *ctx, const struct hba_line *l, const struct hba_field *in,
                       bool is_db, struct name_list *out, char *err, size_t errlen)
{
	struct hba_field f;
	char why[HBA_ERR_LEN];
	int rc;

	rc = hba_expand_field(ctx, l, in, &f, err, errlen);
	if (rc < 0)
		return rc;
	out->n = 0;
	out->items = hba_arena_alloc(ctx->arena, (f.ntoks ? f.ntoks : 1) * sizeof(*out->items));
	if (out->items == NULL)
		return line_error(err, errlen, l, "out of memory");
	for (size_t i = 0; i < f.ntoks; i++) {
		const struct hba_token *t = &f.toks[i];
		struct name_item *it = &out->items[out->n++];

		it->name = t->str;
		it->kind = NK_NAME;
		if (t->str[0] == '/') {
			regex_t *re;

			/* PostgreSQL 16: the rest of the token is a regex */
			rc = hba_regex_compile(ctx->arena, t->str + 1, REG_NOSUB, &re, why,
			                       sizeof(why));
			if (rc < 0) {
				line_error(err, errlen, l, "%s", why);
				return rc;
			}
			it->kind = NK_REGEX;
			it->re = re;
		} else if (hba_token_is_keyword(t, "all")) {
			it->kind = NK_ALL;
		} else if (is_db && hba_token_is_keyword(t, "sameuser")) {
			it->kind = NK_SAMEUSER;
		} else if (is_db && hba_token_is_keyword(t, "replication")) {
			it->kind = NK_REPLICATION;
		} else if (is_db && (hba_token_is_keyword(t, "samerole") ||
		                     hba_token_is_keyword(t, "samegroup"))) {
			return line_error(err, errlen, l,
			                  "\"%s\" is not supported by pgsluice (role membership "
			                  "needs a database query); list the databases instead",
			                  t->str);
		} else if (!is_db && !t->quoted && t->str[0] == '+') {
			return line_error(
			        err, errlen, l,
			        "group names (\"%s\") are not supported by pgsluice (role "
			        "membership needs a database query); list the users, use "
			        "an @file or a /regex",
			        t->str);
		}
	}
	return 0;
}

/* Text of an IPv4 or IPv6 address into family + 16 bytes; 0 or -EINVAL. */
static int parse_ip(const char *s, int *family, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* Looks like someone meant an address (digits and dots, or a colon), as
 * opposed to a host name. */
static bool looks_numeric(const char *s)
{
	if (strchr(s, ':') != NULL)
		return true;
	return strspn(s, "0123456789.") == strlen(s);
}

static void mask_from_bits(uint8_t mask[16], unsigned bits)
{
	memset(mask, 0, 16);
	for (unsigned i = 0; i < bits; i++)
		mask[i / 8] |= (uint8_t)(0x80u >> (i % 8));
}

/*
 * ADDRESS (and MASK) columns starting at field *fi; *fi moves past them.
 */
static int parse_address(const struct hba_line *l, size_t *fi, struct rule *r, char *err,
                         size_t errlen)
{
	const struct hba_field *f;
	const struct hba_token *t;
	char addr[INET6_ADDRSTRLEN + 8];
	const char *slash;
	int rc, mfamily;

	rc = get_field(l, *fi, "host address", false, &f, err, errlen);
	if (rc < 0)
		return rc;
	if (f == NULL)
		return line_error(err, errlen, l, "end-of-line before IP address specification");
	(*fi)++;
	t = &f->toks[0];
	if (hba_token_is_keyword(t, "all")) {
		r->addr_kind = AK_ALL;
		return 0;
	}
	if (hba_token_is_keyword(t, "samehost")) {
		r->addr_kind = AK_SAMEHOST;
		return 0;
	}
	if (hba_token_is_keyword(t, "samenet")) {
		r->addr_kind = AK_SAMENET;
		return 0;
	}
	r->addr_kind = AK_NET;
	slash = strchr(t->str, '/');
	if (slash == NULL ? strlen(t->str) >= sizeof(addr)
	                  : (size_t)(slash - t->str) >= sizeof(addr)) {
		if (!looks_numeric(t->str))
			goto hostname;
		return line_error(err, errlen, l, "invalid IP address \"%s\"", t->str);
	}
	snprintf(addr, sizeof(addr), "%.*s", slash ? (int)(slash - t->str) : (int)strlen(t->str),
	         t->str);
	if (parse_ip(addr, &r->family, r->net) < 0) {
		if (!looks_numeric(addr))
			goto hostname;
		return line_error(err, errlen, l, "invalid IP address \"%s\"", t->str);
	}
	if (slash != NULL) {
		const char *bits = slash + 1;
		unsigned n = 0, max = r->family == AF_INET ? 32 : 128;
		size_t nd = strspn(bits, "0123456789");

		if (nd == 0 || nd > 3 || bits[nd] != '\0')
			return line_error(err, errlen, l, "invalid CIDR mask in address \"%s\"",
			                  t->str);
		for (size_t i = 0; i < nd; i++)
			n = n * 10 + (unsigned)(bits[i] - '0');
		if (n > max)
			return line_error(err, errlen, l, "invalid CIDR mask in address \"%s\"",
			                  t->str);
		mask_from_bits(r->mask, n);
	} else {
		/* address, then a MASK column */
		uint8_t m[16];

		rc = get_field(l, *fi, "netmask", false, &f, err, errlen);
		if (rc < 0)
			return rc;
		if (f == NULL)
			return line_error(err, errlen, l,
			                  "end-of-line before netmask specification (specify an "
			                  "address range in CIDR notation, or provide a separate "
			                  "netmask)");
		(*fi)++;
		if (parse_ip(f->toks[0].str, &mfamily, m) < 0)
			return line_error(err, errlen, l, "invalid IP mask \"%s\"", f->toks[0].str);
		if (mfamily != r->family)
			return line_error(err, errlen, l, "IP address and mask do not match");
		memcpy(r->mask, m, 16);
	}
	for (int i = 0; i < 16; i++)
		r->net[i] &= r->mask[i];
	return 0;
hostname:
	return line_error(err, errlen, l,
	                  "host names in the address column are not supported by pgsluice; "
	                  "use an address (\"%s\")",
	                  t->str);
}

/* METHOD-dependent checks PostgreSQL makes when it loads the file. */
static int check_method(const struct hba_line *l, const struct rule *r, char *err, size_t errlen)
{
	if (r->method[0] == '\0')
		return line_error(err, errlen, l, "empty authentication method");
	if (r->type == CT_LOCAL && strcmp(r->method, "ident") == 0)
		return line_error(err, errlen, l,
		                  "ident authentication is not supported on local sockets; use "
		                  "peer (PostgreSQL runs peer for ident on local lines)");
	if (r->type != CT_LOCAL && strcmp(r->method, "peer") == 0)
		return line_error(err, errlen, l,
		                  "peer authentication is only supported on local sockets");
	if (r->type == CT_LOCAL && strcmp(r->method, "gss") == 0)
		return line_error(err, errlen, l,
		                  "gssapi authentication is not supported on local sockets");
	if (r->type != CT_HOSTSSL && strcmp(r->method, "cert") == 0)
		return line_error(err, errlen, l,
		                  "cert authentication is only supported on hostssl connections");
	return 0;
}

static int check_option(const struct hba_line *l, const struct rule *r, const char *name,
                        const char *val, char *err, size_t errlen)
{
	if (strcmp(name, "clientcert") != 0)
		return 0;
	if (r->type != CT_HOSTSSL)
		return line_error(err, errlen, l,
		                  "clientcert can only be configured for \"hostssl\" rows");
	if (strcmp(val, "verify-full") != 0 && strcmp(val, "verify-ca") != 0)
		return line_error(err, errlen, l,
		                  "invalid value for clientcert: \"%s\" (use verify-ca or "
		                  "verify-full; PostgreSQL 14 removed 1, 0 and no-verify)",
		                  val);
	if (strcmp(r->method, "cert") == 0 && strcmp(val, "verify-full") != 0)
		return line_error(err, errlen, l,
		                  "clientcert only accepts \"verify-full\" when using \"cert\" "
		                  "authentication");
	return 0;
}

/* name=value tokens after METHOD, from field fi on. */
static int parse_options(struct hba_ctx *ctx, const struct hba_line *l, size_t fi, struct rule *r,
                         char *err, size_t errlen)
{
	const char **opts;
	size_t n = 0, k = 0;
	int rc;

	for (size_t i = fi; i < l->nfields; i++)
		n += l->fields[i].ntoks;
	opts = hba_arena_alloc(ctx->arena, (2 * n + 1) * sizeof(*opts));
	if (opts == NULL)
		return line_error(err, errlen, l, "out of memory");
	for (size_t i = fi; i < l->nfields; i++) {
		const struct hba_field *f;

		rc = get_field(l, i, "authentication option", true, &f, err, errlen);
		if (rc < 0)
			return rc;
		for (size_t t = 0; t < f->ntoks; t++) {
			const char *s = f->toks[t].str, *eq = strchr(s, '=');

			if (hba_token_is_include(&f->toks[t]))
				return line_error(
				        err, errlen, l,
				        "@file inclusion (\"%s\") is only supported in the "
				        "database and user columns",
				        s);
			if (eq == NULL || eq == s)
				return line_error(
				        err, errlen, l,
				        "authentication option not in name=value format: %s", s);
			opts[k] = hba_arena_strndup(ctx->arena, s, (size_t)(eq - s));
			if (opts[k] == NULL)
				return line_error(err, errlen, l, "out of memory");
			opts[k + 1] = eq + 1;
			rc = check_option(l, r, opts[k], opts[k + 1], err, errlen);
			if (rc < 0)
				return rc;
			k += 2;
		}
	}
	opts[k] = NULL;
	r->options = opts;
	return 0;
}

static int parse_rule(struct hba_ctx *ctx, const struct hba_line *l, void *item, char *err,
                      size_t errlen)
{
	struct rule *r = item;
	const struct hba_field *f;
	size_t fi = 0, i;
	int rc;

	memset(r, 0, sizeof(*r));
	r->line = l->lineno;
	rc = get_field(l, fi++, "connection type", false, &f, err, errlen);
	if (rc < 0)
		return rc;
	for (i = 0; i < sizeof(conn_types) / sizeof(conn_types[0]); i++) {
		if (strcmp(f->toks[0].str, conn_types[i].name) == 0)
			break;
	}
	if (i == sizeof(conn_types) / sizeof(conn_types[0]))
		return line_error(err, errlen, l, "invalid connection type \"%s\"", f->toks[0].str);
	r->type = conn_types[i].type;
	r->transports = conn_types[i].transports;

	rc = get_field(l, fi++, "database", true, &f, err, errlen);
	if (rc == 0 && f == NULL)
		return line_error(err, errlen, l, "end-of-line before database specification");
	if (rc == 0)
		rc = parse_names(ctx, l, f, true, &r->dbs, err, errlen);
	if (rc < 0)
		return rc;

	rc = get_field(l, fi++, "user", true, &f, err, errlen);
	if (rc == 0 && f == NULL)
		return line_error(err, errlen, l, "end-of-line before role specification");
	if (rc == 0)
		rc = parse_names(ctx, l, f, false, &r->users, err, errlen);
	if (rc < 0)
		return rc;

	if (r->type != CT_LOCAL) {
		rc = parse_address(l, &fi, r, err, errlen);
		if (rc < 0)
			return rc;
	}

	rc = get_field(l, fi++, "authentication type", false, &f, err, errlen);
	if (rc < 0)
		return rc;
	if (f == NULL)
		return line_error(err, errlen, l, "end-of-line before authentication method");
	r->method = f->toks[0].str;
	r->reject = strcmp(r->method, "reject") == 0;
	rc = check_method(l, r, err, errlen);
	if (rc < 0)
		return rc;
	rc = parse_options(ctx, l, fi, r, err, errlen);
	if (rc < 0)
		return rc;
	r->where = hba_arena_printf(ctx->arena, "%s:%u", l->file, l->lineno);
	if (r->where == NULL)
		return line_error(err, errlen, l, "out of memory");
	return 0;
}

int hba_rules_parse(const char *name, const char *buf, size_t len, unsigned flags,
                    struct hba_rules **out, char *err, size_t errlen)
{
	struct hba_rules *rs;
	struct hba_ctx ctx;
	void *items;
	int rc;

	*out = NULL;
	rs = calloc(1, sizeof(*rs));
	if (rs == NULL || (rs->arena = hba_arena_new()) == NULL) {
		free(rs);
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	hba_ctx_init(&ctx, rs->arena, flags);
	rc = hba_parse_lines(&ctx, name, buf, len, sizeof(*rs->rules), parse_rule, &items, &rs->n,
	                     err, errlen);
	rs->rules = items;
	if (rc < 0) {
		hba_rules_free(rs);
		return rc;
	}
	*out = rs;
	return 0;
}

int hba_rules_load(const char *path, struct hba_rules **out, char *err, size_t errlen)
{
	struct hba_ctx ctx;
	size_t len;
	char *buf;
	int rc;

	*out = NULL;
	/* the read budget of the inclusions starts fresh in hba_rules_parse */
	hba_ctx_init(&ctx, NULL, 0);
	rc = hba_read_file(&ctx, path, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = hba_rules_parse(path, buf, len, 0, out, err, errlen);
	free(buf);
	return rc;
}

void hba_rules_free(struct hba_rules *rules)
{
	if (rules == NULL)
		return;
	hba_arena_free(rules->arena);
	free(rules);
}

size_t hba_rules_count(const struct hba_rules *rules)
{
	return rules->n;
}

void hba_rules_get(const struct hba_rules *rules, size_t i, struct hba_result *res)
{
	const struct rule *r = &rules->rules[i];

	res->method = r->method;
	res->options = r->options;
	res->where = r->where;
	res->line = r->line;
	res->index = i;
	res->reject = r->reject;
}

/* ------------------------------------------------------------ matching */

static bool names_match(const struct name_list *nl, const char *name, const char *user)
{
	for (size_t i = 0; i < nl->n; i++) {
		const struct name_item *it = &nl->items[i];

		switch (it->kind) {
		case NK_ALL:
			return true;
		case NK_SAMEUSER:
			if (strcmp(name, user) == 0)
				return true;
			break;
		case NK_REPLICATION:
			break;
		case NK_REGEX:
			if (regexec(it->re, name, 0, NULL, 0) == 0)
				return true;
			break;
		case NK_NAME:
			if (strcmp(name, it->name) == 0)
				return true;
			break;
		}
	}
	return false;
}

static bool net_match(const struct client *cl, int family, const uint8_t *net, const uint8_t *mask)
{
	int n = family == AF_INET ? 4 : 16;

	if (cl->family != family)
		return false;
	for (int i = 0; i < n; i++) {
		if ((cl->addr[i] & mask[i]) != net[i])
			return false;
	}
	return true;
}

/* Address bytes of a sockaddr of the client's family, or NULL. */
static const uint8_t *sa_bytes(const struct sockaddr *sa, int family)
{
	if (sa == NULL || sa->sa_family != family)
		return NULL;
	if (family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	return (const uint8_t *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
}

/* samehost: the client's address is one of this machine's; samenet: it is
 * in the subnet of one of this machine's interfaces. */
static bool iface_match(const struct client *cl, bool samenet, struct ifaddrs **ifs, bool *loaded)
{
	static const uint8_t ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	if (cl->family == 0)
		return false;
	if (!*loaded) {
		*loaded = true;
		if (getifaddrs(ifs) < 0)
			*ifs = NULL; /* fail closed: no interface, no match */
	}
	for (const struct ifaddrs *ifa = *ifs; ifa != NULL; ifa = ifa->ifa_next) {
		const uint8_t *a = sa_bytes(ifa->ifa_addr, cl->family);
		const uint8_t *m = samenet ? sa_bytes(ifa->ifa_netmask, cl->family) : ones;
		uint8_t net[16];

		if (a == NULL || m == NULL)
			continue;
		for (int i = 0; i < 16; i++)
			net[i] = a[i] & m[i];
		if (net_match(cl, cl->family, net, m))
			return true;
	}
	return false;
}

static unsigned transport_bit(const char *t)
{
	if (t == NULL)
		return 0;
	if (strcmp(t, "unix") == 0)
		return TR_UNIX;
	if (strcmp(t, "tcp") == 0)
		return TR_TCP;
	if (strcmp(t, "tls") == 0)
		return TR_TLS;
	if (strcmp(t, "gss") == 0)
		return TR_GSS;
	return 0;
}

bool hba_rules_match(const struct hba_rules *rules, const struct hba_conn *conn,
                     struct hba_result *res)
{
	const char *db = conn->database;
	struct ifaddrs *ifs = NULL;
	bool loaded = false, found = false;
	struct client cl;

	memset(&cl, 0, sizeof(cl));
	cl.transport = transport_bit(conn->transport);
	if (cl.transport == 0 || conn->user == NULL)
		return false;
	/* PostgreSQL: the database defaults to the user name */
	if (db == NULL || db[0] == '\0')
		db = conn->user;
	if (cl.transport != TR_UNIX && conn->remote_addr != NULL &&
	    parse_ip(conn->remote_addr, &cl.family, cl.addr) < 0)
		cl.family = 0;

	for (size_t i = 0; i < rules->n && !found; i++) {
		const struct rule *r = &rules->rules[i];

		if (!(r->transports & cl.transport))
			continue;
		switch (r->addr_kind) {
		case AK_NONE:
		case AK_ALL:
			if (r->addr_kind == AK_ALL && cl.family == 0)
				continue;
			break;
		case AK_SAMEHOST:
		case AK_SAMENET:
			if (!iface_match(&cl, r->addr_kind == AK_SAMENET, &ifs, &loaded))
				continue;
			break;
		case AK_NET:
			if (!net_match(&cl, r->family, r->net, r->mask))
				continue;
			break;
		}
		if (!names_match(&r->dbs, db, conn->user) ||
		    !names_match(&r->users, conn->user, conn->user))
			continue;
		hba_rules_get(rules, i, res);
		found = true;
	}
	if (ifs != NULL)
		freeifaddrs(ifs);
	return found;
}
