#ifndef HEADCOUNT_CZLIB_SHIM_H
#define HEADCOUNT_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro (it passes the version and struct size); Swift sees this wrapper.
static inline int headcount_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
/// deflateInit2 is a macro too; tests and `generate` use it to write gzip.
static inline int headcount_deflateInit2(z_streamp strm, int level, int windowBits) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}
#endif
