"""A private ACME authority on loopback for the HTTPS tests: Debian's pebble (Let's
Encrypt's own test server) and pebble-challtestsrv as its DNS server, which
answers every name with 127.0.0.1, so pebble validates a name such as
site1.test against the local Apache for real."""
import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pebble:
    """pebble and its DNS server, started in ``directory`` (made world-readable:
    the site's account reads the CA file of pebble's API)."""

    def __init__(self, directory, ports):
        self.directory = directory
        self.acme_port, self.management_port, self.dns_port, self.challenge_management_port = ports
        self.processes = []

    @property
    def directory_url(self):
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def api_ca(self):
        """The CA that signed pebble's own API certificate (acme-ca-root)."""
        return os.path.join(self.directory, "api-ca.pem")

    def start(self, http_port, tls_port):
        """Start pebble, validating http-01 on ``http_port`` and tls-alpn-01 on ``tls_port``."""
        d = self.directory
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        if not os.path.exists(self.api_ca):
            # The extensions a strict verifier (Python 3.13's default context) wants of a CA and a server.
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pebble API CA",
                     "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                     "-keyout", "api-ca.key", "-out", "api-ca.pem", cwd=d)
            _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "api.key",
                     "-out", "api.csr", cwd=d)
            with open(os.path.join(d, "api.ext"), "w") as f:
                f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n"
                        "keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n"
                        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
            _openssl("x509", "-req", "-in", "api.csr", "-CA", "api-ca.pem", "-CAkey", "api-ca.key",
                     "-CAcreateserial", "-days", "2", "-extfile", "api.ext", "-out", "api.pem", cwd=d)
            os.chmod(self.api_ca, 0o644)
        config = {"pebble": {
            "listenAddress": f"127.0.0.1:{self.acme_port}",
            "managementListenAddress": f"127.0.0.1:{self.management_port}",
            "certificate": os.path.join(d, "api.pem"), "privateKey": os.path.join(d, "api.key"),
            "httpPort": http_port, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        with open(os.path.join(d, "pebble.json"), "w") as f:
            json.dump(config, f)
        log = open(os.path.join(d, "challtestsrv.log"), "ab")
        self.processes.append(subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
             "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-management", f"127.0.0.1:{self.challenge_management_port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log = open(os.path.join(d, "pebble.log"), "ab")
        self.processes.append(subprocess.Popen(
            ["pebble", "-config", os.path.join(d, "pebble.json"), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PEBBLE_VA_NOSLEEP": "1"},
            start_new_session=True))
        deadline = time.monotonic() + 20
        while True:
            try:
                self._get(self.directory_url)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        return self

    def _get(self, url):
        context = ssl.create_default_context(cafile=self.api_ca)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                             urllib.request.HTTPSHandler(context=context))
        with opener.open(url, timeout=10) as response:
            return response.read()

    def root(self):
        """The root of pebble's issuing chain (a new one each time pebble starts), as PEM."""
        path = os.path.join(self.directory, "issuing-root.pem")
        with open(path, "wb") as f:
            f.write(self._get(f"https://127.0.0.1:{self.management_port}/roots/0"))
        return path

    def issued(self):
        """How many certificates pebble has issued since it started."""
        with open(os.path.join(self.directory, "pebble.log"), errors="replace") as f:
            return f.read().count("Issued certificate serial")

    def stop(self):
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
        self.processes = []
