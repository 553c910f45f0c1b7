"""Benchmarks: each module is a script (`python bench/NAME.py`); shared helpers import as `bench.NAME`."""
