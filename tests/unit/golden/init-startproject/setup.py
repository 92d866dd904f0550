# Written by djangowsgi init: makes the project an egg that buildout develops
# (develop = . in buildout.cfg). install_requires lists what the project needs;
# buildout.cfg's [versions] pins them.
from setuptools import find_packages, setup

setup(
    name='mysite',
    version="0.1",
    packages=find_packages(exclude=["bin*", "parts*", "eggs*", "develop-eggs*", "var*"]),
    install_requires=['Django'],
)
