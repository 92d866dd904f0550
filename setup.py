import re

from setuptools import find_packages, setup

with open("README.rst", encoding="utf-8") as f:
    long_description = f.read()
with open("src/djangowsgi/__init__.py", encoding="utf-8") as f:
    version = re.search(r'^__version__ = "(.+)"$', f.read(), re.M).group(1)

setup(
    name="djangowsgi",
    version=version,
    description="zc.buildout recipes: a Django project from pinned eggs to Apache and mod_wsgi",
    long_description=long_description,
    long_description_content_type="text/x-rst",
    license="BSD-3-Clause",
    classifiers=[
        "Framework :: Buildout :: Recipe",
        "Framework :: Django",
        "Programming Language :: Python :: 3",
    ],
    package_dir={"": "src"},
    packages=find_packages("src"),
    package_data={"djangowsgi": ["templates/*"]},
    python_requires=">=3.10",
    install_requires=["zc.buildout>=6", "zc.recipe.egg>=6"],
    extras_require={"test": ["pytest"]},
    entry_points={
        "console_scripts": ["djangowsgi = djangowsgi.__main__:main"],
        "zc.buildout": [
            "django = djangowsgi.manage:Recipe",
            "wsgi = djangowsgi.wsgi:Recipe",
            "apache = djangowsgi.apache:Recipe",
            "deploy = djangowsgi.deploy:Recipe",
            "balancer = djangowsgi.balancer:Recipe",
        ],
        # Removes a part's files when the part is gone, not when it is reinstalled.
        "zc.buildout.uninstall": [
            "django = djangowsgi.manage:uninstall",
            "wsgi = djangowsgi.wsgi:uninstall",
            "apache = djangowsgi.apache:uninstall",
            "balancer = djangowsgi.balancer:uninstall",
        ],
    },
)
