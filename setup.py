"""Packaging shim: ships the top-level benchmarks_data/ folder as emergence.benchmarks_data.

All metadata lives in pyproject.toml.
"""

from setuptools import find_packages, setup

DATA = ["emergence.benchmarks_data", "emergence.benchmarks_data.lab"]

setup(
    packages=find_packages(include=["emergence", "emergence.*"]) + DATA,
    package_dir={"emergence.benchmarks_data": "benchmarks_data",
                 "emergence.benchmarks_data.lab": "benchmarks_data/lab"},
)
