"""Benchmarks of store.sync and store.aio against redis-py, coredis and redis-benchmark.

Run ``python -m bench`` from the repository root (``--help`` for options); bench/README.md
says what each workload measures and how the ratios are computed.
"""
