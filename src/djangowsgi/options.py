"""Reading and checking the options of a part.

Every problem becomes one ``zc.buildout.UserError`` line naming the part and the
option, raised while the recipe is constructed: buildout constructs every part
before it installs any, so bad input never leaves a file half-written.
"""
import keyword
import logging
import os
import re
import stat
from dataclasses import dataclass

from zc.buildout import UserError

from djangowsgi.render import APACHE_UNSAFE

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SCRIPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
TRUE, FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "KEY")


class ReadFirst:
    """A recipe that reads and checks all its options (``_read``) before it
    resolves eggs or looks further (``setup``): ``checked()`` gives the recipe
    with its options read and nothing else done, for the unit tests."""

    def __init__(self, buildout, name, options):
        self._read(buildout, name, options)
        self.setup()

    @classmethod
    def checked(cls, buildout, name, options):
        recipe = cls.__new__(cls)
        recipe._read(buildout, name, options)
        return recipe


class PartOptions:
    """One part's options, read with checks."""

    def __init__(self, buildout, name, options):
        self.buildout = buildout
        self.name = name
        self.options = options

    def error(self, key, message):
        return UserError(f"djangowsgi part [{self.name}], option {key}: {message}")

    def get(self, key, default=None):
        value = self.options.get(key)
        if value is None or not value.strip():
            return default
        return value.strip()

    def required(self, key, hint=""):
        value = self.get(key)
        if value is None:
            raise self.error(key, "is required" + (f" ({hint})" if hint else ""))
        return value

    def lines(self, key):
        value = self.options.get(key) or ""
        return [line.strip() for line in value.splitlines() if line.strip()]

    def boolean(self, key, default):
        value = self.get(key)
        if value is None:
            return default
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise self.error(key, f"{value!r} is not true or false")

    def integer(self, key, default, minimum=None, maximum=None):
        value = self.get(key)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise self.error(key, f"{value!r} is not a whole number") from None
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            bounds = f"from {minimum}" + (f" to {maximum}" if maximum is not None else " up")
            raise self.error(key, f"{number} is out of range ({bounds})")
        return number

    def size(self, key, default):
        """A size in bytes, written like 100M (K, M and G are powers of 1024); 0 is no limit."""
        value = self.get(key, default)
        match = re.fullmatch(r"(\d+)([KMG]?)", value.upper())
        if not match:
            raise self.error(key, f"{value!r} is not a size like 100M, 512K or 0")
        return int(match.group(1)) * 1024 ** " KMG".index(match.group(2) or " ")

    def dotted_name(self, key, value):
        parts = value.split(".")
        if not all(IDENTIFIER.match(p) and not keyword.iskeyword(p) for p in parts):
            raise self.error(key, f"{value!r} is not a dotted Python name like myproject.settings")
        return value

    def settings(self, key="settings"):
        return self.dotted_name(key, self.required(key, "a dotted module name such as myproject.settings"))

    def environment(self, key="environment"):
        pairs = []
        for line in self.lines(key):
            name, equals, value = line.partition("=")
            name = name.strip()
            if not equals:
                raise self.error(key, f"line {line!r} is not KEY=VALUE")
            if not ENV_NAME.match(name):
                raise self.error(key, f"{name!r} in line {line!r} is not a valid variable name")
            pairs.append((name, value.strip()))
        return pairs

    def environment_file(self, path, key="environment-file"):
        """A KEY=VALUE file of secrets, read by the generated scripts at run time:
        it must exist, be readable here, and be closed to other accounts."""
        try:
            st = os.stat(path)
        except OSError as e:
            raise self.error(key, f"{path}: {e.strerror}") from None
        if not stat.S_ISREG(st.st_mode):
            raise self.error(key, f"{path} is not a file")
        if st.st_mode & 0o007:
            raise self.error(key, f"{path} is open to every account on this machine (mode "
                                  f"{stat.S_IMODE(st.st_mode):04o}): chmod o= {path}")
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise self.error(key, f"{path} cannot be read: {getattr(e, 'strerror', None) or e}") from None
        for number, line in enumerate(text.splitlines(), 1):
            problem = environment_line_problem(line)
            if problem:
                raise self.error(key, f"{path}, line {number}: {problem}")
        return path

    def python_code(self, key="initialization"):
        code = self.options.get(key) or ""
        code = "\n".join(line.rstrip() for line in code.strip("\n").splitlines())
        try:
            compile(code, f"[{self.name}] {key}", "exec")
        except SyntaxError as e:
            raise self.error(key, f"is not valid Python: {e.msg} (line {e.lineno})") from None
        return code

    def callable_name(self, key):
        """``module:attribute`` as (module, [attributes])."""
        value = self.get(key)
        if value is None:
            return None
        module, colon, attributes = value.partition(":")
        if not colon or not module or not attributes:
            raise self.error(key, f"{value!r} is not module:callable, e.g. myproject.wsgi:application")
        self.dotted_name(key, module)
        self.dotted_name(key, attributes)
        return module, attributes.split(".")

    def script_name(self, key, default):
        value = self.get(key, default)
        if not SCRIPT_NAME.match(value):
            raise self.error(key, f"{value!r} is not a plain file name")
        return value

    def absolute_path(self, key, default=None, required=False):
        value = self.required(key) if required else self.get(key, default)
        if value is None:
            return None
        self.apache_value(key, value)
        if not os.path.isabs(value):
            raise self.error(key, f"{value!r} is not an absolute path")
        return os.path.normpath(value)

    def apache_value(self, key, value=None, pattern=None, expected=""):
        """A value safe to put into an Apache configuration (see render.apache)."""
        value = self.get(key) if value is None else value
        if value is None:
            return None
        bad = APACHE_UNSAFE.search(value)
        if bad:
            raise self.error(key, f"{value!r} holds {bad.group(0)!r}, which would break the Apache configuration")
        if pattern and not re.fullmatch(pattern, value):
            raise self.error(key, f"{value!r} is not {expected}")
        return value

    def choice(self, key, default, choices):
        value = self.get(key, default)
        if value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def listen(self, key, default):
        """``[host:]port`` as (host or None, port)."""
        value = self.apache_value(key, self.get(key, default))
        match = re.fullmatch(r"(?:(\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d+)", value)
        if not match:
            raise self.error(key, f"{value!r} is not [address:]port, e.g. 127.0.0.1:8000")
        port = int(match.group(2))
        if not 1 <= port <= 65535:
            raise self.error(key, f"port {port} is outside 1-65535")
        return match.group(1), port

    def paths(self, key):
        """Path lines, relative ones taken from the buildout directory."""
        base = self.buildout["buildout"]["directory"]
        return [os.path.normpath(os.path.join(base, p)) for p in self.lines(key)]


def environment_line_problem(line):
    """What is wrong with one line of an environment file, or None (the same
    rules as the generated scripts: KEY=VALUE, blank lines and # comments)."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    if line.startswith("export "):
        line = line[len("export "):]
    name, equals, _ = line.partition("=")
    if not equals:
        return "not KEY=VALUE"
    if not ENV_NAME.match(name.strip()):
        return "does not start with a variable name (letters, digits, _)"
    return None


@dataclass
class ProjectOptions:
    """What the manage script and the WSGI script share."""

    eggs: list
    settings: str
    extra_paths: list
    environment: list
    environment_files: list
    initialization: str


def read_project(part, script_description):
    """The options of the manage and WSGI recipes; ``script_description`` names
    the generated file in the warning about secrets."""
    eggs = part.lines("eggs")
    if not eggs:
        raise part.error("eggs", "is required: the project's eggs, one a line")
    environment = part.environment()
    for name, _ in environment:
        if any(word in name.upper() for word in SECRET_WORDS):
            logging.getLogger(part.name).warning(
                "djangowsgi part [%s], option environment: %s looks like a secret, and %s is readable by "
                "every account on this machine: put it in an environment-file instead",
                part.name, name, script_description)
    return ProjectOptions(
        eggs=eggs,
        settings=part.settings(),
        extra_paths=part.paths("extra-paths"),
        environment=environment,
        environment_files=[part.environment_file(path) for path in part.paths("environment-file")],
        initialization=part.python_code(),
    )
