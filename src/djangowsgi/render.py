"""Rendering values into generated files: the one place where quoting happens.

Templates are files in ``djangowsgi/templates`` with ``$name`` placeholders
(``string.Template``); every value goes through a function here before it is
put into one, so a quote or a newline in an option can never become code.
"""
import os
import string
from importlib import resources


def template(name, **values):
    text = resources.files("djangowsgi").joinpath("templates", name).read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


def python_string(value):
    return repr(str(value))


def python_environment(pairs):
    """``os.environ[...] = ...`` lines (assignment: a second site in the same
    interpreter must not inherit the first one's value)."""
    return "".join(f"os.environ[{python_string(k)}] = {python_string(v)}\n" for k, v in pairs)


def python_path(paths, script, relative_to=None):
    """Python source that defines ``base`` (when relative) and the list ``paths``.

    With ``relative_to`` (the buildout directory, under ``relative-paths = true``)
    entries inside it are written relative to the script's own location, so the
    buildout can be moved or shipped as a whole.
    """
    setup = ""
    entries = [python_string(p) for p in paths]
    if relative_to:
        relative_to = os.path.realpath(relative_to)
        depth = os.path.relpath(os.path.dirname(os.path.realpath(script)), relative_to).count(os.sep) + 1
        setup = "base = os.path.dirname(os.path.realpath(__file__))\n"
        setup += "base = os.path.dirname(base)\n" * depth
        entries = [
            f"os.path.join(base, {python_string(os.path.relpath(p, relative_to))})"
            if p == relative_to or p.startswith(relative_to + os.sep)
            else python_string(p)
            for p in paths
        ]
    body = "".join(f"    {e},\n" for e in entries)
    return setup + "paths = [\n" + body + "]\n"


def python_import(module, attributes, target):
    """``from module import attr`` with checked dotted names (see options.callable_name)."""
    first, rest = attributes[0], attributes[1:]
    line = f"from {module} import {first} as {target}\n"
    if rest:
        line += f"{target} = {target}.{'.'.join(rest)}\n"
    return line
