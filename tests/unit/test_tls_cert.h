/*
 * test_tls_cert.h — a throwaway self-signed certificate for the TLS tests,
 * made at run time with the openssl command into a fresh temporary folder
 * (nothing is committed). Without the command the caller skips, saying so.
 */
#ifndef TEST_TLS_CERT_H
#define TEST_TLS_CERT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct test_cert {
    char dir[64];
    char cert[128];
    char key[128];
} test_cert;

static inline bool test_cert_make(test_cert *tc) {
    if (system("openssl version >/dev/null 2>&1") != 0) {
        printf("SKIPPED: the openssl command is not installed\n");
        return false;
    }
    snprintf(tc->dir, sizeof tc->dir, "/tmp/mcpd-tls-XXXXXX");
    if (!mkdtemp(tc->dir)) return false;
    snprintf(tc->cert, sizeof tc->cert, "%s/cert.pem", tc->dir);
    snprintf(tc->key, sizeof tc->key, "%s/key.pem", tc->dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout %s -out %s "
             "-subj /CN=localhost -days 1 -nodes >/dev/null 2>&1",
             tc->key, tc->cert);
    return system(cmd) == 0;
}

static inline void test_cert_remove(test_cert *tc) {
    unlink(tc->cert);
    unlink(tc->key);
    rmdir(tc->dir);
}

#endif
