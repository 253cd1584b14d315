#include "CImageCodecs.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

/* ---------------------------------------------------------------- JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char *err;
    int warnings;
} ic_jpeg_error;

static void ic_jpeg_error_exit(j_common_ptr cinfo) {
    ic_jpeg_error *e = (ic_jpeg_error *)cinfo->err;
    char buf[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buf);
    if (e->err) snprintf(e->err, IC_ERRLEN, "libjpeg: %s", buf);
    longjmp(e->jump, 1);
}

static void ic_jpeg_emit(j_common_ptr cinfo, int level) {
    ic_jpeg_error *e = (ic_jpeg_error *)cinfo->err;
    if (level < 0) e->warnings++;
}

static void ic_jpeg_silent(j_common_ptr cinfo) { (void)cinfo; }

static void ic_jpeg_setup_errors(struct jpeg_decompress_struct *cinfo, ic_jpeg_error *e, char *err) {
    cinfo->err = jpeg_std_error(&e->pub);
    e->pub.error_exit = ic_jpeg_error_exit;
    e->pub.emit_message = ic_jpeg_emit;
    e->pub.output_message = ic_jpeg_silent;
    e->err = err;
    e->warnings = 0;
}

int ic_jpeg_probe(const uint8_t *data, size_t len, ic_info *info, char *err) {
    struct jpeg_decompress_struct cinfo;
    ic_jpeg_error e;
    ic_jpeg_setup_errors(&cinfo, &e, err);
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->channels = cinfo.num_components;
    info->bit_depth = 8;
    info->color_type = (int)cinfo.jpeg_color_space;
    info->palette_size = 0;
    info->has_trns = 0;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/* Reads the header and sets up scaled output: RGB (CMYK for CMYK/YCCK files) or gray.
 * Returns whether the output is CMYK. */
static int ic_jpeg_start(struct jpeg_decompress_struct *cinfo, const uint8_t *data, size_t len, int scale_denom,
                         int gray) {
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);
    cinfo->scale_num = 1;
    cinfo->scale_denom = (unsigned)(scale_denom > 0 ? scale_denom : 1);
    int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    if (gray && cmyk) {
        snprintf(((ic_jpeg_error *)cinfo->err)->err, IC_ERRLEN, "gray decoding of CMYK JPEGs is not supported");
        longjmp(((ic_jpeg_error *)cinfo->err)->jump, 1);
    }
    cinfo->out_color_space = gray ? JCS_GRAYSCALE : cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_calc_output_dimensions(cinfo);
    return gray ? 0 : cmyk;
}

int ic_jpeg_scaled_size(const uint8_t *data, size_t len, int scale_denom, int *out_w, int *out_h, char *err) {
    struct jpeg_decompress_struct cinfo;
    ic_jpeg_error e;
    ic_jpeg_setup_errors(&cinfo, &e, err);
    if (setjmp(e.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    ic_jpeg_start(&cinfo, data, len, scale_denom, 0);
    *out_w = (int)cinfo.output_width;
    *out_h = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int ic_jpeg_decode(const uint8_t *data, size_t len, int scale_denom, int gray, uint8_t *out, size_t out_len,
                   int *warnings, char *err) {
    struct jpeg_decompress_struct cinfo;
    ic_jpeg_error e;
    unsigned char *volatile row = NULL;
    ic_jpeg_setup_errors(&cinfo, &e, err);
    if (setjmp(e.jump)) {
        free(row);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    int cmyk = ic_jpeg_start(&cinfo, data, len, scale_denom, gray);
    size_t w = cinfo.output_width, h = cinfo.output_height, channels = gray ? 1 : 3;
    if (out_len < w * h * channels) {
        snprintf(err, IC_ERRLEN, "output buffer too small");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_start_decompress(&cinfo);
    if (cmyk) {
        row = malloc(w * 4);
        if (!row) {
            snprintf(err, IC_ERRLEN, "out of memory");
            jpeg_destroy_decompress(&cinfo);
            return -1;
        }
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        if (cmyk) {
            JSAMPROW r = row;
            jpeg_read_scanlines(&cinfo, &r, 1);
            /* As Pillow: CMYK JPEGs are taken as Adobe-inverted ("CMYK;I"), then
             * R = 255 - K - C*(255 - K)/255 with Pillow's MULDIV255 rounding. */
            uint8_t *dst = out + y * w * 3;
            for (size_t x = 0; x < w; x++) {
                int nk = row[4 * x + 3];
                for (int c = 0; c < 3; c++) {
                    int v = 255 - row[4 * x + c];
                    int tmp = v * nk + 128;
                    int r = nk - (((tmp >> 8) + tmp) >> 8);
                    dst[3 * x + c] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
                }
            }
        } else {
            JSAMPROW r = out + y * w * channels;
            jpeg_read_scanlines(&cinfo, &r, 1);
        }
    }
    jpeg_finish_decompress(&cinfo);
    if (warnings) *warnings = e.warnings;
    free(row);
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int ic_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                   uint8_t **out, size_t *out_len, char *err) {
    struct jpeg_compress_struct cinfo;
    ic_jpeg_error e;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    cinfo.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = ic_jpeg_error_exit;
    e.pub.output_message = ic_jpeg_silent;
    e.err = err;
    if (channels != 1 && channels != 3) {
        snprintf(err, IC_ERRLEN, "JPEG encode takes 1 or 3 channels, not %d", channels);
        return -1;
    }
    if (setjmp(e.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *mem = NULL;
    jpeg_mem_dest(&cinfo, &mem, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW r = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    buffer = mem;
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_len = size;
    return 0;
}

/* ---------------------------------------------------------------- PNG */

typedef struct {
    const uint8_t *data;
    size_t len;
    size_t pos;
} ic_png_reader;

static void ic_png_read(png_structp png, png_bytep out, png_size_t n) {
    ic_png_reader *r = (ic_png_reader *)png_get_io_ptr(png);
    if (r->len - r->pos < n) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(out, r->data + r->pos, n);
    r->pos += n;
}

static void ic_png_error(png_structp png, png_const_charp msg) {
    char *err = (char *)png_get_error_ptr(png);
    if (err) snprintf(err, IC_ERRLEN, "libpng: %s", msg);
    png_longjmp(png, 1);
}

static void ic_png_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

int ic_png_probe(const uint8_t *data, size_t len, ic_info *info, char *err) {
    if (len < 8 || png_sig_cmp(data, 0, 8)) {
        snprintf(err, IC_ERRLEN, "not a PNG file (bad signature)");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, ic_png_error, ic_png_warning);
    if (!png) return -1;
    png_infop pinfo = png_create_info_struct(png);
    ic_png_reader r = {data, len, 0};
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &pinfo, NULL);
        return -1;
    }
    png_set_read_fn(png, &r, ic_png_read);
    png_read_info(png, pinfo);
    info->width = (int)png_get_image_width(png, pinfo);
    info->height = (int)png_get_image_height(png, pinfo);
    info->channels = png_get_channels(png, pinfo);
    info->bit_depth = png_get_bit_depth(png, pinfo);
    info->color_type = png_get_color_type(png, pinfo);
    png_colorp palette = NULL;
    int count = 0;
    if (png_get_PLTE(png, pinfo, &palette, &count) != PNG_INFO_PLTE) count = 0;
    info->palette_size = count;
    info->has_trns = png_get_valid(png, pinfo, PNG_INFO_tRNS) ? 1 : 0;
    png_destroy_read_struct(&png, &pinfo, NULL);
    return 0;
}

int ic_png_decode(const uint8_t *data, size_t len, int mode, uint8_t *out, size_t out_len, char *err) {
    if (len < 8 || png_sig_cmp(data, 0, 8)) {
        snprintf(err, IC_ERRLEN, "not a PNG file (bad signature)");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, err, ic_png_error, ic_png_warning);
    if (!png) return -1;
    png_infop pinfo = png_create_info_struct(png);
    png_bytep *volatile rows = NULL;
    ic_png_reader r = {data, len, 0};
    if (setjmp(png_jmpbuf(png))) {
        free(rows);
        png_destroy_read_struct(&png, &pinfo, NULL);
        return -1;
    }
    png_set_read_fn(png, &r, ic_png_read);
    png_read_info(png, pinfo);
    png_uint_32 w = png_get_image_width(png, pinfo), h = png_get_image_height(png, pinfo);
    int color = png_get_color_type(png, pinfo);
    int depth = png_get_bit_depth(png, pinfo);
    size_t channels = mode == 0 ? 4 : 1;
    if (out_len < (size_t)w * h * channels) png_error(png, "output buffer too small");
    if (mode == 0) {
        if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (png_get_valid(png, pinfo, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
        if (depth == 16) png_set_strip_16(png);
        if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
        png_set_filler(png, 0xFF, PNG_FILLER_AFTER);
    } else {
        if (color != PNG_COLOR_TYPE_PALETTE && color != PNG_COLOR_TYPE_GRAY)
            png_error(png, "an index or gray PNG was expected (colour type is RGB or has alpha)");
        if (depth == 16) png_error(png, "16-bit gray index maps are not supported");
        if (depth < 8) png_set_packing(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    if (png_get_rowbytes(png, pinfo) != (size_t)w * channels) png_error(png, "unexpected row size after transforms");
    rows = malloc(sizeof(png_bytep) * h);
    if (!rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = out + (size_t)y * w * channels;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return 0;
}

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} ic_png_writer;

static void ic_png_write(png_structp png, png_bytep in, png_size_t n) {
    ic_png_writer *w = (ic_png_writer *)png_get_io_ptr(png);
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 65536;
        while (cap < w->len + n) cap *= 2;
        uint8_t *p = realloc(w->data, cap);
        if (!p) png_error(png, "out of memory");
        w->data = p;
        w->cap = cap;
    }
    memcpy(w->data + w->len, in, n);
    w->len += n;
}

static void ic_png_flush(png_structp png) { (void)png; }

int ic_png_encode(const uint8_t *pixels, int width, int height, int channels,
                  const uint8_t *palette_rgb, int palette_count, int compression_level, int strategy,
                  uint8_t **out, size_t *out_len, char *err) {
    int color;
    if (palette_rgb && channels == 1) color = PNG_COLOR_TYPE_PALETTE;
    else if (channels == 1) color = PNG_COLOR_TYPE_GRAY;
    else if (channels == 3) color = PNG_COLOR_TYPE_RGB;
    else if (channels == 4) color = PNG_COLOR_TYPE_RGB_ALPHA;
    else {
        snprintf(err, IC_ERRLEN, "PNG encode takes 1, 3 or 4 channels, not %d", channels);
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, err, ic_png_error, ic_png_warning);
    if (!png) return -1;
    png_infop pinfo = png_create_info_struct(png);
    ic_png_writer wr = {NULL, 0, 0};
    if (setjmp(png_jmpbuf(png))) {
        free(wr.data);
        png_destroy_write_struct(&png, &pinfo);
        return -1;
    }
    png_set_write_fn(png, &wr, ic_png_write, ic_png_flush);
    png_set_compression_level(png, compression_level);
    // zlib's strategy (Z_FILTERED 1, Z_HUFFMAN_ONLY 2, Z_RLE 3); negative: libpng's default.
    if (strategy >= 0) png_set_compression_strategy(png, strategy);
    png_set_IHDR(png, pinfo, (png_uint_32)width, (png_uint_32)height, 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        int n = palette_count > 256 ? 256 : palette_count;
        for (int i = 0; i < n; i++) {
            pal[i].red = palette_rgb[3 * i];
            pal[i].green = palette_rgb[3 * i + 1];
            pal[i].blue = palette_rgb[3 * i + 2];
        }
        png_set_PLTE(png, pinfo, pal, n);
    }
    png_write_info(png, pinfo);
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    png_write_end(png, pinfo);
    png_destroy_write_struct(&png, &pinfo);
    *out = wr.data;
    *out_len = wr.len;
    return 0;
}

void ic_free(void *p) { free(p); }

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t ic_count_white(const uint8_t *rgb, size_t pixels, uint8_t level) {
    size_t count = 0, i = 0;
#if defined(__SSE2__)
    /* 16 pixels (48 bytes) at a time: a byte is "high" when max(byte, level) == byte; a pixel is
     * white when its three bytes are high, i.e. the AND of each byte with the next two, read at
     * the pixel's first byte (positions 0, 3, ..., 45 of the 48). */
    const __m128i l = _mm_set1_epi8((char)level);
    for (; i + 16 <= pixels; i += 16) {
        const uint8_t *p = rgb + 3 * i;
        __m128i a = _mm_loadu_si128((const __m128i *)p);
        __m128i b = _mm_loadu_si128((const __m128i *)(p + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(p + 32));
        __m128i ma = _mm_cmpeq_epi8(_mm_max_epu8(a, l), a);
        __m128i mb = _mm_cmpeq_epi8(_mm_max_epu8(b, l), b);
        __m128i mc = _mm_cmpeq_epi8(_mm_max_epu8(c, l), c);
        __m128i a1 = _mm_or_si128(_mm_srli_si128(ma, 1), _mm_slli_si128(mb, 15));
        __m128i a2 = _mm_or_si128(_mm_srli_si128(ma, 2), _mm_slli_si128(mb, 14));
        __m128i b1 = _mm_or_si128(_mm_srli_si128(mb, 1), _mm_slli_si128(mc, 15));
        __m128i b2 = _mm_or_si128(_mm_srli_si128(mb, 2), _mm_slli_si128(mc, 14));
        __m128i ta = _mm_and_si128(ma, _mm_and_si128(a1, a2));
        __m128i tb = _mm_and_si128(mb, _mm_and_si128(b1, b2));
        __m128i tc = _mm_and_si128(mc, _mm_and_si128(_mm_srli_si128(mc, 1), _mm_srli_si128(mc, 2)));
        count += (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(ta) & 0x9249u)
               + (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(tb) & 0x4924u)
               + (size_t)__builtin_popcount((unsigned)_mm_movemask_epi8(tc) & 0x2492u);
    }
#endif
    for (; i < pixels; i++) {
        const uint8_t *p = rgb + 3 * i;
        count += p[0] >= level && p[1] >= level && p[2] >= level;
    }
    return count;
}
