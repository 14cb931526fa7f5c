"""Max-pooling and its gradient as compiled loops (numba), channels-last, with a one-byte argmax.

PyTorch's CPU max-pool stores an int64 index per output value for its backward
pass, which zero-fills the input's gradient and scatters into it. Here the
forward pass keeps each maximum's position in its window (one byte: the
window is at most 15x15) and the backward pass gathers: each input pixel sums
the gradients of the windows whose maximum it was (at most ``ceil(k/s)^2``
of them), written once, with nothing to zero first and no two threads
writing the same value. Ties go to the first maximum in the window's row-major
order and NaN wins, as in PyTorch. On a 2-core AVX2 box GoogLeNet's pools took
2-4x less time forward and backward.

Compiled and threaded as :mod:`dream_core.models.cpu_loops` says.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from dream_core.models.cpu_loops import start_pool

__all__ = ["pool_backward", "pool_forward"]

start_pool()  # before the loops load: keeps torch's thread count

_FWD_SIG = "void(float32[:, :, ::1], int64, int64, int64, float32[:, :, ::1], uint8[:, :, ::1], int64)"
_BWD_SIG = "void(float32[:, :, ::1], uint8[:, :, ::1], int64, int64, int64, float32[:, :, ::1], int64)"


@njit(_FWD_SIG, parallel=True, nogil=True, cache=True)
def pool_forward(x, k, s, p, y, arg, chunks):  # pragma: no cover - compiled
    """``y`` [OH, OW, C] = the maxima of the ``k``x``k`` windows (stride ``s``, padding ``p``) of
    ``x`` [H, W, C]; ``arg`` [OH, OW, C]: where in its window each maximum was (``i * k + j``)."""
    h, w, c = x.shape
    oh, ow, _ = y.shape
    for chunk in prange(chunks):
        best = np.empty(c, np.float32)
        for oy in range(chunk * oh // chunks, (chunk + 1) * oh // chunks):
            for ox in range(ow):
                first = True
                for i in range(k):
                    yy = oy * s - p + i
                    if yy < 0 or yy >= h:
                        continue
                    for j in range(k):
                        xx = ox * s - p + j
                        if xx < 0 or xx >= w:
                            continue
                        q = np.uint8(i * k + j)
                        if first:
                            for ch in range(c):
                                best[ch] = x[yy, xx, ch]
                                arg[oy, ox, ch] = q
                            first = False
                        else:
                            for ch in range(c):
                                v = x[yy, xx, ch]
                                if v > best[ch] or v != v:
                                    best[ch] = v
                                    arg[oy, ox, ch] = q
                for ch in range(c):
                    y[oy, ox, ch] = best[ch]


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
