"""Where the tests and the benchmarks build: world-readable directories under
/var/tmp (Apache's user must read what its daemons load, and neither pytest's
tmp_path nor a checkout in a home directory may be readable), one eggs
directory and download cache for every test buildout, and the virtualenv of
/usr/bin/python3 (the Python of Debian's mod_wsgi) that runs bin/buildout."""
import fcntl
import hashlib
import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "example"
SYSTEM_PYTHON = "/usr/bin/python3"
# The version of the working tree, where it is set.
DJANGOWSGI_VERSION = re.search(r'^__version__ = "(.+)"$', (REPO / "src" / "djangowsgi" / "__init__.py").read_text(),
                               re.M).group(1)
SHARED = Path(os.environ.get("DJANGOWSGI_TEST_CACHE", "/var/tmp/djangowsgi-test-cache"))
TEST_ROOT = Path(os.environ.get("DJANGOWSGI_TEST_ROOT", "/var/tmp/djangowsgi-tests"))
VENV = SHARED / "venv"
# Every test buildout's eggs directory and download cache, one pair for each pytest-xdist
# worker: two buildouts fetching the same distribution into one cache at once read each
# other's half-written file (seen on a machine whose cache was empty).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
EGGS = SHARED / ("eggs-" + _WORKER if _WORKER else "eggs")
DOWNLOADS = SHARED / ("downloads-" + _WORKER if _WORKER else "downloads")
BUILDOUT = VENV / "bin" / "buildout"


def make_test_virtualenv():
    """/usr/bin/python3's virtualenv with zc.buildout, made again when requirements.txt changes."""
    requirements = (REPO / "requirements.txt").read_bytes()
    stamp = VENV / f".requirements-{hashlib.sha256(requirements).hexdigest()[:16]}"
    SHARED.mkdir(parents=True, exist_ok=True)
    os.chmod(SHARED, 0o755)
    with open(SHARED / ".venv.lock", "w") as lock:  # pytest-xdist's workers start together
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "-r", str(REPO / "requirements.txt")],
                       check=True)
        stamp.touch()


def world_readable_directory(parent, prefix):
    parent.mkdir(parents=True, exist_ok=True)
    os.chmod(parent, 0o755)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o755)
    return path


def copy_world_readable(source, target):
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "var"))
    for root, dirs, files in os.walk(target):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


# Under pytest-xdist (make test), each worker takes its ports from a block of its own
# (gw0 the first of 12000-21999, gw1 the next, ...), so that two workers never pick the
# same port between its probe here and the server that later binds it, nor a port's
# neighbour (a standby on port + 1) or companion (+ 10000, 22000-31999). All below
# Linux's ephemeral range (32768-60999), where no client connection takes one first.
_given = set()


def free_port():
    """A free loopback port, never given before in this process, whose mod_status
    companion (the port + 10000: the apache recipe's default status-listen) is free too."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    size = 10000 // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    first = 12000 + size * (int(worker[2:]) if worker.startswith("gw") else 0)
    for _ in range(10000):
        port = random.randrange(first, first + size - 2)  # port + 1 stays in the block
        if port in _given:
            continue
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port pair on 127.0.0.1 in {first}-{first + size - 1}")
