"""Benchmarks: `python -m benchmarks` (or ./dev bench) prints a table."""
