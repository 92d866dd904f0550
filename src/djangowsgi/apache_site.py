"""The options of a djangowsgi:apache part, read and checked: what the site is,
and whether this machine can serve it. Every problem is a one-line UserError."""
import copy
import hashlib
import os
import re
import sys

from djangowsgi import render, system
from djangowsgi.options import PartOptions
from djangowsgi.wsgi import script_environment_files, script_python_path

# mod_wsgi-express's values, written out so that a reader of vhost.conf sees them.
DAEMON_TIMEOUTS = (
    ("queue-timeout", 45),
    ("socket-timeout", 60),
    ("connect-timeout", 15),
    ("request-timeout", 60),
    ("startup-timeout", 15),
    ("deadlock-timeout", 60),
    ("graceful-timeout", 15),
    ("shutdown-timeout", 5),
)
# Off unless set (0 is mod_wsgi's "never").
DAEMON_LIMITS = ("inactivity-timeout", "maximum-requests")
# A daemon process a CPU (at least 2, so that reload always leaves one answering).
# Its threads, by what the site's views do (bench/tuning.py, docs/benchmarks.rst,
# 2 CPUs, six rounds): a view waiting on a database or a service wants threads
# to wait in (2 x 10 answered a page waiting 5 ms 1.27x faster than 2 x 3),
# a view that computes wants few, as they share one GIL (2 x 10 answered the
# CPU-bound page at 0.91x of 2 x 3, with a p99 of 90 ms against 60).
DEFAULT_PROCESSES = max(2, os.cpu_count() or 2)
WORKLOAD_THREADS = {"io": 10, "cpu": 3}
# combined, then the response time in microseconds and the mod_wsgi process group
# that answered ("-" for files Apache served itself).
LOG_FORMAT = '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" %D %{DJANGOWSGI_GROUP}e'
LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug") + tuple(
    f"trace{i}" for i in range(1, 9)
)
HOSTNAME = r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
ACCOUNT = r"[A-Za-z_][A-Za-z0-9_.-]*"
PLAIN = r"[A-Za-z0-9_.%{}:@+()~-]+"
GROUP = r"[A-Za-z0-9_.-]+"
# mod_wsgi cuts a daemon's display name to the length of Apache's argv[0]:
# /usr/sbin/apache2 under Debian's apache2ctl, and for bin/<part>.
DISPLAY_LIMIT = len("/usr/sbin/apache2")
# The socket prefix for the system Apache: the same for every site (its run directory).
SYSTEM_SOCKET_PREFIX = "${APACHE_RUN_DIR}/wsgi"

# Slow clients (docs/serving.rst, "Slow clients and floods"): a client has 10 s to start
# its headers and 20 s for all of them, and must keep sending 500 bytes/s to get
# more; the same for a body. Measured: 500 connections trickling headers made
# the server unreachable without it, and 1500 could not with it.
REQUEST_READ_TIMEOUT = "header=10-20,MinRate=500 body=20,MinRate=500"
READ_TIMEOUT_STAGE = r"(header|body|handshake)=\d+(-\d+)?(,MinRate=\d+)?"
# Apache's workers are threads that mostly wait (on the network, or for a daemon
# to take the request): all started at once, so that a flood does not wait for
# new processes. A request waiting for a daemon holds a worker, and an event MPM
# process whose workers are all busy closes its idle keep-alive connections,
# failing the request a client sends on one meanwhile. Measured with 2000
# clients on 2 CPUs (bench/tuning.py, docs/benchmarks.rst, six rounds): 16
# processes of 64 threads failed 38% of requests (median), 8 of 320 0.5%, 4 of
# 640 none (0.38% in one round). Hence more
# workers than clients, in few large processes, which even out how many
# connections each one holds. The price: Apache calls times() once a request,
# and Linux counts every thread of the process for it (371 us of Apache's CPU a
# request with 64 threads, 649 with 640); worker-threads lowers it where no
# flood reaches Apache (behind a balancer).
DEFAULT_WORKERS = 2560
DEFAULT_WORKER_THREADS = 640
# bin/<part> status asks mod_status on a loopback port of its own: the site's
# port + 10000 (8000 -> 18000) unless status-listen says otherwise.
STATUS_PORT_OFFSET = 10000
LIMIT_REQUEST_BODY_MAX = 2 ** 31 - 1  # Apache's ceiling for LimitRequestBody

# https = acme (docs/https.rst): mod_md obtains and renews the certificate.
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_TERMS = "Let's Encrypt's terms (https://letsencrypt.org/repository/)"
ACME_OPTIONS = ("acme-email", "acme-agreement", "acme-ca", "acme-ca-root", "acme-challenge", "acme-renew-window")
HSTS_MAX_AGE = 63072000  # two years, Mozilla's recommendation; the default for https = acme
# Mozilla's server-side TLS profiles (version 5.7): "intermediate" for clients of
# the last years, "modern" for TLS 1.3 clients alone.
TLS_PROFILES = {
    "intermediate": dict(
        protocols="-all +TLSv1.2 +TLSv1.3",
        ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"),
    "modern": dict(protocols="-all +TLSv1.3", ciphers=None),
}


class ApacheSite:
    """The site as the options describe it, read and checked without looking at
    the machine; ``check_machine()`` then checks it against this machine."""

    def __init__(self, buildout, name, options):
        self.buildout, self.name = buildout, name
        part = self.part = PartOptions(buildout, name, options)
        directory = buildout["buildout"]["directory"]

        self.wsgi_script = part.absolute_path("wsgi-script", required=True)
        self.server_name = part.apache_value("server-name", part.required("server-name"), HOSTNAME, "a host name")
        self.server_aliases = [part.apache_value("server-aliases", a, HOSTNAME, "a host name")
                               for a in part.lines("server-aliases")]
        self.server = part.choice("server", "self-contained", ("self-contained", "system"))
        self.system = self.server == "system"
        if self.system:
            listen = "*:443" if part.get("ssl-certificate") or part.get("https") == "acme" else "*:80"
        else:
            listen = "127.0.0.1:8000"
        self.host, self.port = part.listen("listen", listen)
        self.mode = part.choice("mode", "daemon", ("daemon", "embedded"))
        if self.system and self.mode == "embedded":
            raise part.error("mode", "embedded would run the site in every child of the system Apache, with one "
                                     "Python for all its sites: use mode = daemon with server = system")
        self.process_group = part.apache_value(
            "process-group", part.get("process-group", self.server_name.replace("*", "_")), GROUP,
            "a plain name (letters, digits, '.', '_', '-')")
        self.confdir = part.absolute_path("apache-confdir", os.environ.get("APACHE_CONFDIR") or "/etc/apache2")
        self.preload = part.boolean("preload", True)
        self.apache_version = part.choice("apache-version", "2.4", ("2.4", "2.2"))

        self.user = part.apache_value("user", part.get("user", system.default_user()), ACCOUNT, "a user name")
        self.group = part.apache_value("group", part.get("group", system.primary_group(self.user)),
                                       ACCOUNT, "a group name")
        if self.user == "root":
            raise self.root_user()

        self.processes = part.integer("processes", DEFAULT_PROCESSES, 1, 1000)
        self.workload = part.choice("workload", "io", tuple(WORKLOAD_THREADS))
        self.threads = part.integer("threads", WORKLOAD_THREADS[self.workload], 1, 1000)
        self.timeouts = [(key, part.integer(key, default, 0)) for key, default in DAEMON_TIMEOUTS]
        self.limits = [(key, part.integer(key, 0, 0)) for key in DAEMON_LIMITS]
        self.display_name = part.apache_value(
            "display-name", part.get("display-name", default_display_name(self.process_group)), PLAIN,
            "a plain name")
        # Requests with a body go to daemons of their own (see apache_config._daemon_groups).
        self.body_processes = part.integer("body-processes", 1, 0, 1000)
        body_group = f"{self.process_group}-bodies"
        self.daemon_groups = [(self.process_group, self.processes, self.display_name)]
        if self.body_processes:
            self.daemon_groups.append((body_group, self.body_processes, default_display_name(body_group)))
        self.lang = part.apache_value("lang", part.get("lang", "C.UTF-8"), PLAIN, "a locale name")
        self.locale = part.apache_value("locale", part.get("locale", self.lang), PLAIN, "a locale name")
        self.umask = part.apache_value("umask", part.get("umask", "0022"), r"0?[0-7]{3}", "an octal umask like 0022")
        self.home = part.absolute_path("home", directory)
        self.buildout_directory = directory
        self.served_from = part.absolute_path("served-from", directory)
        self.python_home = part.absolute_path("python-home", sys.prefix)

        self.aliases = [self._alias(line) for line in part.lines("aliases")]
        self.log_directory = os.path.join(directory, "var", "log", name)
        self.error_log = part.absolute_path("error-log", os.path.join(self.log_directory, "error.log"))
        self.access_log = part.absolute_path("access-log", os.path.join(self.log_directory, "access.log"))
        self.log_level = part.choice("log-level", "warn", LOG_LEVELS)
        self.log_format = part.get("log-format", LOG_FORMAT)
        self.log_rotation = part.get("log-rotation", "100M")
        if self.log_rotation != "off" and not re.fullmatch(r"\d+[KMG]|\d+", self.log_rotation):
            raise part.error("log-rotation", f"{self.log_rotation!r} is not a size like 100M, a number of "
                                             f"seconds like 86400, or off")
        self.log_keep = part.integer("log-keep", 10, 1, 10000)
        self.rotatelogs = part.absolute_path("rotatelogs", system.find_rotatelogs())
        try:
            render.apache_format(self.log_format)
        except ValueError:
            raise part.error("log-format", f"{self.log_format!r} holds a control character") from None

        self.ssl = self._ssl()
        self._edge()
        self.status_listen = self._status_listen()
        self.extra = part.options.get("extra", "").strip("\n")
        if "</VirtualHost" in self.extra or "<VirtualHost" in self.extra:
            raise part.error("extra", "may not open or close a VirtualHost: it goes inside the part's own")

        self.httpd = part.absolute_path("httpd", system.find_apache())
        self.modules = part.absolute_path("modules-directory", system.find_modules_directory())
        self.mod_wsgi = part.absolute_path("mod-wsgi", system.find_mod_wsgi(self.modules))
        self.check = part.boolean("check", bool(self.httpd and os.path.exists(self.httpd)))

        self.directory = os.path.join(buildout["buildout"]["parts-directory"], name)
        self.run_directory = os.path.join(directory, "var", "run", name)
        self.socket_prefix = part.absolute_path("socket-prefix", os.path.join(self.run_directory, "wsgi"))
        self.vhost = os.path.join(self.directory, "vhost.conf")
        self.server_conf = os.path.join(self.directory, "wsgi-server.conf")
        self.httpd_conf = os.path.join(self.directory, "httpd.conf")
        # Named after the process group: two buildouts with the same part names may share a machine.
        self.systemd_unit = os.path.join(self.directory, f"apache-{self.process_group}.service")
        self.prune_logs = os.path.join(self.directory, "prune-logs")
        self.certificate_event = os.path.join(self.directory, "certificate-event")
        self.certificate_agent = os.path.join(self.directory, "certificate-agent")
        self.certificate_events = os.path.join(self.run_directory, "certificate-events")
        self.script = os.path.join(buildout["buildout"]["bin-directory"], name)
        self.writable = self._writable()

    def root_user(self):
        return self.part.error("user", f"{self.user!r} is root: mod_wsgi refuses to run a daemon as root; "
                                       "name an unprivileged account such as www-data")

    def check_machine(self):
        """Can this machine serve the site as read? Its accounts, rotatelogs, the
        Python of mod_wsgi, the sites already on the system Apache, the files the
        daemon must read. Checked when buildout reads the part, before it
        uninstalls anything."""
        part = self.part
        try:
            self.uid, self.gids = system.account(self.user, self.group)
        except system.NoAccount as e:
            raise part.error(e.kind, str(e)) from None
        if self.uid == 0:
            raise self.root_user()
        if self.log_rotation != "off" and not (self.rotatelogs and os.path.exists(self.rotatelogs)):
            raise part.error("rotatelogs", "no rotatelogs on this machine (Debian: apache2-utils); install it, "
                                           "or set log-rotation = off")
        if self.check:
            self._check_python()
        # A UNIX socket path holds at most 107 bytes; mod_wsgi adds ".<pid>.u<uid>.<n>.sock".
        longest = len(self.served(self.socket_prefix).encode()) + len(f".4194304.u{self.uid}.999.sock")
        if longest > 107:
            raise part.error("socket-prefix", f"{self.served(self.socket_prefix)} is too long for the daemon's "
                                              f"socket ({longest} of at most 107 bytes): set a shorter socket-prefix")
        if self.system:
            self._check_unique_on_system()
        self.check_files(installing=False)

    def _alias(self, line):
        fields = line.split()
        if len(fields) != 2 or not fields[0].startswith("/"):
            raise self.part.error("aliases", f"{line!r} is not 'URL-PATH DIRECTORY', e.g. /static/ /srv/site/static")
        url, path = (self.part.apache_value("aliases", f) for f in fields)
        if not os.path.isabs(path):
            raise self.part.error("aliases", f"{path!r} is not an absolute path")
        path = os.path.normpath(path)
        if url.endswith("/") and url != "/":
            return url, path + "/"
        return url.rstrip("/") or "/", path

    def _writable(self):
        """Directories the daemon writes (a SQLite database's, uploaded media)."""
        directory = self.buildout_directory
        found = []
        for line in self.part.lines("writable"):
            for path in line.split():
                self.part.apache_value("writable", path)
                path = os.path.normpath(os.path.join(directory, path))
                code = [directory, self.wsgi_script, self.python_home, self.httpd_conf, self.script]
                if any(c == path or c.startswith(path.rstrip("/") + "/") for c in code):
                    raise self.part.error("writable", f"{path} holds the site's code or configuration: the "
                                                      f"daemon must not be able to change it (name a directory "
                                                      f"such as var/media)")
                found.append(path)
        return found

    def _ssl(self):
        """HTTPS: a certificate from files, or one mod_md obtains (https = acme); None for HTTP."""
        part = self.part
        certificate = part.absolute_path("ssl-certificate")
        key = part.absolute_path("ssl-certificate-key")
        chain = part.absolute_path("ssl-certificate-chain")
        managed = part.choice("https", "off", ("off", "acme")) == "acme"
        if managed:
            for option, value in (("ssl-certificate", certificate), ("ssl-certificate-key", key),
                                  ("ssl-certificate-chain", chain)):
                if value:
                    raise part.error(option, "is for a certificate from elsewhere; with https = acme mod_md "
                                             "obtains the certificate: remove one of the two")
        elif bool(certificate) != bool(key):
            given, missing = ("ssl-certificate", "ssl-certificate-key") if certificate else (
                "ssl-certificate-key", "ssl-certificate")
            raise part.error(missing, f"is required when {given} is given")
        acme = self._acme() if managed else None
        redirect = part.boolean("redirect-http", bool(acme and acme["challenge"] == "http-01"))
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
        if redirect and http_port == self.port:
            raise part.error("http-listen", f"port {http_port} is the HTTPS port of listen")
        if acme and acme["challenge"] == "http-01" and not redirect:
            raise part.error("redirect-http", "must be on with acme-challenge = http-01: the authority checks the "
                                              "site on its HTTP port (or set acme-challenge = tls-alpn-01)")
        return dict(certificate=certificate, key=key, chain=chain, redirect=redirect, hsts=hsts,
                    http_host=http_host, http_port=http_port, profile=profile, stapling=stapling, acme=acme)

    def _acme(self):
        """mod_md's settings for https = acme, checked against what the authority can certify."""
        part = self.part
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
        domains = [self.server_name] + self.server_aliases
        for option, name in [("server-name", self.server_name)] + [("server-aliases", a) for a in domains[1:]]:
            if name.startswith("*."):
                raise part.error(option, f"{name} is a wildcard: mod_md gets one only through dns-01, which "
                                         f"djangowsgi does not set up; name each host")
            if ca in (LETS_ENCRYPT, LETS_ENCRYPT_STAGING) and (
                    name == "localhost" or "." not in name or re.fullmatch(r"[0-9.]+", name)):
                raise part.error(option, f"{name} cannot get a certificate from Let's Encrypt: it needs a public "
                                         f"domain name that resolves to this server")
        store = os.path.join(self.buildout_directory, "var", "md", self.name)
        return dict(email=email, ca=ca, ca_root=ca_root, challenge=challenge, window=window, domains=domains,
                    store=store)

    def _edge(self):
        """How the server meets slow clients, floods, oversized requests, and
        what it does for static files (compression, caching)."""
        part = self.part
        timeout = part.get("request-read-timeout", REQUEST_READ_TIMEOUT)
        if timeout != "off" and not re.fullmatch(rf"{READ_TIMEOUT_STAGE}( {READ_TIMEOUT_STAGE})*", timeout):
            raise part.error("request-read-timeout", f"{timeout!r} is not mod_reqtimeout's stage=timeout[-maximum]"
                                                     f"[,MinRate=rate] list, e.g. {REQUEST_READ_TIMEOUT}, or off")
        self.request_read_timeout = None if timeout == "off" else timeout
        self.workers = part.integer("workers", DEFAULT_WORKERS, 1, 20000)
        if part.get("worker-threads") is None:
            # At least two processes: one that crashes takes only its own connections.
            self.server_limit = min(self.workers, max(2, -(-self.workers // DEFAULT_WORKER_THREADS)))
            self.threads_per_child = -(-self.workers // self.server_limit)
        else:
            self.threads_per_child = min(self.workers, part.integer("worker-threads", DEFAULT_WORKER_THREADS, 1,
                                                                    20000))
            self.server_limit = -(-self.workers // self.threads_per_child)
        self.listen_backlog = part.integer("listen-backlog", 4096, 1, 65535)
        self.keep_alive_timeout = part.integer("keep-alive-timeout", 5, 0, 3600)
        self.max_body_size = part.size("max-body-size", "100M")
        self.http2 = part.boolean("http2", True)  # on the HTTPS vhost
        self.compress = part.boolean("compress", True)
        self.static_max_age = part.integer("static-max-age", 3600, 0)
        self.hashed_max_age = part.integer("hashed-max-age", 365 * 24 * 3600, 0)
        if self.max_body_size > LIMIT_REQUEST_BODY_MAX:
            raise part.error("max-body-size", f"{self.max_body_size} bytes is over Apache's limit of 2G - 1 "
                                              f"(0 means no limit)")

    def _status_listen(self):
        """(host, port) of the self-contained server's mod_status listener, or None."""
        part = self.part
        if self.system:
            if part.get("status-listen") is not None:
                raise part.error("status-listen", "is for the self-contained server; the system Apache's "
                                                  "mod_status is configured in its mods-enabled/status.conf")
            return None
        if part.get("status-listen") == "off":
            return None
        host = self.host if is_loopback(self.host) else "127.0.0.1"
        port = self.port + STATUS_PORT_OFFSET if self.port + STATUS_PORT_OFFSET <= 65535 \
            else self.port - STATUS_PORT_OFFSET
        host, port = part.listen("status-listen", f"{host}:{port}")
        if not is_loopback(host):
            raise part.error("status-listen", f"{host or '*'} is not a loopback address (127.0.0.1, [::1]): "
                                              f"mod_status shows every request's URL and client")
        if port == self.port or (self.ssl and self.ssl["redirect"] and port == self.ssl["http_port"]):
            raise part.error("status-listen", f"port {port} is the site's own")
        return host, port

    def _check_python(self):
        """The most common mod_wsgi failure: a python-home of another Python."""
        part = self.part
        if not os.path.exists(self.mod_wsgi):
            raise part.error("mod-wsgi", f"{self.mod_wsgi} does not exist: install mod_wsgi (Debian, Ubuntu: "
                                         "libapache2-mod-wsgi-py3; Fedora: python3-mod_wsgi) or set mod-wsgi "
                                         "to its path")
        if not os.path.isdir(self.python_home):
            raise part.error("python-home", f"{self.python_home} is not a directory")
        embedded = system.mod_wsgi_python(self.mod_wsgi)
        home = system.python_home_python(self.python_home)
        if home is None:
            raise part.error("python-home", f"{self.python_home} is neither a virtualenv nor a Python installation")
        if embedded is None:
            return
        if home[0] != embedded[0]:
            raise part.error("python-home", f"{self.python_home} runs Python {home[0]} but {self.mod_wsgi} "
                                            f"embeds Python {embedded[0]}: build the buildout with that Python")
        if embedded[1] and home[1] and os.path.realpath(home[1]) != os.path.realpath(embedded[1]):
            raise part.error("python-home", f"{self.python_home} is made from the Python in {home[1]} but "
                                            f"{self.mod_wsgi} embeds the one in {embedded[1]}: make the "
                                            f"virtualenv with {embedded[1]}/bin/python3")

    def _check_unique_on_system(self):
        """Another site enabled on the system Apache with this process group (or
        one that ps shows as this one) would break the server or this site's reload."""
        ours = {self.vhost, self.served(self.vhost)}
        names = {name for name, _, _ in self.daemon_groups}
        shown = {self.shown(display)[:DISPLAY_LIMIT] for _, _, display in self.daemon_groups}
        for path, chain, group, display in system.enabled_daemon_groups(self.confdir):
            if ours & set(chain):
                continue
            if group in names:
                raise self.part.error("process-group", f"{group!r} is already the process group of {path} "
                                                       f"({chain[-1]}) on the system Apache: give this site a "
                                                       f"process-group of its own")
            if display and display[:DISPLAY_LIMIT] in shown:
                raise self.part.error("display-name", f"{display!r} is already how ps shows the daemons of {group!r} "
                                                      f"({path}) on the system Apache: give this site a "
                                                      f"display-name of its own")

    def shown(self, display_name):
        """A display-name as ps shows it (before mod_wsgi cuts it)."""
        return display_name.replace("%{GROUP}", f"(wsgi:{self.process_group})")

    @property
    def pid_file(self):
        return os.path.join(self.run_directory, "httpd.pid")

    def as_built(self):
        """This site with its paths as they are in the buildout (for the configtest
        of a new configuration: served-from may not lead here yet)."""
        built = copy.copy(self)
        built.served_from = self.buildout_directory
        return built

    @property
    def url(self):
        scheme = "https" if self.ssl else "http"
        host = self.host if self.host not in (None, "*", "0.0.0.0") else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}/"

    def served(self, path):
        """``path`` as Apache reaches it: through served-from when inside the buildout."""
        inside = self.buildout_directory.rstrip("/")
        if path == inside or path.startswith(inside + "/"):
            return self.served_from + path[len(inside):]
        return path

    def check_files(self, installing):
        """Does what the daemon needs exist, and can its user read it? (A 0700 home
        directory above the buildout is the usual trap.)

        Checked when the part is read, so that bad input stops buildout before it
        uninstalls anything, and again at install, when the parts before this one
        have made their files (the WSGI script, a collectstatic directory).
        """
        part = self.part
        inside = os.path.join(self.buildout["buildout"]["directory"], "")
        needed = [("python-home", self.python_home)]
        for url, path in self.aliases:
            if os.path.isdir(path):
                needed.append(("aliases", path))
            elif installing or not path.startswith(inside):
                raise part.error("aliases", f"directory {path} (for {url}) does not exist")
        if os.path.exists(self.wsgi_script):
            needed.append(("wsgi-script", self.wsgi_script))
            try:
                paths = script_python_path(self.wsgi_script)
            except ValueError as e:
                raise part.error("wsgi-script", str(e)) from None
            needed += [("wsgi-script", p) for p in paths if os.path.exists(p)]
        elif installing:
            raise part.error("wsgi-script", f"{self.wsgi_script} does not exist")
        for option, path in needed:
            blocked = system.unreadable(path, self.uid, self.gids)
            if blocked:
                raise part.error(option, f"user {self.user} cannot read {path}: {blocked} is not readable "
                                         f"or enterable for it (check its mode, e.g. a 0700 home directory)")
        if self.system:
            self._check_apache_children_read(needed)
        if os.path.exists(self.wsgi_script):
            for path in script_environment_files(self.wsgi_script):
                if system.unreadable(path, self.uid, self.gids):
                    raise part.error("wsgi-script", f"user {self.user} cannot read the WSGI script's environment "
                                                    f"file {path}: chgrp {self.group} {path} && chmod 0640 {path}")

    def _check_apache_children_read(self, needed):
        """On the system Apache, its children (not the site's daemons) serve the
        static files and look for the WSGI script."""
        user = system.apache_envvar(self.confdir, "APACHE_RUN_USER", "www-data")
        group = system.apache_envvar(self.confdir, "APACHE_RUN_GROUP", user)
        try:
            uid, gids = system.account(user, group)
        except system.NoAccount:
            return
        for option, path in needed:
            if option == "aliases" or path == self.wsgi_script:
                blocked = system.unreadable(path, uid, gids)
                if blocked:
                    raise self.part.error(option, f"the system Apache's user {user} cannot read {path}: {blocked} "
                                                  f"is not readable or enterable for it")


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
