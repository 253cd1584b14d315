#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
/* A small C shim over libjpeg(-turbo) and libpng. Both libraries report fatal errors by
 * longjmp, which Swift cannot catch, so every entry point here sets its own jump buffer and
 * turns a fatal error into a non-zero return with a message in `err`. */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { IC_ERRLEN = 200 };

typedef struct {
    int width;
    int height;
    int channels;     /* components in the file: 1 gray, 3 colour, 4 CMYK/RGBA, 2 gray+alpha */
    int bit_depth;    /* 8 for JPEG */
    int color_type;   /* JPEG: J_COLOR_SPACE of the file; PNG: PNG_COLOR_TYPE_* */
    int palette_size; /* PNG palette entries, 0 if none */
    int has_trns;     /* PNG tRNS chunk present */
} ic_info;

/* JPEG header: dimensions and colour space; no pixel data is decoded. */
int ic_jpeg_probe(const uint8_t *data, size_t len, ic_info *info, char *err);
/* Decode with DCT scaling by 1/scale_denom (1, 2, 4 or 8) to interleaved RGB8 (gray, YCbCr and
 * CMYK/YCCK converted), or with gray != 0 to one 8-bit channel as libjpeg produces it (the Y
 * component of YCbCr files: what OpenCV's imread(..., IMREAD_GRAYSCALE) returns; CMYK refused).
 * `out` must hold out_w*out_h*3 (gray: out_w*out_h) bytes, sizes from ic_jpeg_scaled_size.
 * Returns 0, or -1 with a message; *warnings counts libjpeg warnings (a truncated stream
 * decodes with warnings, not an error). */
int ic_jpeg_scaled_size(const uint8_t *data, size_t len, int scale_denom, int *out_w, int *out_h, char *err);
int ic_jpeg_decode(const uint8_t *data, size_t len, int scale_denom, int gray, uint8_t *out, size_t out_len,
                   int *warnings, char *err);
/* Encode RGB8 (channels 3) or gray (channels 1); *out is malloc'ed, free with ic_free. */
int ic_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                   uint8_t **out, size_t *out_len, char *err);

/* PNG header. */
int ic_png_probe(const uint8_t *data, size_t len, ic_info *info, char *err);
/* mode 0: decode to RGBA8 (palette expanded, 16-bit reduced, gray to RGB).
 * mode 1: decode to one 8-bit channel of raw sample values: palette indices for palette
 *         images, gray levels for gray images (16-bit keeps the low byte is refused: error).
 * mode 2: as mode 1, always through libpng (mode 1 takes a libdeflate path for 8-bit,
 *         non-interlaced files and falls back to libpng for anything else; same bytes, same errors).
 * mode 3: the libdeflate path alone (-1 for files it hands to libpng; for tests).
 * `out` must hold width*height*(mode==0 ? 4 : 1) bytes. */
int ic_png_decode(const uint8_t *data, size_t len, int mode, uint8_t *out, size_t out_len, char *err);
/* Encode 8-bit pixels with 1 (gray), 3 (RGB) or 4 (RGBA) channels; with a palette
 * (palette_rgb of palette_count*3 bytes) and channels 1, writes a palette image whose pixel
 * values are the indices. `strategy` is zlib's (1 filtered, 2 Huffman only, 3 RLE), negative
 * for libpng's default. *out is malloc'ed, free with ic_free. */
int ic_png_encode(const uint8_t *pixels, int width, int height, int channels,
                  const uint8_t *palette_rgb, int palette_count, int compression_level, int strategy,
                  uint8_t **out, size_t *out_len, char *err);

void ic_free(void *p);

/* Pixels of packed RGB whose three channels are all >= level. */
size_t ic_count_white(const uint8_t *rgb, size_t pixels, uint8_t level);

/* Pillow's fixed-point resampling passes (22-bit weights, Resample.c semantics), exact.
 * Per output index: first input index `starts[i]`, `counts[i]` taps, weights at
 * `weights[i * taps ...]`. Horizontal: rows row_begin..row_begin+row_count of src (src_len bytes
 * in all) to out_width pixels per row. Vertical: output row i reads input rows
 * starts[i] - row_offset onwards. AVX2 kernels when the CPU has AVX2 and `portable` is 0, the
 * portable loops otherwise; both give the same bytes. */
void ic_resample_horizontal(const uint8_t *src, size_t src_len, int in_width, int channels, int row_begin,
                            int row_count, uint8_t *dst, int out_width, const int32_t *starts,
                            const int32_t *counts, const int32_t *weights, int taps, int portable);
void ic_resample_vertical(const uint8_t *src, int width, int channels, int row_offset, uint8_t *dst,
                          int out_height, const int32_t *starts, const int32_t *counts, const int32_t *weights,
                          int taps, int portable);
/* 1 when the AVX2 resampling kernels run on this CPU. */
int ic_resample_uses_avx2(void);

#ifdef __cplusplus
}
#endif
#endif
