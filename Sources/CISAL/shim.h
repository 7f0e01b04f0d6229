#ifndef HEADCOUNT_CISAL_SHIM_H
#define HEADCOUNT_CISAL_SHIM_H
/*
 * ISA-L's inflater, optional. When Debian's libisal-dev is installed at build
 * time its header is found here and the library is loaded with dlopen at run
 * time, so the binary never has a link-time dependency on it; without the
 * header, headcount_isal_available() is 0 and Headcount uses zlib.
 */
#include <stdint.h>
#include <stdlib.h>

#if __has_include(<isa-l/igzip_lib.h>)
#include <dlfcn.h>
#include <isa-l/igzip_lib.h>

typedef struct headcount_isal_api {
    int loaded;
    /// Whether the CPU has AVX, and so VZEROUPPER (`headcount_isal_clear_upper_vectors`).
    int avx;
    void (*init)(struct inflate_state *);
    void (*reset)(struct inflate_state *);
    int (*inflate)(struct inflate_state *);
} headcount_isal_api;

static inline headcount_isal_api *headcount_isal_api_get(void) {
    static headcount_isal_api api = {0, 0, 0, 0, 0};
    if (api.loaded == 0) {
#if defined(__x86_64__)
        __builtin_cpu_init();
        api.avx = __builtin_cpu_supports("avx") ? 1 : 0;
#endif
        void *lib = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
        if (!lib) lib = dlopen("libisal.so", RTLD_NOW | RTLD_LOCAL);
        if (lib) {
            api.init = (void (*)(struct inflate_state *))dlsym(lib, "isal_inflate_init");
            api.reset = (void (*)(struct inflate_state *))dlsym(lib, "isal_inflate_reset");
            api.inflate = (int (*)(struct inflate_state *))dlsym(lib, "isal_inflate");
        }
        api.loaded = (api.init && api.reset && api.inflate) ? 1 : -1;
    }
    return &api;
}

/* ISA-L's AVX-512 code returns with the upper halves of the vector registers in use. Every
   later SSE instruction of the Swift code on that thread then pays Intel's penalty for mixing
   the two encodings, and so does every thread it starts afterwards, which begins with a copy
   of its registers: the main thread inflates each file's header before starting the file's
   threads, and M-global's memberships scanner (where ISA-L never ran) took 1.45 s of CPU for
   10M rows instead of 0.25 (BENCHMARKS.md, thirtieth session). VZEROUPPER clears them; it is
   an AVX instruction, so only where the CPU has AVX (read once, with the library). */
static inline void headcount_isal_clear_upper_vectors(void) {
#if defined(__x86_64__)
    if (headcount_isal_api_get()->avx) __asm__ volatile("vzeroupper");
#endif
}

/// 1 when ISA-L was found at build time and loads now.
static inline int headcount_isal_available(void) { return headcount_isal_api_get()->loaded == 1; }

static inline void *headcount_isal_new(void) {
    struct inflate_state *s = (struct inflate_state *)malloc(sizeof(struct inflate_state));
    if (!s) return 0;
    headcount_isal_api_get()->init(s);
    s->crc_flag = ISAL_GZIP;
    return s;
}

static inline void headcount_isal_free(void *state) { free(state); }

static inline void headcount_isal_reset(void *state) {
    struct inflate_state *s = (struct inflate_state *)state;
    headcount_isal_api_get()->reset(s);
    s->crc_flag = ISAL_GZIP;
}

/// One inflate step. Returns ISA-L's status; sets consumed, produced, and finished (1 at
/// the end of a gzip member, trailer checked).
static inline int headcount_isal_step(void *state, const uint8_t *in, uint32_t in_len, uint8_t *out,
                                      uint32_t out_len, uint32_t *consumed, uint32_t *produced,
                                      int *finished, uint32_t *crc) {
    struct inflate_state *s = (struct inflate_state *)state;
    s->next_in = (uint8_t *)in;
    s->avail_in = in_len;
    s->next_out = out;
    s->avail_out = out_len;
    int rc = headcount_isal_api_get()->inflate(s);
    headcount_isal_clear_upper_vectors();
    *consumed = in_len - s->avail_in;
    *produced = out_len - s->avail_out;
    *finished = s->block_state == ISAL_BLOCK_FINISH;
    *crc = s->crc;
    return rc;
}
#else
static inline int headcount_isal_available(void) { return 0; }
static inline void *headcount_isal_new(void) { return 0; }
static inline void headcount_isal_free(void *state) { (void)state; }
static inline void headcount_isal_reset(void *state) { (void)state; }
static inline int headcount_isal_step(void *state, const uint8_t *in, uint32_t in_len, uint8_t *out,
                                      uint32_t out_len, uint32_t *consumed, uint32_t *produced,
                                      int *finished, uint32_t *crc) {
    (void)state; (void)in; (void)in_len; (void)out; (void)out_len;
    *consumed = 0; *produced = 0; *finished = 0; *crc = 0;
    return -100;
}
#endif
#endif
