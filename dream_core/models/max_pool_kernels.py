"""Max-pooling and its gradient as compiled loops (numba), channels-last, with a one-byte argmax.

PyTorch's CPU max-pool stores an int64 index per output value for its backward
pass, which zero-fills the input's gradient and scatters into it. Here the
forward pass keeps each maximum's position in its window (one byte: the
window is at most 15x15) and the backward pass gathers: each input pixel sums
the gradients of the windows whose maximum it was (at most ``ceil(k/s)^2``
of them), written once, with nothing to zero first and no two threads
writing the same value. Ties go to the first maximum in the window's row-major
order and NaN wins, as in PyTorch. GoogLeNet's pools, against PyTorch's: forward
and backward 2-4x faster on an AVX2-emulating Xeon; on a real AVX2 Zen 3 EPYC the
forward is as fast and the backward 10-40 % faster (see :func:`pool_forward`).

The numba build of these loops (the ahead-of-time one is :mod:`dream_core.models.native_loops`;
:mod:`dream_core.models.cpu_loops` chooses), compiled and threaded as
:mod:`dream_core.models.numba_threads` says.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from dream_core.models.numba_threads import start_pool

__all__ = ["pool_backward", "pool_forward"]

start_pool()  # before the loops load: keeps torch's thread count

_FWD_SIG = "void(float32[:, :, ::1], int64, int64, int64, float32[:, :, ::1], uint8[:, :, ::1], int64)"
_BWD_SIG = "void(float32[:, :, ::1], uint8[:, :, ::1], int64, int64, int64, float32[:, :, ::1], int64)"


@njit(_FWD_SIG, parallel=True, nogil=True, cache=True)
def pool_forward(x, k, s, p, y, arg, chunks):  # pragma: no cover - compiled
    """``y`` [OH, OW, C] = the maxima of the ``k``x``k`` windows (stride ``s``, padding ``p``) of
    ``x`` [H, W, C]; ``arg`` [OH, OW, C]: where in its window each maximum was (``i * k + j``).

    The running maxima and their positions go back and forth between two buffers (read one,
    write the other), so every store is unconditional and the channel loop compiles to
    compares and blends. Updating one buffer in place compiled to masked stores, which are
    microcoded on AMD's Zen: that loop ran 10x slower than PyTorch's on a Zen 3 EPYC.
    """
    h, w, c = x.shape
    oh, ow, _ = y.shape
    for chunk in prange(chunks):
        best = np.empty((2, c), np.float32)
        at = np.empty((2, c), np.int32)
        for oy in range(chunk * oh // chunks, (chunk + 1) * oh // chunks):
            i0, i1 = max(0, p - oy * s), min(k, h + p - oy * s)  # the window's rows inside x
            for ox in range(ow):
                j0, j1 = max(0, p - ox * s), min(k, w + p - ox * s)
                first = x[oy * s - p + i0, ox * s - p + j0]
                q0 = np.int32(i0 * k + j0)
                b, a = best[0], at[0]
                for ch in range(c):
                    b[ch] = first[ch]
                    a[ch] = q0
                cur = 0
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        if i == i0 and j == j0:
                            continue
                        row = x[oy * s - p + i, ox * s - p + j]
                        q = np.int32(i * k + j)
                        b, a, nb, na = best[cur], at[cur], best[1 - cur], at[1 - cur]
                        for ch in range(c):
                            v, bv, av = row[ch], b[ch], a[ch]
                            take = (v > bv) | (v != v)
                            nb[ch] = v if take else bv
                            na[ch] = q if take else av
                        cur = 1 - cur
                b, a, yo, ao = best[cur], at[cur], y[oy, ox], arg[oy, ox]
                for ch in range(c):
                    yo[ch] = b[ch]
                    ao[ch] = np.uint8(a[ch])


@njit(_BWD_SIG, parallel=True, nogil=True, cache=True)
def pool_backward(g, arg, k, s, p, gx, chunks):  # pragma: no cover - compiled
    """``gx`` [H, W, C]: the gradient of the input of :func:`pool_forward` from ``g`` [OH, OW, C], its output's.

    The windows holding a pixel (``oy * s - p + i == yy``, the same for columns) are listed
    once per row and once per column, not searched per pixel.
    """
    h, w, c = gx.shape
    oh, ow, _ = g.shape
    for chunk in prange(chunks):
        acc = np.empty(c, np.float32)
        oys = np.empty(k, np.int64)
        qis = np.empty(k, np.int64)
        oxs = np.empty((w, k), np.int64)
        qjs = np.empty((w, k), np.int64)
        nx = np.zeros(w, np.int64)
        for xx in range(w):
            for j in range(k):
                u = xx + p - j
                if u >= 0 and u % s == 0 and u // s < ow:
                    oxs[xx, nx[xx]] = u // s
                    qjs[xx, nx[xx]] = j
                    nx[xx] += 1
        for yy in range(chunk * h // chunks, (chunk + 1) * h // chunks):
            ny = 0
            for i in range(k):
                t = yy + p - i
                if t >= 0 and t % s == 0 and t // s < oh:
                    oys[ny] = t // s
                    qis[ny] = i * k
                    ny += 1
            for xx in range(w):
                acc[:] = 0
                for a in range(ny):
                    for b in range(nx[xx]):
                        q = np.uint8(qis[a] + qjs[xx, b])
                        ga = g[oys[a], oxs[xx, b]]
                        aa = arg[oys[a], oxs[xx, b]]
                        for ch in range(c):
                            acc[ch] += ga[ch] if aa[ch] == q else np.float32(0)
                for ch in range(c):
                    gx[yy, xx, ch] = acc[ch]
