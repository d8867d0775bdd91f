/*
 * Numbers both ways, independent of the process locale.
 *
 * Reading: most JSON numbers in MCP traffic are small integers or short
 * decimals, so we accumulate up to 19 significant digits ourselves and, when
 * the mantissa fits 53 bits and the power of ten is at most 22, compute the
 * double exactly with one multiplication or division (both operands are
 * exact doubles, so the IEEE result is correctly rounded). Anything else goes
 * to strtod under the "C" locale, because strtod honours LC_NUMERIC and a
 * host program may have set a locale whose decimal point is ','.
 *
 * Writing: integral doubles below 2^53 print as integers; otherwise we try
 * %.15g, %.16g and %.17g and keep the first that reads back exactly.
 * Precision 17 always round-trips, and 15 digits (DBL_DIG) always reproduce
 * a normal double whose shortest form has at most 15 digits, so this gives
 * the shortest form.
 */
#include "json/json_internal.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Switches this thread to the "C" locale; returns the one to restore. */
static locale_t c_locale_enter(void) {
    pthread_once(&c_locale_once, c_locale_init);
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

static void c_locale_leave(locale_t old) {
    if (old) uselocale(old);
}

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static double strtod_c(const char *text, size_t len) {
    char small[128];
    char *copy = small;
    if (len >= sizeof small) {
        copy = malloc(len + 1);
        if (!copy) return 0.0; /* cannot happen in practice; keeps the value defined */
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    locale_t old = c_locale_enter();
    double d = strtod(copy, NULL);
    c_locale_leave(old);
    if (copy != small) free(copy);
    return d;
}

double mcp_json_number_value(const char *text, size_t len, bool *is_int, int64_t *i) {
    const char *p = text, *end = text + len;
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    uint64_t m = 0;
    int digits = 0;       /* significant digits held in m */
    int64_t exp10 = 0;
    bool truncated = false, integral = true;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (m == 0 && d == 0) continue;
        if (digits < 19) {
            m = m * 10 + d;
            digits++;
        } else {
            truncated = true;
            exp10++;
        }
    }
    if (p < end && *p == '.') {
        integral = false;
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            unsigned d = (unsigned)(*p - '0');
            if (m == 0 && d == 0) {
                exp10--;
                continue;
            }
            if (digits < 19) {
                m = m * 10 + d;
                digits++;
                exp10--;
            } else if (d) {
                truncated = true;
            }
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        int64_t e = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++)
            if (e < 100000) e = e * 10 + (*p - '0');
        exp10 += eneg ? -e : e;
    }

    *is_int = false;
    if (integral && !truncated) {
        if (!neg && m <= (uint64_t)INT64_MAX) {
            *is_int = true;
            *i = (int64_t)m;
        } else if (neg && m <= (uint64_t)INT64_MAX + 1) {
            *is_int = true;
            *i = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
        }
    }
    if (m == 0 && !truncated) return neg ? -0.0 : 0.0;
    if (!truncated && m <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 >= 0 ? d * exact_pow10[exp10] : d / exact_pow10[-exp10];
        return neg ? -d : d;
    }
    return strtod_c(text, len);
}

size_t mcp_json_format_int(int64_t v, char *out) {
    if (v < 0) {
        out[0] = '-';
        return 1 + mcp_format_uint(out + 1, (uint64_t)0 - (uint64_t)v);
    }
    return mcp_format_uint(out, (uint64_t)v);
}

/* "1e+21" -> "1e+21", "1.5e-07" -> "1.5e-7": drop exponent leading zeros. */
static size_t trim_exponent(char *s, size_t n) {
    char *e = memchr(s, 'e', n);
    if (!e) return n;
    char *digits = e + 1;
    if (*digits == '+' || *digits == '-') digits++;
    char *q = digits;
    while (*q == '0' && q[1] >= '0' && q[1] <= '9') q++;
    if (q != digits) {
        size_t rest = (size_t)(s + n - q);
        memmove(digits, q, rest);
        n = (size_t)(digits - s) + rest;
        s[n] = '\0';
    }
    return n;
}

size_t mcp_json_format_double(double d, char out[32]) {
    if (d == 0) {
        out[0] = '0'; /* -0 as well: JSON readers do not agree on negative zero */
        out[1] = '\0';
        return 1;
    }
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        size_t n = mcp_json_format_int((int64_t)d, out);
        out[n] = '\0';
        return n;
    }
    locale_t old = c_locale_enter();
    int n = 0;
    /* Subnormals carry fewer digits than DBL_DIG, so they search from 1. */
    for (int prec = fabs(d) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(out, 32, "%.*g", prec, d);
        if (prec == 17 || strtod(out, NULL) == d) break;
    }
    c_locale_leave(old);
    return trim_exponent(out, (size_t)n);
}
