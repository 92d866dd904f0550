"""``djangowsgi init``: a buildout for an existing Django project, written in its
directory, then ``bin/buildout`` (``djangowsgi bootstrap``).

Run in the project's virtualenv: the settings are imported with this Python and
the pins are read from what it has installed (or from a requirements file).
"""
import grp
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import djangowsgi
from djangowsgi import bootstrap, render, system
from djangowsgi.machine import Machine

PACKAGING_FILES = ("setup.py", "pyproject.toml", "setup.cfg")
# Installed with djangowsgi or with any virtualenv: never the project's own eggs.
TOOLS = ("djangowsgi", "pip", "setuptools", "wheel")
IGNORED = ("/bin/", "/parts/", "/eggs/", "/develop-eggs/", "/var/", "/.installed.cfg", "/.buildout-venv/",
           "*.egg-info/", "/secrets.env")


class InitError(Exception):
    pass


@dataclass
class Project:
    directory: Path
    settings: str  # the project's own settings module
    egg: str
    application: str  # module:callable
    static_url: str = ""
    static_root: str = ""
    media_url: str = ""
    media_root: str = ""
    staticfiles: bool = False
    sqlite: bool = False
    requirements: list = field(default_factory=list)
    pins: list = field(default_factory=list)  # (name, version)
    packaging: bool = False  # the project has its own setup.py or pyproject.toml
    settings_reason: str = ""  # why init took that settings module
    debug: bool = False  # the settings' own DEBUG
    allowed_hosts: list = field(default_factory=list)  # the settings' own ALLOWED_HOSTS

    @property
    def settings_package(self):
        return self.settings.rpartition(".")[0]

    @property
    def site_settings(self):
        """The settings module init writes beside the project's own."""
        return ".".join(filter(None, (self.settings_package, "djangowsgi_settings")))


PRODUCTION_MODULES = ("production", "prod")


def choose_settings(directory, given=None):
    """(the settings module the site is served with, why): ``given`` (--settings),
    else a production module beside the one manage.py names (a settings package of
    base, dev and production modules), else the one manage.py names."""
    if given:
        return given, "given with --settings"
    named = settings_from_manage_py(directory)
    package, _, leaf = named.rpartition(".")
    folder = directory.joinpath(*package.split(".")) if package else None
    if folder and (folder / "__init__.py").exists() and leaf not in PRODUCTION_MODULES:
        for candidate in PRODUCTION_MODULES:
            if (folder / f"{candidate}.py").exists():
                return f"{package}.{candidate}", (f"the production module beside {named}, which manage.py names; "
                                                  f"--settings chooses another")
    return named, "the one manage.py names"


def settings_from_manage_py(directory):
    manage = directory / "manage.py"
    if not manage.exists():
        raise InitError(f"no manage.py in {directory}: run djangowsgi init in your Django project's directory")
    match = re.search(r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)['"]""", manage.read_text(encoding="utf-8"))
    if not match:
        raise InitError(f"{manage} does not name DJANGO_SETTINGS_MODULE: give the settings module with --settings")
    return match.group(1)


READ_SETTINGS = """\
import json, os, sys
sys.path.insert(0, sys.argv[1])
os.environ["DJANGO_SETTINGS_MODULE"] = sys.argv[2]
import django
from django.conf import settings
django.setup()
database = settings.DATABASES.get("default", {})
print(json.dumps({
    "WSGI_APPLICATION": settings.WSGI_APPLICATION,
    "STATIC_URL": settings.STATIC_URL or "",
    "STATIC_ROOT": str(settings.STATIC_ROOT or ""),
    "MEDIA_URL": settings.MEDIA_URL or "",
    "MEDIA_ROOT": str(settings.MEDIA_ROOT or ""),
    "staticfiles": "django.contrib.staticfiles" in settings.INSTALLED_APPS,
    "sqlite": database.get("ENGINE", "").endswith("sqlite3"),
    "debug": bool(settings.DEBUG),
    "allowed_hosts": list(settings.ALLOWED_HOSTS),
}))
"""


def read_settings(directory, module):
    """The values init needs, from the settings imported by this Python in a child process."""
    result = subprocess.run([sys.executable, "-c", READ_SETTINGS, str(directory), module], capture_output=True,
                            text=True, cwd=directory, env=dict(os.environ, DJANGOWSGI_VAR_DIR=str(directory / "var")))
    if result.returncode:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise InitError(f"cannot import the settings module {module} with {sys.executable}: {last}"
                        + environment_hint(last))
    return json.loads(result.stdout.strip().splitlines()[-1])


MISSING_VARIABLE = [re.compile(r"^KeyError: '([A-Za-z_][A-Za-z0-9_]*)'$"),  # os.environ["NAME"]
                    re.compile(r"Set the ([A-Za-z_][A-Za-z0-9_]*) environment variable")]  # django-environ


def environment_hint(error):
    """For settings that read an environment variable at import time: what to do."""
    for pattern in MISSING_VARIABLE:
        match = pattern.search(error)
        if match:
            name = match.group(1)
            return (f" (the settings need the environment variable {name}: run init with it set, "
                    f"{name}=... djangowsgi init, then put the line {name}=... in secrets.env, "
                    f"which the site's scripts read)")
    return ""


def check_python(mod_wsgi):
    """The Python running init (the project's) must be the one mod_wsgi embeds:
    the buildout is made from it. Returns that Python's path."""
    if not os.path.exists(mod_wsgi):
        raise InitError(f"{mod_wsgi} does not exist: install Apache and mod_wsgi "
                        f"(Debian: apt-get install apache2 libapache2-mod-wsgi-py3), or name it with --mod-wsgi")
    embedded = system.mod_wsgi_python(mod_wsgi)
    if embedded is None:
        raise InitError(f"cannot tell which Python {mod_wsgi} embeds")
    version, prefix = embedded
    here = "%d.%d" % sys.version_info[:2]
    if here != version or (prefix and os.path.realpath(sys.base_prefix) != os.path.realpath(prefix)):
        wanted = os.path.join(prefix, "bin", f"python{version}") if prefix else f"Python {version}"
        raise InitError(f"this is Python {here} from {sys.base_prefix}, but {mod_wsgi} embeds {wanted}: "
                        f"make the project's virtualenv with {wanted} -m venv, install the project there "
                        f"and run djangowsgi init with it")
    return os.path.join(prefix, "bin", f"python{version}") if prefix else sys.executable


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed():
    """{normalized name: distribution} of what this Python has installed."""
    dists = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and _normalize(name) not in dists:
            dists[_normalize(name)] = dist
    return dists


def _requires(dist):
    return {_normalize(_requirement_name(line)) for line in dist.requires or () if "extra ==" not in line}


def tool_names(dists):
    """djangowsgi, pip, setuptools, wheel and all they require: never the project's eggs."""
    tools, todo = set(), [_normalize(t) for t in TOOLS]
    while todo:
        name = todo.pop()
        if name not in tools and name in dists:
            tools.add(name)
            todo.extend(_requires(dists[name]))
    return tools | {_normalize(t) for t in TOOLS}


def installed_pins():
    """(name, version) of every distribution this Python has but the tools, and the
    names of those that nothing else there requires (the project's own requirements)."""
    dists = _installed()
    tools = tool_names(dists)
    own = {n: d for n, d in dists.items() if n not in tools}
    required = set().union(*(_requires(d) for d in own.values()))
    pins = sorted(((d.metadata["Name"], d.version) for d in own.values()), key=lambda p: p[0].lower())
    top = sorted((d.metadata["Name"] for n, d in own.items() if n not in required), key=str.lower)
    return pins, top


def _requirement_name(line):
    return re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line).group(1)


def requirements_file_pins(path):
    """(name, version) pairs of a requirements file of ``name==version`` lines (``pip freeze``)."""
    pins = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InitError(f"cannot read {path}: {error.strerror}") from None
    for number, line in enumerate(lines, 1):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;]+)(?:\s*;.*)?", line)
        if not match:
            raise InitError(f"{path}, line {number}: {line!r} is not name==version (pip freeze writes those)")
        pins.append((match.group(1), match.group(2)))
    tools = tool_names(_installed()) | {_normalize(t) for t in ("zc.buildout", "zc.recipe.egg")}
    return [p for p in pins if _normalize(p[0]) not in tools]


def own_packaging(directory):
    """The egg name of a project that has its own packaging file, or None."""
    pyproject = directory / "pyproject.toml"
    if pyproject.exists():
        import tomllib
        name = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("name")
        if name:
            return name
    for filename, pattern in (("setup.cfg", r"^name\s*=\s*(\S+)"), ("setup.py", r"""name\s*=\s*['"]([^'"]+)['"]""")):
        path = directory / filename
        if path.exists():
            match = re.search(pattern, path.read_text(encoding="utf-8"), re.M)
            if match:
                return match.group(1)
    if any((directory / f).exists() for f in PACKAGING_FILES):
        raise InitError(f"cannot read the project's name from its packaging file in {directory}: "
                        f"give it with --egg")
    return None


def djangowsgi_checkout(given=None):
    """The checkout of djangowsgi the buildout develops: ``given`` (--djangowsgi), or
    the one this djangowsgi runs from (pip install -e, PYTHONPATH=.../src). None for
    an installed release: the buildout pins it and fetches it like any egg."""
    if given:
        candidate = Path(given)
        if not _is_checkout(candidate):
            raise InitError(f"{given} is not a checkout of djangowsgi (no pyproject.toml and src/djangowsgi there)")
        return candidate.resolve()
    running = Path(djangowsgi.__file__).resolve().parent.parent.parent
    return running if _is_checkout(running) else None


def _is_checkout(path):
    return (path / "src" / "djangowsgi" / "__init__.py").exists() and \
        any((path / name).exists() for name in ("pyproject.toml", "setup.py"))


def examine(directory, settings=None, requirements=None, egg=None):
    """The project in ``directory`` as init sees it."""
    directory = Path(directory).resolve()
    settings, reason = choose_settings(directory, settings)
    values = read_settings(directory, settings)
    module, _, callable_name = values["WSGI_APPLICATION"].rpartition(".")
    packaged = own_packaging(directory)  # the name in the project's own setup.py or pyproject.toml
    name = egg or packaged or settings.split(".")[0]
    if requirements:
        pins = requirements_file_pins(requirements)
        top = [pin for pin, _ in pins]
    else:
        pins, top = installed_pins()
    return Project(
        directory=directory, settings=settings, egg=name, application=f"{module}:{callable_name}",
        static_url=_served_path(values["STATIC_URL"]), static_root=values["STATIC_ROOT"],
        media_url=_served_path(values["MEDIA_URL"]), media_root=values["MEDIA_ROOT"],
        staticfiles=values["staticfiles"], sqlite=values["sqlite"],
        requirements=[n for n in top if _normalize(n) != _normalize(name)],
        pins=[p for p in pins if _normalize(p[0]) != _normalize(name)], packaging=packaged is not None,
        settings_reason=reason, debug=values["debug"], allowed_hosts=values["allowed_hosts"],
    )


def _served_path(url):
    """A URL path Apache can serve a directory at: not the site's root, not another server."""
    return url if url.startswith("/") and url.strip("/") and not url.startswith("//") else ""


def files(project, checkout, secret_key=None):
    """{relative path: (content, mode)} of what init writes; ``checkout``, djangowsgi's
    checkout to develop, or None for the release pinned in [versions]."""
    var = "${buildout:directory}/var"
    static_root = render.ini_value(project.static_root) if project.static_root else f"{var}/static"
    media_root = render.ini_value(project.media_root) if project.media_root else f"{var}/media"
    aliases = []
    if project.static_url and project.staticfiles:
        aliases.append(f"{project.static_url} {static_root}/")
    if project.media_url:
        aliases.append(f"{project.media_url} {media_root}/")
    writable = (["var/db"] if project.sqlite else []) + [render.ini_value(project.media_root) or "var/media"]
    develop = "."
    if checkout:
        relative = os.path.relpath(checkout, project.directory)
        develop += " " + (str(checkout) if relative.startswith(os.path.join(os.pardir, os.pardir)) else relative)
    pins = [("djangowsgi", djangowsgi.__version__)] + project.pins
    values = dict(
        project=project.directory.name,
        develop=render.ini_value(develop),
        versions="".join(f"{render.ini_value(n)} = {render.ini_value(v)}\n" for n, v in pins),
        egg=render.ini_value(project.egg),
        settings=render.ini_value(project.site_settings),
        application=render.ini_value(project.application),
        collectstatic="true" if project.staticfiles else "false",
        aliases=render.ini_lines(aliases),
        writable=" ".join(writable),
    )
    written = {
        "buildout.cfg": (render.template("init-buildout.cfg.in", **values), 0o644),
        "system.cfg": (render.template("init-system.cfg.in", **values), 0o644),
        "front.cfg": (render.template("init-front.cfg.in", **values), 0o644),
        "public.cfg": (render.template("init-public.cfg.in"), 0o644),
        "secrets.env": (render.template(
            "init-secrets.env.in", secret_key=secret_key or secrets.token_urlsafe(50),
            # With DEBUG off, an empty ALLOWED_HOSTS refuses every request: the names bin/apache answers to.
            allowed_hosts="" if project.allowed_hosts else "DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1\n"), 0o600),
        project.site_settings.replace(".", "/") + ".py": (render.template(
            "init-settings.py.in", settings=project.settings,
            static_root="" if project.static_root else 'STATIC_ROOT = os.path.join(VAR_DIR, "static")\n',
            media_root="" if project.media_root else 'MEDIA_ROOT = os.path.join(VAR_DIR, "media")\n',
            database='DATABASES["default"]["NAME"] = os.path.join(VAR_DIR, "db", "db.sqlite3")\n'
            if project.sqlite else ""), 0o644),
    }
    if not project.packaging:
        written["setup.py"] = (render.template(
            "init-setup.py.in", egg=render.python_string(project.egg),
            requirements=render.python_value(project.requirements)), 0o644)
    return written


def make_missing_directories(project, say):
    """MEDIA_ROOT and STATIC_ROOT of the project's own that do not exist yet: the
    apache part's aliases serve them, and refuse a directory that is not there."""
    for name, path in (("MEDIA_ROOT", project.media_root), ("STATIC_ROOT", project.static_root)):
        if path and not os.path.isdir(path):
            os.makedirs(path)
            say(f"Made {path} ({name}, which did not exist yet)")


def write(directory, written, force, say):
    existing = [name for name in written if (directory / name).exists()]
    if existing and not force:
        raise InitError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''} in {directory}: "
                        f"init changes nothing there; --force overwrites them")
    for name, (content, mode) in written.items():
        path = directory / name
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
        say(f"Wrote {name}")
    if "secrets.env" in written and os.geteuid() == 0:
        # As root, buildout runs the self-contained server's daemons as www-data.
        this = Machine.probe()
        group = this.primary_group(this.default_user())
        os.chown(directory / "secrets.env", 0, grp.getgrnam(group).gr_gid)
        os.chmod(directory / "secrets.env", 0o640)
        say(f"secrets.env: readable by group {group}, whose account runs the site's daemons")
    gitignore = directory / ".gitignore"
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    missing = [line for line in IGNORED if line not in lines]
    if missing:
        with open(gitignore, "a", encoding="utf-8") as f:
            if lines and lines[-1].strip():
                f.write("\n")
            f.write("# The buildout's own files (djangowsgi init)\n" + "".join(f"{line}\n" for line in missing))
        say("Added the buildout's files and secrets.env to .gitignore")


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="djangowsgi init", description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings", help="the settings module (default: the one manage.py names)")
    parser.add_argument("--requirements", help="pins from this file of name==version lines, not from this Python")
    parser.add_argument("--egg", help="the project's egg name (default: its packaging file's, or the settings' "
                                      "top package)")
    parser.add_argument("--djangowsgi", help="a checkout of djangowsgi to develop (default: the one this "
                                             "djangowsgi runs from, if any, else the release, pinned)")
    parser.add_argument("--mod-wsgi", default=os.path.join(system.find_modules_directory(), "mod_wsgi.so"),
                        help="the mod_wsgi module the site will run on")
    parser.add_argument("--force", action="store_true", help="overwrite files init wrote before")
    parser.add_argument("--no-bootstrap", action="store_true", help="do not make bin/buildout")
    args = parser.parse_args(argv)
    directory = Path.cwd()
    try:
        python = check_python(args.mod_wsgi)
        project = examine(directory, args.settings, args.requirements, args.egg)
        checkout = djangowsgi_checkout(args.djangowsgi)
        write(project.directory, files(project, checkout), args.force, print)
        make_missing_directories(project, print)
        print(f"Settings: {project.settings}, {project.settings_reason}. The site is served with DEBUG off"
              + (f" (it is on in {project.settings})" if project.debug else "")
              + ": DJANGO_DEBUG=true in secrets.env turns it on.")
        print(f"djangowsgi {djangowsgi.__version__}: " + (
            f"developed from the checkout {checkout}" if checkout else
            "pinned in [versions]; bin/buildout fetches it from the package index like every egg"))
        if not args.no_bootstrap:
            bootstrap.bootstrap(project.directory, python)
    except (InitError, bootstrap.BootstrapError) as error:
        print(f"djangowsgi init: {error}", file=sys.stderr)
        return 1
    print("\nNext: bin/buildout -N            builds the site (bin/django, the WSGI script, bin/apache)\n"
          "      bin/django migrate --noinput\n"
          "      bin/apache start             serves it at http://127.0.0.1:8000/\n"
          "On a server: read public.cfg (HAProxy in front, HTTPS from Let's Encrypt), front.cfg (HAProxy "
          "in front, HTTP) or system.cfg (the machine's Apache).")
    return 0
