"""Packaging shim: ships the top-level benchmarks_data/ folder as emergence.benchmarks_data.

All metadata lives in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["emergence", "emergence.*"]) + ["emergence.benchmarks_data"],
    package_dir={"emergence.benchmarks_data": "benchmarks_data"},
)
