/*
 * mcp/base.h — the ground every other libmcp layer stands on.
 *
 * Result codes, string slices, a bump arena (one per connection or request,
 * reset instead of freed), a growable byte buffer, a fast non-cryptographic
 * hash, monotonic time, an HDR-style latency histogram and stderr logging.
 * Nothing here does I/O beyond writing log lines, and nothing here knows
 * about JSON or MCP.
 *
 * Typical use: keep an mcp_arena per connection, allocate per-request data
 * from it with mcp_arena_alloc, and call mcp_arena_reset when the request is
 * answered; build output in an mcp_buf and hand buf.data/buf.len to a write.
 */
#ifndef MCP_BASE_H
#define MCP_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MCP_VERSION_STRING "0.1.0"

#if defined(__GNUC__)
#define MCP_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#define MCP_LIKELY(x) __builtin_expect(!!(x), 1)
#define MCP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MCP_PRINTF(fmt_index, first_arg)
#define MCP_LIKELY(x) (x)
#define MCP_UNLIKELY(x) (x)
#endif

/* ---- Result codes ------------------------------------------------------
 * Every fallible libmcp function returns 0 on success or one of these
 * negative codes. mcp_strerror names them for humans. */
enum {
    MCP_OK = 0,
    MCP_ENOMEM = -1,     /* allocation failed */
    MCP_EINVAL = -2,     /* invalid argument */
    MCP_EPARSE = -3,     /* malformed input (JSON, HTTP, frame) */
    MCP_ELIMIT = -4,     /* a configured limit was exceeded */
    MCP_ENOTFOUND = -5,  /* no such tool, resource, session, key ... */
    MCP_EEXIST = -6,     /* already registered */
    MCP_EIO = -7,        /* I/O error; errno has detail */
    MCP_ETIMEDOUT = -8,  /* deadline passed */
    MCP_ECLOSED = -9,    /* peer or handle closed */
    MCP_EAGAIN = -10,    /* try again later (queue full, would block) */
    MCP_EPROTO = -11,    /* peer broke the protocol */
    MCP_ECANCELED = -12, /* operation was cancelled */
    MCP_EUNSUPPORTED = -13, /* version or feature not supported */
    MCP_PENDING = 1      /* handler will complete later (not an error) */
};

const char *mcp_strerror(int code);

/* ---- String slices -------------------------------------------------------
 * A pointer and a length into memory owned by someone else (a read buffer,
 * an arena). Not NUL-terminated in general. */
typedef struct mcp_str {
    const char *ptr;
    size_t len;
} mcp_str;

#define MCP_STR_LIT(s) ((mcp_str){(s), sizeof(s) - 1})
mcp_str mcp_str_from(const char *cstr);
bool mcp_str_eq(mcp_str a, mcp_str b);
bool mcp_str_eq_cstr(mcp_str a, const char *cstr);
bool mcp_str_case_eq_cstr(mcp_str a, const char *cstr); /* ASCII case-insensitive */
/* The decimal digits of v into out (room for 20), no NUL; their count.
 * For numbers on hot paths, where printf would cost more than the rest. */
size_t mcp_format_uint(char *out, uint64_t v);
/* Whether s is an HTTP token (RFC 9110: one or more of the letters, digits
 * and !#$%&'*+-.^_`|~): a header name, for one. */
bool mcp_str_is_http_token(mcp_str s);

/* ---- Arena -----------------------------------------------------------------
 * Bump allocator made of chained blocks. Allocation is a pointer bump;
 * mcp_arena_reset keeps the first block (and the largest one seen) so that a
 * connection that resets its arena per request stops calling malloc once it
 * has warmed up. Not thread safe: one arena belongs to one thread at a time. */
typedef struct mcp_arena_block mcp_arena_block;
typedef struct mcp_arena {
    mcp_arena_block *head;    /* block being filled */
    size_t block_size;        /* size of new blocks */
    size_t allocated;         /* bytes handed out since the last reset */
} mcp_arena;

void mcp_arena_init(mcp_arena *arena, size_t block_size);
void *mcp_arena_alloc(mcp_arena *arena, size_t size); /* 16-byte aligned, NULL on OOM */
void *mcp_arena_calloc(mcp_arena *arena, size_t size);
char *mcp_arena_strndup(mcp_arena *arena, const char *s, size_t len); /* NUL-terminated copy */
char *mcp_arena_strdup(mcp_arena *arena, const char *s);
char *mcp_arena_sprintf(mcp_arena *arena, const char *fmt, ...) MCP_PRINTF(2, 3);
void mcp_arena_reset(mcp_arena *arena);
void mcp_arena_free(mcp_arena *arena);

/* ---- Growable buffer ---------------------------------------------------------
 * Bytes with a length and a capacity. data is always NUL-terminated (one spare
 * byte is kept) so that text can be passed to C string functions. */
typedef struct mcp_buf {
    char *data;
    size_t len;
    size_t cap;
} mcp_buf;

void mcp_buf_init(mcp_buf *buf);
int mcp_buf_reserve(mcp_buf *buf, size_t extra); /* room for len + extra bytes */

/* Under AddressSanitizer the spare capacity past len is poisoned, and
 * each reservation (mcp_buf_reserve, mcp_buf_room, every append) opens
 * only what it asked for: a writer that fills data + len itself and goes
 * beyond what was reserved since the buffer last grew, was reset or was
 * consumed is caught, where the spare capacity would have hidden the
 * overrun. Elsewhere this costs nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define MCP_BUF_FENCED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MCP_BUF_FENCED 1
#endif
#endif
#ifdef MCP_BUF_FENCED
void mcp_buf_fence(mcp_buf *buf, size_t extra);
#else
#define mcp_buf_fence(buf, extra) ((void)0)
#endif

/* Room for extra bytes (and the terminator) past len, for a writer that
 * fills data + len itself and then advances len: mcp_buf_reserve with its
 * usual case inline. */
static inline int mcp_buf_room(mcp_buf *buf, size_t extra) {
    if (MCP_UNLIKELY(buf->cap - buf->len <= extra)) return mcp_buf_reserve(buf, extra);
    mcp_buf_fence(buf, extra);
    return MCP_OK;
}

int mcp_buf_append(mcp_buf *buf, const void *data, size_t len);
int mcp_buf_append_cstr(mcp_buf *buf, const char *s);
int mcp_buf_append_char(mcp_buf *buf, char c);
int mcp_buf_appendf(mcp_buf *buf, const char *fmt, ...) MCP_PRINTF(2, 3);
int mcp_buf_vappendf(mcp_buf *buf, const char *fmt, va_list ap);
void mcp_buf_consume(mcp_buf *buf, size_t n); /* drop the first n bytes */
void mcp_buf_reset(mcp_buf *buf);             /* len = 0, memory kept */
void mcp_buf_free(mcp_buf *buf);
char *mcp_buf_detach(mcp_buf *buf);           /* caller frees; buf is emptied */

/* ---- Hashing -------------------------------------------------------------
 * Fast 64-bit non-cryptographic hash for hash tables and shard selection.
 * Seeded so that tables can randomise against collision flooding. */
uint64_t mcp_hash64(const void *data, size_t len, uint64_t seed);

/* ---- Time -------------------------------------------------------------------- */
uint64_t mcp_now_ns(void);      /* CLOCK_MONOTONIC in nanoseconds */
uint64_t mcp_wall_ms(void);     /* CLOCK_REALTIME in milliseconds since the epoch */
void mcp_time_iso8601(char out[32]); /* current UTC time, e.g. 2026-11-28T08:00:00Z */

/* ---- Latency histogram ---------------------------------------------------------
 * Log-linear buckets (HDR-style): each power of two is split into
 * MCP_HISTOGRAM_SUB_BUCKETS linear sub-buckets, so any recorded value is
 * reported within 1/MCP_HISTOGRAM_SUB_BUCKETS (< 1%) of its true value.
 * Values are unsigned integers in whatever unit the caller chooses
 * (nanoseconds throughout libmcp). Recording is O(1) and allocation free;
 * one histogram belongs to one thread, merge to combine. */
#define MCP_HISTOGRAM_SUB_BUCKETS 128
typedef struct mcp_histogram mcp_histogram;

mcp_histogram *mcp_histogram_new(void);
void mcp_histogram_free(mcp_histogram *h);
void mcp_histogram_record(mcp_histogram *h, uint64_t value);
void mcp_histogram_record_n(mcp_histogram *h, uint64_t value, uint64_t count);
void mcp_histogram_reset(mcp_histogram *h);
int mcp_histogram_merge(mcp_histogram *into, const mcp_histogram *from);
uint64_t mcp_histogram_count(const mcp_histogram *h);
uint64_t mcp_histogram_min(const mcp_histogram *h);
uint64_t mcp_histogram_max(const mcp_histogram *h); /* exact */
double mcp_histogram_mean(const mcp_histogram *h);
/* Value at quantile q in [0, 1] (0.99 for p99); 0 when empty. */
uint64_t mcp_histogram_quantile(const mcp_histogram *h, double q);

/* ---- Logging --------------------------------------------------------------------
 * Levels follow the MCP/syslog names. Lines go to stderr only: stdout may be
 * a protocol stream. The threshold comes from mcp_log_set_level or the
 * MCPD_LOG environment variable (debug, info, warning, error). */
typedef enum mcp_log_level {
    MCP_LOG_DEBUG = 0,
    MCP_LOG_INFO,
    MCP_LOG_NOTICE,
    MCP_LOG_WARNING,
    MCP_LOG_ERROR,
    MCP_LOG_CRITICAL,
    MCP_LOG_ALERT,
    MCP_LOG_EMERGENCY
} mcp_log_level;

void mcp_log_set_level(mcp_log_level level);
mcp_log_level mcp_log_get_level(void);
const char *mcp_log_level_name(mcp_log_level level);
int mcp_log_level_parse(const char *name, mcp_log_level *out); /* 0 or MCP_EINVAL */
void mcp_log(mcp_log_level level, const char *fmt, ...) MCP_PRINTF(2, 3);
/* Send the lines mcp_log writes (those that pass the level) to fn instead
 * of the plain stderr format, e.g. as JSON records with trace ids
 * (mcp/obs.h: mcp_obs_log_sink). NULL restores the default. Set it before
 * threads start logging. */
typedef void (*mcp_log_sink_fn)(void *user, mcp_log_level level, const char *msg);
void mcp_log_set_sink(mcp_log_sink_fn fn, void *user);

/* ---- Request queue ----------------------------------------------------------
 * Bounded lock-free queue of pointers for handing requests between threads:
 * any number of producers and consumers (MPMC, so MPSC and SPSC too). The
 * capacity is fixed at creation and rounded up to a power of two; a full
 * queue refuses a push with MCP_EAGAIN instead of growing, which is the
 * back-pressure signal for the caller. Push and pop never block or allocate.
 *
 *     mcp_queue *q; mcp_queue_new(1024, &q);
 *     if (mcp_queue_push(q, req) == MCP_EAGAIN) reject_busy(req);
 *     void *item; while (mcp_queue_pop(q, &item) == 0) handle(item);
 *     mcp_queue_free(q);   (only when no thread uses it any more)
 */
typedef struct mcp_queue mcp_queue;

int mcp_queue_new(size_t capacity, mcp_queue **out); /* capacity 1 .. 2^30 */
void mcp_queue_free(mcp_queue *q);
int mcp_queue_push(mcp_queue *q, void *item);  /* 0, or MCP_EAGAIN when full */
int mcp_queue_pop(mcp_queue *q, void **item);  /* 0, or MCP_EAGAIN when empty */
size_t mcp_queue_capacity(const mcp_queue *q);
size_t mcp_queue_size(const mcp_queue *q);     /* a snapshot; exact only when quiet */
/* ---- end of Request queue ---- */

#ifdef __cplusplus
}
#endif
#endif
