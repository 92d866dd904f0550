"""djangowsgi:apache against a real Apache with mod_wsgi, on loopback ports."""
import gzip
import http.client
import os
import re
import selectors
import socket
import ssl
import subprocess
import threading
import time

import pytest

from conftest import LoadLoop, free_port
from test_project_recipes import one_line_error, section, snapshot

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


def site_config(port, apache=None, parts="coleman wsgi apache", environment=""):
    project = {
        "eggs": "coleman",
        "settings": "coleman.settings",
        "environment": "COLEMAN_VAR_DIR=${buildout:directory}/var\n" + environment,
    }
    common = {key: f"${{project:{key}}}" for key in project}
    apache_options = {
        "recipe": "djangowsgi:apache",
        "wsgi-script": "${wsgi:script}",
        "server-name": "localhost",
        "listen": f"127.0.0.1:{port}",
        "aliases": "/static/ ${buildout:directory}/var/static/",
        "socket-timeout": "20",
        "request-timeout": "20",
    }
    apache_options.update(apache or {})
    return (
        section("buildout", {"parts": parts})
        + section("project", project)
        + section("coleman", {"recipe": "djangowsgi:django", **common, "collectstatic": "true"})
        + section("wsgi", {"recipe": "djangowsgi:wsgi", **common, "extra-paths": "lib",
                           "application": "pidapp:application"})
        + section("apache", apache_options)
    )


class Site:
    def __init__(self, buildout, port, apache=None):
        self.buildout, self.port = buildout, port
        lib = buildout.path("lib")
        lib.mkdir(exist_ok=True)
        (lib / "pidapp.py").write_text(PID_APP)
        os.chmod(lib / "pidapp.py", 0o644)
        buildout.build(site_config(port, apache))
        buildout.bin("coleman", "migrate", "--noinput")

    def ctl(self, command, check=True):
        return self.buildout.bin("apache", command, check=check)

    def get(self, path="/", timeout=20):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", "localhost")
            connection.endheaders()
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")
        finally:
            connection.close()


def apache_processes(config):
    """Live processes started with this httpd.conf (zombies left aside)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(config) in cmdline and state != "Z":
            found.append(int(pid))
    return found


def parent_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().replace(b"\0", b" ").decode(errors="replace")


@pytest.fixture(scope="module")
def site(new_buildout):
    site = Site(new_buildout("apache-daemon"), free_port())
    started = site.ctl("start")
    assert "Started" in started.stdout
    yield site
    site.ctl("stop", check=False)


def test_home_page_and_admin(site):
    status, headers, body = site.get("/")
    assert status == 200 and "Welcome to Coleman" in body
    assert headers["Server"] == "Apache"  # ServerTokens Prod
    status, _, body = site.get("/admin/login/")
    assert status == 200 and "Django administration" in body


def test_status_shows_what_mod_status_knows(site):
    for path in ("/server-status", "/server-status?auto", "/server-info"):
        status, headers, _ = site.get(path)
        assert status == 404 and "X-Pid" not in headers, path  # not mod_status, and not Django either
    with LoadLoop([lambda: site.get("/", timeout=10)[0]], limit=200, seconds=10):
        time.sleep(1)
        shown = site.ctl("status").stdout
    assert "answering" in shown
    assert re.search(r"Up (\d+ min )?\d+ s, \d+ requests served", shown), shown
    assert re.search(r"Workers: \d+ serving a request, \d+ idle, of 1024 ", shown), shown
    status_url = f"http://127.0.0.1:{site.port + 10000 if site.port <= 55535 else site.port - 10000}/server-status"
    assert f"Every request being served: {status_url}" in shown
    connection = http.client.HTTPConnection(*status_url.split("/")[2].split(":"), timeout=5)
    connection.request("GET", "/server-status")
    response = connection.getresponse()
    assert response.status == 200 and "Apache Server Status" in response.read().decode()


def test_static_files_are_served_by_apache(site):
    only_apache = site.buildout.path("var", "static", "only-apache.txt")
    only_apache.write_text("served by Apache\n")
    os.chmod(only_apache, 0o644)
    status, headers, body = site.get("/static/only-apache.txt")
    assert status == 200 and body == "served by Apache\n"
    assert "X-Pid" not in headers  # Django never saw it
    status, headers, _ = site.get("/static/coleman/style.css")
    assert status == 200 and headers["Content-Type"].startswith("text/css")


@pytest.mark.parametrize("path", [
    "/parts/wsgi/wsgi.wsgi",
    "/wsgi.wsgi",
    "/static/../parts/wsgi/wsgi.wsgi",
    "/static/../../buildout.cfg",
    "/static/..%2f..%2fbuildout.cfg",
    "/static/%2e%2e/%2e%2e/buildout.cfg",
    "/static/../example/coleman/settings.py",
    "/static/",
])
def test_project_tree_and_script_source_are_not_served(site, path):
    status, _, body = site.get(path)
    assert status in (400, 403, 404), (status, body[:200])
    for secret in ("generated by djangowsgi", "[buildout]", "SECRET_KEY", "sys.path"):
        assert secret not in body


def test_daemon_mode_answers_from_a_mod_wsgi_daemon(site):
    _, headers, _ = site.get("/")
    pid = int(headers["X-Pid"])
    assert headers["X-Process-Group"] == "localhost"  # process-group: the server-name by default
    assert cmdline(pid).startswith("(wsgi:localhost)")
    apache_parent = int(site.buildout.path("var", "run", "apache", "httpd.pid").read_text())
    assert parent_of(pid) == apache_parent


class SlowClients:
    """``connections`` clients of a loopback server that send ``first``, then
    ``then`` every ``interval`` seconds, and never finish their request (headers
    a line at a time: "slowloris"; a body a byte at a time), for at most
    ``seconds``. Records when the server closed each of them."""

    def __init__(self, port, connections, seconds, first=b"GET / HTTP/1.1\r\nHost: localhost\r\n",
                 then=b"X-Slow: 1\r\n", interval=2.0):
        self.port, self.count, self.seconds, self.interval = port, connections, seconds, interval
        self.first, self.then = first, then
        self.selector = selectors.DefaultSelector()
        self.open, self.closed = set(), []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def __enter__(self):
        self.started = time.monotonic()
        for _ in range(self.count):
            client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            client.sendall(self.first)
            client.setblocking(False)
            self.selector.register(client, selectors.EVENT_READ)
            self.open.add(client)
        self.thread.start()
        return self

    def _close(self, client):
        self.closed.append(time.monotonic() - self.started)
        self.selector.unregister(client)
        self.open.discard(client)
        client.close()

    def run(self):
        deadline = self.started + self.seconds
        next_line = time.monotonic() + self.interval
        while self.open and not self.stopping.is_set() and time.monotonic() < deadline:
            for key, _ in self.selector.select(timeout=0.2):
                try:
                    key.fileobj.recv(4096)  # a 408, or the end of the connection
                except OSError:
                    pass
                self._close(key.fileobj)
            if time.monotonic() >= next_line:
                next_line += self.interval
                for client in list(self.open):
                    try:
                        client.send(self.then)
                    except OSError:
                        self._close(client)

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()
        for client in list(self.open):
            client.close()


def test_slow_header_clients_are_cut_off_and_the_page_still_answers(site):
    """600 slow clients are more than Apache's stock 400 workers: without
    mod_reqtimeout and enough workers the page would wait as long as they do."""
    probes = []
    with SlowClients(site.port, 600, seconds=30) as attack:
        while time.monotonic() < attack.started + 24:
            started = time.monotonic()
            status = site.get("/", timeout=10)[0]
            probes.append((status, time.monotonic() - started))
            time.sleep(0.5)
    assert len(probes) > 20 and all(status == 200 for status, _ in probes), probes
    # header=10-20,MinRate=500: every one of them is closed after 10 to 20 s.
    assert len(attack.closed) == 600 and max(attack.closed) < 22, sorted(attack.closed)[-5:]


def test_slow_bodies_hold_their_own_daemons_not_the_pages(site):
    """60 POSTs sending their body a byte a second: in one daemon group they
    would hold every thread, and the page would wait for as long as they last."""
    head = (b"POST /admin/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
    probes = []
    with SlowClients(site.port, 60, seconds=16, first=head, then=b"a", interval=1.0) as attack:
        while time.monotonic() < attack.started + 12:
            probes.append(site.get("/", timeout=5)[0])
            time.sleep(0.5)
    assert len(probes) > 10 and all(status == 200 for status in probes), probes


def test_body_over_max_body_size_gets_413_from_apache(site):
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=20)
    try:
        connection.putrequest("POST", "/", skip_host=True)
        connection.putheader("Host", "localhost")
        connection.putheader("Content-Length", str(200 * 1024 * 1024))  # max-body-size: 100M
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert "X-Pid" not in dict(response.getheaders())  # the daemon never saw it
    finally:
        connection.close()


def fetch(site, path, **headers):
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=20)
    try:
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": "localhost", **headers}.items():
            connection.putheader(name.replace("_", "-"), value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
                    "da63f8cfc0f01f0005000201a1e1f5d70000000049454e44ae426082")


def test_static_text_is_compressed_images_are_not(site):
    _, plain_headers, plain = fetch(site, "/static/admin/css/base.css")
    assert "content-encoding" not in plain_headers and len(plain) > 10000
    status, headers, body = fetch(site, "/static/admin/css/base.css", Accept_Encoding="gzip")
    assert status == 200 and headers["content-encoding"] == "gzip" and "Accept-Encoding" in headers["vary"]
    assert gzip.decompress(body) == plain and len(body) < len(plain) / 3
    _, headers, _ = fetch(site, "/static/admin/js/core.js", Accept_Encoding="br, gzip")
    assert headers["content-encoding"] == "br"
    image = site.buildout.path("var", "static", "pixel.png")
    image.write_bytes(PNG)
    os.chmod(image, 0o644)
    status, headers, body = fetch(site, "/static/pixel.png", Accept_Encoding="br, gzip")
    assert status == 200 and body == PNG and "content-encoding" not in headers


def test_a_changed_static_file_is_served_new_within_ten_seconds(site):
    """Compressed files are kept in a cache (CacheMaxExpire 10); uncompressed ones are not."""
    text = site.buildout.path("var", "static", "changing.txt")
    text.write_text("first version " * 100)
    os.chmod(text, 0o644)
    assert gzip.decompress(fetch(site, "/static/changing.txt", Accept_Encoding="gzip")[2]).startswith(b"first")
    assert fetch(site, "/static/changing.txt")[2].startswith(b"first")
    time.sleep(1.1)  # Last-Modified, which revalidates, counts whole seconds
    text.write_text("second version " * 100)
    # Only compressed files are cached: the file itself is served new at once.
    assert fetch(site, "/static/changing.txt")[2].startswith(b"second")
    assert gzip.decompress(fetch(site, "/static/changing.txt", Accept_Encoding="gzip")[2]).startswith(b"first")
    time.sleep(10)
    assert gzip.decompress(fetch(site, "/static/changing.txt", Accept_Encoding="gzip")[2]).startswith(b"second")
    assert fetch(site, "/static/changing.txt")[2].startswith(b"second")


def test_hashed_static_files_are_immutable_others_revalidate(site):
    page = site.get("/")[2]
    hashed = re.search(r'href="(/static/coleman/style\.[0-9a-f]{12}\.css)"', page).group(1)
    _, headers, _ = fetch(site, hashed)
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    _, headers, _ = fetch(site, "/static/coleman/style.css")
    assert headers["cache-control"] == "public, max-age=3600, s-maxage=10"
    status, _, body = fetch(site, "/static/coleman/style.css", If_None_Match=headers["etag"])
    assert status == 304 and body == b""
    _, compressed, _ = fetch(site, "/static/coleman/style.css", Accept_Encoding="gzip")
    status, _, _ = fetch(site, "/static/coleman/style.css", Accept_Encoding="gzip",
                         If_Modified_Since=compressed["last-modified"])
    assert status == 304


def test_systemd_unit_passes_verify(site):
    unit = site.buildout.path("parts", "apache", "apache-localhost.service")  # after the process group
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = unit.read_text()
    script = site.buildout.path("bin", "apache")
    for line in (f"ExecStart={script} start", f"ExecReload={script} reload", "Restart=on-failure",
                 f"PIDFile={site.buildout.path('var', 'run', 'apache', 'httpd.pid')}"):
        assert line in text.splitlines()


def test_access_log_records_time_and_process_group(site):
    site.get("/?logged=page")
    site.get("/static/coleman/style.css?logged=static")
    log = site.buildout.path("var", "log", "apache", "access.log")
    for _ in range(50):  # written by rotatelogs, a moment later
        lines = [line for line in log.read_text().splitlines() if "logged=" in line]
        if len(lines) == 2:
            break
        time.sleep(0.1)
    page, static = lines
    assert re.search(r'"GET /\?logged=page HTTP/1.1" 200 \d+ .* \d+ localhost$', page), page
    assert re.search(r'"GET /static/coleman/style.css\?logged=static HTTP/1.1" 200 \d+ .* \d+ -$', static), static


def test_log_rotation_under_load_loses_no_line(new_buildout):
    site = Site(new_buildout("apache-logs"), free_port(), {"log-rotation": "20K", "log-keep": "1000"})
    logs = site.buildout.path("var", "log", "apache")
    site.ctl("start")
    try:
        numbers = iter(range(100000))

        def numbered():
            return fetch(site, f"/static/coleman/style.css?n={next(numbers)}")[0]
        with LoadLoop([numbered], limit=1500, seconds=60) as load:
            load.thread.join(70)  # until its 1500 requests are made
        assert load.failures == [] and len(load.results) == 1500
        time.sleep(1)  # rotatelogs writes what Apache piped to it
        seen = [int(n) for f in logs.glob("access.log.*") for n in re.findall(r"\?n=(\d+) ", f.read_text())]
        assert sorted(seen) == list(range(1500))
        # About 200 bytes a line: due every 100 lines; a file is named after the second it began in.
        assert len(list(logs.glob("access.log.*"))) >= 2
        # Fewer kept: the next rotation (a restart opens a new file) prunes the oldest.
        site.buildout.build(site_config(site.port, {"log-rotation": "20K", "log-keep": "3"}))
        site.ctl("reload")
        for _ in range(300):
            fetch(site, "/static/coleman/style.css")
        time.sleep(1)
        assert 1 <= len(list(logs.glob("access.log.*"))) <= 3
        assert os.path.samefile(logs / "access.log", max(logs.glob("access.log.*"), key=os.path.getmtime))
    finally:
        site.ctl("stop")


def test_configtest_and_status(site):
    result = site.ctl("configtest")
    assert "Syntax OK" in result.stdout + result.stderr
    status = site.ctl("status").stdout
    assert "Running" in status and f"http://127.0.0.1:{site.port}/" in status and "answering" in status


def Load(site):
    """GETs of the home page from a thread while something happens."""
    def home():
        status, _, body = site.get("/", timeout=20)
        return status if "Coleman" in body else f"{status} wrong body"
    return LoadLoop([home], settle=0.3)


def daemon_count(site):
    """Daemons of both groups: the page's and the one for requests with a body."""
    vhost = site.buildout.path("parts", "apache", "vhost.conf").read_text()
    return sum(int(n) for n in re.findall(r" processes=(\d+)", vhost))


def test_reload_drops_no_request(site):
    _, headers, _ = site.get("/")
    before = int(headers["X-Pid"])
    with Load(site) as load:
        output = site.ctl("reload").stdout
    assert f"Reloaded {daemon_count(site)} mod_wsgi daemon process(es) of localhost and localhost-bodies" in output
    assert len(load.results) > 10
    assert load.failures == []
    _, headers, _ = site.get("/")
    assert int(headers["X-Pid"]) != before  # the daemons were replaced


def test_graceful_keeps_the_site_answering(site):
    apache_parent = int(site.buildout.path("var", "run", "apache", "httpd.pid").read_text())
    with Load(site) as load:
        assert "Restarted gracefully" in site.ctl("graceful").stdout
    assert site.get("/")[0] == 200
    assert int(site.buildout.path("var", "run", "apache", "httpd.pid").read_text()) == apache_parent
    # mod_wsgi re-creates its daemon socket during Apache's graceful restart, and a
    # request that finds no socket file gets a 503 at once (it retries only a refused
    # connection: wsgi_remote.c); README, "Reloading". How many is timing: 6 and 11
    # of about 90 in two CI runs. Nothing else fails, and most go through.
    assert all(f.startswith("503") for f in load.failures), load.failures
    assert len(load.failures) < len(load.results) // 2, load.failures


def test_reload_right_after_graceful_replaces_every_daemon(site):
    site.ctl("graceful")  # returns once the daemons of before are gone
    assert f"Reloaded {daemon_count(site)} mod_wsgi daemon process(es)" in site.ctl("reload").stdout


def test_code_change_is_live_after_reload(site):
    views = site.buildout.example / "coleman" / "views.py"
    original = views.read_text()
    changed = original.replace("    return response", '    response["X-Version"] = "2"\n    return response')
    assert changed != original
    try:
        views.write_text(changed)
        assert "Reloaded" in site.ctl("reload").stdout
        assert site.get("/")[1].get("X-Version") == "2"
    finally:
        views.write_text(original)
        site.ctl("reload")


def test_second_buildout_touches_nothing(site):
    b = site.buildout
    files = [b.path("parts", "apache", "vhost.conf"), b.path("parts", "apache", "httpd.conf"),
             b.path("parts", "wsgi", "wsgi.wsgi"), b.path("bin", "apache")]
    before = snapshot(*files)
    b.run()
    assert snapshot(*files) == before


def test_stop_leaves_no_process_behind(new_buildout):
    site = Site(new_buildout("apache-stop"), free_port())
    site.ctl("start")
    config = site.buildout.path("parts", "apache", "httpd.conf")
    assert len(apache_processes(config)) >= 3  # parent, children, daemons
    assert site.ctl("start").stdout.startswith("Already running")
    assert "Stopped" in site.ctl("stop").stdout
    assert apache_processes(config) == []
    assert site.ctl("status", check=False).returncode == 3
    with pytest.raises(OSError):
        site.get("/", timeout=2)


def test_embedded_mode(new_buildout):
    site = Site(new_buildout("apache-embedded"), free_port(), {"mode": "embedded"})
    vhost = site.buildout.path("parts", "apache", "vhost.conf").read_text()
    httpd_conf = site.buildout.path("parts", "apache", "httpd.conf").read_text()
    assert "WSGIDaemonProcess" not in vhost and "WSGIPythonHome" in httpd_conf
    site.ctl("start")
    try:
        status, headers, body = site.get("/")
        assert status == 200 and "Welcome to Coleman" in body
        assert headers["X-Process-Group"] == ""  # embedded: no daemon process group
        assert cmdline(int(headers["X-Pid"])).startswith("/usr/sbin/apache2")
        with Load(site) as load:
            site.ctl("reload")  # a graceful restart in embedded mode
        assert load.failures == []
    finally:
        site.ctl("stop")


def test_configtest_for_each_mode_and_syntax(new_buildout):
    b = new_buildout("apache-syntax")
    port = free_port()
    Site(b, port)
    for options in ({"mode": "embedded"}, {"apache-version": "2.2"},
                    {"apache-version": "2.2", "mode": "embedded"}, {"preload": "false"}):
        b.build(site_config(port, options))
        httpd_conf = b.path("parts", "apache", "httpd.conf").read_text()
        vhost = b.path("parts", "apache", "vhost.conf").read_text()
        if options.get("apache-version") == "2.2":
            assert "mod_access_compat.so" in httpd_conf
            assert "Require all" not in vhost and "Allow from all" in vhost
        result = b.bin("apache", "configtest")
        assert "Syntax OK" in result.stdout + result.stderr, options


def test_https_with_redirect_and_hsts(new_buildout):
    b = new_buildout("apache-ssl")
    key, certificate = b.path("site.key"), b.path("site.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(certificate)], check=True, capture_output=True)
    https_port, http_port = free_port(), free_port()
    site = Site(b, https_port, {"ssl-certificate": str(certificate), "ssl-certificate-key": str(key),
                                "redirect-http": "true", "http-listen": f"127.0.0.1:{http_port}",
                                "hsts": "3600"})
    site.ctl("start")
    try:
        context = ssl.create_default_context(cafile=str(certificate))
        connection = http.client.HTTPSConnection("localhost", https_port, timeout=20, context=context)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200 and "Welcome to Coleman" in response.read().decode()
        assert response.getheader("Strict-Transport-Security") == "max-age=3600"
        connection.close()
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=20)
        plain.request("GET", "/admin/", headers={"Host": "localhost"})
        response = plain.getresponse()
        assert response.status == 301
        assert response.getheader("Location") == f"https://localhost:{https_port}/admin/"
        for path in ("/", "/static/coleman/style.css"):
            version = subprocess.run(
                ["curl", "--silent", "--http2", "--cacert", str(certificate), "--output", "/dev/null",
                 "--resolve", f"localhost:{https_port}:127.0.0.1", "--write-out", "%{http_version} %{http_code}",
                 f"https://localhost:{https_port}{path}"], capture_output=True, text=True, timeout=30).stdout
            assert version == "2 200", (path, version)
    finally:
        site.ctl("stop")


BAD_INPUTS = [
    ({"user": "root"}, "option user: 'root' is root"),
    ({"group": "no-such-group"}, "option group: no group 'no-such-group' on this machine"),
    ({"server-name": 'example.com"\nInclude /etc/passwd'}, "option server-name:"),
    ({"display-name": 'x"y'}, "option display-name: 'x\"y' holds '\"'"),
    ({"extra": "</VirtualHost>\n<VirtualHost *:80>"}, "option extra: may not open or close a VirtualHost"),
    ({"listen": "127.0.0.1:70000"}, "option listen: port 70000 is outside 1-65535"),
    ({"listen": "localhost"}, "option listen: 'localhost' is not [address:]port"),
    ({"status-listen": "0.0.0.0:9000"}, "option status-listen: 0.0.0.0 is not a loopback address"),
    ({"status-listen": "9000"}, "option status-listen: * is not a loopback address"),
    ({"server": "system", "status-listen": "127.0.0.1:9000"}, "option status-listen: is for the self-contained"),
    ({"python-home": "venv"}, "option python-home: 'venv' is not an absolute path"),
    ({"aliases": "/media/ var/media"}, "option aliases: 'var/media' is not an absolute path"),
    ({"aliases": "/media/ /nonexistent/media"}, "option aliases: directory /nonexistent/media/ (for /media/) does not exist"),
    ({"ssl-certificate": "/etc/ssl/certs/ca-certificates.crt"},
     "option ssl-certificate-key: is required when ssl-certificate is given"),
    ({"hsts": "600"}, "option hsts: needs ssl-certificate and ssl-certificate-key"),
    ({"processes": "0"}, "option processes: 0 is out of range"),
    ({"mode": "threaded"}, "option mode: 'threaded' is not one of daemon, embedded"),
    ({"apache-version": "2.0"}, "option apache-version: '2.0' is not one of 2.4, 2.2"),
    ({"socket-prefix": "/var/tmp/" + "x" * 90 + "/wsgi"}, "is too long for the daemon's socket"),
    ({"process-group": "my site"}, "option process-group: 'my site' is not a plain name"),
    ({"server": "system", "mode": "embedded"}, "option mode: embedded would run the site in every child"),
    ({"server": "apache2"}, "option server: 'apache2' is not one of self-contained, system"),
    ({"max-body-size": "lots"}, "option max-body-size: 'lots' is not a size like 100M"),
    ({"log-rotation": "weekly"}, "option log-rotation: 'weekly' is not a size like 100M, a number of seconds"),
    ({"body-processes": "-1"}, "option body-processes: -1 is out of range"),
    ({"workers": "0"}, "option workers: 0 is out of range"),
    ({"request-read-timeout": "header=ten"}, "option request-read-timeout: 'header=ten' is not mod_reqtimeout's"),
    ({"server": "system", "apache-confdir": "etc/apache2"}, "option apache-confdir: 'etc/apache2' is not an absolute"),
]


@pytest.fixture(scope="module")
def built(new_buildout):
    site = Site(new_buildout("apache-bad-input"), free_port())
    return site


def files_of(site):
    b = site.buildout
    return [b.path("parts", "apache", "vhost.conf"), b.path("parts", "apache", "httpd.conf"),
            b.path("bin", "apache"), b.path("parts", "wsgi", "wsgi.wsgi")]


@pytest.mark.parametrize("options, message", BAD_INPUTS, ids=[m.split(":")[0][7:] + str(i)
                                                              for i, (_, m) in enumerate(BAD_INPUTS)])
def test_bad_input_fails_at_build_time(built, options, message):
    before = snapshot(*files_of(built))
    built.buildout.write(site_config(built.port, options))
    error = one_line_error(built.buildout.run(check=False))
    assert "djangowsgi part [apache]" in error and message in error, error
    assert snapshot(*files_of(built)) == before


def fake_python_home(directory, version, home):
    directory.mkdir()
    (directory / "pyvenv.cfg").write_text(f"home = {home}\nversion = {version}\n")
    return directory


def test_python_home_of_another_python_version(built):
    home = fake_python_home(built.buildout.path("old-venv"), "3.9.2", "/usr/bin")
    built.buildout.write(site_config(built.port, {"python-home": str(home)}))
    error = one_line_error(built.buildout.run(check=False))
    assert "option python-home:" in error and "runs Python 3.9 but" in error and "embeds Python 3.11" in error


def test_python_home_made_from_another_python(built):
    home = fake_python_home(built.buildout.path("pyenv-venv"), "3.11.7", "/opt/pyenv/versions/3.11.7/bin")
    built.buildout.write(site_config(built.port, {"python-home": str(home)}))
    error = one_line_error(built.buildout.run(check=False))
    assert "option python-home:" in error and "made from the Python in /opt/pyenv/versions/3.11.7" in error
    assert "make the virtualenv with /usr/bin/python3" in error


def test_daemon_user_cannot_read_the_wsgi_script(built):
    parts = built.buildout.path("parts")
    before = snapshot(*files_of(built))
    os.chmod(parts, 0o700)
    try:
        built.buildout.write(site_config(built.port))
        error = one_line_error(built.buildout.run(check=False))
    finally:
        os.chmod(parts, 0o755)
    assert "option wsgi-script: user www-data cannot read" in error and f"{parts} is not readable" in error
    assert snapshot(*files_of(built)) == before
