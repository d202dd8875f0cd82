// ref.h: what the portable layer's two files share: the arithmetic contract's epilogue
// (ref_gemm.c's GEMM, ref_syrk.c's triangle) and the choice of the FMA instruction or libm's fma().
#ifndef XW_REF_H
#define XW_REF_H

#include "kernels.h"

// Functions compiled for the FMA instruction (every CPU with a JIT target has it): the chains
// vectorize. Without it libm's fma() gives the same correctly rounded results, slowly.
#define XW_FMA_ATTR __attribute__((target("fma")))

// Functions in ref_gemm.c
XW_HIDDEN bool xw_ref_has_fma(void);  // the CPU has the FMA instruction and the OS its registers

// The contract's epilogue over n elements: c[i] from s[i], an element's chain over k, by the
// scale classes of alpha (ac) and beta (bc):
//   alpha +-1:  s | s + c | s - c | fma(beta, c, s)                 for beta 0 | 1 | -1 | other
//   alpha other: alpha*s | fma(alpha, s, c) | fma(alpha, s, -c) | fma(alpha, s, beta*c)
// (alpha -1's sign is in the chain already: s summed the negated products). beta 0 never reads
// c. One loop per class pair, the tests outside it, so that each loop vectorizes.
#define XW_REF_EPILOGUE_LOOP(E)                                                                    \
    for (int64_t i = 0; i < n; i++)                                                                \
        c[i] = (E)
#define XW_REF_EPILOGUE(NAME, T, FMA, ATTR)                                                        \
    ATTR static inline void NAME(int64_t n, T alpha, unsigned ac, T beta, unsigned bc,            \
                                 const T *s, T *c)                                                 \
    {                                                                                              \
        const bool any = ac == XW_SCALE_ANY;                                                       \
        switch (bc) {                                                                              \
        case XW_SCALE_ZERO:                                                                        \
            if (any)                                                                               \
                XW_REF_EPILOGUE_LOOP(alpha * s[i]);                                                \
            else                                                                                   \
                XW_REF_EPILOGUE_LOOP(s[i]);                                                        \
            break;                                                                                 \
        case XW_SCALE_ONE:                                                                         \
            if (any)                                                                               \
                XW_REF_EPILOGUE_LOOP(FMA(alpha, s[i], c[i]));                                      \
            else                                                                                   \
                XW_REF_EPILOGUE_LOOP(s[i] + c[i]);                                                 \
            break;                                                                                 \
        case XW_SCALE_MINUS_ONE:                                                                   \
            if (any)                                                                               \
                XW_REF_EPILOGUE_LOOP(FMA(alpha, s[i], -c[i]));                                     \
            else                                                                                   \
                XW_REF_EPILOGUE_LOOP(s[i] - c[i]);                                                 \
            break;                                                                                 \
        default:                                                                                   \
            if (any)                                                                               \
                XW_REF_EPILOGUE_LOOP(FMA(alpha, s[i], beta * c[i]));                               \
            else                                                                                   \
                XW_REF_EPILOGUE_LOOP(FMA(beta, c[i], s[i]));                                       \
        }                                                                                          \
    }

#endif
