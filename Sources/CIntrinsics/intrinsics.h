#ifndef HEADCOUNT_INTRINSICS_H
#define HEADCOUNT_INTRINSICS_H

/* Two CPU instructions Swift cannot spell, as static inline functions that the
   compiler inlines into the Swift loops that call them. */

#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The prefetch hint. Unlike a load, a prefetch never holds up the instructions after
   it, so a loop can ask for the cache lines of rows it will reach a few iterations
   later while it works on the current one. */
static inline void headcount_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/* Bit k is set where p[k] is `delimiter`, a line feed or a double quote, for the 64
   bytes at p (all readable); *special gets the bits of the line feeds and quotes alone.
   The CSV reader splits an ordinary row with one or two of these instead of searching
   for each field's end in turn, and tells a delimiter from the end of the record by a bit
   test. SSE2 compares 16 bytes at a time and gathers their top bits (movemask);
   elsewhere, a plain loop. */
static inline uint64_t headcount_csv_masks(const uint8_t *p, uint8_t delimiter, uint64_t *special) {
#if defined(__SSE2__)
    const __m128i d = _mm_set1_epi8((char)delimiter);
    const __m128i n = _mm_set1_epi8('\n');
    const __m128i q = _mm_set1_epi8('"');
    uint64_t all = 0, nq = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i s = _mm_or_si128(_mm_cmpeq_epi8(v, n), _mm_cmpeq_epi8(v, q));
        __m128i a = _mm_or_si128(s, _mm_cmpeq_epi8(v, d));
        nq |= (uint64_t)(uint16_t)_mm_movemask_epi8(s) << (16 * k);
        all |= (uint64_t)(uint16_t)_mm_movemask_epi8(a) << (16 * k);
    }
    *special = nq;
    return all;
#else
    uint64_t all = 0, nq = 0;
    for (int k = 0; k < 64; k++) {
        uint8_t c = p[k];
        if (c == '\n' || c == '"') nq |= (uint64_t)1 << k;
        if (c == delimiter || c == '\n' || c == '"') all |= (uint64_t)1 << k;
    }
    *special = nq;
    return all;
#endif
}

#endif
