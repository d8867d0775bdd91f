/* The OAuth client's cryptography: PKCE S256 against a value computed by
 * the openssl command line, random values, and JWT client assertions whose
 * signatures are checked with the public half of the key (ES256 and RS256),
 * plus keys that must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "net/oauth.h"

static void test_pkce_and_random(void **state)
{
    (void)state;
    mcp_buf b;
    mcp_buf_init(&b);
    /* printf %s VERIFIER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=' */
    assert_int_equal(mcp_oauth_pkce_challenge("abcdefghijklmnopqrstuvwxyz0123456789-._~ABCDEFG", &b), 0);
    assert_string_equal(b.data, "TDp3C-wPo3aKDK1Bg-ukP78nZ9YiqUD2ToRD96HoaHU");
    mcp_buf r1, r2;
    mcp_buf_init(&r1);
    mcp_buf_init(&r2);
    assert_int_equal(mcp_oauth_random(&r1, 32), 0);
    assert_int_equal(mcp_oauth_random(&r2, 32), 0);
    /* RFC 7636: a verifier of 43 to 128 unreserved characters. */
    assert_int_equal(r1.len, 43);
    assert_int_equal(strspn(r1.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    assert_string_not_equal(r1.data, r2.data);
    assert_int_equal(mcp_oauth_random(&r1, 65), MCP_EIO);
    mcp_buf_free(&r1);
    mcp_buf_free(&r2);
    mcp_buf_free(&b);
}

static char *pem_of(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    char *pem = malloc((size_t)len + 1);
    memcpy(pem, data, (size_t)len);
    pem[len] = '\0';
    BIO_free(bio);
    return pem;
}

static size_t b64url_decode(const char *s, size_t len, unsigned char *out)
{
    size_t n = 0;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *p = strchr(alphabet, s[i]);
        assert_non_null(p);
        v = (v << 6) | (unsigned)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(v >> bits);
        }
    }
    return n;
}

/* Split the JWT, check its JSON parts, and verify the signature. */
static void check_jwt(const char *jwt, EVP_PKEY *key, const char *alg)
{
    const char *dot1 = strchr(jwt, '.');
    assert_non_null(dot1);
    const char *dot2 = strchr(dot1 + 1, '.');
    assert_non_null(dot2);
    assert_null(strchr(dot2 + 1, '.'));
    unsigned char part[2048];
    size_t n = b64url_decode(jwt, (size_t)(dot1 - jwt), part);
    part[n] = '\0';
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    mcp_json *doc = NULL;
    assert_int_equal(mcp_json_parse(&arena, (char *)part, n, NULL, &doc, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "alg"), ""), alg);
    n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), part);
    part[n] = '\0';
    char *claims = mcp_arena_strndup(&arena, (char *)part, n);
    assert_int_equal(mcp_json_parse(&arena, claims, n, NULL, &doc, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "iss"), ""), "client-1");
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "sub"), ""), "client-1");
    assert_string_equal(mcp_json_str(mcp_json_get(doc, "aud"), ""), "http://as.example");
    int64_t iat = mcp_json_int(mcp_json_get(doc, "iat"), 0);
    int64_t exp = mcp_json_int(mcp_json_get(doc, "exp"), 0);
    assert_true(iat > 1700000000 && exp > iat && exp - iat <= 600);
    assert_true(mcp_json_str_len(mcp_json_get(doc, "jti")) >= 16);
    mcp_arena_free(&arena);

    unsigned char sig[1024];
    size_t sig_len = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig);
    unsigned char der[256];
    const unsigned char *to_verify = sig;
    size_t verify_len = sig_len;
    if (!strcmp(alg, "ES256")) {
        assert_int_equal(sig_len, 64);
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        unsigned char *p = der;
        verify_len = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        to_verify = der;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestVerify(md, to_verify, verify_len, (const unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
    /* One changed byte of the signed text and it no longer verifies. */
    char *tampered = strdup(jwt);
    tampered[dot1 - jwt + 2] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(
        EVP_DigestVerify(md, to_verify, verify_len, (const unsigned char *)tampered, (size_t)(dot2 - jwt)), 1);
    free(tampered);
    EVP_MD_CTX_free(md);
}

static void test_jwt_es256(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    char *pem = pem_of(key);
    mcp_buf jwt;
    mcp_buf_init(&jwt);
    char why[200];
    assert_int_equal(mcp_oauth_jwt_assertion(pem, NULL, "client-1", "http://as.example", &jwt, why, sizeof why), 0);
    check_jwt(jwt.data, key, "ES256");
    mcp_buf_reset(&jwt);
    assert_int_equal(mcp_oauth_jwt_assertion(pem, "ES256", "client-1", "http://as.example", &jwt, why, sizeof why), 0);
    check_jwt(jwt.data, key, "ES256");
    /* An EC key cannot make RS256. */
    mcp_buf_reset(&jwt);
    assert_int_equal(mcp_oauth_jwt_assertion(pem, "RS256", "client-1", "http://as.example", &jwt, why, sizeof why),
                     MCP_EINVAL);
    assert_int_equal(jwt.len, 0);
    assert_non_null(strstr(why, "does not fit"));
    free(pem);
    EVP_PKEY_free(key);
    /* P-384 is not ES256. */
    key = EVP_EC_gen("P-384");
    pem = pem_of(key);
    assert_int_equal(mcp_oauth_jwt_assertion(pem, NULL, "client-1", "http://as.example", &jwt, why, sizeof why),
                     MCP_EINVAL);
    free(pem);
    EVP_PKEY_free(key);
    mcp_buf_free(&jwt);
}

static void test_jwt_rs256(void **state)
{
    (void)state;
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    char *pem = pem_of(key);
    mcp_buf jwt;
    mcp_buf_init(&jwt);
    char why[200];
    assert_int_equal(mcp_oauth_jwt_assertion(pem, NULL, "client-1", "http://as.example", &jwt, why, sizeof why), 0);
    check_jwt(jwt.data, key, "RS256");
    free(pem);
    EVP_PKEY_free(key);
    mcp_buf_free(&jwt);
}

static void test_jwt_bad_keys(void **state)
{
    (void)state;
    mcp_buf jwt;
    mcp_buf_init(&jwt);
    char why[200];
    static const char *const bad[] = {"", "not a key",
                                      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_int_equal(mcp_oauth_jwt_assertion(bad[i], NULL, "c", "a", &jwt, why, sizeof why), MCP_EINVAL);
        assert_true(why[0] != '\0');
        assert_int_equal(jwt.len, 0);
    }
    assert_int_equal(mcp_oauth_jwt_assertion(NULL, NULL, "c", "a", &jwt, why, sizeof why), MCP_EINVAL);
    mcp_buf_free(&jwt);
}

/* The public key of a proof's JWK header, as OpenSSL sees it. */
static EVP_PKEY *key_of_jwk(const mcp_json *jwk)
{
    assert_string_equal(mcp_json_str(mcp_json_get(jwk, "kty"), ""), "EC");
    assert_string_equal(mcp_json_str(mcp_json_get(jwk, "crv"), ""), "P-256");
    assert_null(mcp_json_get(jwk, "d"));
    unsigned char point[65] = {0x04};
    const char *x = mcp_json_str(mcp_json_get(jwk, "x"), "");
    const char *y = mcp_json_str(mcp_json_get(jwk, "y"), "");
    assert_int_equal(b64url_decode(x, strlen(x), point + 1), 32);
    assert_int_equal(b64url_decode(y, strlen(y), point + 33), 32);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

/* Decode a proof, check its claims and its signature with its own JWK;
 * the jti goes to jti_out. */
static void check_proof(const char *proof, const char *htm, const char *htu, const char *token, const char *nonce,
                        char *jti_out, char *jwk_out)
{
    const char *dot1 = strchr(proof, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    assert_non_null(dot2);
    mcp_arena arena;
    mcp_arena_init(&arena, 0);
    unsigned char part[2048];
    size_t n = b64url_decode(proof, (size_t)(dot1 - proof), part);
    char *text = mcp_arena_strndup(&arena, (char *)part, n);
    mcp_json *header = NULL, *claims = NULL;
    assert_int_equal(mcp_json_parse(&arena, text, n, NULL, &header, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(header, "typ"), ""), "dpop+jwt");
    assert_string_equal(mcp_json_str(mcp_json_get(header, "alg"), ""), "ES256");
    mcp_str jwk_raw = mcp_json_raw(mcp_json_get(header, "jwk"));
    snprintf(jwk_out, 256, "%.*s", (int)jwk_raw.len, jwk_raw.ptr);
    EVP_PKEY *key = key_of_jwk(mcp_json_get(header, "jwk"));
    n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), part);
    text = mcp_arena_strndup(&arena, (char *)part, n);
    assert_int_equal(mcp_json_parse(&arena, text, n, NULL, &claims, NULL), 0);
    assert_string_equal(mcp_json_str(mcp_json_get(claims, "htm"), ""), htm);
    assert_string_equal(mcp_json_str(mcp_json_get(claims, "htu"), ""), htu);
    assert_true(mcp_json_int(mcp_json_get(claims, "iat"), 0) > 1700000000);
    snprintf(jti_out, 64, "%s", mcp_json_str(mcp_json_get(claims, "jti"), ""));
    assert_true(strlen(jti_out) >= 16);
    if (token) {
        unsigned char digest[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)token, strlen(token), digest);
        mcp_buf ath;
        mcp_buf_init(&ath);
        mcp_oauth_base64url(&ath, digest, sizeof digest);
        assert_string_equal(mcp_json_str(mcp_json_get(claims, "ath"), ""), ath.data);
        mcp_buf_free(&ath);
    } else {
        assert_null(mcp_json_get(claims, "ath"));
    }
    if (nonce)
        assert_string_equal(mcp_json_str(mcp_json_get(claims, "nonce"), ""), nonce);
    else
        assert_null(mcp_json_get(claims, "nonce"));
    unsigned char sig[128], der[128];
    assert_int_equal(b64url_decode(dot2 + 1, strlen(dot2 + 1), sig), 64);
    ECDSA_SIG *es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
    unsigned char *p = der;
    int der_len = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)proof, (size_t)(dot2 - proof)), 1);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    mcp_arena_free(&arena);
}

static void test_dpop_proofs(void **state)
{
    (void)state;
    mcp_oauth_dpop *d = NULL;
    assert_int_equal(mcp_oauth_dpop_new(&d), 0);
    mcp_buf proof;
    mcp_buf_init(&proof);
    char jti1[64], jti2[64], jwk1[256], jwk2[256];
    /* A token request: no ath; the query is not part of htu. */
    assert_int_equal(mcp_oauth_dpop_proof(d, "POST", "http://as:1/token?x=1#f", NULL, NULL, &proof), 0);
    check_proof(proof.data, "POST", "http://as:1/token", NULL, NULL, jti1, jwk1);
    /* A resource request with its token and the server's nonce. */
    mcp_buf_reset(&proof);
    assert_int_equal(mcp_oauth_dpop_proof(d, "GET", "http://rs:2/mcp", "tok-1", "n\"once", &proof), 0);
    check_proof(proof.data, "GET", "http://rs:2/mcp", "tok-1", "n\"once", jti2, jwk2);
    /* Fresh per proof, the same key throughout. */
    assert_string_not_equal(jti1, jti2);
    assert_string_equal(jwk1, jwk2);
    mcp_buf_free(&proof);
    mcp_oauth_dpop_free(d);
    mcp_oauth_dpop_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkce_and_random),
        cmocka_unit_test(test_jwt_es256),
        cmocka_unit_test(test_jwt_rs256),
        cmocka_unit_test(test_jwt_bad_keys),
        cmocka_unit_test(test_dpop_proofs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
