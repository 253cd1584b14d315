#include "CKernels.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define CK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_CLONES
#endif

static inline float ck_exp(float x) {
    x = x < -87.3f ? -87.3f : x;
    x = x > 88.3f ? 88.3f : x;
    /* Round x log2(e) to an integer by adding 1.5 * 2^23. */
    const float magic = 12582912.0f;
    float shifted = x * 1.44269504f + magic;
    float n = shifted - magic;
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-6f;
    float p = 1.98756915e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float e = p * (r * r) + r + 1.0f;
    int32_t si, mi;
    memcpy(&si, &shifted, 4);
    memcpy(&mi, &magic, 4);
    int32_t bits = (int32_t)((uint32_t)(si - mi + 127) << 23);
    float scale;
    memcpy(&scale, &bits, 4);
    return e * scale;
}

static inline float ck_quick_gelu1(float v) { return v / (1.0f + ck_exp(v * -1.702f)); }

static inline float ck_gelu1(float v) {
    float a = (v < 0 ? -v : v) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float poly = 1.061405429f;
    poly = poly * t - 1.453152027f;
    poly = poly * t + 1.421413741f;
    poly = poly * t - 0.284496736f;
    poly = poly * t + 0.254829592f;
    poly = poly * t;
    float erf_abs = 1.0f - poly * ck_exp(-(a * a));
    float erf = v < 0 ? -erf_abs : erf_abs;
    return v * 0.5f * (1.0f + erf);
}

static inline float ck_gelu_new1(float v) {
    float z = 0.79788456080286536f * (v + 0.044715f * v * v * v);
    /* tanh(z) = 1 - 2 / (e^{2z} + 1). */
    return 0.5f * v * (2.0f - 2.0f / (ck_exp(z + z) + 1.0f));
}

CK_CLONES void ck_quick_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = ck_quick_gelu1(x[i]);
}

CK_CLONES void ck_gelu(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = ck_gelu1(x[i]);
}

CK_CLONES void ck_gelu_new(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) x[i] = ck_gelu_new1(x[i]);
}

/* bfloat16: the upper 16 bits of a float32, rounded to nearest even; NaNs stay NaNs (quiet). */
static inline uint16_t ck_bf16_bits(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

CK_CLONES void ck_f32_to_bf16(const float *x, uint16_t *out, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = ck_bf16_bits(x[i]);
}

CK_CLONES void ck_bf16_to_f32(const uint16_t *x, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(out + i, &u, 4);
    }
}

CK_CLONES void ck_activate_bf16(int kind, const float *x, uint16_t *out, size_t count) {
    switch (kind) {
    case 0: for (size_t i = 0; i < count; i++) out[i] = ck_bf16_bits(ck_quick_gelu1(x[i])); break;
    case 1: for (size_t i = 0; i < count; i++) out[i] = ck_bf16_bits(ck_gelu1(x[i])); break;
    case 2: for (size_t i = 0; i < count; i++) out[i] = ck_bf16_bits(ck_gelu_new1(x[i])); break;
    default: for (size_t i = 0; i < count; i++) out[i] = ck_bf16_bits(x[i] > 0 ? x[i] : 0); break;
    }
}

/* Sixteen independent lanes per reduction, so the loops vectorise without reassociating a sum. */
#define CK_LANES 16

CK_CLONES void ck_softmax_bf16(float *scores, uint16_t *out, size_t count, size_t allowed, const uint8_t *key_mask) {
    if (key_mask) {
        /* Masked keys weigh exactly nothing: -inf before the maximum, 0 after the exponential. */
        int any = 0;
        for (size_t j = 0; j < allowed; j++) {
            if (key_mask[j]) any = 1; else scores[j] = -3.402823466e38f;
        }
        if (!any) allowed = 0;
    }
    if (allowed == 0) { memset(out, 0, count * sizeof *out); return; }
    float top[CK_LANES], part[CK_LANES];
    for (int l = 0; l < CK_LANES; l++) { top[l] = -3.402823466e38f; part[l] = 0; }
    size_t body = allowed / CK_LANES * CK_LANES;
    for (size_t j = 0; j < body; j += CK_LANES)
        for (int l = 0; l < CK_LANES; l++) top[l] = scores[j + l] > top[l] ? scores[j + l] : top[l];
    float maximum = top[0];
    for (int l = 1; l < CK_LANES; l++) maximum = top[l] > maximum ? top[l] : maximum;
    for (size_t j = body; j < allowed; j++) maximum = scores[j] > maximum ? scores[j] : maximum;
    for (size_t j = 0; j < body; j += CK_LANES)
        for (int l = 0; l < CK_LANES; l++) {
            float e = ck_exp(scores[j + l] - maximum);
            scores[j + l] = e;
            part[l] += e;
        }
    float sum = 0;
    for (int l = 0; l < CK_LANES; l++) sum += part[l];
    for (size_t j = body; j < allowed; j++) { float e = ck_exp(scores[j] - maximum); scores[j] = e; sum += e; }
    if (key_mask)
        for (size_t j = 0; j < allowed; j++) if (!key_mask[j]) { sum -= scores[j]; scores[j] = 0; }
    float inv = 1.0f / sum;
    for (size_t j = 0; j < allowed; j++) out[j] = ck_bf16_bits(scores[j] * inv);
    for (size_t j = allowed; j < count; j++) out[j] = 0;
}

CK_CLONES void ck_round_bf16(float *x, size_t count) {
    for (size_t i = 0; i < count; i++) {
        uint32_t u = (uint32_t)ck_bf16_bits(x[i]) << 16;
        memcpy(x + i, &u, 4);
    }
}

int ck_has_avx512_bf16(void) {
#if defined(__x86_64__) && defined(__clang__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") ? 1 : 0;
#else
    return 0;
#endif
}
