"""Fixtures that build real buildouts in fresh, world-readable directories.

Apache's user must read everything the mod_wsgi daemon loads, and neither
pytest's tmp_path nor a checkout under a home directory may be readable. So the
test buildouts, a copy of the example project and the virtualenv that runs
bin/buildout (made from /usr/bin/python3, the Python of Debian's mod_wsgi) all
live under /var/tmp. Every test buildout shares one eggs directory and one
download cache there, so Django is fetched once per machine.
"""
import fcntl
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from helpers import http_get

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from support.pins import versions, versions_section  # noqa: E402
from support.places import (BUILDOUT, DJANGOWSGI_VERSION, DOWNLOADS, EGGS, EXAMPLE, REPO, SHARED, SYSTEM_PYTHON,  # noqa: E402,F401
                            TEST_ROOT, VENV, copy_world_readable, free_port, make_test_virtualenv,
                            world_readable_directory)

# The pins of the repo's own buildout.cfg, so tests build what `make run` builds;
# tools/debian13 runs its lane once for each Django (DJANGOWSGI_TEST_DJANGO).
DJANGO = os.environ.get("DJANGOWSGI_TEST_DJANGO") or versions()["Django"]
VERSIONS = versions_section(Django=DJANGO)
# The Debian 13 lane (tools/debian13) runs the tests that depend on the distribution
# alone, and its tree has their prerequisites alone.
LANE = os.environ.get("DJANGOWSGI_TEST_LANE")


PREREQUISITES = {
    SYSTEM_PYTHON: "python3 (Debian's)",
    "/usr/sbin/apache2": "apache2",
    "/usr/sbin/apache2ctl": "apache2",
    "/usr/sbin/a2ensite": "apache2",
    "/usr/sbin/useradd": "passwd",
    "/usr/lib/apache2/modules/mod_wsgi.so": "libapache2-mod-wsgi-py3",
    "/usr/bin/openssl": "openssl",
    "/usr/sbin/sshd": "openssh-server",
    "/usr/bin/ssh-keygen": "openssh-client",
    "/usr/bin/git": "git",
    "/usr/bin/wrk": "wrk",
    "/usr/bin/curl": "curl",
    "/usr/bin/chromium": "chromium",
    "/usr/sbin/nginx": "nginx",
    "/usr/bin/gcc": "build-essential",
    "/usr/bin/systemd-analyze": "systemd",
    "/usr/bin/pebble": "pebble",
    "/usr/bin/pebble-challtestsrv": "pebble",
    "/usr/lib/apache2/modules/mod_md.so": "apache2",
    "/usr/sbin/haproxy": "haproxy",
    "/usr/lib/postgresql/15/bin/initdb": "postgresql",  # Debian 12's; the lane does not need it
    "/usr/bin/redis-server": "redis-server",
}


LANE_PREREQUISITES = ("python3 (Debian's)", "apache2", "passwd", "libapache2-mod-wsgi-py3", "openssl", "git", "curl",
                      "systemd", "haproxy")


def pytest_sessionstart(session):
    # A missing prerequisite fails the run; it is never a skip.
    missing = [package for path, package in PREREQUISITES.items() if not os.path.exists(path)
               and (not LANE or package in LANE_PREREQUISITES)]
    if missing:
        pytest.exit(f"missing prerequisites: {', '.join(missing)} (`make test` installs them)", returncode=3)
    make_test_virtualenv()
    # buildout runs `pip install -e` for each develop egg on every run; in an
    # isolated build environment that is about 4 s an egg, without one 0.3 s.
    # Half of every test buildout's run time; the recipes' behaviour is the same.
    os.environ["PIP_NO_BUILD_ISOLATION"] = "0"


# make test runs the suite in two pytest-xdist workers, a module's tests in one worker
# (``--dist loadfile``) so that its module fixtures are built once; xdist hands out the
# modules with the most tests first. The two modules that use ports 80 and 443,
# 127.0.0.1:8000 and the account mysite (test_first_hour, test_docs) hold them in turn,
# a test at a time (each test stops what it started there): held for a whole module,
# the other worker waited minutes for it.
@pytest.fixture
def well_known_ports():
    """Ports 80 and 443, 127.0.0.1:8000 and the account mysite, held for a test
    against the other pytest-xdist workers."""
    SHARED.mkdir(parents=True, exist_ok=True)
    with open(SHARED / ".well-known-ports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class Buildout:
    """A buildout directory of its own, with a copy of the example project
    (``example/``, a develop egg that a test may change) and this package."""

    def __init__(self, directory):
        self.directory = directory
        self.example = directory / "example"
        copy_world_readable(EXAMPLE, self.example)

    def path(self, *parts):
        return self.directory.joinpath(*parts)

    def write(self, parts_config, buildout_options=""):
        header = textwrap.dedent(
            f"""\
            [buildout]
            develop = {REPO} {self.example}
            eggs-directory = {EGGS}
            download-cache = {DOWNLOADS}
            allow-picked-versions = false
            """
        )
        config = header + textwrap.dedent(buildout_options) + textwrap.dedent(parts_config) + VERSIONS
        self.path("buildout.cfg").write_text(config)

    def run(self, check=True):
        result = subprocess.run(
            [str(BUILDOUT), "-N", "-c", str(self.path("buildout.cfg"))],
            cwd=self.directory, capture_output=True, text=True,
        )
        if check and result.returncode:
            raise AssertionError(f"bin/buildout failed:\n{result.stdout}\n{result.stderr}")
        return result

    def build(self, parts_config, buildout_options=""):
        self.write(parts_config, buildout_options)
        return self.run()

    def bin(self, name, *args, check=True):
        result = subprocess.run(
            [str(self.path("bin", name)), *args], cwd=self.directory, capture_output=True, text=True
        )
        if check and result.returncode:
            raise AssertionError(f"bin/{name} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture(scope="session")
def shared_cache():
    for path in (EGGS, DOWNLOADS):
        path.mkdir(parents=True, exist_ok=True)
    for path in (SHARED, EGGS, DOWNLOADS):
        os.chmod(path, 0o755)
    return SHARED


class SystemApache:
    """Debian's apache2 with its configuration in a private APACHE_CONFDIR and
    private run, lock and log directories, listening on one loopback port."""

    def __init__(self, root):
        self.root = root
        self.confdir = root / "apache2"
        shutil.copytree("/etc/apache2", self.confdir, symlinks=True)
        for name in ("run", "lock", "log"):
            (root / name).mkdir(mode=0o755)
        with open(self.confdir / "envvars", "a") as f:
            f.write(f"\nexport APACHE_RUN_DIR={root}/run\nexport APACHE_PID_FILE={root}/run/apache2.pid\n"
                    f"export APACHE_LOCK_DIR={root}/lock\nexport APACHE_LOG_DIR={root}/log\n")
        self.port = free_port()
        (self.confdir / "ports.conf").write_text(f"Listen 127.0.0.1:{self.port}\n")
        for site in (self.confdir / "sites-enabled").iterdir():
            site.unlink()
        # APACHE_STARTED_BY_SYSTEMD: apache2ctl start runs apache2 itself, never systemctl.
        self.env = {**os.environ, "APACHE_CONFDIR": str(self.confdir), "APACHE_STARTED_BY_SYSTEMD": "1"}

    def ctl(self, command):
        return subprocess.run(["apache2ctl", command], env=self.env, capture_output=True, text=True, check=True)

    @property
    def pid(self):
        return int((self.root / "run" / "apache2.pid").read_text())

    def stop_and_remove(self):
        """Stop it if it runs (SIGTERM if it can no longer read its configuration),
        wait until it is gone, and remove its directory."""
        pid_file = self.root / "run" / "apache2.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())  # before the stop, which removes the file
            if subprocess.run(["apache2ctl", "stop"], env=self.env, capture_output=True).returncode:
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
                time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)

    def daemons(self, user):
        """pids of the system Apache's children running as ``user``."""
        uid = pwd.getpwnam(user).pw_uid
        found = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/status") as f:
                    status = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            if (int(status["PPid"]) == self.pid and int(status["Uid"].split()[0]) == uid
                    and status["State"].split()[0] != "Z"):
                found.add(int(pid))
        return found

    def started_daemons(self, user, vhost, seconds=30):
        """pids of ``user``'s daemons once all that ``vhost``'s WSGIDaemonProcess lines
        ask for run as that user (a daemon is forked as root, then changes user)."""
        wanted = sum(int(re.search(r"processes=(\d+)", line).group(1)) for line in vhost.read_text().splitlines()
                     if "WSGIDaemonProcess" in line and f" user={user} " in line)
        deadline = time.monotonic() + seconds
        while len(found := self.daemons(user)) < wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(found) == wanted, f"{user}: {len(found)} of {wanted} daemons within {seconds} s"
        return found

    def get(self, host, path="/"):
        status, headers, body = http_get(self.port, path, host=host)
        return status, headers, body.decode("utf-8", "replace")


def make_account(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)


@pytest.fixture(scope="session")
def system_apache():
    server = SystemApache(world_readable_directory(TEST_ROOT, "system-apache-"))
    server.ctl("start")
    yield server
    server.stop_and_remove()


@pytest.fixture(scope="session")
def new_buildout(shared_cache):
    """A factory of fresh buildouts, removed at the end of the session."""
    made = []

    def make(name):
        # Short: mod_wsgi's socket path inside it must stay under 108 bytes.
        made.append(Buildout(world_readable_directory(TEST_ROOT, name[:20] + "-")))
        return made[-1]

    yield make
    if not os.environ.get("DJANGOWSGI_KEEP"):
        for buildout in made:
            shutil.rmtree(buildout.directory, ignore_errors=True)


@pytest.fixture
def buildout(new_buildout, request):
    return new_buildout(request.node.name)


def call_wsgi(script, path="/", extra_code="", environ=None):
    """Load a WSGI script in a plain Debian Python (-I: no buildout, no venv,
    no PYTHONPATH) and call its application once. Returns (status, body, sys.path)."""
    code = CALL_WSGI % dict(script=str(script), path=path, extra=extra_code)
    result = subprocess.run(
        [SYSTEM_PYTHON, "-I", "-c", code], capture_output=True, text=True, env=environ or {}, timeout=60
    )
    assert result.returncode == 0, result.stderr
    status, path_json, body = result.stdout.split("\n", 2)
    import json

    return status, body, json.loads(path_json)


CALL_WSGI = """
import io, json, runpy, sys
%(extra)s
app = runpy.run_path(%(script)r)["application"]
environ = {
    "REQUEST_METHOD": "GET", "PATH_INFO": %(path)r, "QUERY_STRING": "", "SCRIPT_NAME": "",
    "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
    "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
    "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": False,
    "wsgi.multiprocess": False, "wsgi.run_once": False,
}
started = []
body = b"".join(app(environ, lambda status, headers, exc_info=None: started.append(status)))
print(started[0])
print(json.dumps(sys.path))
print(body.decode("utf-8", "replace"))
"""


class LoadLoop:
    """Calls each of ``requests`` in turn from a thread while the ``with`` block
    runs: bounded in count and time, and only ever aimed at loopback servers.
    A request returns 200 (or a (name, 200) pair) when all went well; anything
    else it returns, or an OSError it raises, is a failure."""

    def __init__(self, requests, limit=2000, seconds=30, settle=0.0, pause=0.0):
        self.requests, self.limit, self.seconds = requests, limit, seconds
        self.settle, self.pause = settle, pause
        self.results, self.stopping = [], threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        deadline = time.monotonic() + self.seconds
        while not self.stopping.is_set() and len(self.results) < self.limit and time.monotonic() < deadline:
            for request in self.requests:
                try:
                    self.results.append(request())
                except OSError as e:
                    self.results.append(repr(e))
            time.sleep(self.pause)

    def __enter__(self):
        self.thread.start()
        time.sleep(self.settle)
        return self

    def __exit__(self, *exc):
        time.sleep(self.settle)
        self.stopping.set()
        self.thread.join()

    @property
    def failures(self):
        return [r for r in self.results if r != 200 and not (isinstance(r, tuple) and r[1] == 200)]
