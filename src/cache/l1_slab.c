/*
 * L1's entry memory. A large L1 is read at random: nearly every hit lands
 * on an entry no recent access touched, in a different 4 KiB page, so with
 * malloc'd entries each hit also misses the TLB and pays a page walk (in a
 * virtual machine, a walk of two sets of tables). Entries here come from
 * 2 MiB regions the kernel is asked to back with huge pages, so the whole
 * table's entries fit in a few dozen TLB entries. Where huge pages are not
 * available the allocator still works, on ordinary pages.
 *
 * Layout: a region is 32 pages of 64 KiB; its descriptor (one record per
 * page) sits at the start of page 0, so an object finds its page from its
 * address alone. A page serves one size class (multiples of 32 bytes up
 * to 2 KiB) of one shard, under that shard's own lock, and returns to the
 * pool all shards share as soon as its last object is freed, so memory
 * does not stay stuck in a class or a shard the workload left. The pool's
 * lock is taken only when a page changes hands, so puts on different
 * shards do not meet on a lock.
 * Larger entries go to malloc. A region whose pages are all free is
 * unmapped (but one spare), the rest with the L1.
 *
 * The first touch of a region may make the kernel compact memory to find
 * a huge page (with the usual "defrag" setting for advised memory); that
 * cost falls on a put, once per 2 MiB.
 *
 * The shards' slot tables and LRU node arrays are read at random too, so
 * the large ones take runs of whole free pages (or, beyond a region, a
 * mapping of their own) from the same regions.
 *
 * Under AddressSanitizer, free and unused object memory is poisoned so
 * that a stale entry pointer is caught as it would be with malloc.
 */
#include "cache/l1_internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#define L1_SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define L1_SLAB_ASAN 1
#endif
#endif

#ifdef L1_SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define REGION_BYTES ((size_t)2 << 20)
#define PAGE_BYTES ((size_t)L1_SLAB_PAGE_BYTES)
#define PAGES_PER_REGION (REGION_BYTES / PAGE_BYTES)

struct l1_slab_page {
    l1_slab_page *prev, *next;  /* in its class's list of pages with room, or the free pool */
    l1_slab_classes *owner;     /* whose class lists it serves; NULL in the pool or a run */
    void *freed;                /* freed objects, chained through their first word */
    uint32_t live;              /* objects handed out */
    uint32_t bump;              /* offset of the first never-used object */
    uint32_t start;             /* offset of the first object (page 0 holds the descriptor) */
    uint16_t size_class;        /* L1_SLAB_CLASSES: in the free pool */
    bool listed;                /* in its class's list */
};

typedef struct l1_slab_region region;
struct l1_slab_region {
    region *prev, *next;
    uint32_t free_mask;         /* bit i: page i is in the free pool */
    l1_slab_page pages[PAGES_PER_REGION];
};

#define ALL_FREE UINT32_MAX
_Static_assert(PAGES_PER_REGION == 32, "free_mask has a bit per page");

/* A page taken by a run (see l1_slab_alloc_run) rather than a class. */
#define RUN_CLASS (L1_SLAB_CLASSES + 1)

static inline region *region_of(const void *p) {
    return (region *)((uintptr_t)p & ~(uintptr_t)(REGION_BYTES - 1));
}

static inline char *page_base(l1_slab_page *p) {
    region *r = region_of(p);
    return (char *)r + (size_t)(p - r->pages) * PAGE_BYTES;
}

static inline size_t class_bytes(unsigned c) {
    return ((size_t)c + 1) * L1_SLAB_GRAIN;
}

static void list_push(l1_slab_page **head, l1_slab_page *p) {
    p->prev = NULL;
    p->next = *head;
    if (*head) (*head)->prev = p;
    *head = p;
}

static void list_remove(l1_slab_page **head, l1_slab_page *p) {
    if (p->prev) p->prev->next = p->next;
    else *head = p->next;
    if (p->next) p->next->prev = p->prev;
}

/* Both locks are held for a few dozen instructions (an mmap when a region
 * is added), and every put and every eviction takes its shard's, so a spin
 * costs less than a mutex; a waiter yields in case the holder lost its CPU. */
static void spin_lock(atomic_bool *locked) {
    while (atomic_exchange_explicit(locked, true, memory_order_acquire))
        for (unsigned spins = 0; atomic_load_explicit(locked, memory_order_relaxed);)
            if (++spins == 100) {
                sched_yield();
                spins = 0;
            }
}

static void spin_unlock(atomic_bool *locked) {
    atomic_store_explicit(locked, false, memory_order_release);
}

static void pool_put(l1_slab *s, l1_slab_page *p) {
    region *r = region_of(p);
    p->owner = NULL;
    p->size_class = L1_SLAB_CLASSES;
    p->listed = false;
    r->free_mask |= 1u << (p - r->pages);
    if (r->free_mask == ALL_FREE) s->empty_regions++;
    list_push(&s->free_pages, p);
}

static void pool_take(l1_slab *s, l1_slab_page *p) {
    region *r = region_of(p);
    if (r->free_mask == ALL_FREE) s->empty_regions--;
    r->free_mask &= ~(1u << (p - r->pages));
    list_remove(&s->free_pages, p);
}

/* A region nothing uses goes back to the system, so a cache that shrank
 * does not keep its peak; one empty region stays, so a size that goes up
 * and down around a boundary does not map and unmap every time. */
static void release_if_empty(l1_slab *s, region *r) {
    if (r->free_mask != ALL_FREE || s->empty_regions < 2) return;
    for (size_t i = 0; i < PAGES_PER_REGION; i++) list_remove(&s->free_pages, &r->pages[i]);
    if (r->prev) r->prev->next = r->next;
    else s->regions = r->next;
    if (r->next) r->next->prev = r->prev;
    s->empty_regions--;
    atomic_fetch_sub_explicit(&s->mapped, REGION_BYTES, memory_order_relaxed);
    UNPOISON(r, REGION_BYTES);
    munmap(r, REGION_BYTES);
}

void l1_slab_init(l1_slab *s) {
    memset(s, 0, sizeof *s);
    atomic_init(&s->locked, false);
    atomic_init(&s->mapped, 0);
}

void l1_slab_destroy(l1_slab *s) {
    region *r = s->regions;
    while (r) {
        region *next = r->next;
        UNPOISON(r, REGION_BYTES);
        munmap(r, REGION_BYTES);
        r = next;
    }
    memset(s, 0, sizeof *s);
}

/* Maps bytes (a multiple of REGION_BYTES) aligned to a region, as a huge
 * page needs, and asks for huge pages. */
static char *map_aligned(size_t bytes) {
    char *raw = mmap(NULL, bytes + REGION_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *base = (char *)(((uintptr_t)raw + REGION_BYTES - 1) & ~(uintptr_t)(REGION_BYTES - 1));
    if (base > raw) munmap(raw, (size_t)(base - raw));
    munmap(base + bytes, (size_t)(raw + REGION_BYTES - base));
#ifdef MADV_HUGEPAGE
    /* Advice only: without huge pages the memory is ordinary memory. */
    (void)madvise(base, bytes, MADV_HUGEPAGE);
#endif
    return base;
}

/* Adds a region whose pages all go to the free pool. */
static bool add_region(l1_slab *s) {
    char *base = map_aligned(REGION_BYTES);
    if (!base) return false;
    region *r = (region *)base;
    r->prev = NULL;
    r->next = s->regions;
    if (r->next) r->next->prev = r;
    s->regions = r;
    uint32_t first = (uint32_t)((sizeof *r + 63) / 64 * 64);
    for (size_t i = PAGES_PER_REGION; i-- > 0;) {
        l1_slab_page *p = &r->pages[i];
        p->start = i ? 0 : first;
        pool_put(s, p);
    }
    POISON(base + first, REGION_BYTES - first);
    atomic_fetch_add_explicit(&s->mapped, REGION_BYTES, memory_order_relaxed);
    return true;
}

void l1_slab_classes_init(l1_slab_classes *c, l1_slab *slab) {
    memset(c, 0, sizeof *c);
    atomic_init(&c->locked, false);
    c->slab = slab;
}

void *l1_slab_alloc(l1_slab_classes *cl, size_t size) {
    if (size > L1_SLAB_MAX) return malloc(size);
    unsigned c = (unsigned)((size + L1_SLAB_GRAIN - 1) / L1_SLAB_GRAIN) - (size != 0);
    size_t bytes = class_bytes(c);
    spin_lock(&cl->locked);
    l1_slab_page *p = cl->partial[c];
    if (!p) {
        l1_slab *s = cl->slab;
        spin_lock(&s->locked);
        if (!s->free_pages && !add_region(s)) {
            spin_unlock(&s->locked);
            spin_unlock(&cl->locked);
            return NULL;
        }
        p = s->free_pages;
        pool_take(s, p);
        spin_unlock(&s->locked);
        p->owner = cl;
        p->size_class = (uint16_t)c;
        p->freed = NULL;
        p->live = 0;
        p->bump = p->start;
        p->listed = true;
        list_push(&cl->partial[c], p);
    }
    char *obj;
    if (p->freed) {
        obj = p->freed;
        UNPOISON(obj, sizeof(void *));
        memcpy(&p->freed, obj, sizeof(void *));
    } else {
        obj = page_base(p) + p->bump;
        p->bump += (uint32_t)bytes;
    }
    p->live++;
    if (!p->freed && p->bump + bytes > PAGE_BYTES) {
        list_remove(&cl->partial[c], p);
        p->listed = false;
    }
    spin_unlock(&cl->locked);
    UNPOISON(obj, size);
    return obj;
}

void l1_slab_free(void *obj, size_t size) {
    if (!obj) return;
    if (size > L1_SLAB_MAX) {
        free(obj);
        return;
    }
    region *r = region_of(obj);
    l1_slab_page *p = &r->pages[((uintptr_t)obj - (uintptr_t)r) / PAGE_BYTES];
    /* The page cannot change hands while it holds obj, so its owner is
     * stable here without a lock. */
    l1_slab_classes *cl = p->owner;
    spin_lock(&cl->locked);
    unsigned c = p->size_class;
    POISON(obj, class_bytes(c));
    UNPOISON(obj, sizeof(void *));
    memcpy(obj, &p->freed, sizeof(void *));
    POISON(obj, sizeof(void *));
    p->freed = obj;
    if (--p->live == 0) {
        /* Empty: any class of any shard may have it now. */
        if (p->listed) list_remove(&cl->partial[c], p);
        l1_slab *s = cl->slab;
        spin_lock(&s->locked);
        pool_put(s, p);
        release_if_empty(s, r);
        spin_unlock(&s->locked);
    } else if (!p->listed) {
        p->listed = true;
        list_push(&cl->partial[c], p);
    }
    spin_unlock(&cl->locked);
}

/* ---- runs of pages --------------------------------------------------------- */

/* Index of the first of n free pages in a row (page 0 holds the
 * descriptor, so it is never part of a run), or -1. The highest such run:
 * a new region hands class pages out from its low end, so runs and class
 * pages interleave less and a later, larger run more often fits. */
static int find_run(uint32_t free_mask, unsigned n) {
    uint32_t x = free_mask & ~1u;
    for (unsigned j = 1; j < n && x; j++) x &= free_mask >> j;
    return x ? 31 - __builtin_clz(x) : -1;
}

void *l1_slab_alloc_run(l1_slab *s, size_t bytes) {
    size_t n = (bytes + PAGE_BYTES - 1) / PAGE_BYTES;
    if (n >= PAGES_PER_REGION) {
        /* Bigger than a region's pages: mapped on its own. */
        size_t mapped_bytes = (bytes + REGION_BYTES - 1) / REGION_BYTES * REGION_BYTES;
        char *p = map_aligned(mapped_bytes);
        if (p) atomic_fetch_add_explicit(&s->mapped, mapped_bytes, memory_order_relaxed);
        return p;
    }
    spin_lock(&s->locked);
    region *r = s->regions;
    int first = -1;
    for (; r && (first = find_run(r->free_mask, (unsigned)n)) < 0; r = r->next) {
    }
    if (!r) {
        if (!add_region(s)) {
            spin_unlock(&s->locked);
            return NULL;
        }
        r = s->regions;
        first = find_run(r->free_mask, (unsigned)n);
    }
    for (size_t i = 0; i < n; i++) {
        l1_slab_page *p = &r->pages[(size_t)first + i];
        pool_take(s, p);
        p->size_class = RUN_CLASS;
    }
    spin_unlock(&s->locked);
    char *base = (char *)r + (size_t)first * PAGE_BYTES;
    UNPOISON(base, bytes);
    return base;
}

void l1_slab_free_run(l1_slab *s, void *ptr, size_t bytes) {
    if (!ptr) return;
    size_t n = (bytes + PAGE_BYTES - 1) / PAGE_BYTES;
    if (n >= PAGES_PER_REGION) {
        size_t mapped_bytes = (bytes + REGION_BYTES - 1) / REGION_BYTES * REGION_BYTES;
        munmap(ptr, mapped_bytes);
        atomic_fetch_sub_explicit(&s->mapped, mapped_bytes, memory_order_relaxed);
        return;
    }
    region *r = region_of(ptr);
    size_t first = ((uintptr_t)ptr - (uintptr_t)r) / PAGE_BYTES;
    POISON(ptr, n * PAGE_BYTES);
    spin_lock(&s->locked);
    for (size_t i = 0; i < n; i++) pool_put(s, &r->pages[first + i]);
    release_if_empty(s, r);
    spin_unlock(&s->locked);
}
