"""The example site's parts as the tests and the benchmarks build them: the
sections of the repository's buildout.cfg, each with the changes a harness
needs, so that a change to the example reaches every one of them."""
import configparser
from pathlib import Path

BUILDOUT_CFG = Path(__file__).resolve().parents[2] / "buildout.cfg"
SECTIONS = ("project", "django", "wsgi", "apache", "deploy")


def section(name, changes=None):
    """buildout.cfg's section ``name`` as {option: value}, with ``changes``
    (a value of None drops the option)."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    parser.optionxform = str
    parser.read(BUILDOUT_CFG)
    options = {key: value.strip("\n") for key, value in parser[name].items()}
    for key, value in (changes or {}).items():
        if value is None:
            options.pop(key, None)
        else:
            options[key] = value
    return options


def text(name, options):
    """One section of a buildout configuration; a value's lines continue indented."""
    lines = [f"[{name}]"]
    lines += [f"{key} = " + "\n    ".join(str(value).splitlines()) for key, value in options.items()]
    return "\n".join(lines) + "\n\n"


def parts(installed, names=("django", "wsgi", "apache"), rename=None, changes=None):
    """``[buildout] parts = installed``, [project] and the example's sections
    ``names`` (renamed by ``rename``: {"django": "coleman"}), each changed by
    ``changes`` (keyed by the name written: {"apache": {"listen": "127.0.0.1:8001"}})."""
    rename, changes = rename or {}, changes or {}
    written = text("buildout", {"parts": installed}) + text("project", section("project", changes.get("project")))
    for name in names:
        written_as = rename.get(name, name)
        written += text(written_as, section(name, changes.get(written_as)))
    return written
