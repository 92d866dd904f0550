"""Releases of djangowsgi built from the working tree as ``make dist`` builds them
(a wheel and an sdist), into a directory that pip (``PIP_FIND_LINKS``) and
buildout (``find-links``) install from, for the tests that install djangowsgi
as its users do: from a package index, with no checkout anywhere."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from support.places import REPO, SYSTEM_PYTHON

VERSION_LINE = re.compile(r'^__version__ = "[^"]+"$', re.M)


def tree_files():
    """The working tree's files as git sees them (committed or not, ignored ones left out)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
                            capture_output=True, text=True, check=True).stdout
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def build_release(destination, version):
    """djangowsgi ``version`` (the working tree, its version set to ``version``) as a
    wheel and an sdist in ``destination``; their paths."""
    destination = Path(destination)
    with tempfile.TemporaryDirectory(prefix="djangowsgi-release-") as tree:
        for name in tree_files():
            target = Path(tree, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)
        init = Path(tree, "src", "djangowsgi", "__init__.py")
        init.write_text(VERSION_LINE.sub(f'__version__ = "{version}"', init.read_text()))
        # The test virtualenv's setuptools: no download. make dist builds in isolation.
        result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(destination), tree],
                                capture_output=True, text=True)
        if result.returncode:
            raise AssertionError(f"python -m build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    built = sorted(destination.glob(f"djangowsgi-{version}[-.]*"))
    assert sorted(p.suffix for p in built) == [".gz", ".whl"], built
    return built


class Developer:
    """A Django developer's machine with no checkout of djangowsgi: a virtualenv of
    Debian's Python with Django and djangowsgi installed by pip (active: first on
    PATH), and ``root/index``, the releases ``versions`` built from the tree, which
    pip (PIP_FIND_LINKS) and buildout (``~/.buildout/default.cfg``, in ``home``)
    look in as they would look on PyPI."""

    def __init__(self, root, django, versions):
        self.root = root
        self.index = root / "index"
        for version in versions:
            build_release(self.index, version)
        self.home = root / "home"
        (self.home / ".buildout").mkdir(parents=True)
        (self.home / ".buildout" / "default.cfg").write_text(f"[buildout]\nfind-links = {self.index}\n")
        self.venv = root / "venv"
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(self.venv)], check=True)
        self.env = dict(os.environ, VIRTUAL_ENV=str(self.venv), PATH=f"{self.venv}/bin:{os.environ['PATH']}",
                        HOME=str(self.home), PIP_FIND_LINKS=str(self.index), PYTHONPATH="")
        self.env.pop("PIP_NO_BUILD_ISOLATION", None)  # as a user has it
        self.shell(f"pip install -q Django=={django} djangowsgi=={versions[0]}", root)

    def shell(self, command, cwd, check=True, env=None):
        result = subprocess.run(command, shell=True, cwd=cwd, env=dict(self.env, **(env or {})), capture_output=True,
                                text=True, timeout=900)
        if check:
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        return result

    def startproject(self, name, app=None):
        directory = self.root / name
        directory.mkdir()
        self.shell(f"django-admin startproject {name} .", directory)
        if app:
            self.shell(f"python manage.py startapp {app}", directory)
        return directory
