/* The bodies of DreamBot's compiled CPU loops (see native_loops.c), included there once per
 * instruction set with SUFFIX(name) naming that build's functions. */

/* One row or column of B^T d B over c channels: six vectors in (d0..d5), six out (s0..s5). Each
 * vector is its own restrict parameter: offsets from one pointer left GCC unable to tell the
 * stores apart, and the loop scalar. */
__attribute__((noinline)) static void SUFFIX(bt6_vectors)(
    const float *restrict d0, const float *restrict d1, const float *restrict d2, const float *restrict d3,
    const float *restrict d4, const float *restrict d5, float *restrict s0, float *restrict s1, float *restrict s2,
    float *restrict s3, float *restrict s4, float *restrict s5, i64 c) {
    for (i64 q = 0; q < c; q++) {
        float a0 = d0[q], a1 = d1[q], a2 = d2[q], a3 = d3[q], a4 = d4[q], a5 = d5[q];
        s0[q] = 4 * a0 - 5 * a2 + a4;
        s1[q] = a3 + a4 - 4 * (a1 + a2);
        s2[q] = a4 - a3 + 4 * (a1 - a2);
        s3[q] = a4 - a2 + 2 * (a3 - a1);
        s4[q] = a4 - a2 + 2 * (a1 - a3);
        s5[q] = 4 * a1 - 5 * a3 + a5;
    }
}

/* bt6_vectors of in[r * step] into out[r * ostep], r = 0..5. */
static inline void SUFFIX(bt6)(const float *in, i64 step, float *out, i64 ostep, i64 c) {
    SUFFIX(bt6_vectors)(in, in + step, in + 2 * step, in + 3 * step, in + 4 * step, in + 5 * step, out, out + ostep,
                        out + 2 * ostep, out + 3 * ostep, out + 4 * ostep, out + 5 * ostep, c);
}

/* One row or column of A^T m A, plus b (a bias vector) where given: six vectors in, four out. */
__attribute__((noinline)) static void SUFFIX(at6_vectors)(
    const float *restrict m0, const float *restrict m1, const float *restrict m2, const float *restrict m3,
    const float *restrict m4, const float *restrict m5, const float *restrict bias, float *restrict o0,
    float *restrict o1, float *restrict o2, float *restrict o3, i64 c) {
    if (bias)
        for (i64 q = 0; q < c; q++) {
            float a0 = m0[q], a1 = m1[q], a2 = m2[q], a3 = m3[q], a4 = m4[q], a5 = m5[q], b = bias[q];
            o0[q] = a0 + a1 + a2 + a3 + a4 + b;
            o1[q] = a1 - a2 + 2 * (a3 - a4) + b;
            o2[q] = a1 + a2 + 4 * (a3 + a4) + b;
            o3[q] = a1 - a2 + 8 * (a3 - a4) + a5 + b;
        }
    else
        for (i64 q = 0; q < c; q++) {
            float a0 = m0[q], a1 = m1[q], a2 = m2[q], a3 = m3[q], a4 = m4[q], a5 = m5[q];
            o0[q] = a0 + a1 + a2 + a3 + a4;
            o1[q] = a1 - a2 + 2 * (a3 - a4);
            o2[q] = a1 + a2 + 4 * (a3 + a4);
            o3[q] = a1 - a2 + 8 * (a3 - a4) + a5;
        }
}

/* at6_vectors of in[r * step], r = 0..5, into out[r * ostep], r = 0..3. */
static inline void SUFFIX(at6)(const float *in, i64 step, const float *bias, float *out, i64 ostep, i64 c) {
    SUFFIX(at6_vectors)(in, in + step, in + 2 * step, in + 3 * step, in + 4 * step, in + 5 * step, bias, out,
                        out + ostep, out + 2 * ostep, out + 3 * ostep, c);
}

/* acc += g where the window's maximum sat at position q. Every g is read (a plain load, not the
 * masked load a conditional read compiles to). Not inlined: inside the windows' loop GCC fused two
 * windows' channel loops into one it left scalar (unroll-and-jam), 6x slower. */
__attribute__((noinline)) static void SUFFIX(gather_add)(float *restrict acc, const float *restrict g,
                                                         const uint8_t *restrict at, uint8_t q, i64 c) {
    for (i64 ch = 0; ch < c; ch++) {
        float gv = g[ch];
        acc[ch] += at[ch] == q ? gv : 0.0f;
    }
}

/* One pixel's channels of a tile into d: x's (NULL: outside the image, zeros), passed only where
 * mask > 0 when a mask is given. Plain loops: libc's memcpy per pixel cost more than the copy. */
__attribute__((noinline)) static void SUFFIX(gather_pixel)(const float *restrict x, const float *restrict mask,
                                                           float *restrict d, i64 c) {
    if (!x)
        for (i64 q = 0; q < c; q++) d[q] = 0.0f;
    else if (mask)
        for (i64 q = 0; q < c; q++) {
            float v = x[q];
            d[q] = mask[q] > 0.0f ? v : 0.0f;
        }
    else
        for (i64 q = 0; q < c; q++) d[q] = x[q];
}

/* ---- max-pooling -------------------------------------------------------------------------- */

/* Output rows oy0..oy1 of the pool; 0, or -1 when out of memory. The running maxima are updated
 * with selects (every store unconditional), which compile to compares and blends: conditional
 * stores became masked stores, microcoded on AMD's Zen. */
static int SUFFIX(pool_forward_rows)(const float *restrict x, i64 h, i64 w, i64 c, i64 k, i64 s, i64 p,
                                    float *restrict y, uint8_t *restrict arg, i64 ow, i64 oy0, i64 oy1) {
    float *best = malloc((size_t)c * sizeof(float));
    int32_t *at = malloc((size_t)c * sizeof(int32_t));
    if (!best || !at) {
        free(best);
        free(at);
        return -1;
    }
    for (i64 oy = oy0; oy < oy1; oy++) {
        i64 i0 = imax(0, p - oy * s), i1 = imin(k, h + p - oy * s);
        for (i64 ox = 0; ox < ow; ox++) {
            i64 j0 = imax(0, p - ox * s), j1 = imin(k, w + p - ox * s);
            const float *first = x + ((oy * s - p + i0) * w + (ox * s - p + j0)) * c;
            int32_t q0 = (int32_t)(i0 * k + j0);
            for (i64 ch = 0; ch < c; ch++) {
                best[ch] = first[ch];
                at[ch] = q0;
            }
            for (i64 i = i0; i < i1; i++)
                for (i64 j = j0; j < j1; j++) {
                    if (i == i0 && j == j0) continue;
                    const float *row = x + ((oy * s - p + i) * w + (ox * s - p + j)) * c;
                    int32_t q = (int32_t)(i * k + j);
                    for (i64 ch = 0; ch < c; ch++) {
                        float v = row[ch], bv = best[ch];
                        int t = (v > bv) | (v != v); /* NaN wins, as in PyTorch */
                        best[ch] = t ? v : bv;
                        at[ch] = t ? q : at[ch];
                    }
                }
            float *yo = y + (oy * ow + ox) * c;
            uint8_t *ao = arg + (oy * ow + ox) * c;
            for (i64 ch = 0; ch < c; ch++) {
                yo[ch] = best[ch];
                ao[ch] = (uint8_t)at[ch];
            }
        }
    }
    free(best);
    free(at);
    return 0;
}

/* Input rows yy0..yy1 of the pool's gradient: each pixel gathers the gradients of the windows
 * whose maximum it was. */
static int SUFFIX(pool_backward_rows)(const float *restrict g, const uint8_t *restrict arg, i64 oh, i64 ow,
                                     i64 k, i64 s, i64 p, float *restrict gx, i64 w, i64 c, i64 yy0, i64 yy1) {
    float *acc = malloc((size_t)c * sizeof(float));
    i64 *oxs = malloc((size_t)(w * k) * sizeof(i64));
    i64 *qjs = malloc((size_t)(w * k) * sizeof(i64));
    i64 *nx = calloc((size_t)w, sizeof(i64));
    i64 oys[MAX_WINDOW], qis[MAX_WINDOW];
    if (!acc || !oxs || !qjs || !nx) {
        free(acc);
        free(oxs);
        free(qjs);
        free(nx);
        return -1;
    }
    for (i64 xx = 0; xx < w; xx++)
        for (i64 j = 0; j < k; j++) {
            i64 u = xx + p - j;
            if (u >= 0 && u % s == 0 && u / s < ow) {
                oxs[xx * k + nx[xx]] = u / s;
                qjs[xx * k + nx[xx]] = j;
                nx[xx]++;
            }
        }
    for (i64 yy = yy0; yy < yy1; yy++) {
        i64 ny = 0;
        for (i64 i = 0; i < k; i++) {
            i64 t = yy + p - i;
            if (t >= 0 && t % s == 0 && t / s < oh) {
                oys[ny] = t / s;
                qis[ny] = i * k;
                ny++;
            }
        }
        for (i64 xx = 0; xx < w; xx++) {
            for (i64 ch = 0; ch < c; ch++) acc[ch] = 0.0f;
            for (i64 a = 0; a < ny; a++)
                for (i64 b = 0; b < nx[xx]; b++) {
                    uint8_t q = (uint8_t)(qis[a] + qjs[xx * k + b]);
                    i64 at = oys[a] * ow + oxs[xx * k + b];
                    const float *ga = g + at * c;
                    const uint8_t *aa = arg + at * c;
                    SUFFIX(gather_add)(acc, ga, aa, q, c);
                }
            float *o = gx + (yy * w + xx) * c;
            for (i64 ch = 0; ch < c; ch++) o[ch] = acc[ch];
        }
    }
    free(acc);
    free(oxs);
    free(qjs);
    free(nx);
    return 0;
}

/* ---- Winograd F(4x4, 3x3) tile transforms ------------------------------------------------- */

/* B^T d B of tiles t0..t1 (of the band of tile rows from r0) into v [36, tiles, c]. */
static int SUFFIX(input_tiles_part)(const float *restrict x, const float *restrict mask, int masked, i64 h, i64 w,
                                   i64 c, i64 r0, i64 tw, float *restrict v, i64 tiles, i64 t0, i64 t1) {
    float *d = malloc((size_t)(36 * c) * sizeof(float));
    float *sb = malloc((size_t)(36 * c) * sizeof(float));
    if (!d || !sb) {
        free(d);
        free(sb);
        return -1;
    }
    for (i64 t = t0; t < t1; t++) {
        i64 y0 = (r0 + t / tw) * 4 - 1, x0 = (t % tw) * 4 - 1;
        for (i64 i = 0; i < 6; i++)
            for (i64 j = 0; j < 6; j++) {
                i64 yy = y0 + i, xx = x0 + j;
                int inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
                SUFFIX(gather_pixel)(inside ? x + (yy * w + xx) * c : NULL,
                                     inside && masked ? mask + (yy * w + xx) * c : NULL, d + (i * 6 + j) * c, c);
            }
        for (i64 j = 0; j < 6; j++) /* along the rows: s = B^T d */
            SUFFIX(bt6)(d + j * c, 6 * c, sb + j * c, 6 * c, c);
        for (i64 i = 0; i < 6; i++) /* along the columns: s B */
            SUFFIX(bt6)(sb + i * 6 * c, c, v + ((6 * i) * tiles + t) * c, tiles * c, c);
    }
    free(d);
    free(sb);
    return 0;
}

/* A^T m A + bias (ReLU'd if asked) of tiles t0..t1 of m [36, tiles, kk] into y [h, w, kk]. */
static int SUFFIX(output_tiles_part)(const float *restrict m, const float *restrict bias, int relu, i64 r0, i64 tw,
                                    float *restrict y, i64 h, i64 w, i64 kk, i64 tiles, i64 t0, i64 t1) {
    float *sb = malloc((size_t)(24 * kk) * sizeof(float));
    float *o = malloc((size_t)(4 * kk) * sizeof(float));
    if (!sb || !o) {
        free(sb);
        free(o);
        return -1;
    }
    for (i64 t = t0; t < t1; t++) {
        i64 y0 = (r0 + t / tw) * 4, x0 = (t % tw) * 4;
        for (i64 j = 0; j < 6; j++) /* along the rows: s = A^T m */
            SUFFIX(at6)(m + (j * tiles + t) * kk, 6 * tiles * kk, NULL, sb + j * kk, 6 * kk, kk);
        i64 rows = imin(4, h - y0), cols = imin(4, w - x0);
        for (i64 i = 0; i < rows; i++) { /* along the columns: s A, plus the bias, into o [4, kk] */
            SUFFIX(at6)(sb + i * 6 * kk, kk, bias, o, kk, kk);
            for (i64 jj = 0; jj < cols; jj++) {
                float *yo = y + ((y0 + i) * w + x0 + jj) * kk;
                const float *oj = o + jj * kk;
                if (relu)
                    for (i64 q = 0; q < kk; q++) yo[q] = oj[q] > 0.0f ? oj[q] : 0.0f;
                else
                    memcpy(yo, oj, (size_t)kk * sizeof(float));
            }
        }
    }
    free(sb);
    free(o);
    return 0;
}
