#include "CMatrixEngine.h"
#include <dnnl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

/* ---- CPU features ---------------------------------------------------------------------- */

#if defined(__x86_64__)
static uint64_t me_xgetbv(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

me_cpu me_cpu_features(void) {
    me_cpu c;
    memset(&c, 0, sizeof c);
#if defined(__x86_64__)
    unsigned a, b, cx, d;
    if (!__get_cpuid(0, &a, &b, &cx, &d)) return c;
    unsigned top = a;
    char vendor[13];
    memcpy(vendor, &b, 4); memcpy(vendor + 4, &d, 4); memcpy(vendor + 8, &cx, 4); vendor[12] = 0;
    c.intel = strcmp(vendor, "GenuineIntel") == 0;
    c.amd = strcmp(vendor, "AuthenticAMD") == 0;
    __get_cpuid(1, &a, &b, &cx, &d);
    unsigned base = (a >> 8) & 0xf;
    c.family = (int)(base == 0xf ? base + ((a >> 20) & 0xff) : base);
    c.model = (int)(((a >> 4) & 0xf) | ((base == 6 || base == 0xf) ? ((a >> 16) & 0xf) << 4 : 0));
    int osxsave = (cx >> 27) & 1;
    uint64_t xcr0 = osxsave ? me_xgetbv() : 0;
    int ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0, tiles = (xcr0 & 0x60000) == 0x60000;
    c.avx = ymm && ((cx >> 28) & 1);
    c.fma = ymm && ((cx >> 12) & 1);
    if (top >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        c.avx2 = ymm && ((b >> 5) & 1);
        c.avx512f = zmm && ((b >> 16) & 1);
        c.avx512dq = zmm && ((b >> 17) & 1);
        c.avx512cd = zmm && ((b >> 28) & 1);
        c.avx512bw = zmm && ((b >> 30) & 1);
        c.avx512vl = zmm && ((b >> 31) & 1);
        /* AMX tiles: the CPU bits and the kernel's XCR0 support (a process asks for them; oneDNN does). */
        c.amx_bf16 = tiles && ((d >> 22) & 1) && ((d >> 24) & 1);
        unsigned max7 = a;
        if (max7 >= 1) {
            __cpuid_count(7, 1, a, b, cx, d);
            c.avx512_bf16 = zmm && ((a >> 5) & 1);
        }
    }
#endif
    return c;
}

/* ---- OpenBLAS's kernel family ---------------------------------------------------------- */

const char *me_openblas_core_for(me_cpu c) {
    int skylakex = c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512cd;
    if (skylakex && c.avx512_bf16) return "Cooperlake";
    if (skylakex) return "SkylakeX";
    if (c.avx2 && c.fma) return c.amd ? "Zen" : "Haswell";
    if (c.avx) return "Sandybridge";
    return NULL;
}

/* The instruction level of an OpenBLAS kernel family: 0 SSE, 1 AVX, 2 AVX2, 3 AVX-512,
   4 AVX-512 + BF16, 5 AMX; -1 unknown. */
static int me_core_rank(const char *name) {
    static const struct { const char *name; int rank; } table[] = {
        {"Prescott", 0}, {"Katmai", 0}, {"Coppermine", 0}, {"Northwood", 0}, {"Banias", 0}, {"Athlon", 0},
        {"Core2", 0}, {"Penryn", 0}, {"Dunnington", 0}, {"Nehalem", 0}, {"Atom", 0}, {"Nano", 0},
        {"Opteron", 0}, {"Opteron_SSE3", 0}, {"Barcelona", 0}, {"Bobcat", 0},
        {"Sandybridge", 1}, {"Bulldozer", 1}, {"Piledriver", 1}, {"Steamroller", 1}, {"Excavator", 1},
        {"Haswell", 2}, {"Zen", 2}, {"SkylakeX", 3}, {"Cooperlake", 4}, {"SapphireRapids", 5},
    };
    if (!name) return -1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcasecmp(table[i].name, name) == 0) return table[i].rank;
    return -1;
}

const char *me_openblas_core_choice(me_cpu cpu, const char *environment, const char *library) {
    if (environment && *environment) return NULL;  /* the user's choice always wins */
    const char *wanted = me_openblas_core_for(cpu);
    if (!wanted) return NULL;
    int have = me_core_rank(library);
    /* An unknown name is a family newer than this table (kept), never a downgrade. */
    if (library && have < 0) return NULL;
    return have < me_core_rank(wanted) ? wanted : NULL;
}

extern char *openblas_get_corename(void);
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static char me_library_choice[32], me_switched[32];
static int me_environment_set;

const char *me_openblas_library_choice(void) { return me_library_choice; }
const char *me_openblas_switched_to(void) { return me_switched; }
int me_openblas_environment_set(void) { return me_environment_set; }

/* Re-initialises OpenBLAS's dynamic dispatch with `name` (read by OpenBLAS from OPENBLAS_CORETYPE,
   which is set for that moment only). */
static void me_openblas_use(const char *name) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
    gotoblas_dynamic_quit();
    setenv("OPENBLAS_CORETYPE", name, 1);
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
}

/* The encoders allocate activations of 5-35 MB per layer. glibc serves blocks above its mmap
   threshold (at most 32 MB, adapted as blocks are freed) with fresh mappings, so every layer
   paid page faults and page clearing (9 % of a ViT-L/14 bf16 run's samples in the kernel); kept
   in the heap and reused, ViT-L/14 bf16 ran 7 % faster and B/32 4 % with a lower peak (measured
   2026-12-08). A user's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ wins. */
static void me_tune_malloc(void) {
#if defined(__GLIBC__)
    if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 256 << 20);
    if (!getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 512 << 20);
#endif
}

__attribute__((constructor)) static void me_choose_openblas_core(void) {
    me_tune_malloc();
    const char *environment = getenv("OPENBLAS_CORETYPE");
    me_environment_set = environment && *environment;
    /* Test hook: behave as if OpenBLAS's model table had chosen this family (a CPU it does not know). */
    const char *simulate = getenv("ECLIPSE_SIMULATE_OPENBLAS_CHOICE");
    if (!me_environment_set && simulate && *simulate) me_openblas_use(simulate);
    snprintf(me_library_choice, sizeof me_library_choice, "%s", openblas_get_corename());
    const char *choice = me_openblas_core_choice(me_cpu_features(), environment, me_library_choice);
    if (choice) {
        me_openblas_use(choice);
        snprintf(me_switched, sizeof me_switched, "%s", openblas_get_corename());
    }
}

/* ---- oneDNN --------------------------------------------------------------------------- */

extern void omp_set_num_threads(int);

static dnnl_engine_t me_engine;
static pthread_once_t me_engine_once = PTHREAD_ONCE_INIT;
static void me_engine_init(void) {
    if (dnnl_engine_create(&me_engine, dnnl_cpu, 0) != dnnl_success) me_engine = NULL;
}
static dnnl_engine_t me_get_engine(void) {
    pthread_once(&me_engine_once, me_engine_init);
    return me_engine;
}

struct me_weights {
    dnnl_memory_desc_t md;
    dnnl_memory_t memory;
    int64_t n, k;
    dnnl_data_type_t type;
};

/* Primitives are created and run in the same thread (oneDNN's shared scratchpad asks for it):
   a small cache per thread, keyed by everything the primitive depends on. */
typedef struct {
    int kind;  /* 0: weights product, 1: plain product */
    int64_t m, n, k, lda, ldb, ldc;
    int bias, accumulate, transpose_b, threads, dst_bf16;
    float alpha;
    dnnl_memory_desc_t weights_md;
    dnnl_primitive_t primitive;
} me_entry;

#define ME_CACHE 96
static __thread me_entry me_cache[ME_CACHE];
static __thread int me_cache_count, me_cache_next;
static __thread dnnl_stream_t me_stream;
static __thread char me_impl[128];

const char *me_last_impl(void) { return me_impl; }

static dnnl_stream_t me_get_stream(void) {
    if (!me_stream && me_get_engine()) {
        if (dnnl_stream_create(&me_stream, me_get_engine(), dnnl_stream_default_flags) != dnnl_success) me_stream = NULL;
    }
    return me_stream;
}

static int me_same(const me_entry *a, const me_entry *b) {
    return a->kind == b->kind && a->m == b->m && a->n == b->n && a->k == b->k && a->lda == b->lda && a->ldb == b->ldb
        && a->ldc == b->ldc && a->bias == b->bias && a->accumulate == b->accumulate && a->transpose_b == b->transpose_b
        && a->threads == b->threads && a->alpha == b->alpha && a->dst_bf16 == b->dst_bf16
        && (a->kind != 0 || dnnl_memory_desc_equal(&a->weights_md, &b->weights_md));
}

static me_entry *me_lookup(const me_entry *key) {
    for (int i = 0; i < me_cache_count; i++)
        if (me_same(&me_cache[i], key)) return &me_cache[i];
    return NULL;
}

static me_entry *me_insert(const me_entry *key, dnnl_primitive_t primitive) {
    int slot = me_cache_count < ME_CACHE ? me_cache_count++ : (me_cache_next++ % ME_CACHE);
    if (me_cache[slot].primitive) dnnl_primitive_destroy(me_cache[slot].primitive);
    me_cache[slot] = *key;
    me_cache[slot].primitive = primitive;
    return &me_cache[slot];
}

/* The primitive descriptor for `desc` with `attr` (NULL where oneDNN has none); records the
   implementation's name. */
static dnnl_primitive_desc_t me_describe(const dnnl_matmul_desc_t *desc, const_dnnl_primitive_attr_t attr) {
    dnnl_primitive_desc_t pd;
    if (dnnl_primitive_desc_create(&pd, desc, attr, me_get_engine(), NULL) != dnnl_success) return NULL;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
        snprintf(me_impl, sizeof me_impl, "%s", impl);
    return pd;
}

/* A primitive for `desc` with `attr`, or NULL. */
static dnnl_primitive_t me_create(const dnnl_matmul_desc_t *desc, const_dnnl_primitive_attr_t attr) {
    dnnl_primitive_desc_t pd = me_describe(desc, attr);
    if (!pd) return NULL;
    dnnl_primitive_t p = NULL;
    if (dnnl_primitive_create(&p, pd) != dnnl_success) p = NULL;
    dnnl_primitive_desc_destroy(pd);
    return p;
}

/* The probe shape's preferred weights layout for [k, n] weights (stored [n, k]) of `type`. */
static int me_preferred(int64_t n, int64_t k, dnnl_data_type_t type, dnnl_memory_desc_t *out, char *impl, size_t capacity) {
    if (!me_get_engine()) { snprintf(impl, capacity, "oneDNN has no CPU engine"); return 0; }
    dnnl_memory_desc_t src, wei, dst;
    dnnl_dims_t sd = {256, k}, wd = {k, n}, dd = {256, n};
    dnnl_memory_desc_init_by_tag(&src, 2, sd, type, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&wei, 2, wd, type, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &src, &wei, NULL, &dst) != dnnl_success) {
        snprintf(impl, capacity, "oneDNN refused a %s matmul descriptor", type == dnnl_f32 ? "f32" : "bf16");
        return 0;
    }
    dnnl_primitive_desc_t pd = me_describe(&desc, NULL);
    if (!pd) { snprintf(impl, capacity, "oneDNN has no %s matmul on this CPU", type == dnnl_f32 ? "f32" : "bf16"); return 0; }
    *out = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    snprintf(impl, capacity, "%s", me_impl);
    dnnl_primitive_desc_destroy(pd);
    return 1;
}

int me_bf16_probe(char *impl, size_t capacity) {
    dnnl_memory_desc_t md;
    return me_preferred(3072, 768, dnnl_bf16, &md, impl, capacity);
}

int me_f32_probe(char *impl, size_t capacity) {
    dnnl_memory_desc_t md;
    return me_preferred(3072, 768, dnnl_f32, &md, impl, capacity);
}

me_weights *me_weights_create(const void *w, int64_t n, int64_t k, int f32, char *error, size_t capacity) {
    me_weights *out = calloc(1, sizeof *out);
    if (!out) { snprintf(error, capacity, "out of memory"); return NULL; }
    out->n = n; out->k = k; out->type = f32 ? dnnl_f32 : dnnl_bf16;
    char impl[128];
    if (!me_preferred(n, k, out->type, &out->md, impl, sizeof impl)) { snprintf(error, capacity, "%s", impl); free(out); return NULL; }
    dnnl_memory_desc_t plain;
    dnnl_dims_t wd = {k, n}, ws = {1, k};
    dnnl_memory_desc_init_by_strides(&plain, 2, wd, out->type, ws);
    dnnl_memory_t from = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    int ok = dnnl_memory_create(&out->memory, &out->md, me_get_engine(), DNNL_MEMORY_ALLOCATE) == dnnl_success
        && dnnl_memory_create(&from, &plain, me_get_engine(), (void *)w) == dnnl_success
        && dnnl_reorder_primitive_desc_create(&rpd, &plain, me_get_engine(), &out->md, me_get_engine(), NULL) == dnnl_success
        && dnnl_primitive_create(&reorder, rpd) == dnnl_success;
    if (ok) {
        omp_set_num_threads(1);  /* at load: no OpenMP team left spinning beside the encoders' threads */
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, out->memory}};
        ok = me_get_stream() && dnnl_primitive_execute(reorder, me_get_stream(), 2, args) == dnnl_success
            && dnnl_stream_wait(me_get_stream()) == dnnl_success;
    }
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (from) dnnl_memory_destroy(from);
    if (!ok) {
        snprintf(error, capacity, "oneDNN could not reorder a %lld x %lld %s matrix", (long long)n, (long long)k, f32 ? "f32" : "bf16");
        me_weights_free(out);
        return NULL;
    }
    return out;
}

void me_weights_free(me_weights *w) {
    if (!w) return;
    if (w->memory) dnnl_memory_destroy(w->memory);
    free(w);
}

size_t me_weights_bytes(const me_weights *w) { return dnnl_memory_desc_get_size(&w->md); }

/* Runs `p` on the caller's buffers: `count` (argument, descriptor, pointer) triples wrapped as
   oneDNN memories for the call, plus the weights' own memory when `weights` is given. */
static int me_run(dnnl_primitive_t p, int count, const int *kinds, const dnnl_memory_desc_t *const *mds, void *const *data,
                  dnnl_memory_t weights) {
    dnnl_exec_arg_t args[5];
    int n = 0, status = -1;
    for (; n < count; n++) {
        args[n].arg = kinds[n];
        if (dnnl_memory_create(&args[n].memory, mds[n], me_get_engine(), data[n]) != dnnl_success) goto done;
    }
    if (weights) args[count] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, weights};
    status = dnnl_primitive_execute(p, me_get_stream(), count + (weights != NULL), args) == dnnl_success
        && dnnl_stream_wait(me_get_stream()) == dnnl_success ? 0 : -1;
done:
    for (int i = 0; i < n; i++) dnnl_memory_destroy(args[i].memory);
    return status;
}

int me_matmul(const me_weights *w, const void *src, int64_t m, int64_t lda, void *dst, int64_t ldc,
              const float *bias, int accumulate, int dst_bf16, int threads) {
    if (!me_get_stream()) return -1;
    omp_set_num_threads(threads < 1 ? 1 : threads);
    me_entry key;
    memset(&key, 0, sizeof key);
    key.kind = 0; key.m = m; key.n = w->n; key.k = w->k; key.lda = lda; key.ldc = ldc;
    key.bias = bias != NULL; key.accumulate = accumulate; key.threads = threads; key.weights_md = w->md;
    key.dst_bf16 = dst_bf16;
    dnnl_memory_desc_t sm, dm, bm;
    dnnl_dims_t sd = {m, w->k}, ss = {lda, 1}, dd = {m, w->n}, ds = {ldc, 1}, bd = {1, w->n};
    dnnl_memory_desc_init_by_strides(&sm, 2, sd, w->type, ss);
    dnnl_memory_desc_init_by_strides(&dm, 2, dd, dst_bf16 ? dnnl_bf16 : dnnl_f32, ds);
    dnnl_memory_desc_init_by_tag(&bm, 2, bd, dnnl_f32, dnnl_ab);
    me_entry *e = me_lookup(&key);
    if (!e) {
        dnnl_matmul_desc_t desc;
        if (dnnl_matmul_desc_init(&desc, &sm, &w->md, bias ? &bm : NULL, &dm) != dnnl_success) return -1;
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t ops = NULL;
        if (accumulate) {
            dnnl_primitive_attr_create(&attr);
            dnnl_post_ops_create(&ops);
            dnnl_post_ops_append_sum(ops, 1.0f);
            dnnl_primitive_attr_set_post_ops(attr, ops);
        }
        dnnl_primitive_t p = me_create(&desc, attr);
        if (ops) dnnl_post_ops_destroy(ops);
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (!p) return -1;
        e = me_insert(&key, p);
    }
    const int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_BIAS};
    const dnnl_memory_desc_t *mds[] = {&sm, &dm, &bm};
    void *data[] = {(void *)src, dst, (void *)bias};
    return me_run(e->primitive, bias ? 3 : 2, kinds, mds, data, w->memory);
}

int me_matmul_plain(const uint16_t *a, int64_t lda, const uint16_t *b, int64_t ldb, int transpose_b,
                    float *dst, int64_t ldc, int64_t m, int64_t n, int64_t k, float alpha, int threads) {
    if (!me_get_stream()) return -1;
    omp_set_num_threads(threads < 1 ? 1 : threads);
    me_entry key;
    memset(&key, 0, sizeof key);
    key.kind = 1; key.m = m; key.n = n; key.k = k; key.lda = lda; key.ldb = ldb; key.ldc = ldc;
    key.transpose_b = transpose_b; key.threads = threads; key.alpha = alpha;
    dnnl_memory_desc_t am, bm, dm;
    dnnl_dims_t ad = {m, k}, as = {lda, 1}, bd = {k, n}, dd = {m, n}, ds = {ldc, 1};
    dnnl_dims_t bs0 = {ldb, 1}, bs1 = {1, ldb};
    dnnl_memory_desc_init_by_strides(&am, 2, ad, dnnl_bf16, as);
    dnnl_memory_desc_init_by_strides(&bm, 2, bd, dnnl_bf16, transpose_b ? bs1 : bs0);
    dnnl_memory_desc_init_by_strides(&dm, 2, dd, dnnl_f32, ds);
    me_entry *e = me_lookup(&key);
    if (!e) {
        dnnl_matmul_desc_t desc;
        if (dnnl_matmul_desc_init(&desc, &am, &bm, NULL, &dm) != dnnl_success) return -1;
        dnnl_primitive_attr_t attr = NULL;
        if (alpha != 1.0f) {
            dnnl_primitive_attr_create(&attr);
            dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
        }
        dnnl_primitive_t p = me_create(&desc, attr);
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (!p) return -1;
        e = me_insert(&key, p);
    }
    const int kinds[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    const dnnl_memory_desc_t *mds[] = {&am, &bm, &dm};
    void *data[] = {(void *)a, (void *)b, dst};
    return me_run(e->primitive, 3, kinds, mds, data, NULL);
}
