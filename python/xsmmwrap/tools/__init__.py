"""The ``xsmmwrap`` command's tools: sample programs, benchmarks, plots, LAPACK's tests and
tuning. The command line (:mod:`xsmmwrap.cli`) imports a module of this package only for the
subcommand it runs; ``import xsmmwrap`` imports none of them. These modules use the package
below them (:mod:`xsmmwrap`, and ``_lib`` for paths); nothing there imports this package
(``tests/test_quality.py`` checks both, and that the imports have no cycle).

======================  ============================================================
``samples``             the sample programs: finding them, their environment, running
                        them; options and the end every sample subcommand shares
``_console``            tables and progress lines (the one implementation)
``bench``               ``bench dispatch`` and ``bench smm``
``bench_kernels``       ``bench kernels``: ours vs OpenBLAS vs LIBXSMM per shape
``bench_workloads``     ``bench workloads``: SPECFEM, Nek5000, CP2K samples
``bench_enable``        ``bench enable``: numpy and scipy, enable() vs LD_PRELOAD
``dgemm_test``          ``dgemm-test``: one program, plain, ld --wrap, preloaded
``plot``                ``plot``: charts of the results (matplotlib)
``lapack_test``         ``lapack-test``: LAPACK's test programs plain and wrapped
``tune``                ``tune``: measure and write the tuning file
======================  ============================================================
"""
