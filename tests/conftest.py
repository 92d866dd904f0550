"""Fixtures that build real buildouts in fresh, world-readable directories.

Every test buildout shares one eggs directory and one download cache (under
/var/tmp, readable by Apache's user), so Django is fetched once per machine.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "example"
BUILDOUT = Path(sys.executable).parent / "buildout"
SYSTEM_PYTHON = "/usr/bin/python3"
SHARED = Path(os.environ.get("DJANGOWSGI_TEST_CACHE", "/var/tmp/djangowsgi-test-cache"))
TEST_ROOT = Path(os.environ.get("DJANGOWSGI_TEST_ROOT", "/var/tmp/djangowsgi-tests"))

# The pins of the repo's own buildout.cfg, so tests build what `make run` builds.
VERSIONS = """
[versions]
Django = 5.2.19
asgiref = 3.13.0
sqlparse = 0.6.1
coleman = 1.0
djangowsgi = 0.1.0.dev0
"""


def pytest_sessionstart(session):
    missing = [p for p in (BUILDOUT, Path(SYSTEM_PYTHON)) if not p.exists()]
    if missing:
        pytest.exit(f"missing prerequisites: {', '.join(map(str, missing))} (run `make test`)", returncode=3)


def world_readable_directory(parent, prefix):
    parent.mkdir(parents=True, exist_ok=True)
    os.chmod(parent, 0o755)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    os.chmod(path, 0o755)
    return path


class Buildout:
    """A buildout directory of its own, with the example project and this package."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, *parts):
        return self.directory.joinpath(*parts)

    def write(self, parts_config, buildout_options=""):
        header = textwrap.dedent(
            f"""\
            [buildout]
            develop = {REPO} {EXAMPLE}
            eggs-directory = {SHARED / 'eggs'}
            download-cache = {SHARED / 'downloads'}
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
    for sub in ("eggs", "downloads"):
        (SHARED / sub).mkdir(parents=True, exist_ok=True)
    for path in (SHARED, SHARED / "eggs", SHARED / "downloads"):
        os.chmod(path, 0o755)
    return SHARED


@pytest.fixture
def buildout(shared_cache, request):
    directory = world_readable_directory(TEST_ROOT, request.node.name[:40] + "-")
    yield Buildout(directory)
    if not os.environ.get("DJANGOWSGI_KEEP"):
        shutil.rmtree(directory, ignore_errors=True)


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
