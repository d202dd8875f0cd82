// jit.h: the kernel layer's internal map for code generation: the GEMM generator and the code
// memory it is installed into. Used by registry.c, and outside the library by the tests and
// tune-kernels (xw_gen_choices).
#ifndef XW_JIT_H
#define XW_JIT_H

#include "x86_enc.h"

// Functions in gen_gemm.c
// Emits a kernel for d on target t (AVX2 or AVX512) into c, following xw_kernel_fn; *entry
// receives the offset of its first instruction, which is not 0 when constant data comes first
// (a complex kernel's vectors, read RIP-relative: gen_zepi.c). Returns XW_ERR_UNSUPPORTED for a
// descriptor it does not generate, or the encoder's first error.
XW_HIDDEN xw_status xw_gen_gemm(const xw_desc *d, xw_target t, xw_code *c, size_t *entry);
// The plans the cost model weighs for d on target t (its own hints ignored), cheapest first:
// each as the hints that select it (descriptor mb_max, nb_max) and its modeled cycles. Returns
// how many were written (at most `most`); 0 when the generator declines d.
typedef struct {
    uint8_t mb_max, nb_max;
    double cost;
} xw_gen_choice;
XW_HIDDEN int xw_gen_choices(const xw_desc *d, xw_target t, xw_gen_choice *out, int most);
// Kernel name as in reports and dumps, e.g. "dgemm_avx512_nt_8x8x8_lda8_ldb8_ldc8_a1_b0";
// the target is "portable" for XW_TARGET_GENERIC.
XW_HIDDEN void xw_gen_name(const xw_desc *d, xw_target t, char *out, size_t n);

// Functions in code_mem.c
// Copies n bytes into executable memory and returns their executable address (NULL on failure).
// Code is written through a read-write view and run through a separate read+execute view, so
// no page is ever writable and executable at once; kernels are packed into shared pages.
XW_HIDDEN void *xw_code_install(const void *bytes, size_t n);
XW_HIDDEN size_t xw_code_mapped_bytes(void);  // bytes of code memory allocated so far (each page once)
XW_HIDDEN size_t xw_code_used_bytes(void);    // bytes of code installed
// fork(): around it code memory is locked (prepare) and unlocked (parent, child); the child
// also stops appending to the region it shares with its parent (the memfd is shared).
XW_HIDDEN void xw_code_fork_prepare(void);
XW_HIDDEN void xw_code_fork_parent(void);
XW_HIDDEN void xw_code_fork_child(void);

#endif
