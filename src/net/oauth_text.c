/*
 * oauth_text.c — the text the OAuth client reads and writes: the
 * WWW-Authenticate challenge (RFC 9110 11.6.1), header values of a raw
 * HTTP head, the well-known URLs of RFC 9728 and RFC 8414 / OpenID in the
 * order the MCP specification gives, the resource match, form encoding,
 * query parameters of a redirect, base64url and scope lists.
 *
 * All of it sees text from servers we do not trust: every function bounds
 * what it copies and says "no" rather than guessing at broken input.
 */
#include "net/client_http_internal.h"
#include "net/http_head.h"
#include "net/oauth.h"

#include <string.h>
#include <strings.h>

/* ---- WWW-Authenticate ------------------------------------------------------------ */

typedef struct cursor {
    const char *p, *end;
} cursor;

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c && strchr("-._~+/", c));
}

static void skip_ows(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static mcp_str read_token(cursor *c)
{
    const char *start = c->p;
    while (c->p < c->end && is_tchar(*c->p))
        c->p++;
    return (mcp_str){start, (size_t)(c->p - start)};
}

/* A quoted-string's content, unescaped into out (bounded by cap: ELIMIT). */
static int read_quoted(cursor *c, char *out, size_t cap, bool keep)
{
    size_t n = 0;
    bool too_long = false;
    c->p++; /* the opening quote */
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if (ch == '\\') {
            if (c->p == c->end)
                return MCP_EPARSE;
            ch = *c->p++;
        }
        if ((unsigned char)ch < 0x20 && ch != '\t')
            return MCP_EPARSE;
        if (keep) {
            if (n + 1 < cap)
                out[n++] = ch;
            else
                too_long = true;
        }
    }
    if (c->p == c->end)
        return MCP_EPARSE;
    c->p++; /* the closing quote */
    if (keep)
        out[n] = '\0';
    return too_long ? MCP_ELIMIT : 0;
}

/* Whether the text at c starts an auth-param (token BWS "=") rather than
 * the next challenge's scheme. */
static bool at_param(cursor c)
{
    mcp_str t = read_token(&c);
    skip_ows(&c);
    return t.len > 0 && c.p < c.end && *c.p == '=';
}

static char *bearer_field(mcp_oauth_challenge *out, mcp_str name, size_t *cap)
{
    if (name.len == 17 && !strncasecmp(name.ptr, "resource_metadata", 17)) {
        *cap = sizeof out->resource_metadata;
        return out->resource_metadata;
    }
    if (name.len == 5 && !strncasecmp(name.ptr, "scope", 5)) {
        *cap = sizeof out->scope;
        return out->scope;
    }
    if (name.len == 5 && !strncasecmp(name.ptr, "error", 5)) {
        *cap = sizeof out->error;
        return out->error;
    }
    return NULL;
}

/* The auth-params of one challenge; c stops before the next challenge. */
static int read_params(cursor *c, mcp_oauth_challenge *out, bool keep)
{
    for (;;) {
        mcp_str name = read_token(c);
        skip_ows(c);
        if (!name.len || c->p == c->end || *c->p != '=')
            return MCP_EPARSE;
        c->p++;
        skip_ows(c);
        size_t cap = 0;
        char *field = keep ? bearer_field(out, name, &cap) : NULL;
        if (c->p < c->end && *c->p == '"') {
            char scratch[1];
            int rc = read_quoted(c, field ? field : scratch, field ? cap : sizeof scratch, field != NULL);
            if (rc != 0)
                return rc;
        } else {
            mcp_str v = read_token(c);
            if (!v.len)
                return MCP_EPARSE;
            if (field) {
                if (v.len >= cap)
                    return MCP_ELIMIT;
                memcpy(field, v.ptr, v.len);
                field[v.len] = '\0';
            }
        }
        skip_ows(c);
        if (c->p == c->end)
            return 0;
        if (*c->p != ',')
            return MCP_EPARSE;
        /* A comma: another param of this challenge, or the next challenge. */
        cursor look = *c;
        while (look.p < look.end && (*look.p == ',' || *look.p == ' ' || *look.p == '\t'))
            look.p++;
        if (look.p == look.end || !at_param(look)) {
            c->p = look.p;
            return 0;
        }
        c->p = look.p;
    }
}

int mcp_oauth_challenge_parse(const char *value, size_t len, mcp_oauth_challenge *out)
{
    memset(out, 0, sizeof *out);
    if (!value)
        return MCP_EPARSE;
    cursor c = {value, value + len};
    bool any = false;
    for (;;) {
        while (c.p < c.end && (*c.p == ',' || *c.p == ' ' || *c.p == '\t'))
            c.p++;
        if (c.p == c.end)
            break;
        mcp_str scheme = read_token(&c);
        if (!scheme.len)
            goto bad;
        any = true;
        /* The parameters of the first Bearer or DPoP challenge count. */
        bool bearer = scheme.len == 6 && !strncasecmp(scheme.ptr, "Bearer", 6);
        bool dpop = scheme.len == 4 && !strncasecmp(scheme.ptr, "DPoP", 4);
        bool keep = (bearer || dpop) && !out->bearer && !out->dpop;
        out->bearer |= bearer;
        out->dpop |= dpop;
        if (c.p < c.end && *c.p != ' ' && *c.p != '\t' && *c.p != ',')
            goto bad;
        skip_ows(&c);
        if (c.p == c.end || *c.p == ',')
            continue;
        if (at_param(c)) {
            int rc = read_params(&c, out, keep);
            if (rc != 0) {
                memset(out, 0, sizeof *out);
                return rc;
            }
            continue;
        }
        /* token68 */
        const char *start = c.p;
        while (c.p < c.end && is_token68_char(*c.p))
            c.p++;
        while (c.p < c.end && *c.p == '=')
            c.p++;
        if (c.p == start)
            goto bad;
        skip_ows(&c);
        if (c.p < c.end && *c.p != ',')
            goto bad;
    }
    if (!any)
        goto bad;
    return 0;
bad:
    memset(out, 0, sizeof *out);
    return MCP_EPARSE;
}

/* ---- Raw HTTP heads ------------------------------------------------------------------ */

bool mcp_oauth_head_value(const char *head, size_t len, const char *name, mcp_buf *out)
{
    size_t at = 0;
    mcp_str v;
    bool found = false;
    while (mcp_http_head_field(head, len, name, &at, &v)) {
        if (found)
            mcp_buf_append(out, ", ", 2);
        mcp_buf_append(out, v.ptr, v.len);
        found = true;
    }
    return found;
}

/* ---- URLs ------------------------------------------------------------------------------ */

int mcp_oauth_url_split(const char *url, mcp_buf *origin, mcp_buf *path)
{
    if (!url)
        return MCP_EINVAL;
    size_t scheme_len;
    if (!strncasecmp(url, "http://", 7))
        scheme_len = 7;
    else if (!strncasecmp(url, "https://", 8))
        scheme_len = 8;
    else
        return MCP_EINVAL;
    const char *auth = url + scheme_len;
    size_t auth_len = strcspn(auth, "/?#");
    if (auth_len == 0 || memchr(auth, '@', auth_len))
        return MCP_EINVAL;
    for (const char *s = url; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
            return MCP_EINVAL;
    const char *p = auth + auth_len;
    size_t path_len = strcspn(p, "?#");
    if (origin) {
        mcp_buf_reset(origin);
        mcp_buf_append(origin, url, scheme_len + auth_len);
    }
    if (path) {
        mcp_buf_reset(path);
        if (!(path_len == 1 && p[0] == '/'))
            mcp_buf_append(path, p, path_len);
    }
    return 0;
}

static void add_url(mcp_buf *out, size_t *count, const mcp_buf *a, const char *b, const char *c, size_t c_len)
{
    mcp_buf_append(out, a->data, a->len);
    mcp_buf_append_cstr(out, b);
    mcp_buf_append(out, c, c_len);
    mcp_buf_append_char(out, '\0');
    (*count)++;
}

int mcp_oauth_prm_urls(const char *server_url, mcp_buf *out, size_t *count)
{
    mcp_buf origin, path;
    mcp_buf_init(&origin);
    mcp_buf_init(&path);
    *count = 0;
    int rc = mcp_oauth_url_split(server_url, &origin, &path);
    if (rc == 0) {
        if (path.len)
            add_url(out, count, &origin, "/.well-known/oauth-protected-resource", path.data, path.len);
        add_url(out, count, &origin, "/.well-known/oauth-protected-resource", "", 0);
    }
    mcp_buf_free(&origin);
    mcp_buf_free(&path);
    return rc;
}

int mcp_oauth_as_urls(const char *issuer, mcp_buf *out, size_t *count)
{
    *count = 0;
    /* RFC 8414 2: an issuer has no query or fragment. */
    if (!issuer || strpbrk(issuer, "?#"))
        return MCP_EINVAL;
    mcp_buf origin, path;
    mcp_buf_init(&origin);
    mcp_buf_init(&path);
    int rc = mcp_oauth_url_split(issuer, &origin, &path);
    if (rc == 0) {
        size_t plen = path.len;
        while (plen && path.data[plen - 1] == '/')
            plen--;
        if (plen) {
            add_url(out, count, &origin, "/.well-known/oauth-authorization-server", path.data, plen);
            add_url(out, count, &origin, "/.well-known/openid-configuration", path.data, plen);
            mcp_buf_append(out, origin.data, origin.len);
            mcp_buf_append(out, path.data, plen);
            mcp_buf_append_cstr(out, "/.well-known/openid-configuration");
            mcp_buf_append_char(out, '\0');
            (*count)++;
        } else {
            add_url(out, count, &origin, "/.well-known/oauth-authorization-server", "", 0);
            add_url(out, count, &origin, "/.well-known/openid-configuration", "", 0);
        }
    }
    mcp_buf_free(&origin);
    mcp_buf_free(&path);
    return rc;
}

bool mcp_oauth_resource_matches(const char *resource, const char *server_url)
{
    mcp_buf ro, rp, so, sp;
    mcp_buf_init(&ro);
    mcp_buf_init(&rp);
    mcp_buf_init(&so);
    mcp_buf_init(&sp);
    bool ok = false;
    if (resource && !strchr(resource, '#') && mcp_oauth_url_split(resource, &ro, &rp) == 0 &&
        mcp_oauth_url_split(server_url, &so, &sp) == 0 && ro.len == so.len &&
        !strncasecmp(ro.data, so.data, ro.len)) {
        size_t rl = rp.len, sl = sp.len;
        while (rl && rp.data[rl - 1] == '/')
            rl--;
        while (sl && sp.data[sl - 1] == '/')
            sl--;
        ok = rl == 0 || (sl >= rl && !memcmp(rp.data, sp.data, rl) && (sl == rl || sp.data[rl] == '/'));
    }
    mcp_buf_free(&ro);
    mcp_buf_free(&rp);
    mcp_buf_free(&so);
    mcp_buf_free(&sp);
    return ok;
}

/* ---- Forms and queries ----------------------------------------------------------------------- */

void mcp_oauth_form_escape(mcp_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            mcp_buf_append_char(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            mcp_buf_append(out, e, 3);
        }
    }
}

void mcp_oauth_form_add(mcp_buf *out, const char *name, const char *value)
{
    if (out->len && out->data[out->len - 1] != '?')
        mcp_buf_append_char(out, '&');
    mcp_oauth_form_escape(out, name, strlen(name));
    mcp_buf_append_char(out, '=');
    mcp_oauth_form_escape(out, value, strlen(value));
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode a query component into out; false for a broken %XX. */
static bool decode_component(const char *s, size_t len, mcp_buf *out)
{
    mcp_buf_reset(out);
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            if (i + 2 >= len)
                return false;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        mcp_buf_append_char(out, ch);
    }
    return true;
}

bool mcp_oauth_query_param(const char *url, const char *name, mcp_buf *out, bool *bad)
{
    if (bad)
        *bad = false;
    const char *q = url ? strchr(url, '?') : NULL;
    if (!q)
        return false;
    q++;
    size_t qlen = strcspn(q, "#");
    size_t nlen = strlen(name);
    const char *p = q, *end = q + qlen;
    mcp_buf key;
    mcp_buf_init(&key);
    bool found = false;
    while (p < end && !found) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if (decode_component(p, (size_t)(ke - p), &key) && key.len == nlen && !memcmp(key.data, name, nlen)) {
            const char *v = eq ? eq + 1 : pe;
            if (decode_component(v, (size_t)(pe - v), out) && !memchr(out->data, '\0', out->len))
                found = true;
            else if (bad)
                *bad = true;
            if (!found) {
                mcp_buf_reset(out);
                break;
            }
        }
        p = amp ? amp + 1 : end;
    }
    mcp_buf_free(&key);
    return found;
}

/* ---- Base64url --------------------------------------------------------------------------------- */

void mcp_oauth_base64url(mcp_buf *out, const unsigned char *data, size_t len)
{
    mcp_http_base64_encode(out, data, len, true);
}

/* ---- Scopes ------------------------------------------------------------------------------------- */

bool mcp_oauth_scope_has(const char *scopes, const char *one)
{
    size_t n = strlen(one);
    if (!scopes || !n)
        return false;
    for (const char *p = scopes; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == n && !memcmp(p, one, n))
            return true;
        p += len;
    }
    return false;
}

void mcp_oauth_scope_union(mcp_buf *out, const char *extra)
{
    if (!extra)
        return;
    for (const char *p = extra; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (!len)
            break;
        char one[256];
        if (len < sizeof one) {
            memcpy(one, p, len);
            one[len] = '\0';
            if (!mcp_oauth_scope_has(out->len ? out->data : NULL, one)) {
                if (out->len)
                    mcp_buf_append_char(out, ' ');
                mcp_buf_append(out, one, len);
            }
        }
        p += len;
    }
}
