/*
 * test_tls_serve.h — the mcpd server of a TLS client test group: a fresh
 * self-signed certificate for localhost/127.0.0.1 (test_tls_cert.h) and
 * `mcpd serve LISTENERS... --tls-cert --tls-key` started by the group
 * set-up and stopped by its teardown. Tests call need_server() first; it
 * skips, saying why, when $MCPD_BIN or the openssl command is missing.
 * Include after <cmocka.h>.
 */
#ifndef TEST_TLS_SERVE_H
#define TEST_TLS_SERVE_H

#include "test_mcpd.h"
#include "test_tls_cert.h"

#include <stdbool.h>
#include <stdio.h>

static test_cert cert;
static bool have_cert; /* also without mcpd: for tests of the client alone */
static pid_t server_pid;

/* Make the certificate, then start mcpd with listeners (NULL-terminated
 * "--http", "ADDR", ...) serving TLS with it, when both can be had. */
static inline void tls_server_start(const char *const *listeners)
{
    have_cert = test_cert_make(&cert);
    const char *bin = mcpd_bin();
    if (!bin || !have_cert)
        return;
    const char *args[32];
    size_t n = 0;
    while (*listeners && n < sizeof args / sizeof args[0] - 11)
        args[n++] = *listeners++;
    const char *const tail[] = {"--tls-cert", cert.cert, "--tls-key", cert.key, "--workers", "1", "--log-level",
                                "error", NULL};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        args[n++] = tail[i];
    server_pid = mcpd_serve_spawn(bin, args);
}

static inline void tls_server_stop(void)
{
    mcpd_serve_stop(server_pid);
    if (have_cert)
        test_cert_remove(&cert);
}

static inline void need_server(void)
{
    if (server_pid <= 0) {
        printf("SKIPPED: needs $MCPD_BIN and the openssl command\n");
        skip();
    }
}

#endif
