"""The options of a djangowsgi:apache part read into one frozen value, the Site:
what it serves and how, its HTTPS (apache_tls.py), and where its files go. Reading looks at the
options and at a Machine (machine.py), probed once and passed in; whether this
machine's files allow the site is apache_checks.py's, and its files are
rendered in apache_config.py. Every problem is a one-line UserError."""
import dataclasses
import hashlib
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import NamedTuple, Optional

from djangowsgi import render, system
from djangowsgi.apache_defaults import (
    ACCOUNT, BALANCED_MODE, BALANCED_WORKERS, DAEMON_LIMITS, DAEMON_TIMEOUTS, DEFAULT_WORKER_THREADS,
    DEFAULT_WORKERS, DISPLAY_LIMIT, GROUP, HOSTNAME,
    LIMIT_REQUEST_BODY_MAX, LOG_FORMAT, LOG_LEVELS, MIN_PROCESSES, PLAIN, READ_TIMEOUT_STAGE, REQUEST_READ_TIMEOUT,
    STATUS_PORT_OFFSET, WORKLOAD_THREADS)
from djangowsgi.apache_tls import Tls, read_tls
from djangowsgi.options import PartOptions


@dataclass(frozen=True)
class Edge:
    """How the server meets slow clients, floods, large requests; static files."""
    request_read_timeout: Optional[str]
    workers: int
    server_limit: int
    threads_per_child: int
    listen_backlog: int
    keep_alive_timeout: int
    max_body_size: int
    http2: bool
    compress: bool
    static_max_age: int
    hashed_max_age: int


@dataclass(frozen=True)
class Layout:
    """Where the part's files are, in the buildout."""
    buildout_directory: str
    served_from: str  # how Apache reaches the buildout directory
    directory: str  # parts/<part>
    run_directory: str
    log_directory: str
    script: str  # bin/<part>

    def beside(self, name):
        return os.path.join(self.directory, name)

    vhost = property(lambda self: self.beside("vhost.conf"))
    server_conf = property(lambda self: self.beside("wsgi-server.conf"))
    httpd_conf = property(lambda self: self.beside("httpd.conf"))
    prune_logs = property(lambda self: self.beside("prune-logs"))
    certificate_event = property(lambda self: self.beside("certificate-event"))
    certificate_agent = property(lambda self: self.beside("certificate-agent"))
    certificate_events = property(lambda self: os.path.join(self.run_directory, "certificate-events"))
    pid_file = property(lambda self: os.path.join(self.run_directory, "httpd.pid"))


class ProcessGroup(NamedTuple):
    """A WSGIDaemonProcess of the site."""
    name: str
    processes: int
    display_name: str  # as written in WSGIDaemonProcess


@dataclass(frozen=True)
class Site:
    name: str  # the part's
    server: str  # self-contained or system
    wsgi_script: str
    server_name: str
    server_aliases: tuple
    host: Optional[str]
    port: int
    mode: str  # daemon or embedded
    process_group: str
    daemon_groups: tuple  # of ProcessGroup: the pages', then the bodies' (if any)
    confdir: str  # the system Apache's
    preload: bool
    apache_version: str
    user: str
    group: str
    workload: str
    threads: int
    timeouts: tuple  # (mod_wsgi option, seconds)
    limits: tuple
    lang: str
    locale: str
    umask: str
    home: str
    python_home: str
    python: str  # the Python running buildout, which the generated scripts run
    aliases: tuple  # (URL path, directory)
    writable: tuple
    error_log: str
    access_log: str
    log_level: str
    log_format: str
    log_rotation: str
    log_keep: int
    rotatelogs: Optional[str]
    ssl: Optional[Tls]
    edge: Edge
    status_listen: Optional[tuple]  # (host, port)
    trusted_proxies: tuple  # addresses or networks whose X-Forwarded-For/-Proto are believed
    balancer: Optional[str]  # the balancer part in front of it on this host, or None
    standby_listen: Optional[tuple]  # (host, port) of the standby that a new configuration starts on
    extra: str
    httpd: Optional[str]
    modules: str
    mod_wsgi: str
    brotli: bool
    check: bool  # configtest and mod_wsgi's Python
    socket_prefix: str
    systemd_unit: str
    systemd_user: Optional[str]  # for a server started by another account than root
    layout: Layout

    @property
    def system(self):
        return self.server == "system"

    @property
    def processes(self):
        return self.daemon_groups[0].processes

    @property
    def url(self):
        scheme = "https" if self.ssl else "http"
        host = self.host if self.host not in (None, "*", "0.0.0.0") else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/"

    def served(self, path):
        """``path`` as Apache reaches it: through served-from when inside the buildout."""
        inside = self.layout.buildout_directory.rstrip("/")
        if path == inside or path.startswith(inside + "/"):
            return self.layout.served_from + path[len(inside):]
        return path

    def standby(self):
        """The Apache a change of configuration starts on standby-listen (balancer): this
        site with its own port, pid file, sockets and logs, no mod_status listener."""
        host, port = self.standby_listen
        run = os.path.join(self.layout.run_directory, "standby")
        return dataclasses.replace(
            self, host=host, port=port, status_listen=None, socket_prefix=os.path.join(run, "wsgi"),
            error_log=os.path.join(self.layout.log_directory, "standby-error.log"),
            access_log=os.path.join(self.layout.log_directory, "standby-access.log"),
            layout=dataclasses.replace(self.layout, run_directory=run))

    def as_built(self):
        """This site with its paths as they are in the buildout (for the configtest
        of a new configuration: served-from may not lead here yet)."""
        return dataclasses.replace(self, layout=dataclasses.replace(
            self.layout, served_from=self.layout.buildout_directory))

    def shown(self, display_name):
        """A display-name as ps shows it (before mod_wsgi cuts it)."""
        return display_name.replace("%{GROUP}", f"(wsgi:{self.process_group})")


def read_site(buildout, name, options, machine):
    """The Site of the part's options on ``machine``; UserError on bad input."""
    part = PartOptions(buildout, name, options)
    directory = buildout["buildout"]["directory"]
    server = part.choice("server", "self-contained", ("self-contained", "system"))
    if server == "system":
        listen = "*:443" if part.get("ssl-certificate") or part.get("https") == "acme" else "*:80"
    else:
        listen = "127.0.0.1:8000"
    host, port = part.listen("listen", listen)
    server_name = part.apache_value("server-name", part.required("server-name"), HOSTNAME, "a host name")
    server_aliases = tuple(part.apache_value("server-aliases", a, HOSTNAME, "a host name")
                           for a in part.lines("server-aliases"))
    mode = part.choice("mode", default_mode(part), ("daemon", "embedded"))
    if server == "system" and mode == "embedded":
        raise part.error("mode", "embedded would run the site in every child of the system Apache, with one "
                                 "Python for all its sites: use mode = daemon with server = system")
    process_group = part.apache_value("process-group", part.get("process-group", server_name.replace("*", "_")),
                                      GROUP, "a plain name (letters, digits, '.', '_', '-')")
    user = part.apache_value("user", part.get("user", machine.default_user()), ACCOUNT, "a user name")
    group = part.apache_value("group", part.get("group", machine.primary_group(user)), ACCOUNT, "a group name")
    if user == "root":
        raise root_user(part, user)
    workload = part.choice("workload", "io", tuple(WORKLOAD_THREADS))
    layout = Layout(
        buildout_directory=directory,
        served_from=part.absolute_path("served-from", directory),
        directory=os.path.join(buildout["buildout"]["parts-directory"], name),
        run_directory=os.path.join(directory, "var", "run", name),
        log_directory=os.path.join(directory, "var", "log", name),
        script=os.path.join(buildout["buildout"]["bin-directory"], name),
    )
    wsgi_script = part.absolute_path("wsgi-script", required=True)
    python_home = part.absolute_path("python-home", machine.python_prefix)
    httpd = part.absolute_path("httpd", machine.apache)
    modules = part.absolute_path("modules-directory", machine.modules_directory)
    ssl = read_tls(part, directory, port, (server_name,) + server_aliases)
    values = dict(
        name=name, server=server, wsgi_script=wsgi_script, server_name=server_name,
        server_aliases=server_aliases, host=host, port=port, mode=mode, process_group=process_group,
        daemon_groups=daemon_groups(part, process_group, machine),
        confdir=part.absolute_path("apache-confdir", machine.apache_confdir),
        preload=part.boolean("preload", True),
        apache_version=part.choice("apache-version", "2.4", ("2.4", "2.2")),
        user=user, group=group, workload=workload,
        threads=part.integer("threads", WORKLOAD_THREADS[workload], 1, 1000),
        timeouts=tuple((key, part.integer(key, default, 0)) for key, default in DAEMON_TIMEOUTS),
        limits=tuple((key, part.integer(key, 0, 0)) for key in DAEMON_LIMITS),
        lang=part.apache_value("lang", part.get("lang", "C.UTF-8"), PLAIN, "a locale name"),
        umask=part.apache_value("umask", part.get("umask", "0022"), r"0?[0-7]{3}", "an octal umask like 0022"),
        home=part.absolute_path("home", directory),
        python_home=python_home,
        python=machine.python,
        aliases=tuple(read_alias(part, line) for line in part.lines("aliases")),
        writable=read_writable(part, layout, (directory, wsgi_script, python_home, layout.httpd_conf,
                                              layout.script)),
        **read_logs(part, layout, machine),
        ssl=ssl,
        edge=read_edge(part, BALANCED_WORKERS[mode] if part.get("balancer") else DEFAULT_WORKERS),
        status_listen=read_status_listen(part, server, host, port, ssl),
        trusted_proxies=read_trusted_proxies(part),
        **read_standby(part, server, host, port, ssl),
        extra=read_extra(part),
        httpd=httpd,
        modules=modules,
        mod_wsgi=part.absolute_path("mod-wsgi", system.find_mod_wsgi(modules) if modules != machine.modules_directory
                                    else machine.mod_wsgi),
        brotli=machine.has_module(modules, "brotli"),
        check=part.boolean("check", bool(httpd) and (httpd == machine.apache or os.path.exists(httpd))),
        socket_prefix=part.absolute_path("socket-prefix", os.path.join(layout.run_directory, "wsgi")),
        # Named after the process group: two buildouts with the same part names may share a machine.
        systemd_unit=os.path.join(layout.directory, f"apache-{process_group}.service"),
        systemd_user=None if machine.euid == 0 else machine.login,
        layout=layout,
    )
    values["locale"] = part.apache_value("locale", part.get("locale", values["lang"]), PLAIN, "a locale name")
    return Site(**values)


# The options only daemon mode reads.
DAEMON_OPTIONS = ("processes", "threads", "workload", "body-processes", "display-name") + tuple(
    key for key, _ in DAEMON_TIMEOUTS) + DAEMON_LIMITS


def default_mode(part):
    """daemon, or embedded behind a balancer on this host unless a daemon option is given."""
    if part.get("balancer") and part.get("server") != "system" and not any(
            part.get(key) is not None for key in DAEMON_OPTIONS):
        return BALANCED_MODE
    return "daemon"


def in_effect(site):
    """The values the site was read with where the machine chose them, written back
    into the part's options (as zc.recipe.egg does): buildout then sees, and
    reinstalls for, a change of the machine as for a change of buildout.cfg."""
    return {
        "user": site.user,
        "group": site.group,
        "processes": str(site.processes),
        "threads": str(site.threads),
        "python-home": site.python_home,
        "httpd": site.httpd or "",
        "modules-directory": site.modules,
        "mod-wsgi": site.mod_wsgi,
        "rotatelogs": site.rotatelogs or "",
        "apache-confdir": site.confdir,
        "process-group": site.process_group,
        "mode": site.mode,
        "workers": str(site.edge.workers),
    }


def root_user(part, user):
    return part.error("user", f"{user!r} is root: mod_wsgi refuses to run a daemon as root; "
                              "name an unprivileged account such as www-data")


def daemon_groups(part, process_group, machine):
    """The page's daemons, and those that requests with a body go to
    (apache_config._daemon_groups)."""
    processes = part.integer("processes", max(MIN_PROCESSES, machine.cpus), 1, 1000)
    display_name = part.apache_value("display-name", part.get("display-name", default_display_name(process_group)),
                                     PLAIN, "a plain name")
    groups = [ProcessGroup(process_group, processes, display_name)]
    body_processes = part.integer("body-processes", 1, 0, 1000)
    if body_processes:
        body_group = f"{process_group}-bodies"
        groups.append(ProcessGroup(body_group, body_processes, default_display_name(body_group)))
    return tuple(groups)


def read_alias(part, line):
    fields = line.split()
    if len(fields) != 2 or not fields[0].startswith("/"):
        raise part.error("aliases", f"{line!r} is not 'URL-PATH DIRECTORY', e.g. /static/ /srv/site/static")
    url, path = (part.apache_value("aliases", f) for f in fields)
    if not os.path.isabs(path):
        raise part.error("aliases", f"{path!r} is not an absolute path")
    path = os.path.normpath(path)
    if url.endswith("/") and url != "/":
        return url, path + "/"
    return url.rstrip("/") or "/", path


def read_writable(part, layout, code):
    """Directories the daemon writes (a SQLite database's, uploaded media); never
    one holding ``code``, the site's code or configuration."""
    found = []
    for line in part.lines("writable"):
        for path in line.split():
            part.apache_value("writable", path)
            path = os.path.normpath(os.path.join(layout.buildout_directory, path))
            if any(c == path or c.startswith(path.rstrip("/") + "/") for c in code):
                raise part.error("writable", f"{path} holds the site's code or configuration: the "
                                             f"daemon must not be able to change it (name a directory "
                                             f"such as var/media)")
            found.append(path)
    return tuple(found)


def read_logs(part, layout, machine):
    log_rotation = part.get("log-rotation", "100M")
    if log_rotation != "off" and not re.fullmatch(r"\d+[KMG]|\d+", log_rotation):
        raise part.error("log-rotation", f"{log_rotation!r} is not a size like 100M, a number of "
                                         f"seconds like 86400, or off")
    log_format = part.get("log-format", LOG_FORMAT)
    try:
        render.apache_format(log_format)
    except ValueError:
        raise part.error("log-format", f"{log_format!r} holds a control character") from None
    return dict(
        error_log=part.absolute_path("error-log", os.path.join(layout.log_directory, "error.log")),
        access_log=part.absolute_path("access-log", os.path.join(layout.log_directory, "access.log")),
        log_level=part.choice("log-level", "warn", LOG_LEVELS),
        log_format=log_format,
        log_rotation=log_rotation,
        log_keep=part.integer("log-keep", 10, 1, 10000),
        rotatelogs=part.absolute_path("rotatelogs", machine.rotatelogs),
    )


def read_trusted_proxies(part):
    """The balancer's addresses (or networks): only from them X-Forwarded-For and
    X-Forwarded-Proto tell the visitor's address and scheme (mod_remoteip)."""
    found = []
    for line in part.lines("trusted-proxies"):
        for value in line.split():
            try:
                found.append(str(ipaddress.ip_network(value, strict=False)))
            except ValueError:
                raise part.error("trusted-proxies", f"{value!r} is not an IP address or network like 127.0.0.1 "
                                                    f"or 10.0.0.0/24 (the balancer's)") from None
    return tuple(found)


def read_standby(part, server, host, port, ssl):
    """balancer: the balancer part in front of this Apache on the same host. A change
    of Apache's configuration then starts a standby Apache on standby-listen, which
    the balancer sends the traffic to while this one restarts (docs/balancer.rst)."""
    balancer = part.get("balancer")
    if balancer is None:
        if part.get("standby-listen") is not None:
            raise part.error("standby-listen", "needs balancer (the balancer part in front of this Apache)")
        return dict(balancer=None, standby_listen=None)
    part.apache_value("balancer", balancer, GROUP, "the name of the balancer part in front of this Apache")
    if server == "system":
        raise part.error("balancer", "is for the self-contained server (server = system shares its Apache)")
    if ssl:
        raise part.error("balancer", "behind a balancer HTTPS ends there: give the certificate to the balancer part "
                                     "and leave https and ssl-certificate off here")
    standby = part.listen("standby-listen", f"{host or '127.0.0.1'}:{port + 1 if port < 65535 else port - 1}")
    if standby[1] == port:
        raise part.error("standby-listen", f"port {port} is the port of listen")
    return dict(balancer=balancer, standby_listen=standby)


def read_extra(part):
    extra = part.options.get("extra", "").strip("\n")
    if "</VirtualHost" in extra or "<VirtualHost" in extra:
        raise part.error("extra", "may not open or close a VirtualHost: it goes inside the part's own")
    return extra


def read_edge(part, default_workers):
    """How the server meets slow clients, floods, oversized requests, and
    what it does for static files (compression, caching)."""
    timeout = part.get("request-read-timeout", REQUEST_READ_TIMEOUT)
    if timeout != "off" and not re.fullmatch(rf"{READ_TIMEOUT_STAGE}( {READ_TIMEOUT_STAGE})*", timeout):
        raise part.error("request-read-timeout", f"{timeout!r} is not mod_reqtimeout's stage=timeout[-maximum]"
                                                 f"[,MinRate=rate] list, e.g. {REQUEST_READ_TIMEOUT}, or off")
    workers = part.integer("workers", default_workers, 1, 20000)
    if part.get("worker-threads") is None:
        # At least two processes: one that crashes takes only its own connections.
        server_limit = min(workers, max(2, -(-workers // DEFAULT_WORKER_THREADS)))
        threads_per_child = -(-workers // server_limit)
    else:
        threads_per_child = min(workers, part.integer("worker-threads", DEFAULT_WORKER_THREADS, 1, 20000))
        server_limit = -(-workers // threads_per_child)
    max_body_size = part.size("max-body-size", "100M")
    if max_body_size > LIMIT_REQUEST_BODY_MAX:
        raise part.error("max-body-size", f"{max_body_size} bytes is over Apache's limit of 2G - 1 "
                                          f"(0 means no limit)")
    return Edge(
        request_read_timeout=None if timeout == "off" else timeout,
        workers=workers,
        server_limit=server_limit,
        threads_per_child=threads_per_child,
        listen_backlog=part.integer("listen-backlog", 4096, 1, 65535),
        keep_alive_timeout=part.integer("keep-alive-timeout", 5, 0, 3600),
        max_body_size=max_body_size,
        http2=part.boolean("http2", True),  # on the HTTPS vhost
        compress=part.boolean("compress", True),
        static_max_age=part.integer("static-max-age", 3600, 0),
        hashed_max_age=part.integer("hashed-max-age", 365 * 24 * 3600, 0),
    )


def read_status_listen(part, server, host, port, ssl):
    """(host, port) of the self-contained server's mod_status listener, or None."""
    if server == "system":
        if part.get("status-listen") is not None:
            raise part.error("status-listen", "is for the self-contained server; the system Apache's "
                                              "mod_status is configured in its mods-enabled/status.conf")
        return None
    if part.get("status-listen") == "off":
        return None
    default_host = host if is_loopback(host) else "127.0.0.1"
    default_port = port + STATUS_PORT_OFFSET if port + STATUS_PORT_OFFSET <= 65535 else port - STATUS_PORT_OFFSET
    status_host, status_port = part.listen("status-listen", f"{default_host}:{default_port}")
    if not is_loopback(status_host):
        raise part.error("status-listen", f"{status_host or '*'} is not a loopback address (127.0.0.1, [::1]): "
                                          f"mod_status shows every request's URL and client")
    if status_port == port or (ssl and ssl.redirect and status_port == ssl.http_port):
        raise part.error("status-listen", f"port {status_port} is the site's own")
    return status_host, status_port


def is_loopback(host):
    return host is not None and (host == "localhost" or host == "[::1]" or re.fullmatch(r"127(\.\d{1,3}){3}", host))


def default_display_name(group):
    """``(wsgi:<group>)``, or when ps would cut that (DISPLAY_LIMIT), the start of
    the group and a digest of all of it: unique, and whole in ps."""
    name = f"(wsgi:{group})"
    if len(name) <= DISPLAY_LIMIT:
        return name
    digest = hashlib.sha256(group.encode()).hexdigest()[:4]
    return f"(wsgi:{group[:DISPLAY_LIMIT - 12]}~{digest})"
