#ifndef HEADCOUNT_INTRINSICS_H
#define HEADCOUNT_INTRINSICS_H

/* CPU instructions Swift cannot spell (the prefetch hint, SSE2 byte compares), as static
   inline functions that the compiler inlines into the Swift loops that call them. SwiftPM
   does not track this header: after changing it, touch a Swift file that uses it. */

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__linux__)
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* Moves a mapping of old_bytes into one of new_bytes, wherever the kernel finds room, without
   copying its pages (Linux's mremap with MREMAP_MAYMOVE, which glibc declares only under
   _GNU_SOURCE); the added pages read as zeros. Returns (void *)-1 on failure (errno set), and
   everywhere but Linux, where the caller copies instead. */
static inline void *headcount_remap(void *old, size_t old_bytes, size_t new_bytes) {
#if defined(__linux__)
    long moved = syscall(SYS_mremap, old, old_bytes, new_bytes, 1L /* MREMAP_MAYMOVE */, 0L);
    return moved == -1 ? (void *)-1 : (void *)moved;
#else
    (void)old; (void)old_bytes; (void)new_bytes;
    return (void *)-1;
#endif
}

/* Names the calling thread as `top -H`, `ps -L` and `perf` show it (at most 15 bytes are
   kept); prctl is variadic, which Swift cannot call. Elsewhere, nothing. */
static inline void headcount_name_thread(const char *name) {
#if defined(__linux__)
    (void)prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
#else
    (void)name;
#endif
}

/* The prefetch hint. Unlike a load, a prefetch never holds up the instructions after
   it, so a loop can ask for the cache lines of rows it will reach a few iterations
   later while it works on the current one. */
static inline void headcount_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/* Copies the 64-byte line at src (in cache) to dst, both 64-byte aligned, with streaming
   stores: four of them fill one write-combining buffer, which goes to memory whole, so
   dst's line is never read first (a plain store to a line not in cache reads it from
   memory before writing it). What this thread stores this way it reads back as usual;
   another thread must not read it before headcount_store_fence (or a lock) on this one. */
static inline void headcount_stream_line(void *dst, const void *src) {
#if defined(__SSE2__)
    const __m128i *s = (const __m128i *)src;
    __m128i *d = (__m128i *)dst;
    __m128i a = _mm_load_si128(s), b = _mm_load_si128(s + 1), c = _mm_load_si128(s + 2), e = _mm_load_si128(s + 3);
    _mm_stream_si128(d, a);
    _mm_stream_si128(d + 1, b);
    _mm_stream_si128(d + 2, c);
    _mm_stream_si128(d + 3, e);
#else
    memcpy(dst, src, 64);
#endif
}

/* Orders the streaming stores before it ahead of every store after it. */
static inline void headcount_store_fence(void) {
#if defined(__SSE2__)
    _mm_sfence();
#endif
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

/* The ASCII path of the email key for an address of 16 bytes or more: copies the n bytes
   at src to out with A-Z lowercased, 16 at a time (the last 16 overlap the ones before
   them, which the same bytes make harmless), and reports in *last_at the index of the
   last '@' (-1 if none). Returns bit 0 when a byte is not ASCII (the caller then takes
   the Unicode path and ignores the rest), bit 1 when a byte is a control character, a
   space or DEL. Reads and writes nothing outside the n bytes. */
static inline uint32_t headcount_email_ascii16(const uint8_t *src, long n, uint8_t *out, long *last_at) {
    long last = -1;
#if defined(__SSE2__)
    const __m128i at = _mm_set1_epi8('@'), del = _mm_set1_epi8(0x7F), space = _mm_set1_epi8(0x21);
    const __m128i beforeA = _mm_set1_epi8('A' - 1), afterZ = _mm_set1_epi8('Z' + 1), bit = _mm_set1_epi8(0x20);
    __m128i bad = _mm_setzero_si128();
    uint32_t high = 0;
    long i = 0;
    for (;;) {
        if (i > n - 16) i = n - 16;
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        high |= (uint32_t)_mm_movemask_epi8(v);
        /* Signed compares: a byte of 0x80 or more counts as below 0x21 too, but is reported
           as not ASCII first. */
        bad = _mm_or_si128(bad, _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)));
        uint32_t ats = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, at));
        if (ats) last = i + 31 - __builtin_clz(ats);
        __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, beforeA), _mm_cmplt_epi8(v, afterZ));
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm_or_si128(v, _mm_and_si128(upper, bit)));
        if (i + 16 >= n) break;
        i += 16;
    }
    *last_at = last;
    return (high ? 1u : 0u) | (_mm_movemask_epi8(bad) ? 2u : 0u);
#else
    uint32_t flags = 0;
    for (long i = 0; i < n; i++) {
        uint8_t c = src[i];
        if (c >= 0x80) flags |= 1;
        if (c < 0x21 || c == 0x7F) flags |= 2;
        if (c == '@') last = i;
        out[i] = (c >= 'A' && c <= 'Z') ? (uint8_t)(c | 0x20) : c;
    }
    *last_at = last;
    return flags;
#endif
}

#endif
