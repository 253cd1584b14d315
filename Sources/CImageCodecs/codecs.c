#include "CImageCodecs.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>
#include <libdeflate.h>

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

static uint32_t ic_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int ic_chunk_name_valid(const uint8_t *t) {
    for (int i = 0; i < 4; i++) {
        uint8_t c = t[i] | 0x20;
        if (c < 'a' || c > 'z') return 0;
    }
    return 1;
}

/* Index maps and gray masks the common way (8-bit, gray or palette, not interlaced) without
 * libpng: every chunk's CRC checked, the IDAT stream inflated by libdeflate (its adler32
 * checked), rows unfiltered here. Returns 1 with `out` filled, or 0 when anything is outside
 * that path or not exactly as the PNG specification wants it; libpng then decodes the file
 * (or reports the problem) as before, so what is accepted and the pixels given never change.
 * libpng reads the same files to the same bytes; the gain is inflating: zlib's byte-wise match
 * copies were a fifth of the crop stage on instance maps of photo-sized images. */
static int ic_png_index_fast(const uint8_t *data, size_t len, uint8_t *out, size_t out_len) {
    size_t pos = 8;
    if (len < pos + 12 + 13 || ic_be32(data + pos) != 13 || memcmp(data + pos + 4, "IHDR", 4) != 0) return 0;
    const uint8_t *ihdr = data + pos + 8;
    uint32_t w = ic_be32(ihdr), h = ic_be32(ihdr + 4);
    int depth = ihdr[8], color = ihdr[9];
    if (depth != 8 || (color != 0 && color != 3) || ihdr[10] || ihdr[11] || ihdr[12]) return 0;
    if (w == 0 || h == 0 || w > 1000000 || h > 1000000 || (size_t)w * h > out_len) return 0;
    /* Walk every chunk to IEND: CRCs, order, and where the IDAT data lie. */
    const uint8_t *first_idat = NULL;
    size_t idat_total = 0, idat_count = 0, palette_entries = 0;
    int idat_state = 0, seen_iend = 0; /* 0 before the IDATs, 1 in them, 2 after */
    while (pos + 12 <= len) {
        uint32_t n = ic_be32(data + pos);
        if (n > 8000000 || n > len - pos - 12) return 0; /* libpng's own chunk size limit and truncation */
        const uint8_t *type = data + pos + 4;
        if (!ic_chunk_name_valid(type) || libdeflate_crc32(0, type, (size_t)n + 4) != ic_be32(type + 4 + n)) return 0;
        if (memcmp(type, "IDAT", 4) == 0) {
            if (idat_state == 2) return 0;
            if (idat_state == 0) first_idat = type + 4;
            idat_state = 1;
            idat_total += n;
            idat_count++;
        } else {
            if (idat_state == 1) idat_state = 2;
            if (memcmp(type, "IEND", 4) == 0) {
                if (n != 0 || idat_state == 0) return 0;
                seen_iend = 1;
                break;
            }
            if (memcmp(type, "IHDR", 4) == 0) {
                if (pos != 8) return 0;
            } else if (memcmp(type, "PLTE", 4) == 0) {
                if (color != 3 || palette_entries || idat_state != 0 || n == 0 || n % 3 || n > 768) return 0;
                palette_entries = n / 3;
            } else if (memcmp(type, "tRNS", 4) == 0) {
                if (idat_state != 0 || (color == 3 && (!palette_entries || n > palette_entries)) || (color == 0 && n != 2)) return 0;
            } else if (!(type[0] & 0x20)) {
                return 0; /* an unknown critical chunk */
            }
        }
        pos += 12 + (size_t)n;
    }
    if (!seen_iend || (color == 3 && !palette_entries)) return 0;
    const uint8_t *stream = first_idat;
    uint8_t *joined = NULL;
    if (idat_count > 1) {
        joined = malloc(idat_total);
        if (!joined) return 0;
        size_t at = 0;
        for (const uint8_t *chunk = first_idat - 8; memcmp(chunk + 4, "IDAT", 4) == 0;) {
            uint32_t n = ic_be32(chunk);
            memcpy(joined + at, chunk + 8, n);
            at += n;
            chunk += 12 + (size_t)n;
        }
        stream = joined;
    }
    size_t stride = (size_t)w + 1, raw_len = stride * h, used = 0, produced = 0;
    uint8_t *raw = malloc(raw_len);
    struct libdeflate_decompressor *inflater = raw ? libdeflate_alloc_decompressor() : NULL;
    int ok = inflater && libdeflate_zlib_decompress_ex(inflater, stream, idat_total, raw, raw_len, &used, &produced) ==
                             LIBDEFLATE_SUCCESS && used == idat_total && produced == raw_len;
    if (inflater) libdeflate_free_decompressor(inflater);
    free(joined);
    for (size_t y = 0; ok && y < h; y++) {
        const uint8_t *src = raw + y * stride + 1;
        uint8_t *dst = out + y * w;
        const uint8_t *prev = y ? dst - w : NULL;
        switch (src[-1]) {
        case 0:
            memcpy(dst, src, w);
            break;
        case 1:
            dst[0] = src[0];
            for (size_t x = 1; x < w; x++) dst[x] = (uint8_t)(src[x] + dst[x - 1]);
            break;
        case 2:
            if (!prev) { memcpy(dst, src, w); break; }
            for (size_t x = 0; x < w; x++) dst[x] = (uint8_t)(src[x] + prev[x]);
            break;
        case 3:
            for (size_t x = 0; x < w; x++) {
                unsigned a = x ? dst[x - 1] : 0, b = prev ? prev[x] : 0;
                dst[x] = (uint8_t)(src[x] + ((a + b) >> 1));
            }
            break;
        case 4:
            for (size_t x = 0; x < w; x++) {
                int a = x ? dst[x - 1] : 0, b = prev ? prev[x] : 0, c = prev && x ? prev[x - 1] : 0;
                int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
                dst[x] = (uint8_t)(src[x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c));
            }
            break;
        default:
            ok = 0;
        }
    }
    free(raw);
    return ok;
}

int ic_png_decode(const uint8_t *data, size_t len, int mode, uint8_t *out, size_t out_len, char *err) {
    /* Modes 1 and 3 try the libdeflate path; 3 stops there (tests), 2 is 1 through libpng alone. */
    if ((mode == 1 || mode == 3) && len >= 8 && png_sig_cmp(data, 0, 8) == 0 && ic_png_index_fast(data, len, out, out_len))
        return 0;
    if (mode == 3) {
        snprintf(err, IC_ERRLEN, "outside the libdeflate path");
        return -1;
    }
    if (mode == 2) mode = 1;
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

/* ---------------------------------------------------------------- Resampling
 *
 * Pillow's fixed-point separable passes (libImaging/Resample.c): each output sample is
 * (1 << 21) + sum(pixel * weight) over its taps, weights quantised to 22 bits, then shifted
 * right by 22 and clipped to 0..255. Integer sums are exact whatever their order, so the AVX2
 * kernels below give the scalar loops' bytes exactly.
 *
 * The AVX2 horizontal kernel multiplies 16-bit pixels with vpmaddwd. A 22-bit weight does not
 * fit 16 bits, so it is split as w = hi * 2^15 + lo with 0 <= lo < 2^15: both halves fit, each
 * product pair fits 32 bits, and (sum_hi << 15) + sum_lo equals the sum mod 2^32, which is the
 * sum itself because Pillow's sums fit a signed 32-bit integer. */

#define IC_PRECISION_BITS 22

static inline uint8_t ic_clip8(int32_t v) {
    int32_t s = v >> IC_PRECISION_BITS;
    return s < 0 ? 0 : s > 255 ? 255 : (uint8_t)s;
}

static void ic_horizontal_scalar(const uint8_t *src, int in_width, int channels, int row_begin, int row_count,
                                 uint8_t *dst, int out_width, const int32_t *starts, const int32_t *counts,
                                 const int32_t *weights, int taps) {
    const int32_t half = 1 << (IC_PRECISION_BITS - 1);
    for (int yy = 0; yy < row_count; yy++) {
        const uint8_t *line = src + (size_t)(row_begin + yy) * in_width * channels;
        uint8_t *out = dst + (size_t)yy * out_width * channels;
        for (int xx = 0; xx < out_width; xx++) {
            const int32_t *w = weights + (size_t)xx * taps;
            const uint8_t *p = line + (size_t)starts[xx] * channels;
            for (int c = 0; c < channels; c++) {
                int32_t s = half;
                for (int x = 0; x < counts[xx]; x++) s += (int32_t)p[x * channels + c] * w[x];
                out[xx * channels + c] = ic_clip8(s);
            }
        }
    }
}

static void ic_vertical_scalar(const uint8_t *src, int width, int channels, int row_offset, uint8_t *dst,
                               int out_height, const int32_t *starts, const int32_t *counts,
                               const int32_t *weights, int taps) {
    const int32_t half = 1 << (IC_PRECISION_BITS - 1);
    const size_t stride = (size_t)width * channels;
    for (int yy = 0; yy < out_height; yy++) {
        const int32_t *w = weights + (size_t)yy * taps;
        const uint8_t *first = src + (size_t)(starts[yy] - row_offset) * stride;
        for (size_t i = 0; i < stride; i++) {
            int32_t s = half;
            for (int y = 0; y < counts[yy]; y++) s += (int32_t)first[(size_t)y * stride + i] * w[y];
            dst[(size_t)yy * stride + i] = ic_clip8(s);
        }
    }
}

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define IC_HAVE_AVX2_KERNELS 1

/* Three-channel rows: per output pixel, groups of four taps. The twelve bytes of a group are
 * shuffled to 16-bit [R0 R1 G0 G1 B0 B1 0 0 | R2 R3 G2 G3 B2 B3 0 0] and multiplied with the
 * matching weight halves laid out the same way, prepared once per output pixel. */
__attribute__((target("avx2"))) static void
ic_horizontal_rgb_avx2(const uint8_t *src, size_t src_len, int in_width, int row_begin, int row_count,
                       uint8_t *dst, int out_width, const int32_t *starts, const int32_t *counts,
                       const int32_t *weights, int taps) {
    int groups_max = (taps + 3) / 4;
    size_t table_len = (size_t)out_width * groups_max * 2 * 16;
    int16_t *table = aligned_alloc(32, table_len * sizeof(int16_t) + 32);
    if (!table) {
        ic_horizontal_scalar(src, in_width, 3, row_begin, row_count, dst, out_width, starts, counts, weights, taps);
        return;
    }
    for (int xx = 0; xx < out_width; xx++) {
        for (int g = 0; g < groups_max; g++) {
            int16_t *hi = table + ((size_t)xx * groups_max + g) * 32, *lo = hi + 16;
            memset(hi, 0, 64);
            for (int t = 0; t < 4; t++) {
                int tap = g * 4 + t;
                int32_t w = tap < counts[xx] ? weights[(size_t)xx * taps + tap] : 0;
                int16_t h = (int16_t)(w >> 15), l = (int16_t)(w & 0x7fff);
                int base = (t >> 1) * 8 + (t & 1);
                for (int c = 0; c < 3; c++) { hi[base + 2 * c] = h; lo[base + 2 * c] = l; }
            }
        }
    }
    const __m256i shuffle = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
                                             6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
    const __m256i half = _mm256_set1_epi32(1 << (IC_PRECISION_BITS - 1));
    const uint8_t *end = src + src_len;
    const size_t in_stride = (size_t)in_width * 3;
    /* Two rows at a time: each weight vector is loaded once for both, and the two sums are
     * folded, rounded and packed together. A last odd row pairs with itself. */
    for (int yy = 0; yy < row_count; yy += 2) {
        int pair = yy + 1 < row_count;
        const uint8_t *line_a = src + (size_t)(row_begin + yy) * in_stride;
        const uint8_t *line_b = pair ? line_a + in_stride : line_a;
        uint8_t *out_a = dst + (size_t)yy * out_width * 3;
        uint8_t *out_b = out_a + (size_t)out_width * 3;
        for (int xx = 0; xx < out_width; xx++) {
            const uint8_t *pa = line_a + (size_t)starts[xx] * 3, *pb = line_b + (size_t)starts[xx] * 3;
            const __m256i *w = (const __m256i *)(table + (size_t)xx * groups_max * 32);
            int groups = (counts[xx] + 3) / 4;
            __m256i hi_a = _mm256_setzero_si256(), lo_a = hi_a, hi_b = hi_a, lo_b = hi_a;
            for (int g = 0; g < groups; g++, pa += 12, pb += 12) {
                __m128i bytes_a, bytes_b;
                if (pb + 16 <= end) { /* rows ascend: pb is the later of the two */
                    bytes_a = _mm_loadu_si128((const __m128i *)pa);
                    bytes_b = _mm_loadu_si128((const __m128i *)pb);
                } else {
                    uint8_t tail_a[16] = {0}, tail_b[16] = {0};
                    memcpy(tail_a, pa, (size_t)(end - pa) < 16 ? (size_t)(end - pa) : 16);
                    memcpy(tail_b, pb, (size_t)(end - pb));
                    bytes_a = _mm_loadu_si128((const __m128i *)tail_a);
                    bytes_b = _mm_loadu_si128((const __m128i *)tail_b);
                }
                __m256i px_a = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(bytes_a), shuffle);
                __m256i px_b = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(bytes_b), shuffle);
                __m256i wh = _mm256_load_si256(w + 2 * g), wl = _mm256_load_si256(w + 2 * g + 1);
                hi_a = _mm256_add_epi32(hi_a, _mm256_madd_epi16(px_a, wh));
                lo_a = _mm256_add_epi32(lo_a, _mm256_madd_epi16(px_a, wl));
                hi_b = _mm256_add_epi32(hi_b, _mm256_madd_epi16(px_b, wh));
                lo_b = _mm256_add_epi32(lo_b, _mm256_madd_epi16(px_b, wl));
            }
            __m256i acc_a = _mm256_add_epi32(_mm256_slli_epi32(hi_a, 15), lo_a);
            __m256i acc_b = _mm256_add_epi32(_mm256_slli_epi32(hi_b, 15), lo_b);
            /* [a taps 0-1 | b taps 0-1] + [a taps 2-3 | b taps 2-3] = [sum a | sum b] */
            __m256i sum = _mm256_add_epi32(_mm256_permute2x128_si256(acc_a, acc_b, 0x20),
                                           _mm256_permute2x128_si256(acc_a, acc_b, 0x31));
            sum = _mm256_srai_epi32(_mm256_add_epi32(sum, half), IC_PRECISION_BITS);
            sum = _mm256_packus_epi16(_mm256_packs_epi32(sum, sum), sum);
            uint32_t rgb_a = (uint32_t)_mm256_extract_epi32(sum, 0), rgb_b = (uint32_t)_mm256_extract_epi32(sum, 4);
            memcpy(out_a + xx * 3, &rgb_a, 3);
            if (pair) memcpy(out_b + xx * 3, &rgb_b, 3);
        }
    }
    free(table);
}

/* Any channel count: 32 bytes of a row at a time in four 8-lane accumulators held in registers
 * across the taps (vpmulld), then the rest one byte at a time. */
__attribute__((target("avx2"))) static void
ic_vertical_avx2(const uint8_t *src, int width, int channels, int row_offset, uint8_t *dst, int out_height,
                 const int32_t *starts, const int32_t *counts, const int32_t *weights, int taps) {
    const size_t stride = (size_t)width * channels;
    const __m256i half = _mm256_set1_epi32(1 << (IC_PRECISION_BITS - 1));
    for (int yy = 0; yy < out_height; yy++) {
        const int32_t *w = weights + (size_t)yy * taps;
        const uint8_t *first = src + (size_t)(starts[yy] - row_offset) * stride;
        uint8_t *out = dst + (size_t)yy * stride;
        size_t i = 0;
        for (; i + 32 <= stride; i += 32) {
            __m256i a0 = half, a1 = half, a2 = half, a3 = half;
            const uint8_t *p = first + i;
            for (int y = 0; y < counts[yy]; y++, p += stride) {
                __m256i wy = _mm256_set1_epi32(w[y]);
                a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)), wy));
                a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 8))), wy));
                a2 = _mm256_add_epi32(a2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 16))), wy));
                a3 = _mm256_add_epi32(a3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 24))), wy));
            }
            a0 = _mm256_srai_epi32(a0, IC_PRECISION_BITS);
            a1 = _mm256_srai_epi32(a1, IC_PRECISION_BITS);
            a2 = _mm256_srai_epi32(a2, IC_PRECISION_BITS);
            a3 = _mm256_srai_epi32(a3, IC_PRECISION_BITS);
            /* packs/packus work within 128-bit lanes; the permute puts the 32 bytes back in order. */
            __m256i words = _mm256_packs_epi32(a0, a1), words2 = _mm256_packs_epi32(a2, a3);
            __m256i bytes = _mm256_packus_epi16(words, words2);
            bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(out + i), bytes);
        }
        for (; i < stride; i++) {
            int32_t s = 1 << (IC_PRECISION_BITS - 1);
            for (int y = 0; y < counts[yy]; y++) s += (int32_t)first[(size_t)y * stride + i] * w[y];
            out[i] = ic_clip8(s);
        }
    }
}

static int ic_has_avx2(void) {
    static int known = -1;
    if (known < 0) {
        __builtin_cpu_init();
        known = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return known;
}
#endif

void ic_resample_horizontal(const uint8_t *src, size_t src_len, int in_width, int channels, int row_begin,
                            int row_count, uint8_t *dst, int out_width, const int32_t *starts,
                            const int32_t *counts, const int32_t *weights, int taps, int portable) {
#ifdef IC_HAVE_AVX2_KERNELS
    if (!portable && channels == 3 && ic_has_avx2()) {
        ic_horizontal_rgb_avx2(src, src_len, in_width, row_begin, row_count, dst, out_width, starts, counts, weights, taps);
        return;
    }
#endif
    (void)src_len;
    ic_horizontal_scalar(src, in_width, channels, row_begin, row_count, dst, out_width, starts, counts, weights, taps);
}

void ic_resample_vertical(const uint8_t *src, int width, int channels, int row_offset, uint8_t *dst,
                          int out_height, const int32_t *starts, const int32_t *counts, const int32_t *weights,
                          int taps, int portable) {
#ifdef IC_HAVE_AVX2_KERNELS
    if (!portable && ic_has_avx2()) {
        ic_vertical_avx2(src, width, channels, row_offset, dst, out_height, starts, counts, weights, taps);
        return;
    }
#endif
    ic_vertical_scalar(src, width, channels, row_offset, dst, out_height, starts, counts, weights, taps);
}

int ic_resample_uses_avx2(void) {
#ifdef IC_HAVE_AVX2_KERNELS
    return ic_has_avx2();
#else
    return 0;
#endif
}
