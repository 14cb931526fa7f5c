"""The transforms of Winograd's F(4x4, 3x3) as compiled loops (numba): one memory pass each.

From PyTorch operators the input transform took a padding copy, a gather of
the overlapping 6x6 tiles and two matrix products, and the output transform a
product, a layout copy and the bias: inside a GoogLeNet step they cost more
than the channel products themselves. Here each is one loop over the tiles,
vectorised along the channels (the innermost, contiguous axis of a
channels-last activation), that also applies the ReLU around the convolution:

- :func:`input_tiles` reads the image (zero outside it, so no padded copy)
  and, for a gradient, zeroes it where the ReLU that followed the
  convolution was off (its backward, fused);
- :func:`output_tiles` writes ``A^T m A + bias``, with the ReLU if asked,
  straight into the channels-last output.

The numba build of these loops (the ahead-of-time one is :mod:`dream_core.models.native_loops`;
:mod:`dream_core.models.cpu_loops` chooses), compiled and threaded as
:mod:`dream_core.models.numba_threads` says.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from dream_core.models.numba_threads import start_pool

__all__ = ["input_tiles", "output_tiles"]

start_pool()  # before the loops load: keeps torch's thread count

_IN_SIG = "void(float32[:, :, ::1], float32[:, :, ::1], boolean, int64, int64, int64, float32[:, :, ::1], int64)"
_OUT_SIG = "void(float32[:, :, ::1], float32[::1], boolean, int64, int64, float32[:, :, ::1], int64)"


@njit(_IN_SIG, parallel=True, nogil=True, cache=True)
def input_tiles(x, relu_out, masked, r0, n, tw, v, chunks):  # pragma: no cover - compiled
    """``B^T d B`` of the 6x6 tiles (stride 4) of tile rows ``r0 .. r0+n`` of ``x`` [H, W, C] into ``v`` [36, n*tw, C].

    The image is zero-padded by one pixel (and up to whole tiles) on the fly.
    With ``masked``, ``x`` is a gradient and ``relu_out`` [H, W, C] the ReLU's
    output: the gradient passes only where that output is positive.
    """
    h, w, c = x.shape
    tiles = n * tw
    for chunk in prange(chunks):
        d = np.empty((6, 6, c), np.float32)
        s = np.empty((6, 6, c), np.float32)
        for t in range(chunk * tiles // chunks, (chunk + 1) * tiles // chunks):
            y0 = (r0 + t // tw) * 4 - 1
            x0 = (t % tw) * 4 - 1
            for i in range(6):
                yy = y0 + i
                for j in range(6):
                    xx = x0 + j
                    if 0 <= yy < h and 0 <= xx < w:
                        if masked:
                            for k in range(c):
                                d[i, j, k] = x[yy, xx, k] if relu_out[yy, xx, k] > 0 else np.float32(0)
                        else:
                            for k in range(c):
                                d[i, j, k] = x[yy, xx, k]
                    else:
                        for k in range(c):
                            d[i, j, k] = 0
            for j in range(6):  # along the rows: s = B^T d
                for k in range(c):
                    a0, a1, a2, a3, a4, a5 = d[0, j, k], d[1, j, k], d[2, j, k], d[3, j, k], d[4, j, k], d[5, j, k]
                    s[0, j, k] = 4 * a0 - 5 * a2 + a4
                    s[1, j, k] = a3 + a4 - 4 * (a1 + a2)
                    s[2, j, k] = a4 - a3 + 4 * (a1 - a2)
                    s[3, j, k] = a4 - a2 + 2 * (a3 - a1)
                    s[4, j, k] = a4 - a2 + 2 * (a1 - a3)
                    s[5, j, k] = 4 * a1 - 5 * a3 + a5
            for i in range(6):  # along the columns: s B
                p = 6 * i
                for k in range(c):
                    a0, a1, a2, a3, a4, a5 = s[i, 0, k], s[i, 1, k], s[i, 2, k], s[i, 3, k], s[i, 4, k], s[i, 5, k]
                    v[p, t, k] = 4 * a0 - 5 * a2 + a4
                    v[p + 1, t, k] = a3 + a4 - 4 * (a1 + a2)
                    v[p + 2, t, k] = a4 - a3 + 4 * (a1 - a2)
                    v[p + 3, t, k] = a4 - a2 + 2 * (a3 - a1)
                    v[p + 4, t, k] = a4 - a2 + 2 * (a1 - a3)
                    v[p + 5, t, k] = 4 * a1 - 5 * a3 + a5


@njit(_OUT_SIG, parallel=True, nogil=True, cache=True)
def output_tiles(m, bias, relu, r0, tw, y, chunks):  # pragma: no cover - compiled
    """``A^T m A + bias`` (then ReLU if ``relu``) of the products ``m`` [36, n*tw, K] of tile rows
    ``r0 ..`` into ``y`` [H, W, K], the parts of tiles past the image's edge left out."""
    h, w, kk = y.shape
    tiles = m.shape[1]
    for chunk in prange(chunks):
        s = np.empty((4, 6, kk), np.float32)
        o = np.empty((4, kk), np.float32)
        for t in range(chunk * tiles // chunks, (chunk + 1) * tiles // chunks):
            y0 = (r0 + t // tw) * 4
            x0 = (t % tw) * 4
            for j in range(6):  # along the rows: s = A^T m
                for k in range(kk):
                    a0, a1, a2 = m[j, t, k], m[6 + j, t, k], m[12 + j, t, k]
                    a3, a4, a5 = m[18 + j, t, k], m[24 + j, t, k], m[30 + j, t, k]
                    s[0, j, k] = a0 + a1 + a2 + a3 + a4
                    s[1, j, k] = a1 - a2 + 2 * (a3 - a4)
                    s[2, j, k] = a1 + a2 + 4 * (a3 + a4)
                    s[3, j, k] = a1 - a2 + 8 * (a3 - a4) + a5
            for i in range(min(4, h - y0)):  # along the columns: s A, plus the bias
                for k in range(kk):
                    a0, a1, a2, a3, a4, a5 = s[i, 0, k], s[i, 1, k], s[i, 2, k], s[i, 3, k], s[i, 4, k], s[i, 5, k]
                    b = bias[k]
                    o[0, k] = a0 + a1 + a2 + a3 + a4 + b
                    o[1, k] = a1 - a2 + 2 * (a3 - a4) + b
                    o[2, k] = a1 + a2 + 4 * (a3 + a4) + b
                    o[3, k] = a1 - a2 + 8 * (a3 - a4) + a5 + b
                for jj in range(min(4, w - x0)):
                    if relu:
                        for k in range(kk):
                            y[y0 + i, x0 + jj, k] = max(o[jj, k], np.float32(0))
                    else:
                        for k in range(kk):
                            y[y0 + i, x0 + jj, k] = o[jj, k]
