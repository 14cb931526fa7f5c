/* DreamBot's CPU loops compiled ahead of time: max-pooling and its gradient, Winograd's tile transforms.
 *
 * The same loops as the numba modules max_pool_kernels.py and winograd_kernels.py (same arguments,
 * same results; those modules document what each loop computes), built by the package's install
 * (setup.py) so a process loads them in a millisecond instead of paying numba's start-up (about
 * 0.6 s of every CLI dream on a 2-core box) and its first-use compile (5-11 s). Where no C compiler
 * was found at install time the numba modules run instead (models/cpu_loops.py chooses).
 *
 * Arrays come through the buffer protocol (numpy arrays of torch tensors' memory), checked for
 * their dtype, rank and shape here; the loops run with the GIL released, split into `chunks`
 * pieces over the OpenMP runtime torch has loaded (one libgomp.so.1 in the process: the same
 * threads). On x86-64 each loop is built for AVX-512 (x86-64-v4), AVX2+FMA (x86-64-v3) and the
 * baseline (native_loops_kernels.h, included once for each), and the module runs the widest this
 * CPU has, unless ATEN_CPU_CAPABILITY caps it (isa() says which).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define X86_BUILDS 1
#else
#define X86_BUILDS 0
#endif

typedef int64_t i64;

#define MAX_WINDOW 15 /* a pooling window's positions fit in one byte (models/max_pool.py's MAX_WINDOW) */

static i64 imin(i64 a, i64 b) { return a < b ? a : b; }
static i64 imax(i64 a, i64 b) { return a > b ? a : b; }

/* ---- arrays from the buffer protocol ------------------------------------------------------ */

typedef struct {
    Py_buffer b[4];
    int n;
} Held;

static void release(Held *h) {
    for (int i = 0; i < h->n; i++) PyBuffer_Release(&h->b[i]);
    h->n = 0;
}

/* A C-contiguous `ndim`-d array of float32 ('f') or uint8 ('B'); NULL (an exception set) otherwise. */
static Py_buffer *take(Held *h, PyObject *o, int ndim, char kind, int writable, const char *name) {
    Py_buffer *b = &h->b[h->n];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(o, b, flags) < 0) return NULL;
    h->n++;
    const char *f = b->format ? b->format : "B";
    size_t len = strlen(f);
    Py_ssize_t size = kind == 'f' ? 4 : 1;
    if (b->ndim != ndim || b->itemsize != size || len == 0 || f[len - 1] != kind) {
        PyErr_Format(PyExc_ValueError, "%s: expected a C-contiguous %d-d %s array", name, ndim,
                     kind == 'f' ? "float32" : "uint8");
        return NULL;
    }
    return b;
}

static int same_shape(const Py_buffer *a, const Py_buffer *b, const char *what) {
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) {
            PyErr_Format(PyExc_ValueError, "%s: shapes differ", what);
            return 0;
        }
    return 1;
}

/* ---- the loops, built once per instruction set ---------------------------------------------- */

#define SUFFIX(name) name##_base
#include "native_loops_kernels.h"
#undef SUFFIX

#if X86_BUILDS
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#define SUFFIX(name) name##_avx2
#include "native_loops_kernels.h"
#undef SUFFIX
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
#define SUFFIX(name) name##_avx512
#include "native_loops_kernels.h"
#undef SUFFIX
#pragma GCC pop_options
#endif

typedef int (*pool_forward_fn)(const float *, i64, i64, i64, i64, i64, i64, float *, uint8_t *, i64, i64, i64);
typedef int (*pool_backward_fn)(const float *, const uint8_t *, i64, i64, i64, i64, i64, float *, i64, i64, i64,
                                i64);
typedef int (*input_tiles_fn)(const float *, const float *, int, i64, i64, i64, i64, i64, float *, i64, i64, i64);
typedef int (*output_tiles_fn)(const float *, const float *, int, i64, i64, float *, i64, i64, i64, i64, i64, i64);

typedef struct {
    const char *isa;
    pool_forward_fn pool_forward_rows;
    pool_backward_fn pool_backward_rows;
    input_tiles_fn input_tiles_part;
    output_tiles_fn output_tiles_part;
} Build;

#define BUILD(isa, suffix)                                                                                \
    { isa, pool_forward_rows_##suffix, pool_backward_rows_##suffix, input_tiles_part_##suffix,              \
      output_tiles_part_##suffix }

static const Build builds[] = {
    BUILD("default", base),
#if X86_BUILDS
    BUILD("avx2", avx2),
    BUILD("avx512", avx512),
#endif
};

static Build use; /* builds[level], set when the module loads */

/* The widest build this CPU runs (0: baseline, 1: AVX2, 2: AVX-512), capped as torch's
 * ATEN_CPU_CAPABILITY caps torch (default, avx2, avx512): the knob that emulates a smaller CPU
 * caps these loops too. */
static int isa_level(void) {
#if X86_BUILDS
    const char *cap = getenv("ATEN_CPU_CAPABILITY");
    int limit = 2;
    if (cap && strcmp(cap, "default") == 0) limit = 0;
    else if (cap && strcmp(cap, "avx2") == 0) limit = 1;
    __builtin_cpu_init();
    /* Feature by feature, not __builtin_cpu_supports("x86-64-v3"): GCC 11 (Ubuntu 22.04's, the
     * Docker base image's) knows only the features. libgcc checks the OS saves the registers too. */
    int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
             __builtin_cpu_supports("bmi2");
    int v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512cd");
    int level = v4 ? 2 : v3 ? 1 : 0;
    return level < limit ? level : limit;
#else
    return 0;
#endif
}

/* ---- Python functions --------------------------------------------------------------------- */

/* Runs `call` for each piece in 0..chunks on `chunks` OpenMP threads, with the GIL released; ORs the
 * results into `err`. Uses the caller's variables `chunks` and `err`. */
#define SPLIT(call)                                                                                     \
    do {                                                                                                \
        Py_BEGIN_ALLOW_THREADS                                                                          \
        _Pragma("omp parallel for num_threads(chunks) schedule(static) reduction(|:err) if(chunks > 1)") \
        for (i64 piece = 0; piece < chunks; piece++) err |= (call);                                     \
        Py_END_ALLOW_THREADS                                                                            \
    } while (0)

static int bad_chunks(i64 chunks) {
    if (chunks < 1) {
        PyErr_SetString(PyExc_ValueError, "chunks must be at least 1");
        return 1;
    }
    return 0;
}

/* A pooling window the loops take: 1..MAX_WINDOW wide, a positive stride, padding under the window. */
static int window_ok(i64 k, i64 s, i64 p) { return k >= 1 && k <= MAX_WINDOW && s >= 1 && p >= 0 && p < k; }

static PyObject *refuse(Held *h, const char *why) {
    release(h);
    PyErr_SetString(PyExc_ValueError, why);
    return NULL;
}

static PyObject *done(Held *h, int err) {
    release(h);
    if (err) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyObject *pool_forward(PyObject *self, PyObject *args) {
    PyObject *xo, *yo, *ao;
    long long k, s, p, chunks;
    Held h = {.n = 0};
    if (!PyArg_ParseTuple(args, "OLLLOOL:pool_forward", &xo, &k, &s, &p, &yo, &ao, &chunks)) return NULL;
    Py_buffer *x = take(&h, xo, 3, 'f', 0, "x"), *y = x ? take(&h, yo, 3, 'f', 1, "y") : NULL;
    Py_buffer *a = y ? take(&h, ao, 3, 'B', 1, "arg") : NULL;
    if (!a || !same_shape(y, a, "y and arg") || bad_chunks(chunks)) return release(&h), NULL;
    i64 H = x->shape[0], W = x->shape[1], C = x->shape[2], OH = y->shape[0], OW = y->shape[1];
    if (y->shape[2] != C || !window_ok(k, s, p) || (OH > 0 && (OH - 1) * s - p >= H) ||
        (OW > 0 && (OW - 1) * s - p >= W))
        return refuse(&h, "pool_forward: the window, stride, padding and shapes disagree");
    const float *xp = x->buf;
    float *yp = y->buf;
    uint8_t *ap = a->buf;
    int err = 0;
    SPLIT(use.pool_forward_rows(xp, H, W, C, k, s, p, yp, ap, OW, piece * OH / chunks, (piece + 1) * OH / chunks));
    return done(&h, err);
}

static PyObject *pool_backward(PyObject *self, PyObject *args) {
    PyObject *go, *ao, *gxo;
    long long k, s, p, chunks;
    Held h = {.n = 0};
    if (!PyArg_ParseTuple(args, "OOLLLOL:pool_backward", &go, &ao, &k, &s, &p, &gxo, &chunks)) return NULL;
    Py_buffer *g = take(&h, go, 3, 'f', 0, "g"), *a = g ? take(&h, ao, 3, 'B', 0, "arg") : NULL;
    Py_buffer *gx = a ? take(&h, gxo, 3, 'f', 1, "gx") : NULL;
    if (!gx || !same_shape(g, a, "g and arg") || bad_chunks(chunks)) return release(&h), NULL;
    i64 H = gx->shape[0], W = gx->shape[1], C = gx->shape[2], OH = g->shape[0], OW = g->shape[1];
    if (g->shape[2] != C || !window_ok(k, s, p))
        return refuse(&h, "pool_backward: the window, stride, padding and shapes disagree");
    const float *gp = g->buf;
    const uint8_t *ap = a->buf;
    float *gxp = gx->buf;
    int err = 0;
    SPLIT(use.pool_backward_rows(gp, ap, OH, OW, k, s, p, gxp, W, C, piece * H / chunks, (piece + 1) * H / chunks));
    return done(&h, err);
}

static PyObject *input_tiles(PyObject *self, PyObject *args) {
    PyObject *xo, *mo, *vo;
    int masked;
    long long r0, n, tw, chunks;
    Held h = {.n = 0};
    if (!PyArg_ParseTuple(args, "OOpLLLOL:input_tiles", &xo, &mo, &masked, &r0, &n, &tw, &vo, &chunks)) return NULL;
    Py_buffer *x = take(&h, xo, 3, 'f', 0, "x"), *m = x ? take(&h, mo, 3, 'f', 0, "relu_out") : NULL;
    Py_buffer *v = m ? take(&h, vo, 3, 'f', 1, "v") : NULL;
    if (!v || !same_shape(x, m, "x and relu_out") || bad_chunks(chunks)) return release(&h), NULL;
    i64 C = x->shape[2];
    if (n < 0 || tw < 1 || r0 < 0 || v->shape[0] != 36 || v->shape[1] != n * tw || v->shape[2] != C)
        return refuse(&h, "input_tiles: v must be [36, n * tw, C]");
    const float *xp = x->buf, *mp = m->buf;
    float *vp = v->buf;
    i64 H = x->shape[0], W = x->shape[1], tiles = n * tw;
    int err = 0;
    SPLIT(use.input_tiles_part(xp, mp, masked, H, W, C, r0, tw, vp, tiles, piece * tiles / chunks,
                               (piece + 1) * tiles / chunks));
    return done(&h, err);
}

static PyObject *output_tiles(PyObject *self, PyObject *args) {
    PyObject *mo, *bo, *yo;
    int relu;
    long long r0, tw, chunks;
    Held h = {.n = 0};
    if (!PyArg_ParseTuple(args, "OOpLLOL:output_tiles", &mo, &bo, &relu, &r0, &tw, &yo, &chunks)) return NULL;
    Py_buffer *m = take(&h, mo, 3, 'f', 0, "m"), *b = m ? take(&h, bo, 1, 'f', 0, "bias") : NULL;
    Py_buffer *y = b ? take(&h, yo, 3, 'f', 1, "y") : NULL;
    if (!y || bad_chunks(chunks)) return release(&h), NULL;
    i64 K = y->shape[2], tiles = m->shape[1];
    if (tw < 1 || r0 < 0 || m->shape[0] != 36 || m->shape[2] != K || b->shape[0] != K)
        return refuse(&h, "output_tiles: m must be [36, tiles, K] and bias [K] for y [H, W, K]");
    const float *mp = m->buf, *bp = b->buf;
    float *yp = y->buf;
    i64 H = y->shape[0], W = y->shape[1];
    int err = 0;
    SPLIT(use.output_tiles_part(mp, bp, relu, r0, tw, yp, H, W, K, tiles, piece * tiles / chunks,
                                (piece + 1) * tiles / chunks));
    return done(&h, err);
}

static PyObject *isa(PyObject *self, PyObject *unused) { return PyUnicode_FromString(use.isa); }

static PyMethodDef methods[] = {
    {"isa", isa, METH_NOARGS, "isa(): the build of the loops that runs here: 'avx512', 'avx2' or 'default'"},
    {"pool_forward", pool_forward, METH_VARARGS,
     "pool_forward(x, k, s, p, y, arg, chunks): as max_pool_kernels.pool_forward"},
    {"pool_backward", pool_backward, METH_VARARGS,
     "pool_backward(g, arg, k, s, p, gx, chunks): as max_pool_kernels.pool_backward"},
    {"input_tiles", input_tiles, METH_VARARGS,
     "input_tiles(x, relu_out, masked, r0, n, tw, v, chunks): as winograd_kernels.input_tiles"},
    {"output_tiles", output_tiles, METH_VARARGS,
     "output_tiles(m, bias, relu, r0, tw, y, chunks): as winograd_kernels.output_tiles"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "native_loops",
    "DreamBot's CPU loops compiled ahead of time (max-pooling, Winograd's tile transforms); see models/cpu_loops.py.",
    -1, methods, NULL, NULL, NULL, NULL,
};

/* Raised whenever a loop's arguments or results change: models/cpu_loops.py refuses a build
 * (an old .so left in a checkout that was not reinstalled) whose version is not its own. */
#define NATIVE_LOOPS_VERSION 1

PyMODINIT_FUNC PyInit_native_loops(void) {
    use = builds[isa_level()];
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "VERSION", NATIVE_LOOPS_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
