"""What bin/<part> says of the certificates mod_md manages (https = acme), from
its md-status handler on the loopback status listener."""
import json
import os
import ssl
import sys

from djangowsgi.runtime import direct


def md_status(url):
    """mod_md's JSON status from the loopback status listener, or an error string."""
    try:
        with direct.open_url(url, timeout=5) as response:
            return json.loads(response.read().decode("utf-8", "replace"))
    except (OSError, ValueError) as e:
        return f"mod_md: no answer from {url} ({e})."


STATES = {0: "unknown", 1: "not obtained yet", 2: "complete", 3: "expired", 4: "in error",
          5: "missing information"}


def describe(url):
    """Each managed domain's certificate, in a line or two, from mod_md's md-status."""
    status = md_status(url)
    return status if isinstance(status, str) else summary(status)


def summary(status):
    """md-status's JSON in a line or two a managed domain."""
    lines = []
    for md in status.get("managed-domains", []):
        names = " ".join(md.get("domains", [md.get("name", "?")]))
        cert = md.get("cert", {}).get("valid")
        authority = md.get("ca", {}).get("url", "?")
        if cert:
            lines.append(f"Certificate for {names}: obtained {cert.get('from', '?')}, valid until "
                         f"{cert.get('until', '?')}, renewed from {md.get('renew-at', '?')} ({authority}).")
        else:
            lines.append(f"Certificate for {names}: {STATES.get(md.get('state'), md.get('state'))} from "
                         f"{authority}; until it arrives HTTPS answers 503 with a temporary certificate.")
        last = md.get("renewal", {}).get("last", {})
        if last.get("status") and last.get("detail"):
            lines.append(f"  last attempt: {last.get('problem', '')} {last['detail']}".rstrip())
    return "\n".join(lines) or "mod_md manages no domain."


def first_certificate(server):
    """What start says of the certificates while mod_md may still be obtaining them."""
    if server.md_status_url:
        status = md_status(server.md_status_url)
        if not isinstance(status, str) and all(md.get("cert") for md in status.get("managed-domains", [])):
            return describe(server.md_status_url)
    return (f"mod_md obtains the certificate for {' '.join(server.managed_domains)} from "
            f"{server.certificate_authority} and restarts Apache gracefully when it has it; until then "
            f"HTTPS answers 503 with a temporary certificate. {sys.argv[0]} status says when it arrived.")


def from_store(store, name):
    """The certificate of managed domain ``name`` from mod_md's store (the system
    Apache has no status listener of djangowsgi's; reading the store needs root)."""
    domain = os.path.join(store, "domains", name)
    if not os.access(os.path.join(store, "domains"), os.R_OK):
        return f"Certificate for {name}: run as root to read mod_md's store ({store})."
    try:
        with open(os.path.join(domain, "md.json"), encoding="utf-8") as f:
            names = " ".join(json.load(f).get("domains", [name]))
        cert = decode_certificate(os.path.join(domain, "pubcert.pem"))
    except (OSError, ValueError, ssl.SSLError):
        return (f"Certificate for {name}: not obtained yet; until it arrives HTTPS answers 503 with a "
                f"temporary certificate (mod_md's messages are in the system Apache's error log).")
    line = f"Certificate for {names}: valid from {cert['notBefore']} until {cert['notAfter']}."
    if os.path.isdir(os.path.join(store, "staging", name)):
        line += " A renewed one waits for the next graceful restart."
    return line


def decode_certificate(path):
    """A PEM certificate file's fields, as ssl.SSLSocket.getpeercert() gives them
    (notBefore, notAfter, OCSP, ...). Python has no public way to read a file's."""
    return ssl._ssl._test_decode_cert(path)
