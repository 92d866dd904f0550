"""What this machine has: Apache, its modules, mod_wsgi's Python, whether a
user can read a path, the sites on the system Apache. Used at build time only
(machine.py probes it once for a part)."""
import os
import re
import ssl
import shutil
import stat
import subprocess

from djangowsgi.runtime.certificates import decode_certificate
from djangowsgi.runtime.system_apache import read_envvar

APACHE_BINARIES = ("apache2", "httpd")
SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/local/apache2/bin")
MODULE_DIRECTORIES = (
    "/usr/lib/apache2/modules",  # Debian, Ubuntu
    "/usr/lib64/httpd/modules",  # Fedora, RHEL
    "/usr/lib/httpd/modules",
    "/usr/local/apache2/modules",
)


def find_apache():
    for name in APACHE_BINARIES:
        found = shutil.which(name, path=os.pathsep.join((os.environ.get("PATH", ""),) + SBIN))
        if found:
            return found
    return None


# Debian and Ubuntu (libapache2-mod-wsgi-py3); Fedora and RHEL (python3-mod_wsgi).
MOD_WSGI_NAMES = ("mod_wsgi.so", "mod_wsgi_python3.so")


def find_mod_wsgi(modules):
    """mod_wsgi in the modules directory, under the name this distribution gives it."""
    for name in MOD_WSGI_NAMES:
        if os.path.exists(os.path.join(modules, name)):
            return os.path.join(modules, name)
    return os.path.join(modules, MOD_WSGI_NAMES[0])


def find_rotatelogs():
    return shutil.which("rotatelogs", path=os.pathsep.join((os.environ.get("PATH", ""), "/usr/bin") + SBIN))


def find_program(name, directories=()):
    return shutil.which(name, path=os.pathsep.join((os.environ.get("PATH", ""),) + tuple(directories) + SBIN))


def haproxy_build(path):
    """(version as (major, minor), has the Prometheus exporter) of an HAProxy binary, from ``haproxy -vv``."""
    try:
        text = subprocess.run([path, "-vv"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None, False
    match = re.search(r"HA-?Proxy version (\d+)\.(\d+)", text)
    version = (int(match.group(1)), int(match.group(2))) if match else None
    return version, "prometheus-exporter" in text


def find_modules_directory():
    for directory in MODULE_DIRECTORIES:
        if os.path.exists(os.path.join(directory, "mod_alias.so")):
            return directory
    return MODULE_DIRECTORIES[0]


def mod_wsgi_python(module):
    """(version, prefix) of the Python a mod_wsgi module embeds, from the libpython
    it links; (version, None) when it names no library file; None if unknown."""
    try:
        output = subprocess.run(["ldd", module], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        output = ""
    match = re.search(r"libpython(\d+\.\d+)\S*\s+=>\s+(\S+)", output)
    if match:
        library = os.path.realpath(match.group(2))
        return match.group(1), library.split("/lib/")[0] or "/"
    try:
        with open(module, "rb") as f:
            match = re.search(rb"libpython(\d+\.\d+)", f.read())
    except OSError:
        return None
    return (match.group(1).decode(), None) if match else None


def python_home_python(home):
    """(version, base prefix) of the Python a python-home (a virtualenv or a
    Python installation) runs, or None if it is neither."""
    config = os.path.join(home, "pyvenv.cfg")
    if os.path.exists(config):
        values = {}
        with open(config, encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
        version = re.match(r"\d+\.\d+", values.get("version", values.get("version_info", "")))
        base = os.path.dirname(os.path.realpath(os.path.join(values.get("home", ""), "python3")))
        return (version.group(0) if version else None), os.path.dirname(base)
    for python in ("bin/python3", "bin/python"):
        if os.path.exists(os.path.join(home, python)):
            out = subprocess.run(
                [os.path.join(home, python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30,
            ).stdout.strip()
            return out or None, os.path.realpath(home)
    return None


def ocsp_responder(certificate):
    """The OCSP responder a certificate file names, or None (none, or unreadable).
    Stapling a certificate without one logs an error at every start."""
    try:
        return (decode_certificate(certificate).get("OCSP") or (None,))[0]
    except (OSError, ssl.SSLError, ValueError):
        return None


def unreadable(path, uid, gids):
    """The first path on the way to ``path`` that user ``uid`` cannot pass or
    read (``path`` itself must be readable, and enterable if a directory), or None."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    for i in range(2, len(parts) + 1):
        current = os.sep.join(parts[:i]) or os.sep
        try:
            st = os.stat(current)
        except OSError:
            return current
        last = i == len(parts)
        need = stat.S_IXOTH if not last else (stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0))
        if not _allowed(st, uid, gids, need):
            return current
    return None


def unwritable(directory, uid, gids):
    """The first path that keeps user ``uid`` from creating files in ``directory``, or None."""
    blocked = unreadable(directory, uid, gids)
    if blocked:
        return blocked
    if not _allowed(os.stat(directory), uid, gids, stat.S_IWOTH | stat.S_IXOTH):
        return directory
    return None


def _allowed(st, uid, gids, need_other_bits):
    if uid == 0:
        return True
    if st.st_uid == uid:
        shift = 6
    elif st.st_gid in gids:
        shift = 3
    else:
        shift = 0
    need = need_other_bits << shift
    return st.st_mode & need == need


# -- the system Apache (Debian's layout: sites-enabled, envvars) -------------------

DAEMON_DIRECTIVE = re.compile(r"^[ \t]*WSGIDaemonProcess[ \t]+(\S+)(.*)$", re.MULTILINE | re.IGNORECASE)
DISPLAY_NAME = re.compile(r"""(?:^|\s)display-name=["']?([^\s"']+)""")


def link_chain(path):
    """``path`` and each path its symlinks lead to, one link at a time."""
    chain = [path]
    while os.path.islink(chain[-1]) and len(chain) < 40:
        chain.append(os.path.normpath(os.path.join(os.path.dirname(chain[-1]), os.readlink(chain[-1]))))
    return chain


def enabled_daemon_groups(confdir):
    """(site file, its link chain, group, display name or None) of every
    WSGIDaemonProcess in the system Apache's sites-enabled."""
    directory = os.path.join(confdir, "sites-enabled")
    found = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue  # a broken link: the site's buildout is gone
        for match in DAEMON_DIRECTIVE.finditer(text):
            group = match.group(1).strip("\"'")
            display = DISPLAY_NAME.search(match.group(2))
            display = display.group(1) if display else None
            if display == "%{GROUP}":
                display = f"(wsgi:{group})"
            found.append((path, link_chain(path), group, display))
    return found


def apache_envvar(confdir, name, default):
    """A value the system Apache's envvars file exports, e.g. APACHE_RUN_USER."""
    return read_envvar(confdir, name) or default
