#ifndef HEADCOUNT_CZLIB_SHIM_H
#define HEADCOUNT_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro (it passes the version and struct size); Swift sees this wrapper.
static inline int headcount_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
#endif
