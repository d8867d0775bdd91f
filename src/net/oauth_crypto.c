/*
 * oauth_crypto.c — the cryptography of the OAuth client, all from OpenSSL:
 * random values (PKCE verifiers, state, JWT ids), the PKCE S256 challenge
 * (RFC 7636 4.2) and signed JWT client assertions for private_key_jwt
 * (RFC 7523 2.2, JWS compact form with ES256 or RS256), and DPoP proofs
 * (RFC 9449) made with a P-256 key that lives as long as the client.
 */
#include "net/oauth.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ASSERTION_LIFETIME_S 300

int mcp_oauth_random(mcp_buf *out, size_t n)
{
    unsigned char bytes[64];
    if (n > sizeof bytes || RAND_bytes(bytes, (int)n) != 1)
        return MCP_EIO;
    mcp_oauth_base64url(out, bytes, n);
    return 0;
}

int mcp_oauth_pkce_challenge(const char *verifier, mcp_buf *out)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (!SHA256((const unsigned char *)verifier, strlen(verifier), digest))
        return MCP_EIO;
    mcp_oauth_base64url(out, digest, sizeof digest);
    return 0;
}

static void json_b64(mcp_buf *out, const mcp_buf *json)
{
    mcp_oauth_base64url(out, (const unsigned char *)json->data, json->len);
}

/* JWS wants ECDSA signatures as r || s, each padded to the curve's size;
 * OpenSSL produces DER. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t der_len, unsigned char *raw, size_t half)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!sig)
        return MCP_EIO;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, raw, (int)half) == (int)half && BN_bn2binpad(s, raw + half, (int)half) == (int)half;
    ECDSA_SIG_free(sig);
    return ok ? 0 : MCP_EIO;
}

/* Sign the JWS signing input already in out[start..] with SHA-256 and
 * append ".signature". */
static int sign_append(EVP_PKEY *key, bool ec, mcp_buf *out, size_t start)
{
    unsigned char sig[1024];
    size_t sig_len = sizeof sig;
    int rc = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)out->data + start, out->len - start) != 1)
        rc = MCP_EIO;
    EVP_MD_CTX_free(md);
    if (rc == 0 && ec) {
        unsigned char raw[64];
        rc = ecdsa_der_to_raw(sig, sig_len, raw, 32);
        memcpy(sig, raw, sizeof raw);
        sig_len = sizeof raw;
    }
    if (rc == 0) {
        mcp_buf_append_char(out, '.');
        mcp_oauth_base64url(out, sig, sig_len);
    }
    return rc;
}

/* Append the compact JWS header.claims.signature (RFC 7515 7.1). On failure
 * out is left as it was. */
static int jws_append(mcp_buf *out, const mcp_buf *header, const mcp_buf *claims, EVP_PKEY *key, bool ec)
{
    size_t start = out->len;
    json_b64(out, header);
    mcp_buf_append_char(out, '.');
    json_b64(out, claims);
    int rc = sign_append(key, ec, out, start);
    if (rc != 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

static void say(char *why, size_t size, const char *text)
{
    if (why && size)
        snprintf(why, size, "%s", text);
}

int mcp_oauth_jwt_assertion(const char *key_pem, const char *alg, const char *client_id, const char *audience,
                            mcp_buf *out, char *why, size_t why_size)
{
    if (!key_pem || !client_id || !audience) {
        say(why, why_size, "a private key, a client id and an audience are needed");
        return MCP_EINVAL;
    }
    BIO *bio = BIO_new_mem_buf(key_pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!key) {
        say(why, why_size, "the private key is not a PEM private key OpenSSL can read");
        return MCP_EINVAL;
    }
    int type = EVP_PKEY_get_base_id(key);
    bool ec = type == EVP_PKEY_EC;
    if (!alg)
        alg = ec ? "ES256" : "RS256";
    bool fits = (ec && !strcmp(alg, "ES256") && EVP_PKEY_get_bits(key) == 256) ||
                (type == EVP_PKEY_RSA && !strcmp(alg, "RS256") && EVP_PKEY_get_bits(key) >= 2048);
    if (!fits) {
        EVP_PKEY_free(key);
        say(why, why_size, "the key does not fit the signing algorithm (ES256 needs a P-256 key, RS256 an RSA key of "
                           "2048 bits or more)");
        return MCP_EINVAL;
    }
    mcp_buf header, claims, jti;
    mcp_buf_init(&header);
    mcp_buf_init(&claims);
    mcp_buf_init(&jti);
    int rc = mcp_oauth_random(&jti, 16);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &header);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "alg");
    mcp_json_write_cstr(&w, alg);
    mcp_json_write_key(&w, "typ");
    mcp_json_write_cstr(&w, "JWT");
    mcp_json_end_object(&w);
    int64_t now = (int64_t)time(NULL);
    mcp_json_writer_init(&w, &claims);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "iss");
    mcp_json_write_cstr(&w, client_id);
    mcp_json_write_key(&w, "sub");
    mcp_json_write_cstr(&w, client_id);
    mcp_json_write_key(&w, "aud");
    mcp_json_write_cstr(&w, audience);
    mcp_json_write_key(&w, "iat");
    mcp_json_write_int(&w, now);
    mcp_json_write_key(&w, "exp");
    mcp_json_write_int(&w, now + ASSERTION_LIFETIME_S);
    mcp_json_write_key(&w, "jti");
    mcp_json_write_cstr(&w, jti.data ? jti.data : "");
    mcp_json_end_object(&w);
    if (rc == 0)
        rc = jws_append(out, &header, &claims, key, ec);
    if (rc != 0)
        say(why, why_size, "signing the client assertion failed");
    EVP_PKEY_free(key);
    mcp_buf_free(&header);
    mcp_buf_free(&claims);
    mcp_buf_free(&jti);
    return rc;
}

/* ---- DPoP (RFC 9449) ------------------------------------------------------------------- */

struct mcp_oauth_dpop {
    EVP_PKEY *key;
    char jwk[256]; /* the public key as a JWK (RFC 7517), for the proof's header */
};

static int coordinate(EVP_PKEY *key, const char *name, mcp_buf *out)
{
    BIGNUM *bn = NULL;
    unsigned char bytes[32];
    int ok = EVP_PKEY_get_bn_param(key, name, &bn) == 1 && BN_bn2binpad(bn, bytes, sizeof bytes) == sizeof bytes;
    BN_free(bn);
    if (ok)
        mcp_oauth_base64url(out, bytes, sizeof bytes);
    return ok ? 0 : MCP_EIO;
}

int mcp_oauth_dpop_new(mcp_oauth_dpop **out)
{
    mcp_oauth_dpop *d = calloc(1, sizeof *d);
    if (!d)
        return MCP_ENOMEM;
    d->key = EVP_EC_gen("P-256");
    mcp_buf jwk;
    mcp_buf_init(&jwk);
    mcp_buf_append_cstr(&jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"");
    int rc = d->key ? coordinate(d->key, OSSL_PKEY_PARAM_EC_PUB_X, &jwk) : MCP_EIO;
    mcp_buf_append_cstr(&jwk, "\",\"y\":\"");
    if (rc == 0)
        rc = coordinate(d->key, OSSL_PKEY_PARAM_EC_PUB_Y, &jwk);
    mcp_buf_append_cstr(&jwk, "\"}");
    if (rc == 0 && jwk.len < sizeof d->jwk)
        memcpy(d->jwk, jwk.data, jwk.len + 1);
    else
        rc = MCP_EIO;
    mcp_buf_free(&jwk);
    if (rc != 0) {
        mcp_oauth_dpop_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void mcp_oauth_dpop_free(mcp_oauth_dpop *d)
{
    if (!d)
        return;
    EVP_PKEY_free(d->key);
    free(d);
}

int mcp_oauth_dpop_proof(mcp_oauth_dpop *d, const char *htm, const char *htu, const char *token, const char *nonce,
                         mcp_buf *out)
{
    mcp_buf header, claims, jti;
    mcp_buf_init(&header);
    mcp_buf_init(&claims);
    mcp_buf_init(&jti);
    int rc = mcp_oauth_random(&jti, 16);
    mcp_buf_appendf(&header, "{\"alg\":\"ES256\",\"typ\":\"dpop+jwt\",\"jwk\":%s}", d->jwk);
    mcp_json_writer w;
    mcp_json_writer_init(&w, &claims);
    mcp_json_begin_object(&w);
    mcp_json_write_key(&w, "jti");
    mcp_json_write_cstr(&w, jti.data ? jti.data : "");
    mcp_json_write_key(&w, "htm");
    mcp_json_write_cstr(&w, htm);
    /* RFC 9449 4.2: the target URI without query and fragment. */
    mcp_json_write_key(&w, "htu");
    mcp_json_write_string(&w, htu, strcspn(htu, "?#"));
    mcp_json_write_key(&w, "iat");
    mcp_json_write_int(&w, (int64_t)time(NULL));
    if (token) {
        /* The hash of the access token the proof goes with. */
        unsigned char digest[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)token, strlen(token), digest);
        mcp_buf ath;
        mcp_buf_init(&ath);
        mcp_oauth_base64url(&ath, digest, sizeof digest);
        mcp_json_write_key(&w, "ath");
        mcp_json_write_cstr(&w, ath.data);
        mcp_buf_free(&ath);
    }
    if (nonce) {
        mcp_json_write_key(&w, "nonce");
        mcp_json_write_cstr(&w, nonce);
    }
    mcp_json_end_object(&w);
    if (rc == 0)
        rc = jws_append(out, &header, &claims, d->key, true);
    mcp_buf_free(&header);
    mcp_buf_free(&claims);
    mcp_buf_free(&jti);
    return rc;
}
