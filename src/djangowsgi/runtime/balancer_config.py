"""What the balancer recipe tells bin/<balancer part>: one typed, versioned object,
written into the generated script as a dict (``to_script``) and rebuilt from it
(``BalancerConfig.from_script``), as server_config.py does for the apache part."""
import dataclasses
from dataclasses import dataclass, field
from typing import Optional

# 1: written by 0.2.0, the first release with a balancer; 2: https = acme (certificate_service).
CONFIG_VERSION = 2
BACKEND = "site"  # the one backend of haproxy.cfg, whose servers drain and ready name


@dataclass(frozen=True)
class Backend:
    name: str  # the server's name in haproxy.cfg: host:port
    host: str
    port: int
    # An Apache's standby on one host: it runs, and so gets traffic, only while its
    # Apache restarts with a new configuration (bin/<apache part> reload).
    standby: bool = False


@dataclass(frozen=True)
class Certificate:
    """A PEM that HAProxy reads (certificate, chain, key in one file), made from
    the user's files at each start and reload, so that a renewed file is served."""
    pem: str
    certificate: str
    key: str
    chain: str = ""


@dataclass(frozen=True)
class CertificateService:
    """https = acme: the small Apache on loopback whose mod_md obtains and renews the
    certificate that HAProxy serves from ``pem`` (runtime/certificate_service.py)."""
    apache: str  # the httpd binary
    config: str  # its httpd.conf
    pid_file: str
    error_log: str
    store: str  # MDStoreDir
    domain: str  # the managed domain's name: its first name
    names: tuple  # every name of the certificate
    events: str  # where certificate-event leaves mod_md's events for the agent
    user: str  # the account the Apache's children (and certificate-event) run as
    status_url: str  # mod_md's md-status on the loopback listener
    pem: str  # the PEM HAProxy serves: certificate, chain and key
    authority: str  # the ACME directory's URL


@dataclass(frozen=True)
class BalancerConfig:
    part: str
    directory: str  # the buildout's
    haproxy: str
    config: str  # haproxy.cfg
    pid_file: str
    socket: str  # the runtime API (admin level), for bin/<part> alone
    state_file: str  # server states kept across reloads and restarts
    maintenance_map: str
    log: str
    rotatelogs: str  # the command line HAProxy's output is piped into, or "" (a plain file)
    url: str  # where visitors reach it (the first listener)
    host: str
    port: int
    stats_url: str  # "" without a stats listener
    metrics_url: str  # "" where HAProxy has no Prometheus exporter
    backends: tuple  # of Backend
    maxconn: int  # global: HAProxy needs twice as many open files
    drain_timeout: int  # seconds drain waits for a server's sessions to end
    stop_timeout: int  # seconds stop waits for connections to end before it closes them
    ready_timeout: int = 30  # seconds ready waits for the health check to pass
    certificates: tuple = ()  # of Certificate
    certificate_service: Optional[CertificateService] = None
    version: int = field(default=CONFIG_VERSION)

    @classmethod
    def from_script(cls, values):
        values = dict(values)
        version = values.pop("config_version", CONFIG_VERSION)
        if version > CONFIG_VERSION:
            raise ValueError(f"bin/<part> was written by a newer djangowsgi (balancer config version {version}): "
                             f"run bin/buildout again")
        known = {f.name for f in dataclasses.fields(cls)} - {"version"}
        values = {key: value for key, value in values.items() if key in known}
        values["backends"] = tuple(Backend(**b) for b in values["backends"])
        values["certificates"] = tuple(Certificate(**c) for c in values.get("certificates") or ())
        service = values.get("certificate_service")
        if service:
            values["certificate_service"] = CertificateService(**{**service, "names": tuple(service["names"])})
        return cls(version=version, **values)

    def to_script(self):
        values = {"config_version": CONFIG_VERSION}
        for f in dataclasses.fields(self):
            if f.name == "version":
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [dataclasses.asdict(v) for v in value]
            elif dataclasses.is_dataclass(value):
                value = dataclasses.asdict(value)
            values[f.name] = value
        return values

    def backends_named(self, name):
        """The servers ``name`` designates: a server's name (host:port), or a host and every server
        on it but a standby."""
        exact = [b for b in self.backends if b.name == name]
        return exact or [b for b in self.backends if b.host == name and not b.standby]
