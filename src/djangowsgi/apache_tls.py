"""The apache part's HTTPS options read into Tls (and Acme for https = acme):
a certificate from files, or one that mod_md obtains. Rendered in apache_https.py."""
import os
import re
from dataclasses import dataclass
from typing import Optional

from djangowsgi import system
from djangowsgi.apache_defaults import (ACME_OPTIONS, HSTS_MAX_AGE, LETS_ENCRYPT, LETS_ENCRYPT_STAGING,
                                        LETS_ENCRYPT_TERMS, TLS_PROFILES)


@dataclass(frozen=True)
class Acme:
    """https = acme: what mod_md obtains, from whom, how."""
    email: str
    ca: str
    ca_root: Optional[str]
    challenge: str  # http-01 or tls-alpn-01
    window: str  # MDRenewWindow
    domains: tuple
    store: str  # MDStoreDir of the self-contained server


@dataclass(frozen=True)
class Tls:
    certificate: Optional[str]  # files, or None with acme
    key: Optional[str]
    chain: Optional[str]
    redirect: bool  # an HTTP vhost that redirects to HTTPS
    hsts: Optional[int]  # max-age, or None
    http_host: Optional[str]
    http_port: int
    profile: str  # a key of TLS_PROFILES
    stapling: bool
    acme: Optional[Acme]


def certificate_files(part, managed, obtainer):
    """(ssl-certificate, ssl-certificate-key, ssl-certificate-chain): none of them with
    https = acme (``obtainer`` gets the certificate then), the first two together."""
    certificate = part.absolute_path("ssl-certificate")
    key = part.absolute_path("ssl-certificate-key")
    chain = part.absolute_path("ssl-certificate-chain")
    if managed:
        for option, value in (("ssl-certificate", certificate), ("ssl-certificate-key", key),
                              ("ssl-certificate-chain", chain)):
            if value:
                raise part.error(option, f"is for a certificate from elsewhere; with https = acme {obtainer} "
                                         f"obtains the certificate: remove one of the two")
    elif bool(certificate) != bool(key):
        given, missing = ("ssl-certificate", "ssl-certificate-key") if certificate else (
            "ssl-certificate-key", "ssl-certificate")
        raise part.error(missing, f"is required when {given} is given")
    return certificate, key, chain


def read_tls(part, directory, port, domains):
    """HTTPS: a certificate from files, or one mod_md obtains (https = acme); None for HTTP."""
    managed = part.choice("https", "off", ("off", "acme")) == "acme"
    certificate, key, chain = certificate_files(part, managed, "mod_md")
    acme = read_acme(part, directory, domains) if managed else None
    redirect = part.boolean("redirect-http", bool(acme and acme.challenge == "http-01"))
    hsts = part.get("hsts")
    hsts = HSTS_MAX_AGE if hsts is None and managed else None if hsts == "off" else part.integer("hsts", None, 0)
    profile = part.choice("tls-profile", "intermediate", tuple(TLS_PROFILES))
    stapling = part.boolean("ocsp-stapling", bool(managed or certificate and system.ocsp_responder(certificate)))
    if not (certificate or managed):
        for option in ("ssl-certificate-chain", "redirect-http", "hsts", "tls-profile", "ocsp-stapling"):
            if part.get(option) is not None:
                raise part.error(option, "needs https = acme, or ssl-certificate and ssl-certificate-key")
        for option in ACME_OPTIONS:
            if part.get(option) is not None:
                raise part.error(option, "needs https = acme")
        return None
    http_host, http_port = part.listen("http-listen", "80")
    if redirect and http_port == port:
        raise part.error("http-listen", f"port {http_port} is the HTTPS port of listen")
    if acme and acme.challenge == "http-01" and not redirect:
        raise part.error("redirect-http", "must be on with acme-challenge = http-01: the authority checks the "
                                          "site on its HTTP port (or set acme-challenge = tls-alpn-01)")
    return Tls(certificate=certificate, key=key, chain=chain, redirect=redirect, hsts=hsts, http_host=http_host,
               http_port=http_port, profile=profile, stapling=stapling, acme=acme)


def read_acme(part, directory, domains):
    """mod_md's settings for https = acme, checked against what the authority can certify."""
    part.required("acme-email", "the authority writes there before a certificate expires")
    email = part.apache_value("acme-email", part.get("acme-email"), r"[^@\s]+@[^@\s]+\.[^@\s]+",
                              "an email address")
    ca = part.apache_value("acme-ca", part.get("acme-ca", LETS_ENCRYPT), r"https://\S+",
                           "the https:// URL of an ACME directory")
    if (part.get("acme-agreement") or "").lower() != "true":
        terms = LETS_ENCRYPT_TERMS if ca in (LETS_ENCRYPT, LETS_ENCRYPT_STAGING) else "the authority's terms"
        raise part.error("acme-agreement", f"must be true: it says you accept {terms}")
    ca_root = part.absolute_path("acme-ca-root")
    if ca_root and not os.access(ca_root, os.R_OK):
        raise part.error("acme-ca-root", f"cannot read {ca_root}")
    challenge = part.choice("acme-challenge", "http-01", ("http-01", "tls-alpn-01"))
    window = part.apache_value("acme-renew-window", part.get("acme-renew-window", "33%"), r"\d+(%|d)",
                               "a share of the certificate's lifetime like 33%, or days like 30d")
    for index, name in enumerate(domains):
        option = "server-name" if index == 0 else "server-aliases"
        if name.startswith("*."):
            raise part.error(option, f"{name} is a wildcard: mod_md gets one only through dns-01, which "
                                     f"djangowsgi does not set up; name each host")
        if ca in (LETS_ENCRYPT, LETS_ENCRYPT_STAGING) and (
                name == "localhost" or "." not in name or re.fullmatch(r"[0-9.]+", name)):
            raise part.error(option, f"{name} cannot get a certificate from Let's Encrypt: it needs a public "
                                     f"domain name that resolves to this server")
    return Acme(email=email, ca=ca, ca_root=ca_root, challenge=challenge, window=window, domains=tuple(domains),
                store=os.path.join(directory, "var", "md", part.name))
