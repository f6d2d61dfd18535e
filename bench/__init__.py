"""Benchmarks (run by hand, not by pytest): see bench/orders_bench.py."""
