"""Result arrays whose data start on a 64-byte cache line.

numpy aligns a new array's data to 16 bytes; the kernels stream large results
to memory with non-temporal stores of whole 64-byte lines from registers
(src/cx_nhwc_impl.h: the channels-last depthwise forward), which needs every
channel vector of a row on a line of its own, so the array's first element on
a line start. Small results (under ``LINE_ALIGN_BYTES``) are never streamed
and keep numpy's allocation (the extra view costs ~1 us a call).
"""

import numpy as np

LINE = 64
LINE_ALIGN_BYTES = 1 << 20


def empty(shape, dtype):
    """An uninitialised C-contiguous array of shape and dtype (a view of a
    buffer up to 64 bytes larger where it is at least LINE_ALIGN_BYTES), its
    data at a multiple of 64 bytes."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if n * dtype.itemsize < LINE_ALIGN_BYTES:
        return np.empty(shape, dtype)
    buf = np.empty(n * dtype.itemsize + LINE, np.uint8)
    off = -buf.ctypes.data % LINE
    return buf[off:off + n * dtype.itemsize].view(dtype).reshape(shape)
