"""The balancer part in front of two Apaches of the example, one buildout shared by
the module: a real HAProxy, real Apaches with mod_wsgi, load loops of GETs and
POSTs on loopback, bounded. What a visitor would notice: the page, its status,
the address Django sees; that no request fails while HAProxy reloads, a backend
drains, dies, or the site is in maintenance."""
import http.client
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import LoadLoop, free_port
from helpers import PID_APP, one_line_error, site_config, snapshot

CHECK_INTERVAL, FALL = 1, 2  # seconds; a check's own timeout is the interval too
VISITOR = "127.0.0.5"  # a client address of its own, so that the balancer (127.0.0.1) is not it


def request(port, path="/", method="GET", body=None, source=None, timeout=20, **headers):
    """(status, headers, text) of one request to 127.0.0.1:port, from ``source``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                            source_address=(source, 0) if source else None)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", "localhost")
        for name, value in headers.items():
            connection.putheader(name.replace("_", "-"), value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


class Front:
    def __init__(self, buildout):
        self.buildout = buildout
        self.environment = ""  # more lines of the project's environment
        self.ports = {"apache": free_port(), "apache2": free_port(), "balancer": free_port(), "stats": free_port(),
                      "standby": free_port()}
        lib = buildout.path("lib")
        lib.mkdir(exist_ok=True)
        (lib / "pidapp.py").write_text(PID_APP)
        os.chmod(lib / "pidapp.py", 0o644)

    def config(self, apache=None, **balancer):
        options = {
            "recipe": "djangowsgi:balancer",
            "listen": f"127.0.0.1:{self.ports['balancer']}",
            "server-name": "localhost",
            "backends": f"127.0.0.1:{self.ports['apache']}\n127.0.0.1:{self.ports['apache2']}",
            "check-interval": f"{CHECK_INTERVAL}s",
            "fall": str(FALL),
            "stats-listen": f"127.0.0.1:{self.ports['stats']}",
            **balancer,
        }
        copies = [name for name in self.ports if name.startswith("apache") and name != "apache"]
        text = site_config(self.ports["apache"], {"trusted-proxies": "127.0.0.1", **(apache or {})},
                           parts=f"coleman wsgi apache {' '.join(copies)} balancer", environment=self.environment)
        for name in copies:  # apache2, and more where a test adds their ports
            text += (f"[{name}]\n<= apache\nlisten = 127.0.0.1:{self.ports[name]}\n"
                     f"process-group = localhost{name[len('apache'):]}\n\n")
        text += ("[balancer]\n" + "".join(f"{k} = " + "\n    ".join(v.splitlines()) + "\n"
                                          for k, v in options.items() if v is not None))
        return text

    def build(self, apache=None, **balancer):
        self.buildout.build(self.config(apache, **balancer))

    def bin(self, *args, check=True):
        return self.buildout.bin(*args, check=check)

    def get(self, path="/", **kwargs):
        return request(self.ports["balancer"], path, **kwargs)

    def backend(self, part):
        return f"127.0.0.1:{self.ports[part]}"

    def status(self):
        return self.bin("balancer", "status").stdout

    def backend_state(self, part):
        line = next(line for line in self.status().splitlines() if line.strip().startswith(self.backend(part) + ":"))
        return line.split(":", 2)[2].split(",")[0].strip()

    def apache_log_lines(self, part, marker=""):
        """The requests in a backend's access log, not counting the health checks."""
        path = self.buildout.path("var", "log", part, "access.log")
        lines = path.read_text().splitlines() if path.exists() else []
        return sum(1 for line in lines if marker in line and "djangowsgi-health-check" not in line)


@pytest.fixture(scope="module")
def front(new_buildout):
    front = Front(new_buildout("balancer"))
    front.build()
    front.bin("coleman", "migrate", "--noinput")
    for part in ("apache", "apache2", "balancer"):
        front.bin(part, "start")
    wait_until(lambda: front.backend_state("apache") == "UP" and front.backend_state("apache2") == "UP")
    yield front
    for part in ("balancer", "apache", "apache2"):
        front.bin(part, "stop", check=False)


def wait_until(condition, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def load(front, seconds=60):
    """GETs of the page and POSTs with a body through the balancer, in turn."""
    def page():
        status, _, text = front.get("/", timeout=20)
        return status if "Coleman" in text else f"{status} wrong body"

    def post():
        status, _, text = front.get("/visitor/", method="POST", body=b"x" * 2000, timeout=20)
        return status if text.endswith(" 2000\n") else f"{status} {text!r}"
    return LoadLoop([page, post], limit=100000, seconds=seconds, settle=0.5, pause=0.01)


def test_django_and_the_access_log_see_the_visitor_not_the_balancer(front):
    assert front.get("/visitor/", source=VISITOR)[2] == f"{VISITOR} http\n"
    # What a client claims is replaced by what the balancer saw.
    assert front.get("/visitor/", source=VISITOR, X_Forwarded_For="203.0.113.9",
                     X_Forwarded_Proto="https")[2] == f"{VISITOR} http\n"
    # Sent straight to Apache by someone who is not the balancer: not believed.
    status, _, text = request(front.ports["apache"], "/visitor/", source=VISITOR, X_Forwarded_For="203.0.113.9",
                              X_Forwarded_Proto="https")
    assert (status, text) == (200, f"{VISITOR} http\n")
    logs = [front.buildout.path("var", "log", part, "access.log").read_text() for part in ("apache", "apache2")]
    assert any(f"{VISITOR} " in log for log in logs) and not any("203.0.113.9" in log for log in logs)


def test_static_files_are_served_from_the_balancers_cache(front):
    path = "/static/admin/css/base.css?cached=1"
    answers = [front.get(path, Accept_Encoding="gzip") for _ in range(5)]
    assert all(status == 200 for status, _, _ in answers)
    time.sleep(1)  # rotatelogs writes a moment later
    assert sum(front.apache_log_lines(part, "cached=1") for part in ("apache", "apache2")) == 1


def test_status_stats_and_metrics_answer_on_loopback_only(front):
    status = front.status()
    assert "Running" in status and f"{front.backend('apache')}: UP" in status and "check L7OK" in status
    stats_port = front.ports["stats"]
    assert request(stats_port, "/stats")[0] == 200
    status, _, metrics = request(stats_port, "/metrics")
    assert status == 200 and "haproxy_server_status" in metrics
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", stats_port), timeout=5).close()


def test_maintenance_answers_every_request_with_the_page_and_off_puts_traffic_back(front):
    answers = []

    def page():
        status, headers, text = front.get("/", timeout=20)
        answers.append(status)
        if status == 503 and headers.get("retry-after") == "120" and "Down for maintenance" in text:
            return 200
        return status if "Coleman" in text else f"{status} wrong body"
    with LoadLoop([page], limit=100000, seconds=30, settle=0.5, pause=0.01) as loop:
        front.bin("balancer", "maintenance", "on")
        time.sleep(1.5)
        status, headers, text = front.get("/visitor/", method="POST", body=b"x")
        assert status == 503 and "Down for maintenance" in text
        assert "Maintenance on" in front.status() and front.backend_state("apache") == "UP"  # still checked
        front.bin("balancer", "maintenance", "off")
        time.sleep(1)
    assert not loop.failures
    assert 503 in answers and answers[-1] == 200
    assert front.get("/")[0] == 200


def test_a_reload_with_a_changed_configuration_fails_no_request(front):
    config = front.buildout.path("parts", "balancer", "haproxy.cfg")
    with load(front) as loop:
        front.build(**{"server-maxconn": "8", "timeout-server": "50s"})  # the module's other tests take it
        assert "maxconn 8" in config.read_text()
        for _ in range(2):
            assert "Reloaded" in front.bin("balancer", "reload").stdout
            time.sleep(1)
    assert len(loop.results) > 50 and not loop.failures, loop.failures[:5]


def test_a_drained_backend_gets_no_new_request_and_ready_puts_it_back(front):
    with load(front) as loop:
        drained = front.bin("balancer", "drain", front.backend("apache2")).stdout
        assert "none in progress" in drained and front.backend_state("apache2") == "DRAIN"
        time.sleep(1)  # rotatelogs writes a moment later
        before = front.apache_log_lines("apache2")
        time.sleep(2)
        assert front.apache_log_lines("apache2") == before
        front.bin("balancer", "ready", front.backend("apache2"))
        wait_until(lambda: front.apache_log_lines("apache2") > before)
    assert not loop.failures, loop.failures[:5]
    assert front.backend_state("apache2") == "UP"


def apache_group(front, part):
    """The process group of the part's Apache: httpd detaches with setsid(), so its
    children (workers, mod_wsgi daemons, piped loggers) share its group and no other."""
    pid = int(front.buildout.path("var", "run", part, "httpd.pid").read_text())
    assert os.getpgid(pid) == pid != os.getpgid(0)
    return pid


def test_an_apache_killed_mid_load_fails_no_get_and_comes_back_once_it_runs(front):
    def page():
        status, _, text = front.get("/", timeout=20)
        return status if "Coleman" in text else f"{status} wrong body"
    with LoadLoop([page], limit=100000, seconds=60, settle=1, pause=0.005) as loop:
        # As a host dies: every process at once. Killed one by one, a worker outliving its
        # mod_wsgi daemon answers its request 500, which HAProxy rightly does not retry.
        os.killpg(apache_group(front, "apache2"), signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: front.backend_state("apache2") == "DOWN", seconds=10)
        # fall x interval, after the next check comes round, plus the status call's own time
        assert time.monotonic() - killed < (FALL + 2) * CHECK_INTERVAL + 1
        assert "Started" in front.bin("apache2", "start").stdout
        wait_until(lambda: front.backend_state("apache2") == "UP")
    assert len(loop.results) > 50 and not loop.failures, loop.failures[:5]


def test_the_systemd_unit_passes_verify(front):
    unit = front.buildout.path("parts", "balancer", "balancer.service")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    script = front.buildout.path("bin", "balancer")
    for line in (f"ExecStart={script} start", f"ExecReload={script} reload", f"ExecStop={script} stop"):
        assert line in unit.read_text().splitlines()


def curl(*args):
    return subprocess.run(["curl", "--silent", *args], capture_output=True, text=True, timeout=30)


def test_https_from_certificate_files_with_http2_the_intermediate_profile_and_a_redirect(front, tmp_path):
    key, certificate = tmp_path / "site.key", tmp_path / "site.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)
    https_port, http_port = free_port(), front.ports["balancer"]
    front.build(**{"listen": f"127.0.0.1:{https_port}", "http-listen": f"127.0.0.1:{http_port}",
                   "ssl-certificate": str(certificate), "ssl-certificate-key": str(key), "hsts": "3600"})
    front.bin("balancer", "reload")
    site = f"https://localhost:{https_port}"
    tls = ["--cacert", str(certificate), "--resolve", f"localhost:{https_port}:127.0.0.1"]
    # Django sees the scheme the visitor used: HTTPS ended at the balancer (SECURE_PROXY_SSL_HEADER).
    assert curl(*tls, f"{site}/visitor/").stdout == "127.0.0.1 https\n"
    answer = curl(*tls, "--http2", "--tlsv1.3", "--include", "--output", "-", "--write-out", "%{http_version}",
                  f"{site}/").stdout
    assert answer.startswith("HTTP/2 200") and answer.endswith("2"), answer[:300]
    assert "strict-transport-security: max-age=3600" in answer
    # Mozilla's intermediate profile: no TLS 1.1, no cipher without forward secrecy.
    assert curl(*tls, "--tlsv1.1", "--tls-max", "1.1", f"{site}/").returncode != 0
    assert curl(*tls, "--tls-max", "1.2", "--ciphers", "AES128-GCM-SHA256", f"{site}/").returncode != 0
    assert curl(*tls, "--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256", f"{site}/").returncode == 0
    redirect = curl("--output", "/dev/null", "--write-out", "%{http_code} %{redirect_url}", "-H", "Host: localhost",
                    f"http://127.0.0.1:{http_port}/admin/").stdout
    assert redirect == "301 https://localhost/admin/", redirect


def test_one_host_a_changed_apache_configuration_is_served_through_a_standby_with_no_failed_request(front):
    """The balancer in front of one Apache alone (and its standby): the reload of a changed
    configuration starts the standby with it, which serves while Apache restarts."""
    standby = f"127.0.0.1:{front.ports['standby']}"
    # mode as the default behind a balancer is (the module's Apache gives daemon timeouts);
    # the locale as Debian spells it, which bin/apache's own Python would not pass on.
    one_host = {"balancer": "balancer", "standby-listen": standby, "mode": "embedded", "lang": "C.utf8",
                "locale": "C.utf8"}
    httpd = front.buildout.path("parts", "apache", "httpd.conf")
    front.build(one_host, backends="${apache:backends}")
    front.bin("balancer", "reload")  # the standby a backend, DOWN: nothing listens there yet
    front.bin("apache", "reload")  # the standby's files are new: a first swap
    wait_until(lambda: front.status().count(": UP,") == 1 and f"{standby}: DOWN" in front.status())
    # Embedded mode in 2 x 8 threads, the site in the part's locale.
    assert "WSGIDaemonProcess" not in front.buildout.path("parts", "apache", "vhost.conf").read_text()
    assert "MaxRequestWorkers 16\n" in httpd.read_text()
    assert front.get("/encoding/")[2] == "C.utf8 utf-8\n"
    front.build({**one_host, "keep-alive-timeout": "4"}, backends="${apache:backends}")
    assert "KeepAliveTimeout 4" in httpd.read_text()
    with load(front) as loop:
        swapped = front.bin("apache", "reload").stdout
    assert f"a standby on http://{standby}/ serves while Apache restarts" in swapped, swapped
    assert "the standby has stopped" in swapped
    assert len(loop.results) > 50 and not loop.failures, loop.failures[:5]
    wait_until(lambda: f"{standby}: DOWN" in front.status())  # nothing listens there again
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", front.ports["standby"]), timeout=5).close()
    # Embedded mode has no daemons to restart one at a time: every reload swaps.
    assert "serves while Apache restarts" in front.bin("apache", "reload").stdout
    # Left as it is: the bad-input test below builds the module's configuration again.


def test_bad_input_is_one_line_and_leaves_the_files_of_the_last_good_run(front):
    files = [front.buildout.path("parts", "balancer", "haproxy.cfg"), front.buildout.path("bin", "balancer")]
    before = snapshot(*files)
    try:
        front.buildout.write(front.config(backends="web1.example"))
        error = one_line_error(front.buildout.run(check=False))
        assert error == ("Error: djangowsgi part [balancer], option backends: 'web1.example' has no port of "
                         "Apache's: write host:port, or give backend-port (the port the apache part listens on)")
        assert snapshot(*files) == before
        assert front.get("/")[0] == 200
    finally:
        front.build()
