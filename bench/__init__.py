"""Benchmarks of pengaduan, run with ``python -m bench`` (``make bench``).

Every figure is reported next to a baseline measured in the same run on the same machine, and the
ratio is what to read: the machines this runs on are small, shared and noisy. See bench/README.md.
Importing any module of this package has no side effects.
"""
