"""Rendering a djangowsgi:apache part's files from its Site: vhost.conf,
wsgi-server.conf, httpd.conf and the control script. Values go through render.py."""
import dataclasses
import os

from djangowsgi import apache_https, render
from djangowsgi.apache_defaults import SYSTEM_SOCKET_PREFIX
from djangowsgi.runtime.server_config import DaemonGroup, ServerConfig, Standby


def _access(site, granted):
    return render.apache_access(granted, site.apache_version)


def vhost(site):
    """vhost.conf, with the buildout's paths as Apache reaches them (site.served)."""
    served = site.served

    def a(path):
        return render.apache(served(path))
    lines = [f"ServerName {render.apache(site.server_name)}"]
    lines += [f"ServerAlias {render.apache(alias)}" for alias in site.server_aliases]
    lines += [
        "ServerSignature Off",
        f"LimitRequestBody {site.edge.max_body_size}",
        # Not here, even for a local client: a proxy on this machine is one.
        "RedirectMatch 404 ^/server-(status|info)(/|$)",
    ]
    if site.system:  # the self-contained server's httpd.conf has the one ErrorLog
        lines.append(f"ErrorLog {log_target(site, site.error_log)}")
    lines += [
        f"CustomLog {log_target(site, site.access_log)} {_log_format(site)}",
        f"LogLevel {site.log_level}",
        "",
    ]
    lines += trusted_proxy_lines(site) + [""]
    if site.ssl:
        lines += apache_https.vhost_lines(site) + [""]  # certificates: absolute, outside any release
    if site.mode == "daemon":
        lines += _daemon_groups(site)
    # New code is loaded by an explicit reload, never because the script's mtime
    # changed: a deploy switching "current" would otherwise restart a daemon in
    # the middle of the requests that noticed it.
    lines.append("WSGIScriptReloading Off")
    lines.append(f"WSGIScriptAlias / {a(site.wsgi_script)}")
    if site.mode == "daemon":
        lines.append(f"WSGIProcessGroup %{{ENV:{GROUP_VARIABLE}}}")
    if site.preload:
        # The application is loaded when a process starts, not on its first request.
        groups = [group for group, _, _ in site.daemon_groups] if site.mode == "daemon" else ["%{GLOBAL}"]
        lines += [f"WSGIImportScript {a(site.wsgi_script)} process-group={render.apache(group)} "
                  f"application-group=%{{GLOBAL}}" for group in groups]
    lines.append("WSGIApplicationGroup %{GLOBAL}")
    lines += [
        f"<Directory {a(os.path.dirname(site.wsgi_script))}>",
        f"    <Files {render.apache(os.path.basename(site.wsgi_script))}>",
        render.indent(_access(site, True), 8),
        "    </Files>",
        "</Directory>",
    ]
    if site.aliases and site.edge.compress:
        lines += [
            "",
            "# Compressed responses lose their ETag; Last-Modified still revalidates them (304).",
            "<IfModule brotli_module>", "    BrotliAlterETag Remove", "</IfModule>", "DeflateAlterETag Remove",
            "# Compressing costs more than sending: compressed files are kept in shared memory",
            "# and checked against the file after 10 s (s-maxage, CacheMaxExpire).",
            "CacheQuickHandler Off",
            "CacheSocache shmcb",
            "CacheSocacheMaxSize 1048576",
            "CacheMaxExpire 10",
        ]
        lines += [f"CacheEnable socache {render.apache(url)}" for url, _ in site.aliases]
    for url, path in site.aliases:
        lines += [
            "",
            f"Alias {render.apache(url)} {a(path)}",
            f"<Directory {a(path.rstrip('/') or '/')}>",
            "    Options None",
            "    AllowOverride None",
            render.indent(_access(site, True), 4),
            render.indent(static_files(site), 4),
            f'    SetEnvIf Request_Method "." !{GROUP_VARIABLE}',  # Apache serves these: no group
            "</Directory>",
        ]
    if site.extra:
        lines += ["", "# extra (from buildout.cfg)", site.extra]
    return render.template(
        "vhost.conf.in",
        part=site.name,
        site=site.process_group,
        port=site.port,
        virtual_host=render.indent("\n".join(lines), 4),
        redirect=_redirect_vhost(site),
        managed_domain=apache_https.managed_domain(site),
    )


def trusted_proxy_lines(site):
    """Behind a balancer (trusted-proxies): the visitor's address (the access log's
    %a and %h, Django's REMOTE_ADDR) and scheme as the balancer says, from its
    addresses alone. Without one, no visitor's X-Forwarded-Proto reaches Django,
    so that SECURE_PROXY_SSL_HEADER is safe either way."""
    if not site.trusted_proxies:
        return ["# No balancer in front (trusted-proxies): a visitor's X-Forwarded-Proto is not believed.",
                "RequestHeader unset X-Forwarded-Proto"]
    from_proxy = " || ".join(f"%{{CONN_REMOTE_ADDR}} -ipmatch '{p}'" for p in site.trusted_proxies)
    return [
        "# trusted-proxies: the balancer's X-Forwarded-For names the visitor (mod_remoteip);",
        "# sent by anyone else, it is ignored and X-Forwarded-Proto removed.",
        "RemoteIPHeader X-Forwarded-For",
        f"RemoteIPInternalProxy {' '.join(site.trusted_proxies)}",
        f'<If "!({from_proxy})">',
        "    RequestHeader unset X-Forwarded-Proto",
        "</If>",
    ]


# Types worth compressing; images, fonts in woff and archives are compressed already.
COMPRESSIBLE = ("text/plain text/css text/html text/javascript application/javascript application/json "
                "application/xml image/svg+xml")
# Django's ManifestStaticFilesStorage names: style.0123456789ab.css
HASHED_NAME = r'"\.[0-9a-f]{12}\.[A-Za-z0-9]+$"'


def static_files(site):
    """Compression and caching of an alias directory (static files, media)."""
    lines = []
    if site.edge.compress:
        # Compressed, then kept in the cache (see vhost()): brotli if the client takes it, else gzip.
        lines += [
            "<IfModule brotli_module>",
            f"    AddOutputFilterByType BROTLI_COMPRESS;DEFLATE;CACHE {COMPRESSIBLE}",
            "</IfModule>",
            "<IfModule !brotli_module>",
            f"    AddOutputFilterByType DEFLATE;CACHE {COMPRESSIBLE}",
            "</IfModule>",
            # The cache is for what was compressed. A client that takes neither gets the
            # file itself: a lookup in shared memory costs more than sending the file.
            'SetEnvIfExpr "! %{HTTP:Accept-Encoding} =~ /gzip|br/i" no-cache',
            "RequestHeader set Cache-Control no-cache env=no-cache",
        ]
    if site.edge.static_max_age:
        # s-maxage: how long a shared cache (Apache's own, a CDN) serves it unchecked.
        lines.append(f'Header set Cache-Control "public, max-age={site.edge.static_max_age}, s-maxage=10"')
    if site.edge.hashed_max_age:
        lines += [f"<FilesMatch {HASHED_NAME}>",
                  f'    Header set Cache-Control "public, max-age={site.edge.hashed_max_age}, immutable"',
                  "</FilesMatch>"]
    return "\n".join(lines)


def server_scope(site, socket_prefix):
    """mod_wsgi's settings for the whole server (not for one site)."""
    lines = [f"WSGISocketPrefix {socket_prefix}", "WSGISocketRotation Off"]
    if site.mode == "daemon":
        lines.append("WSGIRestrictEmbedded On")
    else:
        lines.append(f"WSGIPythonHome {render.apache(site.served(site.python_home))}")
    return "\n".join(lines)


def server_conf(site):
    """wsgi-server.conf: the server scope for the system Apache, the same for every site."""
    scope = server_scope(site, SYSTEM_SOCKET_PREFIX) + "\n\n" + apache_https.system_server_scope(site)
    return render.template("wsgi-server.conf.in", server_scope=scope)


GROUP_VARIABLE = "DJANGOWSGI_GROUP"


def _daemon_groups(site):
    """The site's daemon process groups, and which requests go to which: those
    with a body (POST, PUT, PATCH) to a group of their own with a short queue, so
    that clients sending a body slowly hold its threads, not the page's."""
    lines = []
    for group, processes, display_name in site.daemon_groups:
        options = _daemon_options(site, processes, display_name)
        if group != site.process_group:
            options.append(("listen-backlog", 5))
        lines.append(f"WSGIDaemonProcess {render.apache(group)} " + " ".join(
            render.apache_option(k, site.served(v) if isinstance(v, str) else v) for k, v in options))
    lines.append(f'SetEnvIf Request_Method "." {GROUP_VARIABLE}={render.apache(site.process_group)}')
    if len(site.daemon_groups) > 1:
        lines.append(f'SetEnvIfNoCase Request_Method "^(POST|PUT|PATCH)$" '
                     f'{GROUP_VARIABLE}={render.apache(site.daemon_groups[1][0])}')
    return lines


def _daemon_options(site, processes, display_name):
    options = [
        ("user", site.user),
        ("group", site.group),
        ("processes", processes),
        ("threads", site.threads),
        ("display-name", display_name),
        ("home", site.home),
        ("python-home", site.python_home),
        ("lang", site.lang),
        ("locale", site.locale),
        ("umask", site.umask),
    ]
    options += site.timeouts
    options += [(key, value) for key, value in site.limits if value]
    return options


def log_target(site, path):
    """A log file, or the rotatelogs pipe that writes it: ``path`` is always the
    current file (a hard link), older ones get the time they were started as a
    suffix, and prune-logs keeps log-keep of them."""
    served = site.served
    if site.log_rotation == "off":
        return render.apache(served(path))
    command = [site.rotatelogs, "-L", served(path), "-p", served(site.layout.prune_logs),
               served(path) + ".%Y%m%d-%H%M%S", site.log_rotation]
    return render.apache("|" + " ".join(command))


def prune_logs(site):
    return render.template("prune-logs.in", part=site.name, keep=site.log_keep)


def _log_format(site):
    if " " not in site.log_format and "%" not in site.log_format:
        return render.apache(site.log_format)  # a nickname such as combined
    return render.apache_format(site.log_format)


def _redirect_vhost(site):
    if not (site.ssl and site.ssl.redirect):
        return ""
    a = render.apache
    target = f"https://{site.server_name}" + ("" if site.port == 443 else f":{site.port}") + "/"
    lines = [f"ServerName {a(site.server_name)}"]
    lines += [f"ServerAlias {a(alias)}" for alias in site.server_aliases]
    lines += [f"Redirect permanent / {a(target)}"]
    body = render.indent("\n".join(lines), 4)
    return f"\n<VirtualHost *:{site.ssl.http_port}>\n{body}\n</VirtualHost>\n"


def httpd_conf(site, vhost_path):
    """httpd.conf of the self-contained server, including ``vhost_path``."""
    def a(path):
        return render.apache(site.served(path))
    modules = ["mpm_event"] + SITE_MODULES + (["remoteip"] if site.trusted_proxies else [])
    if site.brotli:
        modules.append("brotli")
    if site.edge.request_read_timeout:
        modules.append("reqtimeout")
    if site.apache_version == "2.2":
        modules.append("access_compat")
    if site.status_listen:
        modules.append("status")
    if site.ssl:
        modules += ["ssl"] + (["http2"] if site.edge.http2 else []) + (["md"] if site.ssl.acme else [])
    load = [f"LoadModule {m}_module {render.apache(os.path.join(site.modules, f'mod_{m}.so'))}"
            for m in modules]
    load.append(f"LoadModule wsgi_module {render.apache(site.mod_wsgi)}")
    listen = [f"Listen {_listen(site.host, site.port)}" + (" https" if site.ssl else "")]
    if site.ssl and site.ssl.redirect:
        listen.append(f"Listen {_listen(site.ssl.http_host, site.ssl.http_port)}")
    if site.status_listen:
        listen.append(f"Listen {_listen(*site.status_listen)}")
    return render.template(
        "httpd.conf.in",
        part=site.name,
        server_root=a(site.layout.directory),
        pid_file=a(site.layout.pid_file),
        run_dir=a(site.layout.run_directory),
        error_log=log_target(site, site.error_log),
        log_level=site.log_level,
        server_name=render.apache(site.server_name),
        user=render.apache(site.user),
        group=render.apache(site.group),
        load_modules="\n".join(load),
        listen="\n".join(listen),
        edge=edge(site),
        deny_all=render.indent(_access(site, False), 4),
        server_scope=server_scope(site, a(site.socket_prefix)),
        vhost=a(vhost_path),
        status=_status_vhost(site),
        tls=apache_https.server_scope(site),
    )


def _status_vhost(site):
    """The loopback listener that bin/<part> status asks (docs/serving.rst, "The self-contained server")."""
    if not site.status_listen:
        return "# No mod_status listener (status-listen = off)."
    address = _listen(*site.status_listen)
    return "\n".join([
        "# mod_status for bin/<part> status, on a loopback port apart from the site's.",
        f"<VirtualHost {address}>",
        "    ServerName status.invalid",
        "    <Location /server-status>",
        "        SetHandler server-status",
        render.indent(render.apache_access_local(site.apache_version), 8),
        "    </Location>",
    ] + ([
        "    <Location /md-status>",
        "        SetHandler md-status",
        render.indent(render.apache_access_local(site.apache_version), 8),
        "    </Location>",
    ] if site.ssl and site.ssl.acme else []) + ["</VirtualHost>"])


def edge(site):
    """httpd.conf's lines for slow clients, floods and request sizes."""
    edge = site.edge
    lines = ["Timeout 60"]
    if edge.request_read_timeout:
        lines.append(f"RequestReadTimeout {edge.request_read_timeout}")
    lines += [
        "KeepAlive On",
        f"KeepAliveTimeout {edge.keep_alive_timeout}",
        "MaxKeepAliveRequests 10000",
        f"ListenBacklog {edge.listen_backlog}",
        "LimitRequestLine 8190",
        "LimitRequestFields 100",
        "LimitRequestFieldSize 8190",
        "",
        f"# The event MPM: {edge.workers} workers, {edge.server_limit} process{'es' if edge.server_limit > 1 else ''} "
        f"of {edge.threads_per_child} threads,",
        "# all started at once and kept (MaxSpareThreads): a burst never waits for a new process.",
        "# A request waiting for a daemon holds a worker; a process whose workers are all busy",
        "# closes its idle keep-alive connections (docs/serving.rst, \"Slow clients and floods\").",
        f"ServerLimit {edge.server_limit}",
        f"StartServers {edge.server_limit}",
        f"ThreadLimit {edge.threads_per_child}",
        f"ThreadsPerChild {edge.threads_per_child}",
        f"MaxRequestWorkers {edge.server_limit * edge.threads_per_child}",
        f"MinSpareThreads {edge.threads_per_child}",
        f"MaxSpareThreads {edge.server_limit * edge.threads_per_child + edge.threads_per_child}",
        "AsyncRequestWorkerFactor 2",
    ]
    return "\n".join(lines)


def systemd_unit(site):
    """parts/<part>/<part>.service: starts the server at boot, restarts it when it fails."""
    def quoted(path):
        return f'"{path}"' if " " in path else path
    # A server started by another user than root runs as that user.
    user = f"User={site.systemd_user}\n" if site.systemd_user else ""
    return render.template(
        "systemd.service.in",
        part=site.name,
        unit_name=os.path.basename(site.systemd_unit),
        unit_path=quoted(site.served(site.systemd_unit)),
        description=f"Apache + mod_wsgi serving {site.server_name} (djangowsgi part [{site.name}])",
        kind="Apache",
        pid_file=quoted(site.served(site.layout.pid_file)),
        script=quoted(site.served(site.layout.script)),
        user=user,
    )


def _listen(host, port):
    return f"{host}:{port}" if host and host != "*" else str(port)


def server_config(site):
    """What bin/<part> needs to know of the site (runtime/server_config.py)."""
    status_url = md_status_url = None
    acme = site.ssl and site.ssl.acme
    if site.status_listen:
        host, port = site.status_listen
        status_url = f"http://{'127.0.0.1' if host == 'localhost' else host}:{port}/server-status"
        md_status_url = status_url.replace("/server-status", "/md-status") if acme else None
    config = ServerConfig(
        status_url=status_url,
        md_status_url=md_status_url,
        managed_domains=tuple(acme.domains) if acme else (),
        certificate_authority=acme.ca if acme else None,
        directory=site.layout.buildout_directory,
        httpd=site.httpd or "apache2",
        config=site.layout.httpd_conf,
        pid_file=site.layout.pid_file,
        error_log=site.error_log,
        url=site.url,
        host=site.url.split("://")[1].rsplit(":", 1)[0].strip("[]"),
        port=site.port,
        server=site.server,
        groups=tuple(DaemonGroup(name=group, processes=processes, display_name=site.shown(display_name))
                     for group, processes, display_name in site.daemon_groups),
        mode=site.mode,
        processes=sum(processes for _, processes, _ in site.daemon_groups) if site.mode == "daemon" else 0,
        graceful_timeout=dict(site.timeouts)["graceful-timeout"],
        writable=tuple(site.writable),
        environment=(("LANG", site.lang), ("LC_ALL", site.locale)) if site.mode == "embedded" else (),
        user=site.user,
        group=site.group,
        run_directory=site.layout.run_directory,
        config_directory=site.layout.directory,
    )
    if site.balancer:
        spare = site.standby()
        config = dataclasses.replace(config, standby=Standby(
            config=site.layout.beside("standby-httpd.conf"),
            pid_file=spare.layout.pid_file,
            run_directory=spare.layout.run_directory,
            error_log=spare.error_log,
            url=spare.url,
            host=spare.url.split("://")[1].rsplit(":", 1)[0].strip("[]"),
            port=spare.port,
            balancer_socket=os.path.join(site.layout.buildout_directory, "var", "run", site.balancer, "admin.sock"),
            backend=backend_name(site),
            standby_backend=backend_name(spare),
        ))
    if site.system:
        config = dataclasses.replace(
            config,
            confdir=site.confdir,
            site=site.process_group,
            server_name=site.server_name,
            vhost=site.served(site.layout.vhost),
            server_conf=site.layout.server_conf,
            modules=tuple(system_modules(site)),
            certificate_scripts=(site.layout.certificate_agent, site.layout.certificate_event),
            scripts_directory=os.path.join(site.confdir, apache_https.SYSTEM_SCRIPTS),
        )
    return config


def backend_name(site):
    """This Apache as the balancer part names it (host:port)."""
    return f"{site.host or '127.0.0.1'}:{site.port}"


def backends(site):
    """What the balancer part's backends takes from this part (${apache:backends})."""
    names = [backend_name(site)]
    if site.balancer:
        names.append(backend_name(site.standby()) + " standby")
    return "\n".join(names)


def control_script(site):
    return render.template(
        "apachectl.in",
        python=site.python,
        part=site.name,
        served_by="the site on the system Apache" if site.system else "the self-contained Apache",
        module="system_apache" if site.system else "apachectl",
        import_djangowsgi=render.import_djangowsgi(),
        server=render.python_value(server_config(site).to_script()),
    )


# The modules a site's vhost.conf uses (httpd.conf loads them; a2enmod enables them
# on the system Apache), besides mod_wsgi and what a site's own options add.
SITE_MODULES = ["authz_core", "authz_host", "alias", "mime", "headers", "filter", "deflate", "cache",
                "cache_socache", "socache_shmcb", "setenvif"]


def system_modules(site):
    """What a2enmod enables on the system Apache for this site."""
    modules = ["wsgi"] + SITE_MODULES + (["remoteip"] if site.trusted_proxies else [])
    if site.ssl:
        modules += ["ssl"] + (["http2"] if site.edge.http2 else []) + (["md"] if site.ssl.acme else [])
    return modules
