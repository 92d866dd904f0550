"""``djangowsgi bootstrap``: ``bin/buildout`` in a buildout's directory, run by a
virtualenv that holds zc.buildout and zc.recipe.egg alone.

Why a virtualenv of its own: zc.buildout 6 takes every egg the Python running it
already has from that Python's site-packages, so a buildout run from the
virtualenv a project is developed in (Django installed there) builds scripts
that find Django only in that virtualenv, and mod_wsgi does not run it. Why this
Python: the site's scripts and the WSGI script run on the Python that ran
buildout, which must be the one mod_wsgi embeds.

Standard library only: the repository's ``make run`` runs it before anything is
installed.
"""
import os
import subprocess
import sys

# The versions the recipes are tested with; requirements.txt pins the same.
BUILDOUT_PINS = ("zc.buildout==6.0.1", "zc.recipe.egg==6.0.0")
VENV = ".buildout-venv"
DEFAULT_PYTHON = "/usr/bin/python3"


class BootstrapError(Exception):
    pass


def installed_pins(python):
    """``name==version`` of zc.buildout and zc.recipe.egg in a virtualenv's Python."""
    if not os.path.exists(python):
        return ()
    code = ("from importlib import metadata\n"
            "for name in ('zc.buildout', 'zc.recipe.egg'):\n"
            "    try: print(f'{name}=={metadata.version(name)}')\n"
            "    except metadata.PackageNotFoundError: pass\n")
    result = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return tuple(result.stdout.split()) if result.returncode == 0 else ()


def bootstrap(directory, python=DEFAULT_PYTHON, say=print):
    """Makes (or keeps) ``directory/.buildout-venv`` and ``directory/bin/buildout``."""
    directory = os.path.abspath(directory)
    config = os.path.join(directory, "buildout.cfg")
    if not os.path.exists(config):
        raise BootstrapError(f"{config} does not exist: write it first (djangowsgi init writes one)")
    if not os.access(python, os.X_OK):
        raise BootstrapError(f"{python} is not a Python here: install python3 and python3-venv, "
                             f"or name another with --python")
    venv = os.path.join(directory, VENV)
    venv_python = os.path.join(venv, "bin", "python")
    if installed_pins(venv_python) != BUILDOUT_PINS:
        if not os.path.exists(venv_python):
            say(f"Making {VENV}/, a virtualenv of {python} for bin/buildout")
            _run([python, "-m", "venv", venv], "make the virtualenv (Debian: apt-get install python3-venv)")
        say(f"Installing {' '.join(BUILDOUT_PINS)} into {VENV}/")
        _run([venv_python, "-m", "pip", "install", "-q", *BUILDOUT_PINS], "install zc.buildout")
    _run([os.path.join(venv, "bin", "buildout"), "-q", "bootstrap"], "run buildout bootstrap", cwd=directory)
    say(f"Wrote {os.path.join(directory, 'bin', 'buildout')}")
    return os.path.join(directory, "bin", "buildout")


def _run(command, what, cwd=None):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        output = (result.stderr or result.stdout).strip().splitlines()
        raise BootstrapError(f"could not {what}: {output[-1] if output else f'exit status {result.returncode}'}")


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="djangowsgi bootstrap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=DEFAULT_PYTHON,
                        help=f"the Python mod_wsgi embeds (default {DEFAULT_PYTHON})")
    parser.add_argument("directory", nargs="?", default=".", help="the buildout's directory (default: here)")
    args = parser.parse_args(argv)
    try:
        bootstrap(args.directory, args.python)
    except BootstrapError as error:
        print(f"djangowsgi bootstrap: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
