"""The options of a djangowsgi:balancer part read into one frozen value, the
Balancer: where HAProxy listens, the backends it spreads requests over, how it
checks, queues and retries, what it caches, where its files go. Rendered in
balancer_files.py; every problem is a one-line UserError naming the option."""
import os
import re
from dataclasses import dataclass
from typing import Optional

from djangowsgi.apache_defaults import ACME_OPTIONS, HOSTNAME, HSTS_MAX_AGE, TLS_PROFILES
from djangowsgi.apache_tls import Acme, certificate_files, read_acme
from djangowsgi.options import PartOptions
from djangowsgi.runtime.balancer_config import Backend

# [user@]host[:port]: a backend, or a host of the deploy part (whose port is SSH's).
BACKEND_LINE = re.compile(r"(?:(?P<user>[A-Za-z_][A-Za-z0-9_.-]*)@)?(?P<host>[A-Za-z0-9][A-Za-z0-9.-]*)"
                          r"(?::(?P<port>\d+))?\Z")
DURATION = r"\d+(us|ms|s|m|h|d)?"
URL_PATH = r"/[A-Za-z0-9._~/%!$&'()*+,;=:@?-]*"
BALANCE = ("leastconn", "roundrobin", "first", "source", "random")
HTTP_REUSE = ("always", "aggressive", "safe", "never")
# HAProxy's retry-on keywords, and the methods it may replay a request of:
# replaying a request that is not idempotent (RFC 9110, 9.2.2) may do twice what
# the visitor asked once.
RETRY_ON = ("conn-failure", "empty-response", "junk-response", "response-timeout", "0rtt-rejected",
            "404", "408", "425", "500", "501", "502", "503", "504", "all-retryable-errors")
IDEMPOTENT = ("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE")
LOOPBACK = re.compile(r"127(\.\d{1,3}){3}|localhost|\[::1\]")
STATS_PORT_OFFSET = 10000  # as the apache part's status-listen: 8080 -> 18080, 60080 -> 50080
ACME_PORT_OFFSET = 20000  # https = acme: the loopback Apache of mod_md, 443 -> 20443


@dataclass(frozen=True)
class Checks:
    path: str
    host: str  # the Host header of each check: the site's name
    interval: str
    rise: int
    fall: int
    slowstart: str  # "" for none


@dataclass(frozen=True)
class Timeouts:
    connect: str
    client: str
    server: str
    queue: str
    http_request: str
    http_keep_alive: str


@dataclass(frozen=True)
class Cache:
    paths: tuple  # URL prefixes
    size: int  # megabytes
    max_age: int
    max_object: int  # bytes


@dataclass(frozen=True)
class AcmeService:
    """https = acme: what mod_md obtains (apache_tls.Acme), in the loopback Apache at host:port."""
    acme: Acme
    host: str
    port: int
    apache: str
    modules: str  # Apache's modules directory
    user: str  # the account its children and mod_md's commands run as
    group: str


@dataclass(frozen=True)
class Https:
    certificate: Optional[str]  # None with acme
    key: Optional[str]
    chain: Optional[str]
    http_host: Optional[str]
    http_port: int
    redirect: bool
    hsts: Optional[int]
    profile: str
    http2: bool
    acme: Optional[AcmeService] = None


@dataclass(frozen=True)
class Balancer:
    name: str  # the part's
    haproxy: str
    host: Optional[str]
    port: int
    backends: tuple  # of runtime.balancer_config.Backend
    checks: Checks
    timeouts: Timeouts
    balance: str
    server_maxconn: int  # 0: no limit
    maxconn: int
    threads: int
    http_reuse: str
    retries: int
    retry_on: tuple
    retry_methods: tuple
    cache: Optional[Cache]
    stats_listen: Optional[tuple]  # (host, port), loopback only
    prometheus: bool
    maintenance_page: Optional[str]  # the user's, or None for the one written into parts/<part>
    retry_after: int
    https: Optional[Https]
    user: Optional[str]  # the account HAProxy drops to when started as root
    group: Optional[str]
    log_rotation: str
    log_keep: int
    rotatelogs: Optional[str]
    drain_timeout: int
    ready_timeout: int
    stop_timeout: int
    directory: str  # parts/<part>
    run_directory: str  # var/run/<part>
    log_directory: str
    buildout_directory: str
    script: str
    python: str

    def beside(self, name):
        return os.path.join(self.directory, name)

    config = property(lambda self: self.beside("haproxy.cfg"))
    builtin_page = property(lambda self: self.beside("maintenance.html"))
    prune_logs = property(lambda self: self.beside("prune-logs"))
    systemd_unit = property(lambda self: self.beside(f"{self.name}.service"))
    pid_file = property(lambda self: os.path.join(self.run_directory, "haproxy.pid"))
    socket = property(lambda self: os.path.join(self.run_directory, "admin.sock"))
    state_file = property(lambda self: os.path.join(self.run_directory, "server-state"))
    maintenance_map = property(lambda self: os.path.join(self.run_directory, "maintenance.map"))
    log = property(lambda self: os.path.join(self.log_directory, "haproxy.log"))
    tls_directory = property(lambda self: os.path.join(self.run_directory, "tls"))
    # https = acme: the loopback Apache of mod_md (balancer_acme.py)
    acme_config = property(lambda self: self.beside("acme-httpd.conf"))
    certificate_event = property(lambda self: self.beside("certificate-event"))
    acme_run_directory = property(lambda self: os.path.join(self.run_directory, "acme"))
    acme_error_log = property(lambda self: os.path.join(self.log_directory, "acme-error.log"))

    @property
    def page(self):
        return self.maintenance_page or self.builtin_page

    @property
    def url(self):
        host = self.host if self.host not in (None, "*", "0.0.0.0") else "127.0.0.1"
        return f"{'https' if self.https else 'http'}://{host}:{self.port}/"


def read_balancer(buildout, name, options, haproxy):
    """The Balancer of the part's options, on a machine whose HAProxy is ``haproxy`` (machine.Haproxy)."""
    part = PartOptions(buildout, name, options)
    directory = buildout["buildout"]["directory"]
    path = part.absolute_path("haproxy", haproxy.path)
    if not haproxy.found:
        raise part.error("haproxy", f"no HAProxy at {path}: install Debian's haproxy package (apt install haproxy) "
                                    f"or name the binary" if path else "no haproxy on this machine: install "
                                    "Debian's haproxy package (apt install haproxy) or name the binary")
    if haproxy.version and haproxy.version < (2, 6):
        raise part.error("haproxy", f"{path} is HAProxy {'.'.join(map(str, haproxy.version))}: "
                                    f"the balancer needs 2.6 or newer")
    secure = part.get("https") == "acme" or bool(part.get("ssl-certificate") or part.get("ssl-certificate-key"))
    host, port = part.listen("listen", "443" if secure else "80")
    https = read_https(part, directory, haproxy, port)
    if https and https.http_port == port:
        raise part.error("http-listen", f"port {port} is the HTTPS port of listen")
    stats = read_stats_listen(part, port, haproxy)
    if stats and https and https.acme and stats[1] == https.acme.port:
        raise part.error("acme-listen", f"port {https.acme.port} is the port of stats-listen")
    log_rotation = part.get("log-rotation", "100M")
    if log_rotation != "off" and not re.fullmatch(r"\d+[KMG]?", log_rotation):
        raise part.error("log-rotation", f"{log_rotation!r} is not a size like 100M, a number of seconds, or off")
    if log_rotation != "off" and not haproxy.rotatelogs:
        raise part.error("log-rotation", "rotatelogs is not on this machine (apt install apache2-utils), "
                                         "or set log-rotation = off")
    user = group = None
    if haproxy.euid == 0:
        user = hostname_like(part, "user", part.get("user", "haproxy" if haproxy.accounts.user("haproxy")
                                                     else "nobody"), r"[A-Za-z_][A-Za-z0-9_.-]*", "a user name")
        group = hostname_like(part, "group", part.get("group", user if haproxy.accounts.group(user)
                                                       else "nogroup"), r"[A-Za-z_][A-Za-z0-9_.-]*", "a group name")
    page = part.absolute_path("maintenance-page")
    if page and not os.path.isfile(page):
        raise part.error("maintenance-page", f"{page} is not a file")
    return Balancer(
        name=name, haproxy=path, host=host, port=port,
        backends=read_backends(part),
        checks=read_checks(part),
        timeouts=Timeouts(*(duration(part, f"timeout-{key}", default) for key, default in (
            ("connect", "5s"), ("client", "30s"), ("server", "60s"), ("queue", "30s"),
            ("http-request", "10s"), ("http-keep-alive", "5s")))),
        balance=part.choice("balance", "leastconn", BALANCE),
        # Below the 16 worker threads of the apache part behind a balancer: with every
        # worker busy Apache accepts no connection, and the health checks time out.
        server_maxconn=part.integer("server-maxconn", 12, 0, 100000),
        maxconn=part.integer("maxconn", 4096, 1, 1000000),
        threads=part.integer("threads", 1, 1, 64),
        http_reuse=part.choice("http-reuse", "always", HTTP_REUSE),
        retries=part.integer("retries", 3, 0, 100),
        retry_on=read_retry_on(part),
        retry_methods=read_retry_methods(part),
        cache=read_cache(part),
        stats_listen=stats,
        prometheus=bool(stats) and haproxy.prometheus,
        maintenance_page=page,
        retry_after=part.integer("retry-after", 120, 0),
        https=https,
        user=user, group=group,
        log_rotation=log_rotation,
        log_keep=part.integer("log-keep", 10, 1, 10000),
        rotatelogs=haproxy.rotatelogs,
        drain_timeout=part.integer("drain-timeout", 30, 0, 86400),
        ready_timeout=part.integer("ready-timeout", 30, 1, 86400),
        stop_timeout=part.integer("stop-timeout", 60, 1, 86400),
        directory=os.path.join(buildout["buildout"]["parts-directory"], name),
        run_directory=os.path.join(directory, "var", "run", name),
        log_directory=os.path.join(directory, "var", "log", name),
        buildout_directory=directory,
        script=os.path.join(buildout["buildout"]["bin-directory"], name),
        python=haproxy.python,
    )


def in_effect(balancer):
    """The values the machine chose, written back into the options (as zc.recipe.egg does)."""
    return {"haproxy": balancer.haproxy, "listen": f"{balancer.host or '*'}:{balancer.port}",
            "url": balancer.url, "script": balancer.script, "config": balancer.config,
            "backends": "\n".join(b.name + (" standby" if b.standby else "") for b in balancer.backends)}


def hostname_like(part, key, value, pattern, expected):
    if not re.fullmatch(pattern, value):
        raise part.error(key, f"{value!r} is not {expected}")
    return value


def duration(part, key, default):
    value = part.get(key, default)
    if not re.fullmatch(DURATION, value):
        raise part.error(key, f"{value!r} is not a duration like 5s, 500ms or 2m")
    return value


def read_backends(part):
    """host:port of each server; a host of the deploy part (user@host[:ssh port]) at backend-port."""
    lines = part.lines("backends")
    if not lines:
        raise part.error("backends", "is required: host:port of each Apache, one a line")
    default_port = part.integer("backend-port", None, 1, 65535)
    backends = []
    for line in lines:
        words = line.split()
        standby = len(words) == 2 and words[1] == "standby"  # the apache part's standby (its backends option)
        match = BACKEND_LINE.match(words[0]) if len(words) == 1 or standby else None
        if not match:
            raise part.error("backends", f"{line!r} is not host:port (a host name or an IPv4 address)")
        port = match.group("port")
        if match.group("user") or port is None:  # a deploy host: its port, if any, is SSH's
            if default_port is None:
                raise part.error("backends", f"{line!r} has no port of Apache's: write host:port, or give "
                                             f"backend-port (the port the apache part listens on)")
            port = default_port
        port = int(port)
        if not 1 <= port <= 65535:
            raise part.error("backends", f"port {port} in {line!r} is outside 1-65535")
        backend = Backend(name=f"{match.group('host')}:{port}", host=match.group("host"), port=port, standby=standby)
        if backend.name in (b.name for b in backends):
            raise part.error("backends", f"{backend.name} is named twice")
        backends.append(backend)
    return tuple(backends)


def read_checks(part):
    server_name = part.required("server-name", "the site's host name, sent as Host in each health check")
    hostname_like(part, "server-name", server_name, HOSTNAME.replace(r"(\*\.)?", ""), "a host name")
    path = part.get("health-check", "/")
    hostname_like(part, "health-check", path, URL_PATH, "a URL path like /health/")
    slowstart = part.get("slowstart", "10s")
    return Checks(
        path=path, host=server_name,
        interval=duration(part, "check-interval", "2s"),
        rise=part.integer("rise", 2, 1, 100),
        fall=part.integer("fall", 3, 1, 100),
        slowstart="" if slowstart in ("0", "off") else duration(part, "slowstart", slowstart),
    )


def read_retry_on(part):
    words = tuple((part.get("retry-on", "conn-failure empty-response 503")).split())
    for word in words:
        if word not in RETRY_ON and word != "none":
            raise part.error("retry-on", f"{word!r} is not one of HAProxy's retry-on conditions "
                                         f"({', '.join(RETRY_ON)}, none)")
    return () if words == ("none",) else words


def read_retry_methods(part):
    methods = tuple(part.get("retry-methods", "GET HEAD OPTIONS").upper().split())
    for method in methods:
        if method not in IDEMPOTENT:
            raise part.error("retry-methods", f"{method} is not idempotent: replaying it after a failure may do "
                                              f"twice what the visitor asked once (idempotent: "
                                              f"{', '.join(IDEMPOTENT)})")
    return methods


def read_cache(part):
    paths = part.lines("cache") or ["/static/"]
    if paths == ["off"]:
        for option in ("cache-size", "cache-max-age", "cache-max-object"):
            if part.get(option) is not None:
                raise part.error(option, "needs the cache (cache is off)")
        return None
    for path in paths:
        hostname_like(part, "cache", path, r"/[A-Za-z0-9._~/%-]*", "a URL path prefix like /static/, or off")
    size = part.size("cache-size", "64M")
    if not 1024 ** 2 <= size <= 4095 * 1024 ** 2:
        raise part.error("cache-size", "is outside 1M-4095M (HAProxy's cache sizes are in megabytes)")
    max_object = part.size("cache-max-object", "1M")
    if not 0 < max_object <= size // 2:
        raise part.error("cache-max-object", "must be more than 0 and at most half of cache-size")
    return Cache(paths=tuple(paths), size=size // 1024 ** 2, max_age=part.integer("cache-max-age", 3600, 1),
                 max_object=max_object)


def read_stats_listen(part, port, haproxy):
    """(host, port) of the stats page and the exporter: on loopback, never where visitors reach."""
    companion = port + STATS_PORT_OFFSET if port + STATS_PORT_OFFSET <= 65535 else port - STATS_PORT_OFFSET
    value = part.get("stats-listen", f"127.0.0.1:{companion}")
    if value == "off":
        return None
    host, stats_port = part.listen("stats-listen", value)
    if not host or not LOOPBACK.fullmatch(host):
        raise part.error("stats-listen", f"{value!r} is not on loopback: the stats page and the metrics are "
                                         f"for this machine only (127.0.0.1:PORT)")
    if stats_port == port:
        raise part.error("stats-listen", f"port {stats_port} is the port of listen")
    return ("127.0.0.1" if host == "localhost" else host), stats_port


def read_https(part, directory, haproxy, port):
    """HTTPS: a certificate from files, or one obtained and renewed (https = acme); None for HTTP."""
    managed = part.choice("https", "off", ("off", "acme")) == "acme"
    certificate, key, chain = certificate_files(part, managed, "the balancer")
    if not managed and not certificate:
        for option in ("ssl-certificate-chain", "http-listen", "redirect-http", "hsts", "tls-profile", "http2",
                       "server-aliases", "acme-listen") + ACME_OPTIONS:
            if part.get(option) is not None:
                raise part.error(option, "needs https = acme, or ssl-certificate and ssl-certificate-key")
        return None
    if not managed:
        for option in ("server-aliases", "acme-listen") + ACME_OPTIONS:
            if part.get(option) is not None:
                raise part.error(option, "needs https = acme")
    for option, path in (("ssl-certificate", certificate), ("ssl-certificate-key", key),
                         ("ssl-certificate-chain", chain)):
        if path and not os.access(path, os.R_OK):
            raise part.error(option, f"cannot read {path}")
    acme = read_acme_service(part, directory, haproxy, port) if managed else None
    http_host, http_port = part.listen("http-listen", "80")
    redirect = part.boolean("redirect-http", True)
    if acme and acme.port in (port, http_port):
        raise part.error("acme-listen", f"port {acme.port} is the port of "
                                        f"{'listen' if acme.port == port else 'http-listen'}")
    if acme and not redirect:
        raise part.error("redirect-http", "must be on with https = acme: the authority checks the site on its "
                                          "HTTP port, where HAProxy answers the challenges and redirects the rest")
    hsts = part.get("hsts", "on" if acme else "off")
    return Https(
        certificate=certificate, key=key, chain=chain, http_host=http_host, http_port=http_port,
        redirect=redirect,
        hsts=None if hsts == "off" else HSTS_MAX_AGE if hsts == "on" else part.integer("hsts", None, 0),
        profile=part.choice("tls-profile", "intermediate", tuple(TLS_PROFILES)),
        http2=part.boolean("http2", True),
        acme=acme,
    )


def read_acme_service(part, directory, haproxy, port):
    """https = acme: mod_md's settings (as the apache part reads them) and the loopback
    Apache that runs it (balancer_acme.py renders it)."""
    if not haproxy.apache or not haproxy.has_mod_md:
        raise part.error("https", "acme needs Apache with mod_md and mod_ssl, which obtain the certificate: "
                                  "apt install apache2")
    if part.get("acme-challenge", "http-01") != "http-01":
        raise part.error("acme-challenge", "the balancer answers http-01 alone: tls-alpn-01 is answered in the "
                                           "TLS handshake, which HAProxy ends")
    server_name = part.required("server-name", "the site's host name")
    names = [server_name] + [part.apache_value("server-aliases", alias, HOSTNAME, "a host name")
                             for alias in part.lines("server-aliases")]
    acme = read_acme(part, directory, names)
    user = haproxy.default_user()
    companion = port + ACME_PORT_OFFSET if port + ACME_PORT_OFFSET <= 65535 else port - ACME_PORT_OFFSET
    value = part.get("acme-listen", f"127.0.0.1:{companion}")
    host, port = part.listen("acme-listen", value)
    if not host or not LOOPBACK.fullmatch(host):
        raise part.error("acme-listen", f"{value!r} is not on loopback: the Apache that obtains the "
                                        f"certificate answers HAProxy alone (127.0.0.1:PORT)")
    return AcmeService(acme=acme, host="127.0.0.1" if host == "localhost" else host, port=port,
                       apache=haproxy.apache, modules=haproxy.apache_modules, user=user,
                       group=haproxy.primary_group(user))
