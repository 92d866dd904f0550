"""The balancer with https = acme, one buildout shared by the module: a real HAProxy
in front of the example's Apache, its certificate obtained from a real ACME
authority on loopback (pebble) by the loopback Apache of mod_md that bin/balancer
runs, renewed and put in service under an HTTPS load. What a visitor would
notice: the certificate verifies for the site's name, the page, the redirect, the
TLS versions and ciphers refused, and that no request fails while it changes."""
import subprocess
import time

import pytest

from conftest import REPO, LoadLoop, free_port
from helpers import doc_block, one_line_error, snapshot
from test_balancer import Front, wait_until
from test_https import ALLOWED, NAME, acme_options, https_get, new_pebble, openssl_handshake, wait_for_certificate


class AcmeFront(Front):
    def __init__(self, buildout, pebble):
        super().__init__(buildout)
        self.environment = ALLOWED
        self.ports["apache3"] = free_port()
        self.https_port = free_port()
        self.http_port = self.ports["balancer"]
        self.pebble = pebble.start(self.http_port, free_port())
        self.acme = {
            "https": "acme", "server-name": NAME,
            "listen": f"127.0.0.1:{self.https_port}", "http-listen": f"127.0.0.1:{self.http_port}",
            "backends": f"127.0.0.1:{self.ports['apache']}",
            "acme-ca": pebble.directory_url, "acme-ca-root": pebble.api_ca,
            "acme-email": "admin@site1.test", "acme-agreement": "true",
            "acme-listen": f"127.0.0.1:{free_port()}",  # listen's port + 20000 may be another test's
        }

    def build(self, apache=None, **balancer):
        super().build(apache, **{**self.acme, **balancer})

    def certificate(self, serial_before=None):
        """(status, serial, body) of the page once a certificate that verifies for NAME is served."""
        try:
            return wait_for_certificate(self.https_port, self.pebble.root(), serial_before)
        except AssertionError as e:
            log = self.buildout.path("var", "log", "balancer", "acme-error.log")
            raise AssertionError(f"{e}\n{log.read_text()[-3000:] if log.exists() else 'no ' + str(log)}\n"
                                 f"{self.bin('balancer', 'status', check=False).stdout}") from None

    def curl(self, *args):
        tls = ["--cacert", self.pebble.root(), "--resolve", f"{NAME}:{self.https_port}:127.0.0.1"]
        return subprocess.run(["curl", "--silent", *tls, *args], capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def front(new_buildout):
    pebble = new_pebble()
    front = AcmeFront(new_buildout("balancer-acme"), pebble)
    front.build()
    front.bin("coleman", "migrate", "--noinput")
    front.bin("apache", "start")
    front.started = front.bin("balancer", "start").stdout
    wait_until(lambda: front.backend_state("apache") == "UP", 60)  # its first check may time out on a busy machine
    yield front
    for part in ("balancer", "apache"):
        front.bin(part, "stop", check=False)
    pebble.stop()


def test_the_certificate_from_the_authority_is_served_and_status_shows_it(front):
    status, serial, body = front.certificate()
    assert status == 200 and "Welcome to Coleman" in body
    shown = front.bin("balancer", "status").stdout
    assert f"Certificate for {NAME}: serial {serial.upper()}," in shown, shown
    assert "valid until" in shown and "renewed from" in shown, shown
    # The hosts behind the balancer hold no certificate.
    assert not front.buildout.path("var", "md", "apache").exists()


def test_http_is_redirected_but_the_challenge_path_is_answered(front):
    front.certificate()
    def over_http(path):
        return subprocess.run(["curl", "--silent", "--output", "/dev/null", "--write-out",
                               "%{http_code} %{redirect_url}", "-H", f"Host: {NAME}",
                               f"http://127.0.0.1:{front.http_port}{path}"], capture_output=True, text=True).stdout
    assert over_http("/admin/") == f"301 https://{NAME}/admin/"
    # The authority's path reaches the Apache of mod_md, over HTTP: no redirect.
    assert over_http("/.well-known/acme-challenge/no-such-token") == "404 "
    # Its md-status is for bin/balancer alone.
    assert over_http("/md-status") == f"301 https://{NAME}/md-status"


def test_tls_is_mozillas_intermediate_with_h2_and_hsts(front):
    front.certificate()
    port = front.https_port
    assert not openssl_handshake(port, "-tls1_1")
    assert not openssl_handshake(port, "-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0")  # no forward secrecy
    assert openssl_handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert openssl_handshake(port, "-tls1_3")
    answer = front.curl("--http2", "--tlsv1.3", "--include", "--output", "-", "--write-out", "%{http_version}",
                        f"https://{NAME}:{port}/").stdout
    assert answer.startswith("HTTP/2 200") and answer.endswith("2"), answer[:300]
    assert "strict-transport-security: max-age=63072000" in answer
    # Django sees the scheme the visitor used.
    assert front.curl(f"https://{NAME}:{port}/visitor/").stdout == "127.0.0.1 https\n"


def test_a_renewal_is_put_in_service_under_load_with_no_failed_request(front):
    _, serial, _ = front.certificate()
    root = front.pebble.root()
    issued = front.pebble.issued()
    serials = []

    def page():
        status, serial_now, _ = https_get(front.https_port, root)  # a new connection and handshake each time
        serials.append(serial_now)
        return status
    log = front.buildout.path("var", "log", "balancer", "acme-error.log")
    front.build(**{"acme-renew-window": "3000d"})  # pebble's certificates last 5 years: due at once
    try:
        with LoadLoop([page], limit=5000, seconds=150) as load:
            front.bin("balancer", "reload")
            try:
                wait_until(lambda: serials and serials[-1] != serial, 120)
            except AssertionError as e:
                raise AssertionError(f"{e}: {len(serials)} requests, pebble issued {front.pebble.issued() - issued}"
                                     f"\n{log.read_text()[-3000:]}\n{front.bin('balancer', 'status').stdout}")
            time.sleep(2)
    finally:
        front.build()  # a failure here leaves the next tests a certificate renewed once, not over and over
        front.bin("balancer", "reload")
    print(f"renewal under load: {len(load.failures)} of {len(load.results)} failed: {load.failures[:5]}")
    assert load.failures == [] and len(load.results) > 20
    assert front.pebble.issued() > issued and serials[-1] != serial  # (due again at once: more may follow)
    assert "HAProxy serves it now" in log.read_text(), log.read_text()[-2000:]
    settle(front)


def settle(front, quiet=3, seconds=30):
    """Wait until pebble has issued nothing for ``quiet`` seconds (a renewal in flight ends)."""
    deadline = time.monotonic() + seconds
    issued, since = front.pebble.issued(), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "pebble still issuing certificates"
        time.sleep(0.5)
        if front.pebble.issued() != issued:
            issued, since = front.pebble.issued(), time.monotonic()


def store_serial(front):
    pubcert = front.buildout.path("var", "md", "balancer", "domains", NAME, "pubcert.pem")
    out = subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", str(pubcert)], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().split("=", 1)[1]


def test_a_restart_orders_no_new_certificate_and_serves_the_stores(front):
    front.certificate()
    settle(front)
    issued = front.pebble.issued()
    front.bin("balancer", "stop")
    pem = front.buildout.path("var", "run", "balancer", "tls", "site.pem")
    pem.write_text("stale\n")  # as if renewed while HAProxy was stopped: start takes mod_md's
    front.bin("balancer", "start")
    assert https_get(front.https_port, front.pebble.root())[0] == 200  # not the stale PEM: HAProxy would not start
    # mod_md's Apache starts after HAProxy and activates a certificate it renewed and had not activated yet, if any.
    wait_until(lambda: https_get(front.https_port, front.pebble.root())[1] == store_serial(front), 10)
    time.sleep(3)
    assert front.pebble.issued() == issued


def test_one_certificate_at_the_balancer_serves_three_apaches(front):
    front.certificate()
    three = ("apache", "apache2", "apache3")
    try:
        front.build(backends="\n".join(front.backend(name) for name in three), balance="roundrobin")
        for name in three[1:]:
            front.bin(name, "start")
        front.bin("balancer", "reload")
        wait_until(lambda: all(front.backend_state(name).startswith("UP") for name in three))
        groups = set()
        deadline = time.monotonic() + 30  # slowstart: an Apache just UP takes a growing share over 10 s
        while len(groups) < 3 and time.monotonic() < deadline:
            answer = front.curl("--include", "--output", "-", f"https://{NAME}:{front.https_port}/")
            assert answer.returncode == 0 and " 200" in answer.stdout.split("\n", 1)[0], answer.stdout[:300]
            groups |= {line.split(":", 1)[1].strip() for line in answer.stdout.splitlines()
                       if line.lower().startswith("x-process-group:")}
        assert len(groups) == 3, groups  # each Apache answered, none with a certificate of its own
        assert not any(front.buildout.path("var", "md", name).exists() for name in three)
    finally:
        for name in three[1:]:
            front.bin(name, "stop", check=False)  # the balancer marks it DOWN; the next test needs no rebuild


def test_bad_input_is_one_line_and_leaves_the_files_of_the_last_good_run(front):
    # The module's last test on its buildout. Each refusal's words: tests/unit/test_balancer_rules.py.
    parts = front.buildout.path("parts", "balancer")
    kept = snapshot(parts / "haproxy.cfg", parts / "acme-httpd.conf")
    front.buildout.write(front.config(**{**front.acme, "server-aliases": "*.site1.test"}))
    assert "option server-aliases: *.site1.test is a wildcard" in one_line_error(front.buildout.run(check=False))
    assert snapshot(parts / "haproxy.cfg", parts / "acme-httpd.conf") == kept
    assert https_get(front.https_port, front.pebble.root())[0] == 200


UPGRADING = REPO / "docs" / "upgrading.rst"


def test_a_site_on_apache_alone_moves_behind_the_balancer_with_its_certificate(new_buildout):
    """docs/upgrading.rst's move, its commands as written (the test's build aside),
    under a loop of HTTPS requests: the same certificate, none ordered."""
    pebble = new_pebble()
    front = Front(new_buildout("balancer-acme-move"))
    front.environment = ALLOWED
    https_port, http_port = free_port(), free_port()
    pebble.start(http_port, free_port())
    alone = acme_options(pebble, https_port, http_port)
    acme_listen = f"127.0.0.1:{free_port()}"  # listen's port + 20000 may be another test's
    backend = f"127.0.0.1:{front.ports['apache']}"
    try:
        front.build(apache=alone, backends=backend)
        front.bin("coleman", "migrate", "--noinput")
        front.bin("apache", "start")
        _, serial, _ = wait_for_certificate(https_port, pebble.root())
        issued, root = pebble.issued(), pebble.root()
        moved = {key: value for key, value in alone.items() if key.startswith(("acme-", "http", "listen", "server"))}
        front.build(apache={"trusted-proxies": "127.0.0.1"}, backends=backend, **moved, **{"acme-listen": acme_listen})
        commands = doc_block(UPGRADING, "keeps its certificate:", "::\n")
        assert commands.startswith("bin/buildout -N -c public.cfg\n")
        commands = commands.split("\n", 1)[1]
        results, failed_at = [], []

        def page():
            try:
                status, served, _ = https_get(https_port, root, timeout=10)
            except (OSError, IndexError, ValueError) as e:  # closed before an answer or mid-handshake, as Apache stops
                failed_at.append(time.monotonic())
                raise e if isinstance(e, OSError) else ConnectionResetError(f"closed with no answer ({e!r})")
            results.append(served)
            return status
        with LoadLoop([page], limit=3000, seconds=60, settle=1) as load:
            done = subprocess.run(["bash", "-e", "-c", commands], cwd=front.buildout.directory,
                                  capture_output=True, text=True, timeout=120)
            if done.returncode:
                print(done.stdout, done.stderr, sep="\n")
            assert done.returncode == 0
        # Refused while nothing holds the ports; cut (reset, or closed mid-handshake) if in progress as Apache stops.
        refused = [f for f in load.failures if f.startswith(("ConnectionRefused", "ConnectionReset", "SSLEOFError"))]
        window = failed_at[-1] - failed_at[0] if failed_at else 0
        print(f"the move under load: {len(load.failures)} of {len(load.results)} failed, {len(refused)} refused "
              f"or reset, within {window:.1f} s")
        # No certificate error, no wrong certificate, no 5xx.
        assert load.failures == refused and window < 10, load.failures
        assert set(results) == {serial} and pebble.issued() == issued
        assert "Running (pid" in done.stdout and f"Certificate for {NAME}: serial {serial.upper()}," in done.stdout
    finally:
        for part in ("balancer", "apache"):
            front.bin(part, "stop", check=False)
        pebble.stop()
