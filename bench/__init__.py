"""Benchmarks of the intake, the worker and the whole pipeline; run `make bench`."""
