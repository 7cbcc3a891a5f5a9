"""Benchmarks: each bench/bench_*.py module has a `main()` that prints its figures.

Run them all with `make bench` (or `python -m bench.run [bench_name ...]`), which uses the
database `prm_bench`, never the development or test database. bench/common.py holds the
helpers they share (setup, execute, scalar, pct).
"""
