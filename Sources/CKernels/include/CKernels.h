#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>

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

#endif
