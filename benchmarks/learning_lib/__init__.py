"""Helpers of the learning study (``benchmarks/learning.py``): data and labels, training arms, measurements."""
