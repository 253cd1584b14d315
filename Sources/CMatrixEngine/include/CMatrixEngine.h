#ifndef CMATRIXENGINE_H
#define CMATRIXENGINE_H
#include <stddef.h>
#include <stdint.h>

/* The CPU's matrix engines, chosen at load by what the CPU can do.

   float32: OpenBLAS (DYNAMIC_ARCH) picks its kernels from a table of CPU models in its
   constructor; a model newer than the table gets a generic SSE kernel. A constructor here runs
   after OpenBLAS's and before main: where the user set no OPENBLAS_CORETYPE and OpenBLAS chose a
   kernel family below what the CPU's features allow, it re-initialises OpenBLAS with the family
   the features name (the environment is left as it was).

   bfloat16: oneDNN's matmul primitive (bf16 source and weights, f32 destination), weights
   reordered once into the primitive's preferred layout, primitives cached per thread and shape. */

/* CPU features that the choices read (CPUID, with the OS's register state). */
typedef struct {
    int intel, amd;
    int avx, avx2, fma, avx512f, avx512bw, avx512vl, avx512dq, avx512cd, avx512_bf16, amx_bf16;
    int family, model;
} me_cpu;

/* This CPU's features. */
me_cpu me_cpu_features(void);

/* The OpenBLAS kernel family the features allow ("Cooperlake", "SkylakeX", "Haswell", "Zen",
   "Sandybridge"), or NULL where they name none beyond SSE. */
const char *me_openblas_core_for(me_cpu cpu);

/* The choice made: NULL to keep OpenBLAS's own, else the family to switch to. Pure: from the
   features, the user's OPENBLAS_CORETYPE (NULL when unset) and OpenBLAS's own choice. */
const char *me_openblas_core_choice(me_cpu cpu, const char *environment, const char *library);

/* What the constructor did: OpenBLAS's own choice, and the family switched to (empty when kept). */
const char *me_openblas_library_choice(void);
const char *me_openblas_switched_to(void);
int me_openblas_environment_set(void);

/* The bfloat16 engine. 1 when oneDNN gives a bf16 matmul on this CPU; `impl` receives the name of
   the implementation it chose for a probe shape (or the reason there is none). */
int me_bf16_probe(char *impl, size_t capacity);

typedef struct me_weights me_weights;

/* 1 when oneDNN gives a float32 matmul; `impl` receives its implementation's name for a probe shape. */
int me_f32_probe(char *impl, size_t capacity);

/* Weights W [n, k] (PyTorch's Linear layout, row-major; bfloat16, or float32 with `f32`) reordered
   into the engine's preferred layout. NULL on failure, with the reason in `error`. */
me_weights *me_weights_create(const void *w, int64_t n, int64_t k, int f32, char *error, size_t capacity);
void me_weights_free(me_weights *w);
/* Bytes the reordered weights take. */
size_t me_weights_bytes(const me_weights *w);

/* dst [m, n] (leading dimension ldc) = src [m, k] (the weights' type, leading dimension lda) · Wᵀ
   (+ bias [n]) (+ dst when accumulate), with `threads` OpenMP threads; dst is float32, or
   bfloat16 (rounded to nearest even) when dst_bf16. 0 on success. */
int me_matmul(const me_weights *w, const void *src, int64_t m, int64_t lda, void *dst, int64_t ldc,
              const float *bias, int accumulate, int dst_bf16, int threads);

/* dst [m, n] = alpha · A [m, k] · op(B) for bf16 A (lda) and B: B [k, n] (ldb) or, transposed, B is
   stored [n, k] (ldb); dst f32 with ldc. The attention products. 0 on success. */
int me_matmul_plain(const uint16_t *a, int64_t lda, const uint16_t *b, int64_t ldb, int transpose_b,
                    float *dst, int64_t ldc, int64_t m, int64_t n, int64_t k, float alpha, int threads);

/* The implementation oneDNN chose for the last primitive this thread created. */
const char *me_last_impl(void);

#endif
