"""Rendering values into generated files: the one place where quoting happens.

Templates are files in ``djangowsgi/templates`` with ``$name`` placeholders
(``string.Template``); every value goes through a function here before it is
put into one, so a quote or a newline in an option can never become code.
"""
import os
import re
import string
from importlib import resources


def template(name, **values):
    text = resources.files("djangowsgi").joinpath("templates", name).read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


def python_string(value):
    return repr(str(value))


def python_value(value, indent=0):
    """A literal of strings, whole numbers, booleans, None, lists and dicts
    (dicts one key a line)."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(python_value(v, indent) for v in value) + "]"
    if isinstance(value, dict):
        pad = " " * (indent + 4)
        items = "".join(f"{pad}{python_string(k)}: {python_value(v, indent + 4)},\n" for k, v in value.items())
        return "{\n" + items + " " * indent + "}"
    return python_string(value)


def import_djangowsgi():
    """Source that imports this djangowsgi by its path, for a script whose sys.path
    must not gain the directory it lies in (site-packages, installed from a wheel)."""
    import djangowsgi
    package = os.path.dirname(os.path.abspath(djangowsgi.__file__))
    return template("import-djangowsgi.py.in", init=python_string(os.path.join(package, "__init__.py")),
                    package=python_string(package))


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


# Apache configuration values. options.PartOptions.apache_value rejects what
# could end a directive or open another (newlines, quotes, backslashes, < and >,
# control characters) with an error naming the option; these functions only
# quote what is left, and refuse anything else as a last guard.
APACHE_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\<>]')
APACHE_BARE = re.compile(r"[A-Za-z0-9_./:%{}@+=,*-]+\Z")


def apache(value):
    """One argument of an Apache directive: bare when plain, else double-quoted."""
    value = str(value)
    if APACHE_UNSAFE.search(value):
        raise ValueError(f"unsafe value for an Apache configuration: {value!r}")
    return value if APACHE_BARE.match(value) else f'"{value}"'


def apache_option(key, value):
    """A ``key=value`` option of a mod_wsgi directive: mod_wsgi reads a quoted value,
    not a quoted option."""
    return f"{key}={apache(value)}"


def apache_format(value):
    """A LogFormat string: the one value that may hold quotes, escaped."""
    value = str(value)
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"unsafe value for an Apache configuration: {value!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def apache_access(granted, version):
    """The access control lines for a <Directory> or <Files> block."""
    if version == "2.2":
        return "Order allow,deny\nAllow from all" if granted else "Order deny,allow\nDeny from all"
    return "Require all granted" if granted else "Require all denied"


def apache_access_local(version):
    """Access control that lets in this machine's loopback clients alone."""
    if version == "2.2":
        return "Order deny,allow\nDeny from all\nAllow from 127.0.0.1 ::1"
    return "Require local"


def indent(text, spaces):
    pad = " " * spaces
    return "\n".join(pad + line if line.strip() else line for line in text.splitlines())


def ini_value(value):
    """A value on one line of a buildout configuration: ``$`` doubled (buildout's
    escape for a literal one), and never a newline, which would start an option."""
    value = str(value)
    if "\n" in value or "\r" in value:
        raise ValueError(f"{value!r} spans lines")
    return value.replace("$", "$$")


def ini_lines(lines):
    """A multi-line option's value: each line on its own indented line."""
    return "".join(f"\n    {line}" for line in lines)


# HAProxy configuration values: checked when read (balancer_site.py), bare when
# plain, else in single quotes, in which HAProxy expands and escapes nothing.
HAPROXY_BARE = re.compile(r"[A-Za-z0-9_./:%@+=,*-]+\Z")


def haproxy(value):
    value = str(value)
    if HAPROXY_BARE.match(value):
        return value
    if "'" in value or re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError(f"unsafe value for an HAProxy configuration: {value!r}")
    return f"'{value}'"
