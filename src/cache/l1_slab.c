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
 * to 2 KiB) and returns to a shared pool as soon as its last object is
 * freed, so memory does not stay stuck in a class the workload left.
 * Larger entries go to malloc. Regions are unmapped with the L1.
 *
 * Under AddressSanitizer, free and unused object memory is poisoned so
 * that a stale entry pointer is caught as it would be with malloc.
 */
#include "cache/l1_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define REGION_BYTES ((size_t)2 << 20)
#define PAGE_BYTES ((size_t)64 << 10)
#define PAGES_PER_REGION (REGION_BYTES / PAGE_BYTES)

struct l1_slab_page {
    l1_slab_page *prev, *next;  /* in its class's list of pages with room, or the free pool */
    void *freed;                /* freed objects, chained through their first word */
    uint32_t live;              /* objects handed out */
    uint32_t bump;              /* offset of the first never-used object */
    uint32_t start;             /* offset of the first object (page 0 holds the descriptor) */
    uint16_t size_class;        /* L1_SLAB_CLASSES: in the free pool */
    bool listed;                /* in its class's list */
};

typedef struct l1_slab_region region;
struct l1_slab_region {
    region *next;
    l1_slab_page pages[PAGES_PER_REGION];
};

static inline char *page_base(l1_slab_page *p) {
    region *r = (region *)((uintptr_t)p & ~(uintptr_t)(REGION_BYTES - 1));
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

void l1_slab_init(l1_slab *s) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

void l1_slab_destroy(l1_slab *s) {
    region *r = s->regions;
    while (r) {
        region *next = r->next;
        UNPOISON(r, REGION_BYTES);
        munmap(r, REGION_BYTES);
        r = next;
    }
    pthread_mutex_destroy(&s->lock);
    memset(s, 0, sizeof *s);
}

/* Maps a region aligned to its size (a huge page needs that), asks for
 * huge pages, and puts its pages in the free pool. */
static bool add_region(l1_slab *s) {
    char *raw = mmap(NULL, REGION_BYTES * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return false;
    char *base = (char *)(((uintptr_t)raw + REGION_BYTES - 1) & ~(uintptr_t)(REGION_BYTES - 1));
    if (base > raw) munmap(raw, (size_t)(base - raw));
    munmap(base + REGION_BYTES, (size_t)(raw + REGION_BYTES * 2 - (base + REGION_BYTES)));
#ifdef MADV_HUGEPAGE
    /* Advice only: without huge pages the region is ordinary memory. */
    (void)madvise(base, REGION_BYTES, MADV_HUGEPAGE);
#endif
    region *r = (region *)base;
    r->next = s->regions;
    s->regions = r;
    uint32_t first = (uint32_t)((sizeof *r + 63) / 64 * 64);
    for (size_t i = PAGES_PER_REGION; i-- > 0;) {
        l1_slab_page *p = &r->pages[i];
        p->start = i ? 0 : first;
        p->size_class = L1_SLAB_CLASSES;
        list_push(&s->free_pages, p);
    }
    POISON(base + first, REGION_BYTES - first);
    atomic_fetch_add_explicit(&s->mapped, REGION_BYTES, memory_order_relaxed);
    return true;
}

void *l1_slab_alloc(l1_slab *s, size_t size) {
    if (size > L1_SLAB_MAX) return malloc(size);
    unsigned c = (unsigned)((size + L1_SLAB_GRAIN - 1) / L1_SLAB_GRAIN) - (size != 0);
    size_t bytes = class_bytes(c);
    pthread_mutex_lock(&s->lock);
    l1_slab_page *p = s->partial[c];
    if (!p) {
        if (!s->free_pages && !add_region(s)) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        p = s->free_pages;
        list_remove(&s->free_pages, p);
        p->size_class = (uint16_t)c;
        p->freed = NULL;
        p->live = 0;
        p->bump = p->start;
        p->listed = true;
        list_push(&s->partial[c], p);
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
        list_remove(&s->partial[c], p);
        p->listed = false;
    }
    pthread_mutex_unlock(&s->lock);
    UNPOISON(obj, size);
    return obj;
}

void l1_slab_free(l1_slab *s, void *obj, size_t size) {
    if (!obj) return;
    if (size > L1_SLAB_MAX) {
        free(obj);
        return;
    }
    region *r = (region *)((uintptr_t)obj & ~(uintptr_t)(REGION_BYTES - 1));
    l1_slab_page *p = &r->pages[((uintptr_t)obj - (uintptr_t)r) / PAGE_BYTES];
    pthread_mutex_lock(&s->lock);
    unsigned c = p->size_class;
    POISON(obj, class_bytes(c));
    UNPOISON(obj, sizeof(void *));
    memcpy(obj, &p->freed, sizeof(void *));
    POISON(obj, sizeof(void *));
    p->freed = obj;
    if (--p->live == 0) {
        /* Empty: any class may have it now. */
        if (p->listed) list_remove(&s->partial[c], p);
        p->listed = false;
        p->size_class = L1_SLAB_CLASSES;
        list_push(&s->free_pages, p);
    } else if (!p->listed) {
        p->listed = true;
        list_push(&s->partial[c], p);
    }
    pthread_mutex_unlock(&s->lock);
}
