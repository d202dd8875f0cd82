// memory_shapes.h: the sizes of issue 11's memory measure (every M x N x K of them: 1000
// kernels), one list for the benchmark that measures the resident set (bench_kernels.c) and the
// test that holds their code to its budget (tests/c/test_gen.c).
#ifndef XW_MEMORY_SHAPES_H
#define XW_MEMORY_SHAPES_H
#define XW_MEMORY_DIMS { 4, 7, 10, 13, 16, 20, 23, 26, 29, 32 }
#endif
