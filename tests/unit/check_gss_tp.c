/*
 * check_gss_tp.c — the GSS encryption transport (modules/gss/gss_tp.c, with
 * gss_ctx.c compiled in) over non-blocking socketpairs against a real MIT
 * KDC started here by tests/lib/kdc-up.sh: the module's initiator against
 * its acceptor, then 200 KiB each way with small socket buffers; a raw
 * initiator and a raw acceptor written here with libgssapi to check the
 * wire format independently; the first data packet in the same read as the
 * last context token; pending(); garbage, oversize, unencrypted and
 * truncated packets; an ErrorResponse from a fake server; -ENOENT without
 * credentials; conn_free in every state.
 *
 * The test stands in for gss.c: it defines gss_initiator_cred() and fills
 * struct gss_mod itself (acceptor credentials from postgres.keytab,
 * initiator credentials from pgsluice.keytab into a MEMORY ccache).
 * KRB5_CONFIG points at the throwaway realm before any GSSAPI call.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gss_int.h"

#define BIG   (200 * 1024)
#define REALM "EXAMPLE.TEST"

static char base[PATH_MAX];  /* mkdtemp dir; the realm in base/krb5 */
static char logbuf[16384];   /* everything the module logged */
static struct gss_mod mod;   /* acceptor + initiator credentials */
static struct gss_mod nomod; /* neither */
static const pgs_transport_ops *ops = &gss_transport_ops;

/* ------------------------------------------------------------ fake host */

struct pgs_conn {
	enum pgs_side side;
	const char *server_host;
	const char *krbsrvname;
};

static void h_log(enum pgs_log level, const pgs_conn *conn, const char *fmt, ...)
{
	size_t used = strlen(logbuf);
	va_list ap;

	(void)level, (void)conn;
	va_start(ap, fmt);
	vsnprintf(logbuf + used, sizeof logbuf - used, fmt, ap);
	va_end(ap);
	used = strlen(logbuf);
	snprintf(logbuf + used, sizeof logbuf - used, "\n");
}

static void *h_alloc(size_t len)
{
	return malloc(len);
}

static void h_wipe_free(void *p, size_t len)
{
	if (p != NULL)
		explicit_bzero(p, len);
	free(p);
}

static enum pgs_side h_conn_side(const pgs_conn *conn)
{
	return conn->side;
}

static const char *h_conn_param(const pgs_conn *conn, const char *name)
{
	if (strcmp(name, "server_host") == 0)
		return conn->server_host;
	if (strcmp(name, "krbsrvname") == 0)
		return conn->krbsrvname;
	return NULL;
}

/* defer(): remembered; the test runs the work (as the pool would) before
 * it calls handshake() again. */
static void (*deferred_work)(void *);
static void *deferred_arg;
static int defers;

static int h_defer(pgs_conn *conn, void (*work)(void *arg), void *arg)
{
	(void)conn;
	ck_assert_ptr_null(deferred_work); /* one job per connection at a time */
	deferred_work = work;
	deferred_arg = arg;
	defers++;
	return 0;
}

/* Run the deferred job on a thread of its own, as the work pool would. */
static void *work_thread(void *arg)
{
	(void)arg;
	deferred_work(deferred_arg);
	return NULL;
}

static void run_deferred(void)
{
	pthread_t t;

	ck_assert_ptr_nonnull(deferred_work);
	ck_assert_int_eq(pthread_create(&t, NULL, work_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	deferred_work = NULL;
}

static const pgs_host host = {
        .size = sizeof(pgs_host),
        .abi_major = PGS_ABI_MAJOR,
        .abi_minor = PGS_ABI_MINOR,
        .host_version = "check_gss_tp",
        .log = h_log,
        .alloc = h_alloc,
        .free = free,
        .wipe_free = h_wipe_free,
        .conn_side = h_conn_side,
        .conn_param = h_conn_param,
        .defer = h_defer,
};

static pgs_conn client_conn = {.side = PGS_SIDE_CLIENT};
static pgs_conn server_conn = {.side = PGS_SIDE_SERVER, .server_host = "localhost"};

/* ------------------------------------------------------------ credentials */

static const char *krb_path(const char *name)
{
	static char paths[8][PATH_MAX + 64];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, PATH_MAX + 64, "%s/krb5/%s", base, name);
	return p;
}

/* Initiator credentials from a client keytab into a MEMORY ccache. */
static gss_cred_id_t client_cred(const char *keytab, const char *ccache, const char *principal,
                                 char *err, size_t errlen)
{
	gss_key_value_element_desc el[2] = {{"client_keytab", keytab}, {"ccache", ccache}};
	gss_key_value_set_desc store = {2, el};
	gss_buffer_desc nb = {strlen(principal), (void *)(uintptr_t)principal};
	gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
	gss_name_t name = GSS_C_NO_NAME;
	OM_uint32 maj, min;

	maj = gss_import_name(&min, &nb, GSS_KRB5_NT_PRINCIPAL_NAME, &name);
	if (!GSS_ERROR(maj))
		maj = gss_acquire_cred_from(&min, name, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
		                            GSS_C_INITIATE, &store, &cred, NULL, NULL);
	if (GSS_ERROR(maj))
		gss_status_text(maj, min, err, errlen);
	if (name != GSS_C_NO_NAME)
		gss_release_name(&min, &name);
	return cred;
}

/* What gss.c provides in the module: a new handle per call, released by the
 * caller (gss_ctx_free). */
int gss_initiator_cred(struct gss_mod *m, gss_cred_id_t *out, char *err, size_t errlen)
{
	*out = client_cred(m->client_keytab, m->ccache, m->client_principal, err, errlen);
	return *out == GSS_C_NO_CREDENTIAL ? -1 : 0;
}

static void mod_setup(void)
{
	gss_key_value_element_desc el = {"keytab", krb_path("postgres.keytab")};
	gss_key_value_set_desc store = {1, &el};
	OM_uint32 maj, min;

	memset(&mod, 0, sizeof mod);
	mod.host = &host;
	mod.have_acceptor = true;
	snprintf(mod.keytab, sizeof mod.keytab, "%s", el.value);
	maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET,
	                            GSS_C_ACCEPT, &store, &mod.acceptor, NULL, NULL);
	ck_assert_msg(!GSS_ERROR(maj), "acceptor credentials");
	snprintf(mod.srvname, sizeof mod.srvname, "postgres");
	mod.include_realm = true;
	mod.have_initiator = true;
	snprintf(mod.client_keytab, sizeof mod.client_keytab, "%s", krb_path("pgsluice.keytab"));
	snprintf(mod.ccache, sizeof mod.ccache, "MEMORY:check-gss-tp-pgsluice");
	snprintf(mod.client_principal, sizeof mod.client_principal, "pgsluice@" REALM);

	memset(&nomod, 0, sizeof nomod);
	nomod.host = &host;
	nomod.acceptor = GSS_C_NO_CREDENTIAL;
	logbuf[0] = '\0';
	deferred_work = NULL;
	defers = 0;
}

static void mod_teardown(void)
{
	OM_uint32 min;

	if (mod.acceptor != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &mod.acceptor);
}

/* ------------------------------------------------------------ socket helpers */

static void sock_pair(int sv[2], int sndbuf)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(fcntl(sv[i], F_SETFL, O_NONBLOCK), 0);
		if (sndbuf > 0)
			ck_assert_int_eq(
			        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf),
			        0);
	}
}

/* All of buf onto a non-blocking socket (waits for room, 5 s at most). */
static void send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
			continue;
		}
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

static void recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};

			ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
			continue;
		}
		ck_assert_int_gt(n, 0);
		p += n;
		len -= (size_t)n;
	}
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A framed packet: 4-byte big-endian length + token. */
static void send_packet(int fd, const void *tok, size_t len)
{
	uint8_t hdr[4];

	be32(hdr, (uint32_t)len);
	send_all(fd, hdr, 4);
	send_all(fd, tok, len);
}

/* Read one framed packet (malloc'ed token), checking its length prefix. */
static uint8_t *recv_packet(int fd, size_t max, size_t *len)
{
	uint8_t hdr[4], *tok;
	uint32_t n;

	recv_all(fd, hdr, 4);
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	ck_assert_uint_le(n, max);
	tok = malloc(n > 0 ? n : 1);
	recv_all(fd, tok, n);
	*len = n;
	return tok;
}

static bool sock_empty(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_PEEK) < 0 && errno == EAGAIN;
}

/* ------------------------------------------------------------ the module pair */

struct mpair {
	int fd[2]; /* [0] acceptor's, [1] initiator's */
	void *acc; /* module state, acceptor (client connection) */
	void *ini; /* module state, initiator (server connection) */
	const char *adetail, *idetail;
	enum pgs_io aio, iio;
};

static void mpair_open(struct mpair *p, int sndbuf)
{
	memset(p, 0, sizeof *p);
	sock_pair(p->fd, sndbuf);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, p->fd[0], &p->acc), 0);
	ck_assert_int_eq(ops->conn_new(&mod, &server_conn, p->fd[1], &p->ini), 0);
}

/* Alternate both handshakes (running deferred work) until both are done. */
static void mpair_handshake(struct mpair *p)
{
	bool adone = false, idone = false;

	for (int i = 0; i < 100 && !(adone && idone); i++) {
		if (!idone) {
			p->iio = ops->handshake(&mod, p->ini, &p->idetail);
			if (p->iio == PGS_IO_PENDING)
				run_deferred();
			else
				idone = p->iio != PGS_IO_WANT_READ && p->iio != PGS_IO_WANT_WRITE;
		}
		if (!adone) {
			p->aio = ops->handshake(&mod, p->acc, &p->adetail);
			adone = p->aio != PGS_IO_WANT_READ && p->aio != PGS_IO_WANT_WRITE;
		}
	}
	ck_assert_msg(p->iio == PGS_IO_OK, "initiator io %d: %s", p->iio, p->idetail);
	ck_assert_msg(p->aio == PGS_IO_OK, "acceptor io %d: %s", p->aio, p->adetail);
}

static void mpair_close(struct mpair *p)
{
	if (p->acc != NULL)
		ops->conn_free(&mod, p->acc);
	if (p->ini != NULL)
		ops->conn_free(&mod, p->ini);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Read exactly len bytes from a module state (the data is already sent). */
static void mod_read_all(void *st, uint8_t *buf, size_t len)
{
	size_t got = 0, done;

	for (int i = 0; i < 10000 && got < len; i++) {
		enum pgs_io io = ops->read(&mod, st, buf + got, len - got, &done);

		ck_assert_msg(io == PGS_IO_OK || io == PGS_IO_WANT_READ, "read io %d: %s", io,
		              logbuf);
		got += done;
	}
	ck_assert_uint_eq(got, len);
}

static void mod_write_all(void *st, const void *buf, size_t len)
{
	size_t sent = 0, done;

	for (int i = 0; i < 10000 && sent < len; i++) {
		enum pgs_io io = ops->write(&mod, st, (const uint8_t *)buf + sent, len - sent,
		                            &done);

		ck_assert_msg(io == PGS_IO_OK, "write io %d: %s", io, logbuf);
		sent += done;
	}
	ck_assert_uint_eq(sent, len);
}

/* ------------------------------------------------------------ the raw peers */

/* A GSSAPI initiator written here (alice), not the module. */
struct raw {
	gss_cred_id_t cred;
	gss_name_t target;
	gss_ctx_id_t ctx;
	gss_buffer_desc out;
	OM_uint32 maj, flags;
};

static void raw_start(struct raw *r, OM_uint32 req_flags)
{
	static const char target[] = "postgres@localhost";
	gss_buffer_desc tb = {sizeof target - 1, (void *)(uintptr_t)target};
	char err[GSS_ERR_LEN] = "";
	OM_uint32 min;

	memset(r, 0, sizeof *r);
	r->cred = client_cred(krb_path("alice.keytab"), "MEMORY:check-gss-tp-alice", "alice@" REALM,
	                      err, sizeof err);
	ck_assert_msg(r->cred != GSS_C_NO_CREDENTIAL, "alice: %s", err);
	ck_assert(!GSS_ERROR(gss_import_name(&min, &tb, GSS_C_NT_HOSTBASED_SERVICE, &r->target)));
	r->ctx = GSS_C_NO_CONTEXT;
	r->maj = gss_init_sec_context(&min, r->cred, &r->ctx, r->target, GSS_C_NO_OID, req_flags, 0,
	                              GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER, NULL, &r->out,
	                              &r->flags, NULL);
	ck_assert_msg(!GSS_ERROR(r->maj), "raw init %x", r->maj);
	ck_assert_uint_gt(r->out.length, 0);
}

static void raw_step(struct raw *r, const void *tok, size_t len)
{
	gss_buffer_desc in = {len, (void *)(uintptr_t)tok};
	OM_uint32 min;

	gss_release_buffer(&min, &r->out);
	r->maj = gss_init_sec_context(
	        &min, r->cred, &r->ctx, r->target, GSS_C_NO_OID,
	        GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG | GSS_C_SEQUENCE_FLAG, 0,
	        GSS_C_NO_CHANNEL_BINDINGS, &in, NULL, &r->out, &r->flags, NULL);
	ck_assert_msg(!GSS_ERROR(r->maj), "raw step %x", r->maj);
}

static void raw_free(struct raw *r)
{
	OM_uint32 min;

	gss_release_buffer(&min, &r->out);
	if (r->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &r->ctx, GSS_C_NO_BUFFER);
	gss_release_name(&min, &r->target);
	gss_release_cred(&min, &r->cred);
}

/* Wrap buf with or without confidentiality and send it framed. */
static void raw_send_wrapped(gss_ctx_id_t ctx, int fd, const void *buf, size_t len, int conf)
{
	gss_buffer_desc in = {len, (void *)(uintptr_t)buf}, out;
	OM_uint32 min;
	int state = -1;

	ck_assert(!GSS_ERROR(gss_wrap(&min, ctx, conf, GSS_C_QOP_DEFAULT, &in, &state, &out)));
	ck_assert_int_eq(state, conf);
	send_packet(fd, out.value, out.length);
	gss_release_buffer(&min, &out);
}

/* Receive one data packet (<= 16384 bytes in all) and unwrap it (conf). */
static size_t raw_recv_unwrap(gss_ctx_id_t ctx, int fd, uint8_t *buf, size_t room)
{
	gss_buffer_desc in, out;
	OM_uint32 min;
	int conf = 0;
	size_t len;

	in.value = recv_packet(fd, GSS_ENC_MAX_TOKEN, &len);
	in.length = len;
	ck_assert_uint_eq(gss_unwrap(&min, ctx, &in, &out, &conf, NULL), GSS_S_COMPLETE);
	ck_assert_int_eq(conf, 1);
	ck_assert_uint_le(out.length, room);
	memcpy(buf, out.value, out.length);
	len = out.length;
	gss_release_buffer(&min, &out);
	free(in.value);
	return len;
}

/* Whatever the socket has into acc; every whole data packet in it is
 * checked (<= 16384 bytes in all, conf) and unwrapped onto out. */
static int raw_pump(gss_ctx_id_t ctx, int fd, uint8_t *acc, size_t *acc_len, size_t acc_cap,
                    uint8_t *out, size_t *got, size_t room)
{
	ssize_t n = recv(fd, acc + *acc_len, acc_cap - *acc_len, 0);
	int packets = 0;

	if (n > 0)
		*acc_len += (size_t)n;
	while (*acc_len >= 4) {
		uint32_t len = (uint32_t)acc[0] << 24 | (uint32_t)acc[1] << 16 |
		               (uint32_t)acc[2] << 8 | acc[3];
		gss_buffer_desc in = {len, acc + 4}, dec;
		OM_uint32 min;
		int conf = 0;

		ck_assert_uint_le(len, GSS_ENC_MAX_TOKEN);
		if (*acc_len < 4 + (size_t)len)
			break;
		ck_assert_uint_eq(gss_unwrap(&min, ctx, &in, &dec, &conf, NULL), GSS_S_COMPLETE);
		ck_assert_int_eq(conf, 1);
		ck_assert_uint_le(dec.length, room - *got);
		memcpy(out + *got, dec.value, dec.length);
		*got += dec.length;
		gss_release_buffer(&min, &dec);
		memmove(acc, acc + 4 + len, *acc_len - 4 - len);
		*acc_len -= 4 + len;
		packets++;
	}
	return packets;
}

/* The module's acceptor on fd[0] against a raw initiator on fd[1],
 * mutual authentication: established on both sides. */
static void *raw_vs_acceptor(struct raw *r, int fd[2], int sndbuf)
{
	const char *detail;
	uint8_t *tok;
	size_t len;
	void *st;

	sock_pair(fd, sndbuf);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, fd[0], &st), 0);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	raw_start(r, GSS_C_MUTUAL_FLAG | GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG | GSS_C_SEQUENCE_FLAG);
	ck_assert(r->maj & GSS_S_CONTINUE_NEEDED);
	send_packet(fd[1], r->out.value, r->out.length);
	ck_assert_msg(ops->handshake(&mod, st, &detail) == PGS_IO_OK, "%s", detail);
	ck_assert_ptr_null(ops->fact(&mod, st, "nonsense"));
	tok = recv_packet(fd[1], GSS_MAX_TOKEN - 4, &len); /* AP-REP */
	raw_step(r, tok, len);
	free(tok);
	ck_assert_uint_eq(r->maj, GSS_S_COMPLETE);
	ck_assert(r->flags & GSS_C_CONF_FLAG);
	return st;
}

/* ------------------------------------------------------------ tests */

/* Module initiator against module acceptor; facts; small exchange. */
START_TEST(test_module_pair)
{
	uint8_t buf[64];
	struct mpair p;

	mpair_open(&p, 0);
	ck_assert_ptr_null(ops->fact(&mod, p.acc, "gss_principal")); /* not yet */
	mpair_handshake(&p);
	ck_assert_int_eq(defers, 1); /* only the first initiator step went to the pool */
	ck_assert_str_eq(ops->fact(&mod, p.acc, "gss_principal"), "pgsluice@" REALM);
	ck_assert_str_eq(ops->fact(&mod, p.acc, "encrypted"), "yes");
	ck_assert_str_eq(ops->fact(&mod, p.ini, "encrypted"), "yes");
	ck_assert_str_eq(ops->fact(&mod, p.ini, "gss_principal"), "postgres/localhost@" REALM);
	ck_assert_ptr_null(ops->fact(&mod, p.ini, "protocol"));
	/* handshake() after success is a no-op */
	ck_assert_int_eq(ops->handshake(&mod, p.acc, &p.adetail), PGS_IO_OK);
	ck_assert_int_eq(ops->handshake(&mod, p.ini, &p.idetail), PGS_IO_OK);
	ck_assert_uint_eq(ops->pending(&mod, p.acc), 0);
	mod_write_all(p.ini, "startup message", 15);
	mod_read_all(p.acc, buf, 15);
	ck_assert_mem_eq(buf, "startup message", 15);
	mod_write_all(p.acc, "R-ok", 4);
	mod_read_all(p.ini, buf, 4);
	ck_assert_mem_eq(buf, "R-ok", 4);
	ck_assert_int_eq(ops->shutdown(&mod, p.acc), PGS_IO_OK);
	/* orderly close at a packet boundary */
	shutdown(p.fd[1], SHUT_WR);
	{
		size_t done;

		ck_assert_int_eq(ops->read(&mod, p.acc, buf, sizeof buf, &done), PGS_IO_CLOSED);
	}
	mpair_close(&p);
	ck_assert_str_eq(logbuf, "");
}
END_TEST

/* One direction of BIG bytes, the writer used as io.c does (the retry
 * starts at the first byte not reported done). */
static void transfer(void *wst, void *rst, int *partial, int *want_write)
{
	uint8_t *out = malloc(BIG), *in = malloc(BIG);
	size_t sent = 0, got = 0, done;
	bool blocked = false;

	for (size_t i = 0; i < BIG; i++)
		out[i] = (uint8_t)(i * 7 + i / 251);
	for (int i = 0; i < 200000 && got < BIG; i++) {
		if (sent < BIG) {
			enum pgs_io io = ops->write(&mod, wst, out + sent, BIG - sent, &done);

			ck_assert_msg(io == PGS_IO_OK || io == PGS_IO_WANT_WRITE, "io %d", io);
			if (io == PGS_IO_OK && done < BIG - sent)
				(*partial)++;
			if (io == PGS_IO_WANT_WRITE) {
				(*want_write)++;
				ck_assert_uint_eq(done, 0);
			}
			ck_assert_uint_le(done, BIG - sent);
			blocked = io == PGS_IO_WANT_WRITE;
			sent += done;
		}
		/* drain only once the writer is blocked: both outcomes happen */
		if (blocked || sent == BIG) {
			enum pgs_io io = ops->read(&mod, rst, in + got, BIG - got, &done);

			ck_assert_msg(io == PGS_IO_OK || io == PGS_IO_WANT_READ, "read io %d", io);
			got += done;
			ck_assert_mem_eq(in, out, got); /* intact and in order so far */
		}
	}
	ck_assert_uint_eq(sent, BIG);
	ck_assert_uint_eq(got, BIG);
	ck_assert_mem_eq(in, out, BIG);
	ck_assert_int_eq(ops->read(&mod, rst, in, BIG, &done), PGS_IO_WANT_READ);
	free(out);
	free(in);
}

START_TEST(test_round_trip)
{
	int partial = 0, want_write = 0;
	struct mpair p;

	mpair_open(&p, 4096);
	mpair_handshake(&p);
	transfer(p.acc, p.ini, &partial, &want_write);
	fprintf(stderr, "check_gss_tp: acceptor->initiator 200 KiB: %d partial, %d WANT_WRITE\n",
	        partial, want_write);
	ck_assert_int_gt(partial, 0);
	ck_assert_int_gt(want_write, 0);
	partial = want_write = 0;
	transfer(p.ini, p.acc, &partial, &want_write);
	fprintf(stderr, "check_gss_tp: initiator->acceptor 200 KiB: %d partial, %d WANT_WRITE\n",
	        partial, want_write);
	ck_assert_int_gt(partial, 0);
	ck_assert_int_gt(want_write, 0);
	mpair_close(&p);
	ck_assert_str_eq(logbuf, "");
}
END_TEST

/* A raw libgssapi initiator: wire format both ways, packet sizes, principal. */
START_TEST(test_raw_initiator)
{
	uint8_t *big = malloc(BIG), *in = malloc(BIG), *acc = malloc(65536);
	size_t got = 0, packets = 0, acc_len = 0;
	struct raw r;
	int fd[2];
	void *st = raw_vs_acceptor(&r, fd, 0);

	ck_assert_str_eq(ops->fact(&mod, st, "gss_principal"), "alice@" REALM);
	ck_assert_str_eq(ops->fact(&mod, st, "encrypted"), "yes");
	raw_send_wrapped(r.ctx, fd[1], "hello", 5, 1);
	mod_read_all(st, in, 5);
	ck_assert_mem_eq(in, "hello", 5);
	/* 200 KiB from the module: every packet <= 16384 bytes, wrapped with conf */
	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i ^ (i >> 9));
	{
		size_t sent = 0, done;

		for (int i = 0; i < 100000 && got < BIG; i++) {
			if (sent < BIG) {
				enum pgs_io io = ops->write(&mod, st, big + sent, BIG - sent,
				                            &done);

				ck_assert(io == PGS_IO_OK || io == PGS_IO_WANT_WRITE);
				sent += done;
			}
			packets += (size_t)raw_pump(r.ctx, fd[1], acc, &acc_len, 65536, in, &got,
			                            BIG);
		}
	}
	ck_assert_uint_eq(got, BIG);
	ck_assert_mem_eq(in, big, BIG);
	ck_assert_uint_ge(packets, BIG / GSS_ENC_MAX_TOKEN + 1);
	fprintf(stderr, "check_gss_tp: 200 KiB to the raw initiator in %zu packets\n", packets);
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);
	free(big);
	free(in);
	free(acc);
}
END_TEST

/* A raw libgssapi acceptor (the test's keytab) against the module's initiator. */
START_TEST(test_raw_acceptor)
{
	gss_ctx_id_t actx = GSS_C_NO_CONTEXT;
	gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER, disp;
	gss_name_t src = GSS_C_NO_NAME;
	const char *detail;
	uint8_t buf[32];
	OM_uint32 maj, min, flags = 0;
	size_t len;
	void *st;
	int fd[2];

	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &server_conn, fd[1], &st), 0);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_PENDING);
	ck_assert_ptr_nonnull(deferred_work);
	run_deferred();
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	in.value = recv_packet(fd[0], GSS_MAX_TOKEN - 4, &len);
	in.length = len;
	maj = gss_accept_sec_context(&min, &actx, mod.acceptor, &in, GSS_C_NO_CHANNEL_BINDINGS,
	                             &src, NULL, &out, &flags, NULL, NULL);
	free(in.value);
	ck_assert_uint_eq(maj, GSS_S_COMPLETE);
	ck_assert(flags & GSS_C_CONF_FLAG);
	ck_assert(flags & GSS_C_MUTUAL_FLAG);
	ck_assert(!GSS_ERROR(gss_display_name(&min, src, &disp, NULL)));
	ck_assert_uint_eq(disp.length, strlen("pgsluice@" REALM));
	ck_assert_mem_eq(disp.value, "pgsluice@" REALM, disp.length);
	gss_release_buffer(&min, &disp);
	gss_release_name(&min, &src);
	ck_assert_ptr_null(ops->fact(&mod, st, "encrypted"));
	send_packet(fd[0], out.value, out.length);
	gss_release_buffer(&min, &out);
	ck_assert_msg(ops->handshake(&mod, st, &detail) == PGS_IO_OK, "%s", detail);
	ck_assert_str_eq(ops->fact(&mod, st, "encrypted"), "yes");
	mod_write_all(st, "Q", 1);
	ck_assert_uint_eq(raw_recv_unwrap(actx, fd[0], buf, sizeof buf), 1);
	ck_assert_int_eq(buf[0], 'Q');
	raw_send_wrapped(actx, fd[0], "Z-ready", 7, 1);
	mod_read_all(st, buf, 7);
	ck_assert_mem_eq(buf, "Z-ready", 7);
	ops->conn_free(&mod, st);
	gss_delete_sec_context(&min, &actx, GSS_C_NO_BUFFER);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

/* The client's first data packet in the same read as its last context
 * token (no mutual authentication: the context completes in one token). */
START_TEST(test_same_read)
{
	gss_buffer_desc din, dout;
	uint8_t all[8192], buf[64];
	const char *detail;
	size_t n = 0, done;
	OM_uint32 min;
	struct raw r;
	int fd[2], conf;
	void *st;

	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, fd[0], &st), 0);
	raw_start(&r, GSS_C_CONF_FLAG | GSS_C_INTEG_FLAG | GSS_C_SEQUENCE_FLAG);
	ck_assert_uint_eq(r.maj, GSS_S_COMPLETE);
	din.value = "startup-packet";
	din.length = 14;
	ck_assert(!GSS_ERROR(gss_wrap(&min, r.ctx, 1, GSS_C_QOP_DEFAULT, &din, &conf, &dout)));
	ck_assert_uint_lt(8 + r.out.length + dout.length, sizeof all);
	be32(all, (uint32_t)r.out.length);
	memcpy(all + 4, r.out.value, r.out.length);
	n = 4 + r.out.length;
	be32(all + n, (uint32_t)dout.length);
	memcpy(all + n + 4, dout.value, dout.length);
	n += 4 + dout.length;
	gss_release_buffer(&min, &dout);
	send_all(fd[1], all, n); /* one send: token + data packet */
	ck_assert_msg(ops->handshake(&mod, st, &detail) == PGS_IO_OK, "%s", detail);
	ck_assert(sock_empty(fd[0])); /* the module has it all */
	ck_assert(sock_empty(fd[1])); /* no AP-REP without mutual auth */
	ck_assert_uint_gt(ops->pending(&mod, st), 0);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_OK);
	ck_assert_uint_eq(done, 14);
	ck_assert_mem_eq(buf, "startup-packet", 14);
	ck_assert_uint_eq(ops->pending(&mod, st), 0);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_WANT_READ);
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

/* pending(): plaintext held after a short read, then a whole packet held. */
START_TEST(test_pending)
{
	uint8_t a[5000], b[3000], buf[10000];
	size_t done;
	struct raw r;
	int fd[2];
	void *st = raw_vs_acceptor(&r, fd, 0);

	memset(a, 'a', sizeof a);
	memset(b, 'b', sizeof b);
	ck_assert_uint_eq(ops->pending(&mod, st), 0);
	raw_send_wrapped(r.ctx, fd[1], a, sizeof a, 1);
	raw_send_wrapped(r.ctx, fd[1], b, sizeof b, 1);
	ck_assert_int_eq(ops->read(&mod, st, buf, 100, &done), PGS_IO_OK);
	ck_assert_uint_eq(done, 100);
	ck_assert_uint_eq(ops->pending(&mod, st), sizeof a - 100);
	ck_assert(sock_empty(fd[0])); /* both packets came in one read */
	ck_assert_int_eq(ops->read(&mod, st, buf + 100, sizeof a - 100, &done), PGS_IO_OK);
	ck_assert_uint_eq(done, sizeof a - 100);
	ck_assert_mem_eq(buf, a, sizeof a);
	ck_assert_uint_gt(ops->pending(&mod, st), 0); /* the second packet, not decrypted */
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_OK);
	ck_assert_uint_eq(done, sizeof b);
	ck_assert_mem_eq(buf, b, sizeof b);
	ck_assert_uint_eq(ops->pending(&mod, st), 0);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_WANT_READ);
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

/* Acceptor: refused context tokens. */
START_TEST(test_bad_handshake)
{
	static const uint8_t garbage[] = "\x60\x10this is not a Kerberos token at all";
	uint8_t hdr[16];
	const char *detail;
	void *st;
	int fd[2];

	/* garbage token */
	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, fd[0], &st), 0);
	send_packet(fd[1], garbage, sizeof garbage - 1);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_ERROR);
	ck_assert_msg(strstr(detail, "accepting GSS security context failed") != NULL, "%s",
	              detail);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_ERROR); /* stays failed */
	ck_assert_ptr_null(ops->fact(&mod, st, "gss_principal"));
	ops->conn_free(&mod, st);
	close(fd[0]);
	close(fd[1]);

	/* 65536 bytes in all are fine (waits for the rest), one more is not */
	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, fd[0], &st), 0);
	be32(hdr, GSS_MAX_TOKEN - 4);
	send_all(fd[1], hdr, 8);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	ops->conn_free(&mod, st); /* mid-packet */
	close(fd[0]);
	close(fd[1]);
	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, fd[0], &st), 0);
	be32(hdr, GSS_MAX_TOKEN - 3);
	send_all(fd[1], hdr, 4);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_ERROR);
	ck_assert_str_eq(detail, "oversize GSSAPI packet sent by the peer (65533 > 65532)");
	ops->conn_free(&mod, st);
	close(fd[0]);
	close(fd[1]);

	/* the peer goes away during the handshake, in the middle of a packet */
	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, fd[0], &st), 0);
	send_all(fd[1], "\0\0\0\x20\x60", 5);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	close(fd[1]);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_CLOSED);
	ck_assert_ptr_nonnull(strstr(detail, "closed the connection during the GSSAPI handshake"));
	ops->conn_free(&mod, st);
	close(fd[0]);
}
END_TEST

/* A context without confidentiality is refused (raw initiator that asks
 * for neither confidentiality nor mutual authentication), if the mechanism
 * lets the initiator leave it out. */
START_TEST(test_no_conf_context)
{
	const char *detail;
	struct raw r;
	int fd[2];
	void *st;
	enum pgs_io io;

	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, fd[0], &st), 0);
	raw_start(&r, GSS_C_INTEG_FLAG);
	send_packet(fd[1], r.out.value, r.out.length);
	io = ops->handshake(&mod, st, &detail);
	if (r.flags & GSS_C_CONF_FLAG) {
		/* MIT always grants it: nothing to refuse */
		fprintf(stderr, "check_gss_tp: the mechanism grants confidentiality anyway\n");
		ck_assert_int_eq(io, PGS_IO_OK);
	} else {
		ck_assert_int_eq(io, PGS_IO_ERROR);
		ck_assert_str_eq(detail, "the GSSAPI context does not provide confidentiality");
	}
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

/* Established: bad data packets. */
START_TEST(test_bad_packets)
{
	uint8_t hdr[4], buf[64];
	size_t done;
	struct raw r;
	int fd[2];
	void *st;

	/* unencrypted (conf_state 0) wrap */
	st = raw_vs_acceptor(&r, fd, 0);
	raw_send_wrapped(r.ctx, fd[1], "plain", 5, 0);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_ERROR);
	ck_assert_uint_eq(done, 0);
	ck_assert_ptr_nonnull(
	        strstr(logbuf, "incoming GSSAPI message did not use confidentiality"));
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_ERROR);
	ck_assert_int_eq(ops->write(&mod, st, "x", 1, &done), PGS_IO_ERROR);
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);

	/* oversize length after establishment (16384 in all is the limit);
	 * a good packet before it is still handed out */
	logbuf[0] = '\0';
	st = raw_vs_acceptor(&r, fd, 0);
	raw_send_wrapped(r.ctx, fd[1], "good", 4, 1);
	be32(hdr, GSS_ENC_MAX_TOKEN + 1);
	send_all(fd[1], hdr, 4);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_OK);
	ck_assert_uint_eq(done, 4);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_ERROR);
	ck_assert_ptr_nonnull(
	        strstr(logbuf, "oversize GSSAPI packet sent by the peer (16381 > 16380)"));
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);

	/* a tampered packet */
	logbuf[0] = '\0';
	st = raw_vs_acceptor(&r, fd, 0);
	{
		gss_buffer_desc in = {5, "hello"}, out;
		OM_uint32 min;
		int conf;

		ck_assert(!GSS_ERROR(gss_wrap(&min, r.ctx, 1, 0, &in, &conf, &out)));
		((uint8_t *)out.value)[out.length - 1] ^= 1;
		send_packet(fd[1], out.value, out.length);
		gss_release_buffer(&min, &out);
	}
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_ERROR);
	ck_assert_ptr_nonnull(strstr(logbuf, "GSSAPI unwrap error"));
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);

	/* EOF in the middle of a packet: ERROR; at a boundary: data, then CLOSED */
	logbuf[0] = '\0';
	st = raw_vs_acceptor(&r, fd, 0);
	send_all(fd[1], "\0\0\0\x40\x05\x04", 6);
	shutdown(fd[1], SHUT_WR);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_ERROR);
	ck_assert_ptr_nonnull(
	        strstr(logbuf, "closed the connection in the middle of a GSSAPI packet"));
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);
	st = raw_vs_acceptor(&r, fd, 0);
	raw_send_wrapped(r.ctx, fd[1], "last", 4, 1);
	shutdown(fd[1], SHUT_WR);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_OK);
	ck_assert_uint_eq(done, 4);
	ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_CLOSED);
	ck_assert_uint_eq(done, 0);
	ops->conn_free(&mod, st);
	raw_free(&r);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

/* Initiator: the server answers with an ErrorResponse. */
static void error_answer(const uint8_t *msg, size_t len, size_t split, bool close_after,
                         const char *want)
{
	const char *detail;
	uint8_t *tok;
	size_t tl;
	void *st;
	int fd[2];

	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &server_conn, fd[1], &st), 0);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_PENDING);
	run_deferred();
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	tok = recv_packet(fd[0], GSS_MAX_TOKEN - 4, &tl); /* the AP-REQ, framed */
	ck_assert_uint_gt(tl, 100);
	free(tok);
	send_all(fd[0], msg, split);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	send_all(fd[0], msg + split, len - split);
	if (close_after)
		close(fd[0]);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_ERROR);
	ck_assert_str_eq(detail, want);
	ops->conn_free(&mod, st);
	if (!close_after)
		close(fd[0]);
	close(fd[1]);
}

START_TEST(test_server_error)
{
	static const char body[] = "SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host "
	                           "\"127.0.0.1\", user \"bob\", GSS encryption\0\0";
	uint8_t msg[256];
	size_t len = 5 + sizeof body - 1;

	msg[0] = 'E';
	be32(msg + 1, (uint32_t)(len - 1));
	memcpy(msg + 5, body, sizeof body - 1);
	error_answer(msg, len, 30, false,
	             "server sent an error during the GSSAPI handshake: no pg_hba.conf entry "
	             "for host \"127.0.0.1\", user \"bob\", GSS encryption");
	/* no M field, the server closes: still an error, without text */
	error_answer((const uint8_t *)"E\0\0\0\x0cSFATAL\0\0", 13, 3, true,
	             "server sent an error during the GSSAPI handshake");
	/* truncated by the close (the length says more) */
	error_answer((const uint8_t *)"E\0\0\0\x40Mhalf a mess", 17, 2, true,
	             "server sent an error during the GSSAPI handshake");
}
END_TEST

/* conn_new without credentials for the role; bad server hosts. */
START_TEST(test_no_creds)
{
	pgs_conn unix_conn = {.side = PGS_SIDE_SERVER, .server_host = "/run/postgresql"};
	pgs_conn nohost = {.side = PGS_SIDE_SERVER};
	void *st = NULL;

	ck_assert_int_eq(ops->conn_new(&nomod, &client_conn, 3, &st), -ENOENT);
	ck_assert_int_eq(ops->conn_new(&nomod, &server_conn, 3, &st), -ENOENT);
	ck_assert_ptr_null(st);
	mod.have_initiator = false;
	ck_assert_int_eq(ops->conn_new(&mod, &server_conn, 3, &st), -ENOENT);
	mod.have_initiator = true;
	mod.have_acceptor = false;
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, 3, &st), -ENOENT);
	mod.have_acceptor = true;
	ck_assert_int_eq(ops->conn_new(&mod, &unix_conn, 3, &st), -EINVAL);
	ck_assert_ptr_nonnull(strstr(logbuf, "Unix socket"));
	ck_assert_int_eq(ops->conn_new(&mod, &nohost, 3, &st), -EINVAL);
	ck_assert_ptr_nonnull(strstr(logbuf, "no Kerberos service name or server host"));
	ck_assert_ptr_null(st);
}
END_TEST

/* The initiator with a service the KDC does not know: the deferred step fails. */
START_TEST(test_unknown_service)
{
	pgs_conn other = {
	        .side = PGS_SIDE_SERVER, .server_host = "localhost", .krbsrvname = "nosuchservice"};
	const char *detail;
	void *st;

	ck_assert_int_eq(ops->conn_new(&mod, &other, -1, &st), 0);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_PENDING);
	run_deferred();
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_ERROR);
	ck_assert_msg(strstr(detail, "GSSAPI context initiation failed") != NULL, "%s", detail);
	ops->conn_free(&mod, st);
}
END_TEST

/* conn_free in every state (ASan: no leak, no use after free). */
START_TEST(test_conn_free)
{
	const char *detail;
	uint8_t buf[64], *big = calloc(1, BIG);
	struct mpair p;
	size_t done;
	void *st;
	int fd[2];

	/* before the handshake, both roles */
	ck_assert_int_eq(ops->conn_new(&mod, &client_conn, -1, &st), 0);
	ops->conn_free(&mod, st);
	ck_assert_int_eq(ops->conn_new(&mod, &server_conn, -1, &st), 0);
	ops->conn_free(&mod, st);
	ops->conn_free(&mod, NULL);

	/* initiator: after the deferred step, token sent, waiting for the answer */
	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &server_conn, fd[1], &st), 0);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_PENDING);
	run_deferred();
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	send_all(fd[0], "\0\0\0\x10\x60", 5); /* and half an answer */
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_WANT_READ);
	ops->conn_free(&mod, st);
	close(fd[0]);
	close(fd[1]);

	/* initiator: the deferred step ran, handshake() not called again */
	sock_pair(fd, 0);
	ck_assert_int_eq(ops->conn_new(&mod, &server_conn, fd[1], &st), 0);
	ck_assert_int_eq(ops->handshake(&mod, st, &detail), PGS_IO_PENDING);
	run_deferred();
	ops->conn_free(&mod, st);
	close(fd[0]);
	close(fd[1]);

	/* established: plaintext held on one side, a packet owed on the other */
	mpair_open(&p, 4096);
	mpair_handshake(&p);
	mod_write_all(p.ini, "0123456789", 10);
	ck_assert_int_eq(ops->read(&mod, p.acc, buf, 3, &done), PGS_IO_OK);
	ck_assert_uint_eq(ops->pending(&mod, p.acc), 7);
	{
		enum pgs_io io = PGS_IO_OK;

		for (int i = 0; i < 1000 && io == PGS_IO_OK; i++)
			io = ops->write(&mod, p.ini, big, BIG, &done);
		ck_assert_int_eq(io, PGS_IO_WANT_WRITE);
	}
	mpair_close(&p);
	free(big);

	/* established: half a packet in */
	{
		struct raw r;

		st = raw_vs_acceptor(&r, fd, 0);
		send_all(fd[1], "\0\0\x01\0\x05", 5);
		ck_assert_int_eq(ops->read(&mod, st, buf, sizeof buf, &done), PGS_IO_WANT_READ);
		ops->conn_free(&mod, st);
		raw_free(&r);
		close(fd[0]);
		close(fd[1]);
	}
	ck_assert_str_eq(logbuf, "");
}
END_TEST

/* ------------------------------------------------------------ realm */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static Suite *gss_tp_suite(void)
{
	Suite *s = suite_create("gss_tp");
	TCase *tc = tcase_create("transport");

	tcase_add_checked_fixture(tc, mod_setup, mod_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_module_pair);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_raw_initiator);
	tcase_add_test(tc, test_raw_acceptor);
	tcase_add_test(tc, test_same_read);
	tcase_add_test(tc, test_pending);
	tcase_add_test(tc, test_bad_handshake);
	tcase_add_test(tc, test_no_conf_context);
	tcase_add_test(tc, test_bad_packets);
	tcase_add_test(tc, test_server_error);
	tcase_add_test(tc, test_no_creds);
	tcase_add_test(tc, test_unknown_service);
	tcase_add_test(tc, test_conn_free);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	char conf[PATH_MAX + 32];
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	snprintf(base, sizeof base, "%s/pgs-check-gss-tp-XXXXXX", t && *t ? t : "/tmp");
	if (mkdtemp(base) == NULL) {
		fprintf(stderr, "check_gss_tp: cannot make a directory in %s\n", base);
		return EXIT_FAILURE;
	}
	/* never /etc/krb5.conf, never a user's ticket cache */
	snprintf(conf, sizeof conf, "%s/krb5/krb5.conf", base);
	setenv("KRB5_CONFIG", conf, 1);
	setenv("KRB5CCNAME", "MEMORY:check-gss-tp", 1);
	unsetenv("KRB5_KTNAME");
	unsetenv("KRB5_CLIENT_KTNAME");
	if (run("KDC_PORT_BASE=18300 KRB_KEYTAB_OWNER=root "
	        "KRB_USERS='alice:alicepass pgsluice:pgsluicepass' "
	        "KRB_SERVICES='postgres/localhost' bash %s/lib/kdc-up.sh %s >%s/kdc-up.log 2>&1",
	        TEST_SRCDIR, base, base) != 0) {
		fprintf(stderr, "check_gss_tp: kdc-up.sh failed, see %s/kdc-up.log\n", base);
		return EXIT_FAILURE;
	}
	sr = srunner_create(gss_tp_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	run("bash %s/lib/kdc-down.sh %s >/dev/null 2>&1", TEST_SRCDIR, base);
	if (getenv("CHECK_GSS_TP_KEEP") == NULL)
		run("rm -rf '%s'", base);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
