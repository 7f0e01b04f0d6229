#ifndef HEADCOUNT_PREFETCH_H
#define HEADCOUNT_PREFETCH_H

/* The compiler's prefetch hint, which Swift cannot spell. Unlike a load, a prefetch
   never holds up the instructions after it, so a loop can ask for the cache lines of
   rows it will reach a few iterations later while it works on the current one. */
static inline void headcount_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
