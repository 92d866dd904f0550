"""Rendering a djangowsgi:balancer part's files from its Balancer: haproxy.cfg,
bin/<part> and the systemd unit. Values go through render.py."""
import os
import shlex
from importlib import resources

from djangowsgi import balancer_acme, render
from djangowsgi.apache_defaults import TLS_PROFILES
from djangowsgi.runtime.balancer_config import BalancerConfig, Certificate
from djangowsgi.runtime.balancerctl import MAINTENANCE_KEY

h = render.haproxy
# Mozilla's TLS 1.3 suites (the intermediate and the modern profile alike).
CHECK_AGENT = "djangowsgi-health-check"  # how the health checks show in Apache's access log
ACME_CHALLENGE = "/.well-known/acme-challenge/"
TLS13_SUITES = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"


def _bind(host, port):
    return f"{host}:{port}" if host and host != "*" else f":{port}"


def _indent(lines):
    return "\n".join(f"    {line}" for line in lines)


def haproxy_cfg(balancer):
    b = balancer
    global_lines = [
        "master-worker",
        f"pidfile {h(b.pid_file)}",
        "# bin/{0}'s runtime API; expose-fd: a reload hands the listening sockets to the new worker.".format(b.name),
        f"stats socket {h(b.socket)} mode 600 level admin expose-fd listeners",
        f"server-state-file {h(b.state_file)}",
        "# To stdout, which bin/{0} pipes into the log file.".format(b.name),
        "log stdout format raw local0 info",
        "# A port another process holds is an error, not shared (a reload passes the sockets itself).",
        "noreuseport",
        f"maxconn {b.maxconn}",
        f"nbthread {b.threads}",
        f"# A worker left by a reload ends its requests within {b.stop_timeout} s.",
        f"hard-stop-after {b.stop_timeout}s",
    ]
    if b.user:
        global_lines += [f"user {h(b.user)}", f"group {h(b.group)}"]
    if b.https:
        profile = TLS_PROFILES[b.https.profile]
        global_lines.append(f"# Mozilla's {b.https.profile} TLS profile")
        if profile["ciphers"]:
            global_lines += [f"ssl-default-bind-ciphers {profile['ciphers']}",
                             f"ssl-default-bind-ciphersuites {TLS13_SUITES}",
                             "ssl-default-bind-options prefer-client-ciphers ssl-min-ver TLSv1.2 no-tls-tickets"]
        else:
            global_lines += [f"ssl-default-bind-ciphersuites {TLS13_SUITES}",
                             "ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets"]
        global_lines.append("ssl-default-bind-curves X25519:prime256v1:secp384r1")
    t = b.timeouts
    timeouts = [f"timeout connect {t.connect}", f"timeout client {t.client}", f"timeout server {t.server}",
                "# How long a request may wait for a server with a free slot (server-maxconn).",
                f"timeout queue {t.queue}",
                "# Slow clients: all of a request's headers within this time.",
                f"timeout http-request {t.http_request}", f"timeout http-keep-alive {t.http_keep_alive}"]
    cache = ""
    if b.cache:
        cache = "\n".join([
            "", "# Static files kept in memory (responses that allow it: Cache-Control, an expiry or a validator).",
            "cache static",
            f"    total-max-size {b.cache.size}",
            f"    max-object-size {b.cache.max_object}",
            f"    max-age {b.cache.max_age}",
            "    # Without it HAProxy 2.6 caches nothing that varies on Accept-Encoding.",
            "    process-vary on", "",
        ])
    return render.template(
        "haproxy.cfg.in",
        part=b.name,
        backend_count=len(b.backends),
        timeouts=_indent(timeouts),
        cache=cache,
        **{"global": _indent(global_lines)},
        frontend=_indent(frontend(b)),
        backend=_indent(backend(b)),
        acme_backend=acme_backend(b),
        stats=stats(b),
    )


def frontend(b):
    lines = []
    if b.https:
        alpn = "h2,http/1.1" if b.https.http2 else "http/1.1"
        lines.append(f"bind {_bind(b.host, b.port)} ssl crt {h(certificate_pem(b))} alpn {alpn}")
        lines.append(f"bind {_bind(b.https.http_host, b.https.http_port)}")
        if b.https.acme:
            lines += ["# The authority's http-01 challenges go to the Apache that obtains the certificate.",
                      f"acl acme_challenge path_beg {ACME_CHALLENGE}", "use_backend acme if acme_challenge"]
        if b.https.redirect:
            lines.append("http-request redirect scheme https code 301 unless { ssl_fc }"
                         + (" || acme_challenge" if b.https.acme else ""))
        if b.https.hsts is not None:
            lines.append(f'http-response set-header Strict-Transport-Security "max-age={b.https.hsts}" '
                         "if { ssl_fc }")
    else:
        lines.append(f"bind {_bind(b.host, b.port)}")
    lines += [
        "# bin/{0} maintenance on|off: every request answered with the maintenance page.".format(b.name),
        f"http-request return status 503 content-type text/html file {h(b.page)} "
        f"hdr Retry-After {b.retry_after} if {{ str({MAINTENANCE_KEY}),map({h(b.maintenance_map)}) -m found }}"
        + (" !acme_challenge" if b.https and b.https.acme else ""),
        "# The visitor's address and scheme, as HAProxy saw them (the apache part's trusted-proxies believes them).",
        "http-request del-header X-Forwarded-For",
        "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "http-request set-header X-Forwarded-Proto http unless { ssl_fc }",
        "option forwardfor",
        "default_backend site",
    ]
    return lines


def backend(b):
    c = b.checks
    lines = [f"balance {b.balance}",
             "option httpchk",
             f"http-check send meth GET uri {h(c.path)} ver HTTP/1.1 hdr Host {h(c.host)} hdr User-Agent {CHECK_AGENT}",
             "http-check expect status 200-399",
             f"retries {b.retries}"]
    if b.retries:
        lines.append("option redispatch 1")
    if b.retry_on:
        lines += [f"retry-on {' '.join(b.retry_on)}",
                  "# Beyond a failed connection, only requests that may be replayed (and that fit in a buffer).",
                  f"http-request disable-l7-retry unless {{ method {' '.join(b.retry_methods)} }}"
                  if b.retry_methods else "http-request disable-l7-retry"]
    lines.append(f"http-reuse {b.http_reuse}")
    if b.cache:
        paths = " ".join(h(p) for p in b.cache.paths)
        # Only these paths: HAProxy's cache ignores Vary: Cookie, so a page cached for one visitor
        # could be served to another.
        lines += [f"http-request set-var(txn.cacheable) bool(true) if {{ path_beg {paths} }}",
                  "http-request cache-use static if { var(txn.cacheable) -m bool }",
                  "http-response cache-store static if { var(txn.cacheable) -m bool }"]
    server = [f"check inter {c.interval} rise {c.rise} fall {c.fall}"]
    if c.slowstart:
        server.append(f"slowstart {c.slowstart}")
    if b.server_maxconn:
        server.append(f"maxconn {b.server_maxconn}")
    lines.append("# Each server takes server-maxconn requests at once; HAProxy queues the rest in order.")
    lines.append(f"default-server {' '.join(server)}")
    for backend in b.backends:
        if backend.standby:
            lines.append("# A standby: DOWN (nothing listens) but while bin/<apache part> reload runs it.")
        lines.append(f"server {h(backend.name)} {h(backend.host)}:{backend.port}")
    return lines


def acme_backend(b):
    if not (b.https and b.https.acme):
        return ""
    service = b.https.acme
    return ("\nbackend acme\n    # The loopback Apache of https = acme (acme-httpd.conf): mod_md answers the challenges.\n"
            f"    server challenges {service.host}:{service.port}\n")


def stats(b):
    if not b.stats_listen:
        return ""
    host, port = b.stats_listen
    lines = [f"bind {host}:{port}"]
    if b.prometheus:
        lines.append("http-request use-service prometheus-exporter if { path /metrics }")
    lines += ["stats enable", "stats uri /stats", "stats refresh 10s", "stats show-legends"]
    return "\nfrontend stats\n    # On loopback only: the stats page and Prometheus' metrics.\n" + _indent(lines) + "\n"


def certificate_pem(b):
    return os.path.join(b.tls_directory, "site.pem")


def log_command(b):
    """What bin/<part> pipes HAProxy's output into: rotatelogs, or "" for a plain file."""
    if b.log_rotation == "off":
        return ""
    return " ".join(shlex.quote(word) for word in (b.rotatelogs, "-L", b.log, "-p", b.prune_logs,
                                                   b.log + ".%Y%m%d-%H%M%S", b.log_rotation))


def balancer_config(b):
    stats_url = metrics_url = ""
    if b.stats_listen:
        host, port = b.stats_listen
        stats_url = f"http://{host}:{port}/stats"
        metrics_url = f"http://{host}:{port}/metrics" if b.prometheus else ""
    certificates = ()
    if b.https and not b.https.acme:
        certificates = (Certificate(pem=certificate_pem(b), certificate=b.https.certificate, key=b.https.key,
                                    chain=b.https.chain or ""),)
    host = b.host if b.host not in (None, "*", "0.0.0.0") else "127.0.0.1"
    return BalancerConfig(
        part=b.name, directory=b.buildout_directory, haproxy=b.haproxy, config=b.config, pid_file=b.pid_file,
        socket=b.socket, state_file=b.state_file, maintenance_map=b.maintenance_map, log=b.log,
        rotatelogs=log_command(b), url=b.url, host=host, port=b.port, stats_url=stats_url,
        metrics_url=metrics_url, backends=b.backends, maxconn=b.maxconn, drain_timeout=b.drain_timeout,
        ready_timeout=b.ready_timeout, stop_timeout=b.stop_timeout, certificates=certificates,
        certificate_service=balancer_acme.certificate_service(b, certificate_pem(b)))


def control_script(b):
    return render.template(
        "apachectl.in",
        python=b.python,
        part=b.name,
        served_by="the self-contained HAProxy",
        module="balancerctl",
        import_djangowsgi=render.import_djangowsgi(),
        server=render.python_value(balancer_config(b).to_script()),
    )


def systemd_unit(b):
    def quoted(path):
        return f'"{path}"' if " " in path else path
    return render.template(
        "systemd.service.in",
        part=b.name,
        unit_name=os.path.basename(b.systemd_unit),
        unit_path=quoted(b.systemd_unit),
        description=f"HAProxy in front of {len(b.backends)} Apache(s) (djangowsgi part [{b.name}])",
        kind="HAProxy",
        pid_file=quoted(b.pid_file),
        script=quoted(b.script),
        user="",
    )


def builtin_maintenance_page():
    return resources.files("djangowsgi").joinpath("templates", "maintenance.html").read_text(encoding="utf-8")


def prune_logs(b):
    return render.template("prune-logs.in", part=b.name, keep=b.log_keep)
