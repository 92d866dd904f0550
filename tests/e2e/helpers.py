"""What the end-to-end tests share: building the example's parts, reading
buildout's errors, snapshots of files, and GET requests to a loopback server."""
import http.client
import os
import re
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from support import example  # noqa: E402


def section(name, options):
    lines = [f"[{name}]"]
    for key, value in options.items():
        if value is not None:
            lines.append(f"{key} = " + "\n    ".join(value.splitlines()))
    return "\n".join(lines) + "\n\n"


def snapshot(*paths):
    return {str(p): (p.stat().st_mtime_ns, p.read_text()) for p in paths}


def one_line_error(result):
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return errors[0]


def http_get(port, path="/", host="localhost", timeout=20, **headers):
    """GET ``path`` from a server on 127.0.0.1:port: (status, headers, body bytes).
    Only the headers given are sent (no Accept-Encoding unless given)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": host, **headers}.items():
            connection.putheader(name.replace("_", "-"), value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


PID_APP = '''\
import os

from coleman.wsgi import application as django_application


def application(environ, start_response):
    """The example, telling which process answered."""
    def start(status, headers, exc_info=None):
        headers = list(headers) + [
            ("X-Pid", str(os.getpid())),
            ("X-Process-Group", environ.get("mod_wsgi.process_group", "?")),
        ]
        return start_response(status, headers, exc_info)
    return django_application(environ, start)
'''


def example_environment(more=""):
    """[project]'s environment of buildout.cfg, and ``more`` lines."""
    return example.section("project")["environment"] + ("\n" + more.strip("\n") if more.strip() else "")


def site_config(port, apache=None, parts="coleman wsgi apache", environment=""):
    """The example's parts (buildout.cfg's, its django part as [coleman], the WSGI
    script answering through PID_APP) served on 127.0.0.1:``port``; ``apache``
    overrides or adds options (None drops one)."""
    apache_options = {
        "listen": f"127.0.0.1:{port}",
        "writable": None,
        "socket-timeout": "20",
        "request-timeout": "20",
    }
    apache_options.update(apache or {})
    return example.parts(parts, rename={"django": "coleman"}, changes={
        "project": {"environment": example_environment(environment)},
        "wsgi": {"extra-paths": "lib", "application": "pidapp:application"},
        "apache": apache_options,
    })


class Site:
    def __init__(self, buildout, port, apache=None, environment=""):
        self.buildout, self.port = buildout, port
        lib = buildout.path("lib")
        lib.mkdir(exist_ok=True)
        (lib / "pidapp.py").write_text(PID_APP)
        os.chmod(lib / "pidapp.py", 0o644)
        buildout.build(site_config(port, apache, environment=environment))
        buildout.bin("coleman", "migrate", "--noinput")

    def ctl(self, command, check=True):
        return self.buildout.bin("apache", command, check=check)

    def get(self, path="/", timeout=20):
        status, headers, body = http_get(self.port, path, timeout=timeout)
        return status, headers, body.decode("utf-8", "replace")


def doc_block(document, after, directive=".. code-block:: ini\n"):
    """The first block of ``document`` (a path) after the words ``after``: the
    indented lines after ``directive`` (an ini block), or after ``::`` with
    ``directive="::\n"`` (a console block), dedented."""
    text = document.read_text()
    assert after in text, f"{document.name} no longer says {after!r}"
    block = text.split(after, 1)[1].split(directive, 1)[1]
    lines = re.match(r"\n((?:    .*\n|\n)+)", block).group(1)
    return textwrap.dedent(lines)


def get(url):
    """(status, body) of a GET of ``url``, an error status included."""
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
