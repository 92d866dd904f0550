"""The pins of the repository's buildout.cfg: the one list of versions that
``make run``, the tests and the benchmarks build with."""
import configparser
from pathlib import Path

BUILDOUT_CFG = Path(__file__).resolve().parents[2] / "buildout.cfg"


# django-tasks' database backend (the worker part's tests, deploytasks), beyond buildout.cfg's pins.
TASK_PINS = {"django-tasks-db": "0.13.0", "django-tasks": "0.12.0", "django-stubs-ext": "6.1.2",
             "typing-extensions": "4.16.0"}


def versions():
    """{name: version} of buildout.cfg's [versions]."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    parser.optionxform = str  # Django, not django
    parser.read(BUILDOUT_CFG)
    return dict(parser["versions"])


def versions_section(**more):
    """A [versions] section of buildout.cfg's pins and ``more`` (name=version)."""
    pins = {**versions(), **more}
    return "\n[versions]\n" + "".join(f"{name} = {version}\n" for name, version in pins.items())
