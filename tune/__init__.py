"""Benchmark and search orchestration for fcdd: trial specs, runners, the results store and reports."""
