/*
 * client_tls.c — client byte streams, plain or TLS (see net/client_tls.h).
 *
 * Unlike the listeners (net/tls.c, memory BIOs fed by a libuv loop), the
 * client connectors block on one thread with poll(), so OpenSSL works on
 * the non-blocking socket itself and each WANT_READ / WANT_WRITE becomes a
 * poll for that event under the caller's deadline.
 *
 * OpenSSL writes to the socket with write(), not send(MSG_NOSIGNAL): a
 * server that went away would raise SIGPIPE and kill a process that never
 * asked for it. Every call that may write (handshake, write, read, which
 * can answer a key update, shutdown) runs with SIGPIPE blocked on the
 * calling thread, and a SIGPIPE it raised is taken off the pending set
 * before the mask is restored; EPIPE then reads as a closed stream.
 *
 * OpenSSL's error queue is per thread: it is emptied after every failure so
 * that a later, unrelated call does not report a stale reason.
 *
 * Sessions are resumed: a context keeps the last session a server gave it
 * (with the name it was verified for) and offers it on the next connection
 * to that name, which skips the certificate chain and the signature. The
 * slot hangs off the SSL_CTX, not off mcp_client_tls, because a session
 * ticket may arrive on a connection (read on any thread) after the
 * context's owner let go; OpenSSL frees the slot with the last reference.
 */
#include "net/client_tls.h"
#include "net/connect.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct session_slot {
    pthread_mutex_t lock;
    SSL_SESSION *session;  /* owned; NULL until a server sends one */
    char name[256];        /* the name it was verified for */
} session_slot;

struct mcp_client_tls {
    SSL_CTX *ctx;
    char server_name[256]; /* empty: the host being dialled */
    bool insecure;
};

struct mcp_client_stream {
    int fd;
    SSL *ssl;              /* NULL for a plain stream */
    char name[256];        /* verified name (SSL app data, for the session slot) */
    bool broken;           /* a fatal TLS error: no close_notify */
};

void mcp_client_set_why(char *why, size_t why_size, const char *fmt, ...)
{
    if (!why || !why_size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
}

/* OpenSSL's reason for the oldest queued error, and the queue emptied. */
static const char *take_openssl_reason(char *buf, size_t size)
{
    unsigned long err = ERR_get_error();
    const char *reason = !err ? NULL : ERR_SYSTEM_ERROR(err) ? strerror(ERR_GET_REASON(err)) : ERR_reason_error_string(err);
    snprintf(buf, size, "%s", reason ? reason : "unknown error");
    ERR_clear_error();
    return buf;
}

/* ---- SIGPIPE guard --------------------------------------------------------------- */

typedef struct pipe_guard {
    sigset_t old;
} pipe_guard;

static void pipe_guard_enter(pipe_guard *g)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &g->old);
}

static void pipe_guard_leave(pipe_guard *g)
{
    sigset_t pending;
    sigemptyset(&pending);
    if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) && !sigismember(&g->old, SIGPIPE)) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, SIGPIPE);
        struct timespec zero = {0, 0};
        sigtimedwait(&only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- Session resumption ------------------------------------------------------------ */

static int slot_index = -1;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static void slot_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    session_slot *slot = ptr;
    if (!slot)
        return;
    SSL_SESSION_free(slot->session);
    pthread_mutex_destroy(&slot->lock);
    free(slot);
}

static void slot_index_init(void) { slot_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, slot_free); }

static session_slot *slot_of(SSL_CTX *ctx) { return slot_index >= 0 ? SSL_CTX_get_ex_data(ctx, slot_index) : NULL; }

/* OpenSSL hands over a session (TLS 1.3: a ticket after the handshake). */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    session_slot *slot = slot_of(SSL_get_SSL_CTX(ssl));
    const char *name = SSL_get_app_data(ssl);
    if (!slot || !name || strlen(name) >= sizeof slot->name)
        return 0;
    pthread_mutex_lock(&slot->lock);
    SSL_SESSION_free(slot->session);
    slot->session = session;
    strcpy(slot->name, name);
    pthread_mutex_unlock(&slot->lock);
    return 1; /* the reference is ours now */
}

static void offer_session(SSL *ssl, const char *name)
{
    session_slot *slot = slot_of(SSL_get_SSL_CTX(ssl));
    if (!slot)
        return;
    pthread_mutex_lock(&slot->lock);
    if (slot->session && !strcmp(slot->name, name))
        SSL_set_session(ssl, slot->session);
    pthread_mutex_unlock(&slot->lock);
}

static void attach_session_slot(SSL_CTX *ctx)
{
    pthread_once(&slot_once, slot_index_init);
    session_slot *slot = slot_index >= 0 ? calloc(1, sizeof *slot) : NULL;
    if (!slot)
        return; /* no resumption: every connection does the full handshake */
    pthread_mutex_init(&slot->lock, NULL);
    if (SSL_CTX_set_ex_data(ctx, slot_index, slot) != 1) {
        slot_free(NULL, slot, NULL, 0, 0, NULL);
        ERR_clear_error();
        return;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
}

/* ---- Context ---------------------------------------------------------------------- */

int mcp_client_tls_new(mcp_client_tls **out, const mcp_connect_opts *opts, char *why, size_t why_size)
{
    *out = NULL;
    mcp_client_tls *tls = calloc(1, sizeof *tls);
    if (!tls)
        return MCP_ENOMEM;
    char reason[256];
    tls->ctx = SSL_CTX_new(TLS_client_method());
    if (!tls->ctx) {
        mcp_client_set_why(why, why_size, "TLS: cannot create a context: %s", take_openssl_reason(reason, sizeof reason));
        free(tls);
        return MCP_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(tls->ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(tls->ctx, SSL_MODE_RELEASE_BUFFERS);
    const char *ca_file = opts && opts->tls_ca_file && *opts->tls_ca_file ? opts->tls_ca_file : NULL;
    const char *ca_dir = opts && opts->tls_ca_dir && *opts->tls_ca_dir ? opts->tls_ca_dir : NULL;
    tls->insecure = opts && opts->tls_insecure;
    int rc = MCP_OK;
    if (opts && opts->tls_server_name && *opts->tls_server_name) {
        if (strlen(opts->tls_server_name) >= sizeof tls->server_name) {
            mcp_client_set_why(why, why_size, "TLS: the server name to verify is too long");
            rc = MCP_EINVAL;
        } else {
            strcpy(tls->server_name, opts->tls_server_name);
        }
    }
    if (rc == MCP_OK && ca_file && access(ca_file, R_OK) != 0) {
        mcp_client_set_why(why, why_size, "TLS: cannot read the CA file %s: %s", ca_file, strerror(errno));
        rc = MCP_EINVAL;
    }
    if (rc == MCP_OK && ca_file && SSL_CTX_load_verify_file(tls->ctx, ca_file) != 1) {
        mcp_client_set_why(why, why_size, "TLS: cannot load the CA file %s: %s", ca_file,
                take_openssl_reason(reason, sizeof reason));
        rc = MCP_EINVAL;
    }
    if (rc == MCP_OK && ca_dir && access(ca_dir, R_OK | X_OK) != 0) {
        /* OpenSSL only notes a directory to search, so check it now rather
         * than fail every verification later for a reason nobody sees. */
        mcp_client_set_why(why, why_size, "TLS: cannot use the CA directory %s: %s", ca_dir, strerror(errno));
        rc = MCP_EINVAL;
    }
    if (rc == MCP_OK && ca_dir && SSL_CTX_load_verify_dir(tls->ctx, ca_dir) != 1) {
        mcp_client_set_why(why, why_size, "TLS: cannot use the CA directory %s: %s", ca_dir,
                take_openssl_reason(reason, sizeof reason));
        rc = MCP_EINVAL;
    }
    /* The system store only when the caller named no CAs of their own: a
     * CA file is a statement of whom to trust, not an addition. */
    if (rc == MCP_OK && !ca_file && !ca_dir && SSL_CTX_set_default_verify_paths(tls->ctx) != 1)
        ERR_clear_error(); /* no system store: every chain will then fail to verify, and say so */
    /* Certificates the caller named are trust anchors as they are, so a
     * server can be pinned by its intermediate or its own certificate. */
    if (rc == MCP_OK && (ca_file || ca_dir))
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(tls->ctx), X509_V_FLAG_PARTIAL_CHAIN);
    if (rc != MCP_OK) {
        mcp_client_tls_free(tls);
        return rc;
    }
    SSL_CTX_set_verify(tls->ctx, tls->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    attach_session_slot(tls->ctx);
    *out = tls;
    return MCP_OK;
}

void mcp_client_tls_free(mcp_client_tls *tls)
{
    if (!tls)
        return;
    SSL_CTX_free(tls->ctx);
    free(tls);
}

/* ---- Waiting ---------------------------------------------------------------------- */

/* Wait for events on fd until deadline: 0 when ready, MCP_ETIMEDOUT, MCP_EIO. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, mcp_net_ms_left(deadline));
        if (n > 0)
            return 0;
        if (n == 0)
            return MCP_ETIMEDOUT;
        if (errno != EINTR)
            return MCP_EIO;
    }
}

/* ---- Handshake -------------------------------------------------------------------- */

static bool is_ip_literal(const char *name)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* Why the handshake failed, in words a user can act on. */
static void explain_failure(SSL *ssl, int err, const char *name, bool insecure, char *why, size_t why_size)
{
    long verdict = SSL_get_verify_result(ssl);
    char reason[256];
    if (!insecure && verdict != X509_V_OK) {
        const char *hint = verdict == X509_V_ERR_HOSTNAME_MISMATCH || verdict == X509_V_ERR_IP_ADDRESS_MISMATCH
                               ? " (the certificate is for another name)"
                               : " (not trusted: name its CA, or use the insecure switch for a test)";
        mcp_client_set_why(why, why_size, "TLS: the certificate of %s was refused: %s%s", name,
                X509_verify_cert_error_string(verdict), hint);
        ERR_clear_error();
    } else if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN || ERR_peek_error() == 0) {
        mcp_client_set_why(why, why_size, "TLS: %s closed the connection during the handshake", name);
        ERR_clear_error();
    } else {
        mcp_client_set_why(why, why_size, "TLS: the handshake with %s failed: %s (is it speaking TLS?)", name,
                take_openssl_reason(reason, sizeof reason));
    }
}

static int handshake(mcp_client_stream *s, mcp_client_tls *tls, const char *host, uint64_t deadline, char *why,
                     size_t why_size)
{
    const char *name = tls->server_name[0] ? tls->server_name : host;
    if (strlen(name) >= sizeof s->name) {
        mcp_client_set_why(why, why_size, "TLS: the server name is too long");
        return MCP_EINVAL;
    }
    strcpy(s->name, name);
    s->ssl = SSL_new(tls->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
        ERR_clear_error();
        mcp_client_set_why(why, why_size, "TLS: cannot set up the connection");
        return MCP_ENOMEM;
    }
    SSL_set_app_data(s->ssl, s->name);
    bool ip = is_ip_literal(name);
    if (!ip && SSL_set_tlsext_host_name(s->ssl, name) != 1) {
        ERR_clear_error();
        mcp_client_set_why(why, why_size, "TLS: %s cannot be sent as a server name", name);
        return MCP_EINVAL;
    }
    if (!tls->insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(s->ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name) : X509_VERIFY_PARAM_set1_host(param, name, 0);
        if (ok != 1) {
            ERR_clear_error();
            mcp_client_set_why(why, why_size, "TLS: %s cannot be checked against a certificate", name);
            return MCP_EINVAL;
        }
    }
    offer_session(s->ssl, name);
    for (;;) {
        pipe_guard g;
        pipe_guard_enter(&g);
        int r = SSL_connect(s->ssl);
        int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, r);
        pipe_guard_leave(&g);
        if (r == 1)
            return MCP_OK;
        short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (!events) {
            s->broken = true;
            explain_failure(s->ssl, err, name, tls->insecure, why, why_size);
            return MCP_EPROTO;
        }
        int rc = wait_fd(s->fd, events, deadline);
        if (rc != 0) {
            mcp_client_set_why(why, why_size, "TLS: no handshake with %s within the connect timeout", name);
            return rc;
        }
    }
}

/* ---- Streams ---------------------------------------------------------------------- */

int mcp_client_stream_dial(mcp_client_stream **out, const char *host, const char *port, mcp_client_tls *tls,
                           unsigned timeout_ms, char *why, size_t why_size)
{
    *out = NULL;
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    mcp_client_stream *s = calloc(1, sizeof *s);
    if (!s)
        return MCP_ENOMEM;
    int rc = mcp_net_connect_host(host, port, timeout_ms, &s->fd);
    if (rc != 0) {
        int saved = errno;
        free(s);
        errno = saved;
        return rc;
    }
    if (tls) {
        rc = handshake(s, tls, host, deadline, why, why_size);
        if (rc != 0) {
            s->broken = true;
            mcp_client_stream_close(s);
            return rc;
        }
    }
    *out = s;
    return MCP_OK;
}

/* A fatal error from a TLS read or write: the end of the stream, or a
 * failure. An EOF without close_notify counts as the end: every protocol
 * above frames its own messages, so a truncation shows up there. */
static int tls_failure(mcp_client_stream *s, int err, int saved)
{
    unsigned long e = ERR_peek_error();
    ERR_clear_error();
    if (err == SSL_ERROR_ZERO_RETURN)
        return MCP_ECLOSED; /* clean: our close_notify may still answer it */
    s->broken = true;
    if (err == SSL_ERROR_SYSCALL)
        return saved == 0 || saved == EPIPE || saved == ECONNRESET ? MCP_ECLOSED : MCP_EIO;
    if (err == SSL_ERROR_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return MCP_ECLOSED;
    return MCP_EIO;
}

int mcp_client_stream_read(mcp_client_stream *s, char *buf, size_t cap, int wait_ms, size_t *got)
{
    *got = 0;
    if (s->fd < 0)
        return MCP_ECLOSED;
    uint64_t deadline = mcp_now_ns() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000u;
    for (;;) {
        short events = POLLIN;
        if (s->ssl) {
            if (s->broken)
                return MCP_ECLOSED;
            size_t n = 0;
            pipe_guard g;
            pipe_guard_enter(&g);
            errno = 0;
            int r = SSL_read_ex(s->ssl, buf, cap, &n);
            int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, r);
            int saved = errno;
            pipe_guard_leave(&g);
            if (r == 1) {
                *got = n;
                return MCP_OK;
            }
            if (err == SSL_ERROR_WANT_WRITE)
                events = POLLOUT;
            else if (err != SSL_ERROR_WANT_READ)
                return tls_failure(s, err, saved);
        } else {
            ssize_t n = recv(s->fd, buf, cap, 0);
            if (n > 0) {
                *got = (size_t)n;
                return MCP_OK;
            }
            if (n == 0 || errno == ECONNRESET)
                return MCP_ECLOSED;
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return MCP_EIO;
        }
        int rc = wait_fd(s->fd, events, deadline);
        if (rc != 0)
            return rc;
    }
}

int mcp_client_stream_write_some(mcp_client_stream *s, const char *data, size_t len, size_t *written,
                                 short *want)
{
    *written = 0;
    *want = POLLOUT;
    if (s->fd < 0 || s->broken)
        return MCP_ECLOSED;
    if (!s->ssl) {
        ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) {
            *written = (size_t)n;
            return MCP_OK;
        }
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
            return MCP_OK;
        return errno == EPIPE || errno == ECONNRESET ? MCP_ECLOSED : MCP_EIO;
    }
    pipe_guard g;
    pipe_guard_enter(&g);
    errno = 0;
    int r = SSL_write_ex(s->ssl, data, len, written);
    int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(s->ssl, r);
    int saved = errno;
    pipe_guard_leave(&g);
    if (r == 1)
        return MCP_OK;
    *written = 0;
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        *want = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return MCP_OK;
    }
    return tls_failure(s, err, saved);
}

int mcp_client_stream_write(mcp_client_stream *s, const char *data, size_t len, unsigned timeout_ms)
{
    uint64_t deadline = mcp_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (len > 0) {
        size_t n = 0;
        short want = POLLOUT;
        int rc = mcp_client_stream_write_some(s, data, len, &n, &want);
        if (rc != 0)
            return rc;
        data += n;
        len -= n;
        /* A TLS write that must wait is retried with the same bytes: it is. */
        if (n == 0 && (rc = wait_fd(s->fd, want, deadline)) != 0)
            return rc;
    }
    return MCP_OK;
}

bool mcp_client_stream_buffered(const mcp_client_stream *s)
{
    /* Without read-ahead OpenSSL pulls one record at a time off the socket,
     * so bytes it holds are either decrypted (counted here) or part of a
     * record whose rest the socket will signal. */
    return s->ssl && SSL_pending(s->ssl) > 0;
}

int mcp_client_stream_fd(const mcp_client_stream *s) { return s->fd; }

bool mcp_client_stream_is_tls(const mcp_client_stream *s) { return s->ssl != NULL; }

bool mcp_client_stream_resumed(const mcp_client_stream *s) { return s->ssl && SSL_session_reused(s->ssl); }

void mcp_client_stream_close(mcp_client_stream *s)
{
    if (!s)
        return;
    if (s->ssl) {
        if (!s->broken && SSL_is_init_finished(s->ssl)) {
            /* One attempt: close_notify goes out if the socket takes it;
             * waiting for the server's would only delay the close. */
            pipe_guard g;
            pipe_guard_enter(&g);
            SSL_shutdown(s->ssl);
            pipe_guard_leave(&g);
        }
        SSL_free(s->ssl);
        ERR_clear_error();
    }
    if (s->fd >= 0) {
        shutdown(s->fd, SHUT_RDWR);
        close(s->fd);
    }
    free(s);
}
