/*
 * gss_tp.c — the transport of kind "gss": PostgreSQL's GSSAPI encryption
 * (GSSENCRequest), on the host's non-blocking socket.
 *
 * Wire format (PostgreSQL 12+, be-secure-gssapi.c / fe-secure-gssapi.c):
 * every packet is a 4-byte big-endian length and a GSSAPI token.  First the
 * security context is established with such packets (context tokens, up
 * to GSS_MAX_TOKEN bytes per packet as PostgreSQL 17 accepts), then every
 * packet is the gss_wrap() of up to one packet's worth of the protocol
 * stream, with confidentiality, GSS_ENC_PACKET bytes per packet at most.
 *
 * Two roles, from host->conn_side(): towards a client pgsluice is the
 * acceptor (keytab, local only); towards PostgreSQL it is the initiator,
 * whose first step may ask the KDC for a ticket and so runs on the host's
 * work pool (host->defer, PGS_IO_PENDING); later steps are local.
 *
 * Buffers: `in` holds raw bytes from the socket (any number of packets and
 * a partial one); `plain` the decrypted rest of one packet; `out` one
 * framed packet on its way out, sent with sendmsg (two iovecs) so the
 * token is never copied.  write() follows OpenSSL's "moving buffer" rule
 * the host relies on (io.c): a packet that could not go out whole is owed,
 * the call says WANT_WRITE (or OK for the packets before it), and the
 * retry begins with the plaintext the owed packet carries.  Buffers held plaintext or keys,
 * so they are wiped before they are freed; an idle connection keeps none.
 *
 * read() and write() have no detail argument: why they failed is logged
 * here (nothing secret: GSSAPI status text and sizes).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "gss_int.h"

#define GTP_DETAIL_LEN   (GSS_ERR_LEN + 128)
#define GTP_SERVER_MSG   256 /* shown part of a server's ErrorResponse text */
#define GTP_WORK_RUNNING 2   /* work_rc while the deferred first step runs */

enum gtp_state {
	GTP_INIT_FIRST = 0, /* initiator: first step not started */
	GTP_INIT_WORK,      /* initiator: first step on the work pool */
	GTP_SEND,           /* sending a context token */
	GTP_RECV,           /* waiting for the peer's next context token */
	GTP_OPEN,           /* context complete: data packets */
	GTP_FAILED,         /* no more I/O; detail says why */
};

/* One framed packet on its way out: 4-byte length, then the token. */
struct gtp_out {
	uint8_t hdr[4];
	gss_buffer_desc tok; /* a wrap output (own) or the context's c->out */
	bool own;
	size_t off;   /* bytes of hdr + tok already sent */
	size_t plain; /* plaintext a data packet carries */
};

struct gss_tp {
	const pgs_host *host;
	struct gss_mod *m;
	pgs_conn *conn; /* for host->defer and host->log only */
	int fd;
	bool initiator;
	enum gtp_state state;
	struct gss_ctx ctx;
	atomic_int work_rc; /* the deferred step's result, GTP_WORK_RUNNING before */
	size_t max_plain;   /* plaintext per data packet */
	uint8_t *in;        /* raw bytes from the socket: in[start, end) */
	size_t in_cap, in_start, in_end;
	gss_buffer_desc plain; /* decrypted, not handed out from plain_off on */
	size_t plain_off;
	struct gtp_out out;
	char peer[GSS_NAME_MAX]; /* initiator: the server's principal */
	char detail[GTP_DETAIL_LEN];
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Release a GSSAPI buffer that held plaintext (or keys). */
static void wipe_release(gss_buffer_desc *b)
{
	OM_uint32 min;

	if (b->value != NULL) {
		explicit_bzero(b->value, b->length);
		gss_release_buffer(&min, b);
	}
	b->value = NULL;
	b->length = 0;
}

static enum pgs_io fail(struct gss_tp *st, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Set the detail and end all I/O. */
static enum pgs_io fail(struct gss_tp *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->detail, sizeof st->detail, fmt, ap);
	va_end(ap);
	st->state = GTP_FAILED;
	return PGS_IO_ERROR;
}

/* A failure of read() or write(): the host gets no detail, so log it. */
static enum pgs_io fail_logged(struct gss_tp *st)
{
	st->host->log(PGS_LOG_WARN, st->conn, "gss: %s", st->detail);
	return PGS_IO_ERROR;
}

static void gss_fail(struct gss_tp *st, const char *what, OM_uint32 maj, OM_uint32 min)
{
	char text[GSS_ERR_LEN];

	gss_status_text(maj, min, text, sizeof text);
	(void)fail(st, "%s: %s", what, text);
}

static void plain_drop(struct gss_tp *st)
{
	wipe_release(&st->plain);
	st->plain_off = 0;
}

/* ------------------------------------------------------------ input */

static void in_drop(struct gss_tp *st)
{
	if (st->in != NULL)
		st->host->wipe_free(st->in, st->in_cap);
	st->in = NULL;
	st->in_cap = st->in_start = st->in_end = 0;
}

/* Make room for a buffer of at least cap bytes, keeping what it holds. */
static int in_reserve(struct gss_tp *st, size_t cap)
{
	size_t held = st->in_end - st->in_start;
	uint8_t *n;

	if (st->in != NULL && st->in_cap >= cap)
		return 0;
	n = st->host->alloc(cap);
	if (n == NULL) {
		(void)fail(st, "out of memory for a GSSAPI packet buffer");
		return -1;
	}
	if (held > 0)
		memcpy(n, st->in + st->in_start, held);
	in_drop(st);
	st->in = n;
	st->in_cap = cap;
	st->in_end = held;
	return 0;
}

/* Largest packet (length word included) the current phase accepts. */
static size_t packet_limit(const struct gss_tp *st)
{
	return st->state == GTP_OPEN ? GSS_ENC_PACKET : GSS_MAX_TOKEN;
}

/* Is a whole packet at in_start?  1 (*tok_len set), 0 not yet, -1 oversize. */
static int packet_ready(const struct gss_tp *st, size_t *tok_len)
{
	size_t held = st->in_end - st->in_start;
	uint32_t len;

	if (held < 4)
		return 0;
	len = get_be32(st->in + st->in_start);
	if (len > packet_limit(st) - 4)
		return -1;
	*tok_len = len;
	return held >= 4 + (size_t)len ? 1 : 0;
}

static enum pgs_io oversize(struct gss_tp *st)
{
	return fail(st, "oversize GSSAPI packet sent by the peer (%u > %zu)",
	            (unsigned)get_be32(st->in + st->in_start), packet_limit(st) - 4);
}

static void in_consume(struct gss_tp *st, size_t n)
{
	st->in_start += n;
	if (st->in_start == st->in_end)
		st->in_start = st->in_end = 0;
}

/* One recv() into the free end of `in`: OK (bytes came), WANT_READ, CLOSED
 * (EOF), ERROR.  The buffer always has room: a packet fits in it. */
static enum pgs_io fill(struct gss_tp *st)
{
	ssize_t n;

	if (st->in_start > 0) {
		memmove(st->in, st->in + st->in_start, st->in_end - st->in_start);
		st->in_end -= st->in_start;
		st->in_start = 0;
	}
	if (st->in_end == st->in_cap)
		return fail(st, "GSSAPI input buffer full");
	do
		n = recv(st->fd, st->in + st->in_end, st->in_cap - st->in_end, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		st->in_end += (size_t)n;
		return PGS_IO_OK;
	}
	if (n == 0)
		return PGS_IO_CLOSED;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return PGS_IO_WANT_READ;
	return fail(st, "could not receive a GSSAPI packet: %s", strerror(errno));
}

/* ------------------------------------------------------------ output */

static void out_clear(struct gss_tp *st)
{
	OM_uint32 min;

	if (st->out.own && st->out.tok.value != NULL)
		gss_release_buffer(&min, &st->out.tok);
	memset(&st->out, 0, sizeof st->out);
}

static bool out_pending(const struct gss_tp *st)
{
	return st->out.tok.value != NULL;
}

static void out_set(struct gss_tp *st, gss_buffer_desc tok, bool own, size_t plain)
{
	out_clear(st);
	put_be32(st->out.hdr, (uint32_t)tok.length);
	st->out.tok = tok;
	st->out.own = own;
	st->out.plain = plain;
}

/* Send what is left of the packet: OK when all of it is out (the packet
 * stays set for the caller to read .plain and clear), WANT_WRITE, ERROR. */
static enum pgs_io flush_out(struct gss_tp *st)
{
	size_t total = 4 + st->out.tok.length;

	while (st->out.off < total) {
		struct iovec iov[2];
		struct msghdr msg = {.msg_iov = iov};
		size_t off = st->out.off;
		ssize_t n;

		if (off < 4) {
			iov[0].iov_base = st->out.hdr + off;
			iov[0].iov_len = 4 - off;
			iov[1].iov_base = st->out.tok.value;
			iov[1].iov_len = st->out.tok.length;
			msg.msg_iovlen = 2;
		} else {
			iov[0].iov_base = (uint8_t *)st->out.tok.value + (off - 4);
			iov[0].iov_len = total - off;
			msg.msg_iovlen = 1;
		}
		do
			n = sendmsg(st->fd, &msg, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return PGS_IO_WANT_WRITE;
			return fail(st, "could not send a GSSAPI packet: %s", strerror(errno));
		}
		st->out.off += (size_t)n;
	}
	return PGS_IO_OK;
}

/* ------------------------------------------------------------ handshake */

/* The initiator's first step, on the work pool (may talk to the KDC). */
static void init_work(void *arg)
{
	struct gss_tp *st = arg;
	int rc = gss_ctx_init_step(st->m, &st->ctx, NULL, 0);

	atomic_store_explicit(&st->work_rc, rc, memory_order_release);
}

/* The context is complete and its last token sent: ready for data. */
static enum pgs_io finish(struct gss_tp *st)
{
	OM_uint32 maj, min, max = 0;

	maj = gss_wrap_size_limit(&min, st->ctx.ctx, 1, GSS_C_QOP_DEFAULT, GSS_ENC_MAX_TOKEN, &max);
	if (GSS_ERROR(maj)) {
		gss_fail(st, "GSSAPI size check error", maj, min);
		return PGS_IO_ERROR;
	}
	if (max == 0)
		return fail(st, "GSSAPI leaves no room for data in a packet");
	st->max_plain = max;
	if (st->initiator) {
		gss_name_t target = GSS_C_NO_NAME;
		gss_buffer_desc disp = GSS_C_EMPTY_BUFFER;

		maj = gss_inquire_context(&min, st->ctx.ctx, NULL, &target, NULL, NULL, NULL, NULL,
		                          NULL);
		if (!GSS_ERROR(maj) && !GSS_ERROR(gss_display_name(&min, target, &disp, NULL)) &&
		    disp.length < sizeof st->peer &&
		    memchr(disp.value, '\0', disp.length) == NULL) {
			memcpy(st->peer, disp.value, disp.length);
			st->peer[disp.length] = '\0';
		}
		gss_release_buffer(&min, &disp);
		if (target != GSS_C_NO_NAME)
			gss_release_name(&min, &target);
	}
	st->state = GTP_OPEN;
	if (st->in_start == st->in_end)
		in_drop(st); /* else: the peer's first data packets came along */
	return PGS_IO_OK;
}

/* After a context step returned rc (1, 0, -1): what to do next.  OK means
 * "go on in the state set here". */
static enum pgs_io after_step(struct gss_tp *st, int rc)
{
	gss_buffer_desc tok = st->ctx.out;

	if (rc < 0) {
		/* an error token tells the peer why; one try, never waits (a
		 * success token of a context refused afterwards is not sent) */
		if (GSS_ERROR(st->ctx.maj) && tok.length > 0 && tok.length <= GSS_MAX_TOKEN - 4) {
			out_set(st, tok, false, 0);
			(void)flush_out(st);
			out_clear(st);
		}
		return fail(st, "%s", st->ctx.err);
	}
	if (rc == 1 && (st->ctx.flags & GSS_C_CONF_FLAG) == 0)
		return fail(st, "the GSSAPI context does not provide confidentiality");
	if (tok.length > GSS_MAX_TOKEN - 4)
		return fail(st, "GSSAPI context token too large to send (%zu > %d)", tok.length,
		            GSS_MAX_TOKEN - 4);
	if (tok.length > 0) {
		out_set(st, tok, false, 0);
		st->state = GTP_SEND;
		return PGS_IO_OK;
	}
	if (rc == 1)
		return finish(st);
	st->state = GTP_RECV;
	return PGS_IO_OK;
}

/* Copy the printable part of an ErrorResponse's 'M' field into out. */
static bool server_message(const uint8_t *p, size_t len, char *out, size_t out_len)
{
	size_t i = 5;

	while (i < len && p[i] != '\0') {
		char type = (char)p[i++];
		const uint8_t *end = memchr(p + i, '\0', len - i);
		size_t n = 0;

		if (end == NULL)
			return false; /* truncated */
		if (type == 'M') {
			for (; p + i < end && n + 1 < out_len; i++)
				out[n++] = p[i] >= 0x20 && p[i] != 0x7f ? (char)p[i] : '?';
			out[n] = '\0';
			return n > 0;
		}
		i = (size_t)(end - p) + 1;
	}
	return false;
}

/* Initiator: the server answered with an ErrorResponse ('E') instead of a
 * context token, as it does when it refuses the connection.  Read it whole
 * (bounded by the buffer), then fail with its message. */
static enum pgs_io server_error(struct gss_tp *st)
{
	char msg[GTP_SERVER_MSG];
	size_t held, want = st->in_cap;
	enum pgs_io io = PGS_IO_OK;

	for (;;) {
		held = st->in_end - st->in_start;
		if (held >= 5) {
			uint32_t len = get_be32(st->in + st->in_start + 1);

			if (len < 4)
				break;
			if ((size_t)len + 1 < want)
				want = (size_t)len + 1;
		}
		if (held >= want || io == PGS_IO_CLOSED)
			break;
		io = fill(st); /* moves the message to the start of `in` */
		if (io == PGS_IO_WANT_READ || io == PGS_IO_ERROR)
			return io;
	}
	if (server_message(st->in + st->in_start, held < want ? held : want, msg, sizeof msg))
		return fail(st, "server sent an error during the GSSAPI handshake: %s", msg);
	return fail(st, "server sent an error during the GSSAPI handshake");
}

/* GTP_RECV: read until a whole context token is in, then run the step. */
static enum pgs_io recv_token(struct gss_tp *st)
{
	size_t tok_len = 0;
	enum pgs_io io;
	int r, rc;

	if (in_reserve(st, GSS_MAX_TOKEN) < 0)
		return PGS_IO_ERROR;
	for (;;) {
		if (st->initiator && st->in_end > st->in_start && st->in[st->in_start] == 'E')
			return server_error(st);
		r = packet_ready(st, &tok_len);
		if (r < 0)
			return oversize(st);
		if (r > 0)
			break;
		io = fill(st);
		if (io == PGS_IO_CLOSED) {
			(void)fail(st,
			           "the peer closed the connection during the GSSAPI handshake");
			return PGS_IO_CLOSED;
		}
		if (io != PGS_IO_OK)
			return io;
	}
	if (st->initiator)
		rc = gss_ctx_init_step(st->m, &st->ctx, st->in + st->in_start + 4, tok_len);
	else
		rc = gss_ctx_accept_step(st->m, &st->ctx, st->in + st->in_start + 4, tok_len);
	in_consume(st, 4 + tok_len);
	return after_step(st, rc);
}

static enum pgs_io gtp_handshake(void *mod, void *state, const char **logdetail)
{
	struct gss_tp *st = state;
	enum pgs_io io;
	int rc;

	(void)mod; /* st->m: the same instance */
	*logdetail = st->detail;
	for (;;) {
		switch (st->state) {
		case GTP_OPEN:
			return PGS_IO_OK;
		case GTP_FAILED:
			return PGS_IO_ERROR;
		case GTP_INIT_FIRST:
			atomic_store_explicit(&st->work_rc, GTP_WORK_RUNNING, memory_order_relaxed);
			st->state = GTP_INIT_WORK; /* before defer: work may run at once */
			rc = st->host->defer(st->conn, init_work, st);
			if (rc < 0)
				return fail(st,
				            "cannot run the GSSAPI initiation on the work pool: %s",
				            strerror(-rc));
			return PGS_IO_PENDING;
		case GTP_INIT_WORK:
			rc = atomic_load_explicit(&st->work_rc, memory_order_acquire);
			if (rc == GTP_WORK_RUNNING)
				return fail(st,
				            "GSSAPI handshake resumed before its work finished");
			io = after_step(st, rc);
			break;
		case GTP_SEND:
			io = flush_out(st);
			if (io != PGS_IO_OK)
				return io;
			out_clear(st);
			if (st->ctx.complete) {
				io = finish(st);
			} else {
				st->state = GTP_RECV;
				io = PGS_IO_OK;
			}
			break;
		case GTP_RECV:
			io = recv_token(st);
			break;
		default:
			return fail(st, "bad GSSAPI transport state");
		}
		if (io != PGS_IO_OK)
			return io;
	}
}

/* ------------------------------------------------------------ data */

/* Decrypt the whole packet at in_start into plain.  OK or ERROR. */
static enum pgs_io unwrap_packet(struct gss_tp *st, size_t tok_len)
{
	gss_buffer_desc input = {.length = tok_len, .value = st->in + st->in_start + 4};
	OM_uint32 maj, min;
	int conf = 0;

	maj = gss_unwrap(&min, st->ctx.ctx, &input, &st->plain, &conf, NULL);
	in_consume(st, 4 + tok_len);
	st->plain_off = 0;
	/* supplementary bits (a replayed or missing packet) are errors too */
	if (maj != GSS_S_COMPLETE) {
		plain_drop(st);
		gss_fail(st, "GSSAPI unwrap error", maj, min);
		return PGS_IO_ERROR;
	}
	if (conf == 0) {
		plain_drop(st);
		return fail(st, "incoming GSSAPI message did not use confidentiality");
	}
	return PGS_IO_OK;
}

static enum pgs_io gtp_read(void *mod, void *state, void *buf, size_t len, size_t *done)
{
	struct gss_tp *st = state;
	size_t n = 0, tok_len = 0;
	enum pgs_io io;
	int r;

	(void)mod;
	*done = 0;
	if (st->state != GTP_OPEN)
		return PGS_IO_ERROR;
	while (n < len) {
		size_t avail = st->plain.length - st->plain_off;

		if (avail > 0) {
			size_t k = avail < len - n ? avail : len - n;

			memcpy((uint8_t *)buf + n, (uint8_t *)st->plain.value + st->plain_off, k);
			n += k;
			st->plain_off += k;
			if (st->plain_off == st->plain.length)
				plain_drop(st);
			continue;
		}
		plain_drop(st); /* an empty packet */
		r = packet_ready(st, &tok_len);
		if (r < 0) {
			(void)oversize(st);
			io = PGS_IO_ERROR;
		} else if (r > 0) {
			io = unwrap_packet(st, tok_len);
			if (io == PGS_IO_OK)
				continue;
		} else if (n > 0) {
			break; /* the host reads again until WANT_READ */
		} else if (in_reserve(st, GSS_ENC_PACKET) < 0) {
			io = PGS_IO_ERROR;
		} else {
			io = fill(st);
			if (io == PGS_IO_OK)
				continue;
			if (io == PGS_IO_WANT_READ) {
				if (st->in_start == st->in_end)
					in_drop(st); /* idle: hold no buffer */
				return io;
			}
			if (io == PGS_IO_CLOSED && st->in_end > st->in_start)
				io = fail(st, "the peer closed the connection in the middle of a "
				              "GSSAPI packet");
			if (io == PGS_IO_CLOSED)
				return io;
		}
		/* an error: hand out what was decrypted first; state is FAILED */
		(void)fail_logged(st);
		break;
	}
	*done = n;
	return n > 0 || len == 0 ? PGS_IO_OK : PGS_IO_ERROR;
}

/* Wrap buf[0, len) into the output packet (len <= max_plain). */
static enum pgs_io wrap_packet(struct gss_tp *st, const void *buf, size_t len)
{
	gss_buffer_desc input = {.length = len, .value = (void *)(uintptr_t)buf};
	gss_buffer_desc tok = GSS_C_EMPTY_BUFFER;
	OM_uint32 maj, min;
	int conf = 0;

	maj = gss_wrap(&min, st->ctx.ctx, 1, GSS_C_QOP_DEFAULT, &input, &conf, &tok);
	if (GSS_ERROR(maj)) {
		gss_fail(st, "GSSAPI wrap error", maj, min);
		return PGS_IO_ERROR;
	}
	if (conf == 0 || tok.length > GSS_ENC_MAX_TOKEN) {
		size_t tl = tok.length;

		gss_release_buffer(&min, &tok);
		if (conf == 0)
			return fail(st, "outgoing GSSAPI message would not use confidentiality");
		return fail(st, "GSSAPI tried to send an oversize packet (%zu > %d)", tl,
		            GSS_ENC_MAX_TOKEN);
	}
	out_set(st, tok, true, len);
	return PGS_IO_OK;
}

static enum pgs_io gtp_write(void *mod, void *state, const void *buf, size_t len, size_t *done)
{
	struct gss_tp *st = state;
	const uint8_t *p = buf;
	size_t acc = 0;
	enum pgs_io io;

	(void)mod;
	*done = 0;
	if (st->state != GTP_OPEN)
		return PGS_IO_ERROR;
	if (len == 0)
		return PGS_IO_OK;
	if (out_pending(st)) {
		/* the retry starts with the plaintext the owed packet carries */
		if (len < st->out.plain) {
			(void)fail(st, "write retried with %zu bytes, %zu owed", len,
			           st->out.plain);
			return fail_logged(st);
		}
		io = flush_out(st);
		if (io == PGS_IO_WANT_WRITE)
			return io;
		if (io != PGS_IO_OK)
			return fail_logged(st);
		acc = st->out.plain;
		out_clear(st);
	}
	while (acc < len) {
		size_t chunk = len - acc < st->max_plain ? len - acc : st->max_plain;

		if (wrap_packet(st, p + acc, chunk) != PGS_IO_OK)
			return fail_logged(st);
		io = flush_out(st);
		if (io == PGS_IO_WANT_WRITE)
			break; /* owed: the next call starts at p + acc */
		if (io != PGS_IO_OK)
			return fail_logged(st);
		acc += chunk;
		out_clear(st);
	}
	*done = acc;
	return acc > 0 ? PGS_IO_OK : PGS_IO_WANT_WRITE;
}

/* Decrypted bytes held (or a whole packet not yet decrypted). */
static size_t gtp_pending(void *mod, void *state)
{
	struct gss_tp *st = state;
	size_t tok_len = 0;

	(void)mod;
	if (st->state != GTP_OPEN)
		return 0;
	if (st->plain.length > st->plain_off)
		return st->plain.length - st->plain_off;
	if (packet_ready(st, &tok_len) != 0)
		return tok_len > 0 ? tok_len : 1; /* an oversize one: read() reports it */
	return 0;
}

/* ------------------------------------------------------------ life cycle */

static int gtp_conn_new(void *mod, pgs_conn *conn, int fd, void **state)
{
	struct gss_mod *m = mod;
	const pgs_host *host = m->host;
	enum pgs_side side = host->conn_side(conn);
	const char *srv, *server;
	struct gss_tp *st;

	if (side == PGS_SIDE_CLIENT && !m->have_acceptor)
		return -ENOENT;
	if (side == PGS_SIDE_SERVER && !m->have_initiator)
		return -ENOENT;
	if (side != PGS_SIDE_CLIENT && side != PGS_SIDE_SERVER)
		return -EINVAL;
	st = host->alloc(sizeof *st);
	if (st == NULL)
		return -ENOMEM;
	memset(st, 0, sizeof *st);
	st->host = host;
	st->m = m;
	st->conn = conn;
	st->fd = fd;
	st->ctx.ctx = GSS_C_NO_CONTEXT;
	st->ctx.target = GSS_C_NO_NAME;
	st->ctx.out.value = NULL;
	st->plain.value = NULL;
	st->out.tok.value = NULL;
	atomic_init(&st->work_rc, GTP_WORK_RUNNING);
	if (side == PGS_SIDE_CLIENT) {
		st->state = GTP_RECV;
		*state = st;
		return 0;
	}
	st->initiator = true;
	st->state = GTP_INIT_FIRST;
	srv = host->conn_param(conn, "krbsrvname");
	if (srv == NULL || srv[0] == '\0')
		srv = "postgres";
	server = host->conn_param(conn, "server_host");
	if (server != NULL && server[0] == '/') {
		host->log(PGS_LOG_ERROR, conn, "gss: no GSSAPI encryption over a Unix socket (%s)",
		          server);
		host->wipe_free(st, sizeof *st);
		return -EINVAL;
	}
	if (gss_ctx_target(&st->ctx, srv, server) < 0) {
		host->log(PGS_LOG_ERROR, conn, "gss: %s", st->ctx.err);
		gss_ctx_free(&st->ctx);
		host->wipe_free(st, sizeof *st);
		return -EINVAL;
	}
	*state = st;
	return 0;
}

/* PostgreSQL's GSS encryption has no close message. */
static enum pgs_io gtp_shutdown(void *mod, void *state)
{
	(void)mod, (void)state;
	return PGS_IO_OK;
}

/* Every state; the host waited for a deferred step to return. */
static void gtp_conn_free(void *mod, void *state)
{
	struct gss_tp *st = state;

	(void)mod;
	if (st == NULL)
		return;
	out_clear(st);
	plain_drop(st);
	in_drop(st);
	gss_ctx_free(&st->ctx);
	st->host->wipe_free(st, sizeof *st);
}

static const char *gtp_fact(void *mod, void *state, const char *name)
{
	struct gss_tp *st = state;

	(void)mod;
	if (st->state != GTP_OPEN || name == NULL)
		return NULL;
	if (strcmp(name, "gss_principal") == 0) {
		if (st->initiator)
			return st->peer[0] != '\0' ? st->peer : NULL;
		return st->ctx.principal;
	}
	if (strcmp(name, "encrypted") == 0)
		return "yes";
	return NULL;
}

const pgs_transport_ops gss_transport_ops = {
        .size = sizeof(pgs_transport_ops),
        .kind = "gss",
        .conn_new = gtp_conn_new,
        .handshake = gtp_handshake,
        .read = gtp_read,
        .write = gtp_write,
        .shutdown = gtp_shutdown,
        .conn_free = gtp_conn_free,
        .fact = gtp_fact,
        .pending = gtp_pending,
};
