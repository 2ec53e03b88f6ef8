"""Benchmarks (``make bench``): ``bench.py`` holds what is measured, ``run_benchmarks.py`` runs it.

Not part of the ``featevo`` package; a package only so that the tests can ``from benchmarks import bench``.
"""
