# The package is described in pyproject.toml. This file stays for buildout's
# ``develop = <checkout>``, which runs setup.py.
from setuptools import setup

setup()
