/*
 * Sharded session table. Ids are uniformly random 128-bit numbers, so their
 * own bits are a perfect hash: the top bits pick the shard and the low bits
 * the home slot, and no hash function runs on the lookup path. An attacker
 * can send ids of their choosing but cannot insert them, so they cannot
 * build the long probe chains that would make lookups slow.
 *
 * Each shard is an open-addressing table with linear probing kept at most
 * half full, and deletion by backward shift (the entries after a removed one
 * move back to close the gap), so there are no tombstones and probe chains
 * stay as short as the load allows. The shard's rwlock lets lookups on
 * different threads proceed together.
 *
 * Random bytes come from getrandom() in blocks kept per thread, so creating a
 * session costs one system call per 256 sessions rather than one each. A
 * fork clears the blocks (the child must not hand out its parent's ids).
 */
#include "mcp/session_table.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define DEFAULT_SHARDS 64
#define MAX_SHARDS 4096
#define INITIAL_SLOTS 16

typedef struct session_key {
    uint64_t hi;
    uint64_t lo;
} session_key;

typedef struct session_entry {
    session_key key; /* {0, 0} marks an empty slot; no id is ever zero */
    void *data;
} session_entry;

typedef struct session_shard {
    alignas(64) pthread_rwlock_t lock;
    session_entry *slots;
    size_t mask;  /* slot count - 1 */
    size_t count;
} session_shard;

struct mcp_session_table {
    session_shard *shards;
    unsigned shard_count;
    unsigned shard_shift; /* 64 - log2(shard_count): shard = hi >> shift */
    uint64_t predictable_seed;
    atomic_uint_fast64_t predictable_counter;
};

/* ---- random ids -------------------------------------------------------- */

#define RANDOM_BLOCK 4096

static atomic_uint fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) {
    atomic_fetch_add(&fork_generation, 1);
}

static void install_atfork(void) {
    pthread_atfork(NULL, NULL, on_fork_child);
}

static _Thread_local struct {
    unsigned char bytes[RANDOM_BLOCK];
    size_t used;
    unsigned generation;
    bool filled;
} random_block;

static int random_key(session_key *key) {
    pthread_once(&atfork_once, install_atfork);
    unsigned gen = atomic_load(&fork_generation);
    if (!random_block.filled || random_block.generation != gen ||
        random_block.used + sizeof *key > RANDOM_BLOCK) {
        size_t got = 0;
        while (got < RANDOM_BLOCK) {
            ssize_t n = getrandom(random_block.bytes + got, RANDOM_BLOCK - got, 0);
            if (n < 0) return MCP_EIO;
            got += (size_t)n;
        }
        random_block.used = 0;
        random_block.generation = gen;
        random_block.filled = true;
    }
    memcpy(key, random_block.bytes + random_block.used, sizeof *key);
    /* Used bytes are wiped so that a later memory disclosure cannot replay
     * ids that were handed out. */
    memset(random_block.bytes + random_block.used, 0, sizeof *key);
    random_block.used += sizeof *key;
    return MCP_OK;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int next_key(mcp_session_table *t, session_key *key) {
    do {
        if (t->predictable_seed) {
            uint64_t n = atomic_fetch_add(&t->predictable_counter, 2);
            key->hi = splitmix64(t->predictable_seed ^ n);
            key->lo = splitmix64(t->predictable_seed ^ (n + 1));
        } else {
            int rc = random_key(key);
            if (rc) return rc;
        }
    } while (key->hi == 0 && key->lo == 0);
    return MCP_OK;
}

/* ---- id text ------------------------------------------------------------ */

static const char HEX[] = "0123456789abcdef";

static void key_format(session_key key, char out[MCP_SESSION_ID_LEN + 1]) {
    for (int i = 0; i < 16; i++) {
        out[i] = HEX[(key.hi >> (60 - 4 * i)) & 0xf];
        out[16 + i] = HEX[(key.lo >> (60 - 4 * i)) & 0xf];
    }
    out[MCP_SESSION_ID_LEN] = '\0';
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* ids are lowercase; anything else is not one of ours */
}

static int key_parse(const char *text, size_t len, session_key *key) {
    if (!text || len != MCP_SESSION_ID_LEN) return MCP_EINVAL;
    uint64_t parts[2] = {0, 0};
    for (size_t i = 0; i < MCP_SESSION_ID_LEN; i++) {
        int d = hex_digit(text[i]);
        if (d < 0) return MCP_EINVAL;
        parts[i / 16] = (parts[i / 16] << 4) | (uint64_t)d;
    }
    key->hi = parts[0];
    key->lo = parts[1];
    return MCP_OK;
}

/* ---- shards --------------------------------------------------------------- */

static inline bool slot_empty(const session_entry *e) {
    return e->key.hi == 0 && e->key.lo == 0;
}

static inline bool key_eq(session_key a, session_key b) {
    return a.hi == b.hi && a.lo == b.lo;
}

static inline session_shard *shard_of(mcp_session_table *t, session_key key) {
    return &t->shards[t->shard_count == 1 ? 0 : key.hi >> t->shard_shift];
}

/* Index of the key's slot, or of the empty slot where it would go. */
static size_t shard_probe(const session_shard *s, session_key key) {
    size_t i = (size_t)key.lo & s->mask;
    while (!slot_empty(&s->slots[i]) && !key_eq(s->slots[i].key, key)) i = (i + 1) & s->mask;
    return i;
}

static int shard_grow(session_shard *s) {
    size_t old_slots = s->mask + 1;
    size_t new_slots = old_slots * 2;
    session_entry *fresh = calloc(new_slots, sizeof *fresh);
    if (!fresh) return MCP_ENOMEM;
    session_entry *old = s->slots;
    s->slots = fresh;
    s->mask = new_slots - 1;
    for (size_t i = 0; i < old_slots; i++) {
        if (!slot_empty(&old[i])) s->slots[shard_probe(s, old[i].key)] = old[i];
    }
    free(old);
    return MCP_OK;
}

/* Close the gap at slot i by moving back every later entry of the run whose
 * home slot does not lie cyclically in (i, j]. */
static void shard_delete_at(session_shard *s, size_t i) {
    size_t j = i;
    for (;;) {
        j = (j + 1) & s->mask;
        if (slot_empty(&s->slots[j])) break;
        size_t home = (size_t)s->slots[j].key.lo & s->mask;
        bool home_in_gap = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!home_in_gap) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    memset(&s->slots[i], 0, sizeof s->slots[i]);
}

/* ---- public ----------------------------------------------------------------- */

int mcp_session_table_new(const mcp_session_table_opts *opts, mcp_session_table **out) {
    if (!out) return MCP_EINVAL;
    *out = NULL;
    unsigned shards = opts && opts->shards ? opts->shards : DEFAULT_SHARDS;
    if (shards > MAX_SHARDS || (shards & (shards - 1)) != 0) return MCP_EINVAL;

    mcp_session_table *t = calloc(1, sizeof *t);
    if (!t) return MCP_ENOMEM;
    t->shards = aligned_alloc(64, shards * sizeof *t->shards);
    if (!t->shards) {
        free(t);
        return MCP_ENOMEM;
    }
    t->shard_count = shards;
    unsigned bits = 0;
    while ((1u << bits) < shards) bits++;
    t->shard_shift = 64 - bits;
    t->predictable_seed = opts ? opts->predictable_ids_seed : 0;
    atomic_init(&t->predictable_counter, 0);

    for (unsigned i = 0; i < shards; i++) {
        session_shard *s = &t->shards[i];
        s->count = 0;
        s->mask = INITIAL_SLOTS - 1;
        s->slots = calloc(INITIAL_SLOTS, sizeof *s->slots);
        if (!s->slots || pthread_rwlock_init(&s->lock, NULL) != 0) {
            free(s->slots);
            t->shard_count = i; /* free what was built */
            mcp_session_table_free(t);
            return MCP_ENOMEM;
        }
    }
    *out = t;
    return MCP_OK;
}

void mcp_session_table_free(mcp_session_table *t) {
    if (!t) return;
    for (unsigned i = 0; i < t->shard_count; i++) {
        pthread_rwlock_destroy(&t->shards[i].lock);
        free(t->shards[i].slots);
    }
    free(t->shards);
    free(t);
}

int mcp_session_table_create(mcp_session_table *t, void *data, char id[MCP_SESSION_ID_LEN + 1]) {
    if (!t || !id) return MCP_EINVAL;
    for (;;) {
        session_key key;
        int rc = next_key(t, &key);
        if (rc) return rc;
        session_shard *s = shard_of(t, key);
        pthread_rwlock_wrlock(&s->lock);
        if ((s->count + 1) * 2 > s->mask + 1 && (rc = shard_grow(s)) != 0) {
            pthread_rwlock_unlock(&s->lock);
            return rc;
        }
        size_t i = shard_probe(s, key);
        if (!slot_empty(&s->slots[i])) {
            /* A 1 in 2^128 event for random ids; draw again rather than
             * hand two clients the same session. */
            pthread_rwlock_unlock(&s->lock);
            continue;
        }
        s->slots[i].key = key;
        s->slots[i].data = data;
        s->count++;
        pthread_rwlock_unlock(&s->lock);
        key_format(key, id);
        return MCP_OK;
    }
}

int mcp_session_table_lookup(mcp_session_table *t, const char *id, size_t len, void **data) {
    session_key key;
    if (!t || key_parse(id, len, &key) != 0) return MCP_EINVAL;
    session_shard *s = shard_of(t, key);
    pthread_rwlock_rdlock(&s->lock);
    size_t i = shard_probe(s, key);
    int rc = MCP_ENOTFOUND;
    if (!slot_empty(&s->slots[i])) {
        if (data) *data = s->slots[i].data;
        rc = MCP_OK;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int mcp_session_table_remove(mcp_session_table *t, const char *id, size_t len, void **data) {
    session_key key;
    if (!t || key_parse(id, len, &key) != 0) return MCP_EINVAL;
    session_shard *s = shard_of(t, key);
    pthread_rwlock_wrlock(&s->lock);
    size_t i = shard_probe(s, key);
    int rc = MCP_ENOTFOUND;
    if (!slot_empty(&s->slots[i])) {
        if (data) *data = s->slots[i].data;
        shard_delete_at(s, i);
        s->count--;
        rc = MCP_OK;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

size_t mcp_session_table_count(mcp_session_table *t) {
    if (!t) return 0;
    size_t n = 0;
    for (unsigned i = 0; i < t->shard_count; i++) {
        pthread_rwlock_rdlock(&t->shards[i].lock);
        n += t->shards[i].count;
        pthread_rwlock_unlock(&t->shards[i].lock);
    }
    return n;
}
