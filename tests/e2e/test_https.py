"""https = acme: certificates obtained and renewed by mod_md from a real ACME
authority on loopback (pebble), and the TLS setup every HTTPS site gets."""
import http.client
import re
import socket
import ssl
import subprocess
import time

import pytest

from acme import Pebble
from conftest import TEST_ROOT, LoadLoop, SystemApache, free_port, world_readable_directory
from helpers import PID_APP, Site, site_config

NAME = "site1.test"
ALLOWED = f"COLEMAN_ALLOWED_HOSTS={NAME},localhost"


def acme_options(pebble, https_port, http_port, **more):
    options = {
        "server-name": NAME,
        "listen": f"127.0.0.1:{https_port}",
        "http-listen": f"127.0.0.1:{http_port}",
        "https": "acme",
        "acme-ca": pebble.directory_url,
        "acme-ca-root": pebble.api_ca,
        "acme-email": "admin@site1.test",
        "acme-agreement": "true",
    }
    options.update(more)
    return options


def https_get(port, root, path="/", name=NAME, timeout=20):
    """GET over HTTPS to 127.0.0.1:port with SNI ``name``, trusting only ``root``."""
    context = ssl.create_default_context(cafile=root)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            serial = tls.getpeercert()["serialNumber"]
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), serial, body.decode("utf-8", "replace")


def wait_for_certificate(port, root, serial_before=None, timeout=60):
    """The (status, serial, body) of the first response whose certificate
    verifies against ``root`` (and differs from ``serial_before``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = https_get(port, root)
            if answer[1] != serial_before:
                return answer
        except (OSError, ssl.SSLError) as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"no certificate from pebble within {timeout} s ({last!r})")
        time.sleep(0.5)


def new_pebble():
    return Pebble(str(world_readable_directory(TEST_ROOT, "pebble-")), [free_port() for _ in range(4)])


class AcmeSite(Site):
    """A self-contained server with https = acme, and pebble validating it."""

    def __init__(self, buildout, pebble, **options):
        self.https_port, self.http_port = free_port(), free_port()
        self.pebble = pebble.start(self.http_port, self.https_port)
        self.options = acme_options(pebble, self.https_port, self.http_port, **options)
        super().__init__(buildout, self.https_port, self.options, environment=ALLOWED)

    def rebuild(self, **options):
        self.options.update(options)
        self.buildout.build(site_config(self.https_port, self.options, environment=ALLOWED))

    def certificate(self, serial_before=None):
        return wait_for_certificate(self.https_port, self.pebble.root(), serial_before)

    def errors(self):
        return "".join(p.read_text(errors="replace")
                       for p in sorted(self.buildout.path("var", "log", "apache").glob("error.log*")))


@pytest.fixture(scope="module")
def acme_site(new_buildout):
    """A site that obtained its certificate through http-01, started once for the module."""
    pebble = new_pebble()
    site = AcmeSite(new_buildout("https-acme"), pebble)
    site.started = site.ctl("start").stdout
    yield site
    site.ctl("stop", check=False)
    pebble.stop()


def test_certificate_obtained_through_http01_and_put_in_service(acme_site):
    site = acme_site
    assert "HTTPS answers 503 with a temporary certificate" in site.started or \
        "Certificate for site1.test: obtained" in site.started
    status, serial, body = site.certificate()
    assert status == 200 and "Welcome to Coleman" in body
    assert "certificate-agent: new certificate for site1.test: graceful restart of Apache" in site.errors()
    shown = site.ctl("status").stdout
    assert re.search(r"Certificate for site1.test: obtained .* GMT, valid until .* GMT, renewed from ", shown), shown
    # The HTTP port sends everything but the authority's checks to HTTPS.
    plain = http.client.HTTPConnection("127.0.0.1", site.http_port, timeout=20)
    plain.request("GET", "/admin/", headers={"Host": NAME})
    response = plain.getresponse()
    assert (response.status, response.getheader("Location")) == (301, f"https://{NAME}:{site.https_port}/admin/")
    # mod_md's status is for bin/apache status alone, never on the site.
    assert https_get(site.https_port, site.pebble.root(), "/md-status")[0] == 404


def test_restart_and_rebuild_keep_the_certificate(acme_site):
    site = acme_site
    _, serial, _ = site.certificate()
    issued = site.pebble.issued()
    site.rebuild()
    site.ctl("restart")
    status, serial_after, _ = https_get(site.https_port, site.pebble.root())
    assert (status, serial_after) == (200, serial)
    time.sleep(3)  # mod_md's watchdog looks right after the start
    assert site.pebble.issued() == issued


def openssl_handshake(port, *args):
    """Does ``openssl s_client`` complete a handshake with these options? (Its own
    security level lowered, so that a refusal is the server's.)"""
    result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", NAME,
                             "-cipher", "ALL:@SECLEVEL=0", *args],
                            input="", capture_output=True, text=True, timeout=30)
    return "Cipher is (NONE)" not in result.stdout and result.returncode == 0


def test_tls_setup_is_mozillas_intermediate(acme_site):
    site = acme_site
    site.certificate()
    port = site.https_port
    assert not openssl_handshake(port, "-tls1")
    assert not openssl_handshake(port, "-tls1_1")
    assert not openssl_handshake(port, "-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0")  # no forward secrecy
    assert openssl_handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert openssl_handshake(port, "-tls1_3")
    context = ssl.create_default_context(cafile=site.pebble.root())
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=context)
    connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=NAME)
    connection.request("GET", "/", headers={"Host": NAME})
    response = connection.getresponse()
    assert response.getheader("Strict-Transport-Security") == "max-age=63072000"


def test_renewal_is_served_after_the_automatic_graceful_restart(acme_site):
    site = acme_site
    _, serial, _ = site.certificate()
    root = site.pebble.root()
    site.rebuild(**{"acme-renew-window": "3000d"})  # pebble's certificates last 5 years: due at once

    def page():
        return https_get(site.https_port, root)[0]
    with LoadLoop([page], limit=3000, seconds=60) as load:
        site.ctl("reload")  # the configuration changed: a graceful restart
        _, renewed, _ = site.certificate(serial_before=serial)
        time.sleep(2)
    assert renewed != serial
    print(f"renewal under load: {len(load.failures)} of {len(load.results)} requests failed: {load.failures[:5]}")
    # Apache's graceful restarts (the reload's, then the agent's) fail a few requests
    # with a 503, as everywhere, and with a 500 when the agent's comes while a daemon
    # still loads the application (docs/serving.rst; seen once in CI, 2026-12-02);
    # nothing else may fail.
    assert set(load.failures) <= {500, 503} and len(load.failures) < len(load.results) / 2, load.failures
    site.rebuild(**{"acme-renew-window": "33%"})
    site.ctl("reload")


def test_tls_alpn01_certificate_on_the_https_port_alone(new_buildout):
    pebble = new_pebble()
    site = AcmeSite(new_buildout("https-alpn"), pebble, **{"acme-challenge": "tls-alpn-01", "redirect-http": "false"})
    try:
        site.ctl("start")
        httpd_conf = site.buildout.path("parts", "apache", "httpd.conf").read_text()
        assert f"Listen 127.0.0.1:{site.http_port}" not in httpd_conf  # nothing listens on HTTP
        status, _, body = site.certificate()
        assert status == 200 and "Welcome to Coleman" in body
        assert "challenge-setup:tls-alpn-01" in site.errors()
    finally:
        site.ctl("stop", check=False)
        pebble.stop()


def test_two_sites_on_the_system_apache_each_get_their_own_certificate(new_buildout):
    """Two sites of one buildout on a private copy of the system Apache, each with
    https = acme: one store, one agent, a certificate for each name."""
    server = SystemApache(world_readable_directory(TEST_ROOT, "acme-apache-"))
    https_port, http_port = free_port(), free_port()
    (server.confdir / "ports.conf").write_text(f"Listen 127.0.0.1:{https_port} https\nListen 127.0.0.1:{http_port}\n")
    pebble = new_pebble().start(http_port, https_port)
    names = ["site1.test", "site2.test"]

    def part(name):
        return {"server": "system", "apache-confdir": str(server.confdir), "server-name": name,
                **acme_options(pebble, https_port, http_port, **{"server-name": name}),
                "listen": f"*:{https_port}", "http-listen": f"*:{http_port}"}
    config = site_config(https_port, part(names[0]), parts="coleman wsgi apache apache2",
                         environment="COLEMAN_ALLOWED_HOSTS=" + ",".join(names))
    second = config.split("[apache]\n", 1)[1].replace(names[0], names[1])
    b = new_buildout("acme-system")
    lib = b.path("lib")
    lib.mkdir()
    (lib / "pidapp.py").write_text(PID_APP)
    try:
        b.build(config + "\n[apache2]\n" + second)
        b.bin("coleman", "migrate", "--noinput")
        server.ctl("start")
        for script in ("apache", "apache2"):
            installed = b.bin(script, "install").stdout
            assert "answers 503 with a temporary certificate" in installed or "valid from" in installed, installed
        root = pebble.root()
        serials = set()
        for name in names:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status, serial, body = https_get(https_port, root, name=name)
                except (OSError, ssl.SSLError):
                    status = None
                # The agent's graceful restart for the other site's certificate can stop a
                # daemon still loading the application: a 500 (docs/serving.rst; seen
                # once in CI, 2026-12-02). The page must answer by the deadline.
                if status == 200 or time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
            assert status == 200 and "Welcome to Coleman" in body, f"no page over HTTPS for {name}: {status}"
            serials.add(serial)
            assert f"Certificate for {name}: valid from" in b.bin("apache" if name == names[0] else "apache2",
                                                                  "status").stdout
        assert len(serials) == 2
        log = (server.root / "log" / "error.log").read_text(errors="replace")
        assert "certificate-agent: new certificate for" in log
    finally:
        server.stop_and_remove()
        pebble.stop()
