"""The servers a production user weighs against the package's Apache, set up the
way their own guides deploy them, serving the same WSGI script and database:
nginx in front of gunicorn (sync workers) or uWSGI (uwsgi_pass), granian, uWSGI's
own HTTP socket, and nginx for static files; and, as the floor for static files,
an Apache with only what serving a file takes. Access logs go to files, as in
production; ``logging=False`` turns them off. Loopback addresses only."""
import os
import shutil
import signal
import subprocess

# worker_connections counts the upstream's connections too: 4096 holds the
# benchmark's 2000 clients, each with a request at the application (nginx's
# 1024 refused a third of them).
NGINX_CONF = """\
worker_processes {workers};
worker_rlimit_nofile 8192;
error_log {logs}/nginx-error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000;
    {access_log}
    client_body_temp_path {root}/client-body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    upstream application {{ server {upstream}; }}
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        location /static/ {{ alias {static}/; }}
        location / {{
            {pass_directive}
        }}
    }}
}}
"""

# Apache with nothing but what serving a file takes: the event MPM at its
# compiled-in defaults, no rotatelogs, sendfile. What no configuration beats.
APACHE_FLOOR_CONF = """\
ServerRoot {root}
PidFile {root}/httpd.pid
DefaultRuntimeDir {root}
ErrorLog {root}/logs/error.log
ServerName localhost
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule alias_module /usr/lib/apache2/modules/mod_alias.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
TypesConfig /etc/mime.types
Listen 127.0.0.1:{port}
MaxKeepAliveRequests 10000
EnableSendfile On
CustomLog {root}/logs/access.log combined
<Directory />
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
Alias /static/ {static}/
"""


class Peer:
    """Processes started in their own session, stopped together."""

    def __init__(self, name, port, commands, env):
        self.name, self.port, self.commands, self.env = name, port, commands, env
        self.processes = []

    def start(self):
        for command, log in self.commands:
            output = open(log, "ab") if log else subprocess.DEVNULL
            self.processes.append(subprocess.Popen([str(c) for c in command], env=self.env, stdout=output,
                                                   stderr=output, start_new_session=True))

    def stop(self):
        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGTERM if "uwsgi" not in str(process.args[0]) else signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes = []


def _directory(work, name):
    root = work / "peers" / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "logs").mkdir(parents=True)
    return root


def nginx_command(work, name, port, upstream, pass_directive, static, logging, workers):
    root = _directory(work, name)
    access_log = f"access_log {root}/logs/access.log combined;" if logging else "access_log off;"
    (root / "nginx.conf").write_text(NGINX_CONF.format(
        workers=workers, root=root, logs=root / "logs", access_log=access_log, upstream=upstream, port=port,
        static=static, pass_directive=pass_directive))
    return ["nginx", "-p", root, "-c", root / "nginx.conf", "-g", "daemon off;"], None


def nginx_gunicorn(work, venv, env, port, backend_port, static, workers, logging=True):
    root = work / "peers" / f"nginx-gunicorn-{port}"
    nginx = nginx_command(work, f"nginx-gunicorn-{port}", port, f"127.0.0.1:{backend_port}",
                          "proxy_pass http://application; proxy_set_header Host $host;", static, logging, workers)
    gunicorn = [venv / "bin" / "gunicorn", "-w", workers, "-b", f"127.0.0.1:{backend_port}",
                *(["--access-logfile", root / "logs" / "gunicorn-access.log"] if logging else []),
                "coleman.wsgi:application"]
    return Peer("nginx + gunicorn", port, [(gunicorn, None), nginx], env)


def nginx_uwsgi(work, venv, env, port, backend_port, static, workers, logging=True):
    root = work / "peers" / f"nginx-uwsgi-{port}"
    nginx = nginx_command(work, f"nginx-uwsgi-{port}", port, f"127.0.0.1:{backend_port}",
                          "include /etc/nginx/uwsgi_params; uwsgi_pass application;", static, logging, workers)
    uwsgi = [*uwsgi_common(venv, workers, logging, root), "--socket", f"127.0.0.1:{backend_port}"]
    return Peer("nginx + uWSGI", port, [(uwsgi, None), nginx], env)


def uwsgi_common(venv, workers, logging, root):
    return [venv / "bin" / "uwsgi", "--master", "--processes", workers, "--threads", "1",
            "--module", "coleman.wsgi:application", "--need-app", "--die-on-term",
            *(["--logto", root / "logs" / "uwsgi.log"] if logging else ["--disable-logging"])]


def uwsgi_http(work, venv, env, port, workers, logging=True):
    root = _directory(work, f"uwsgi-{port}")
    return Peer("uWSGI http-socket", port, [([*uwsgi_common(venv, workers, logging, root),
                                              "--http-socket", f"127.0.0.1:{port}"], None)], env)


def granian(work, venv, env, port, workers, logging=True):
    root = _directory(work, f"granian-{port}")
    command = [venv / "bin" / "granian", "--interface", "wsgi", "--workers", workers, "--host", "127.0.0.1",
               "--port", port, *(["--access-log"] if logging else ["--no-access-log"]),
               "coleman.wsgi:application"]
    return Peer("granian", port, [(command, root / "logs" / "granian.log" if logging else None)], env)


def apache_floor(work, port, static):
    root = _directory(work, f"apache-floor-{port}")
    (root / "httpd.conf").write_text(APACHE_FLOOR_CONF.format(root=root, port=port, static=static))
    return Peer("Apache, the floor", port, [(["/usr/sbin/apache2", "-f", root / "httpd.conf", "-DFOREGROUND"],
                                             None)], None)


def versions(venv):
    """The peers' versions, for the report."""
    found = {"nginx": subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()}
    for name in ("gunicorn", "granian", "uwsgi", "mod_wsgi"):
        out = subprocess.run([str(venv / "bin" / "python"), "-c",
                              f"import importlib.metadata as m; print(m.version({name!r}))"],
                             capture_output=True, text=True)
        found[name] = out.stdout.strip()
    return found

