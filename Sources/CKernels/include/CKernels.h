#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/* Elementwise activations over float32 arrays, in place. Compiled once per x86-64 level
   (AVX-512, AVX2+FMA, baseline) and chosen at load time by the CPU, since Swift's SIMD types are
   compiled for the baseline only. e^x is the Cody-Waite + Cephes polynomial of
   Tensor's VectorMath.exp8 (about 1 ulp on [-87, 88], inputs clamped). */

/* x * sigmoid(1.702 x) (CLIP's quick_gelu). */
void ck_quick_gelu(float *x, size_t count);
/* x * Phi(x) with erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7; PyTorch's "gelu"). */
void ck_gelu(float *x, size_t count);
/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) ("gelu_new"). */
void ck_gelu_new(float *x, size_t count);


/* bfloat16 conversions (round to nearest even, NaN kept) and a float32 array rounded to
   bfloat16 precision in place. */
void ck_f32_to_bf16(const float *x, uint16_t *out, size_t count);
void ck_bf16_to_f32(const uint16_t *x, float *out, size_t count);
void ck_round_bf16(float *x, size_t count);
/* The softmax of one row of attention scores, stored as bfloat16: keys j < allowed whose
   key_mask[j] is nonzero (every key when key_mask is NULL) get e^(s_j - max) / sum, the others
   exactly 0; a row with no allowed key is all zeros. The scores are overwritten. */
void ck_softmax_bf16(float *scores, uint16_t *out, size_t count, size_t allowed, const uint8_t *key_mask);
/* An activation (0 quick_gelu, 1 gelu, 2 gelu_new, 3 relu: the functions above) applied to float32
   values and the results stored as bfloat16: one pass for an MLP's hidden layer. */
void ck_activate_bf16(int kind, const float *x, uint16_t *out, size_t count);
/* 1 when the CPU has AVX512-BF16 (vdpbf16ps). */
int ck_has_avx512_bf16(void);

#endif
