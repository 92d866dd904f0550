"""Every generated file, rendered for a few representative option sets and
compared with its golden copy in tests/unit/golden/: read them to see what the
recipes write, and a change to quoting or a default shows as a diff.

After a change that is meant to alter a generated file: ``make golden``
rewrites the golden files; review ``git diff tests/unit/golden`` and commit it
with the change.
"""
import os
import subprocess
import sys
import types

import pytest

from djangowsgi import apache_config, balancer_acme, balancer_files, manage, project, render, wsgi
from djangowsgi.balancer_site import read_balancer
from djangowsgi.apache_site import read_site
from layout import REPO, buildout, haproxy, machine

GOLDEN = REPO / "tests" / "unit" / "golden"
REGENERATE = os.environ.get("DJANGOWSGI_REGENERATE_GOLDEN") == "1"
PACKAGE = str(REPO / "src")
# The Python the project recipes write into their scripts: fixed, so that the files read the same everywhere.
PYTHON = types.SimpleNamespace(executable="/srv/mysite/venv/bin/python3", version_info=(3, 11, 2))


@pytest.fixture(autouse=True)
def project_python_fixed(monkeypatch):
    monkeypatch.setattr(project, "sys", PYTHON)


def compare(name, content):
    content = content.replace(PACKAGE, "/srv/djangowsgi/src")
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    assert path.exists(), f"{path} is missing: make golden writes it"
    assert content == path.read_text(), f"{name} differs from its golden copy (make golden, then review the diff)"


SITE = {"wsgi-script": "/srv/mysite/parts/wsgi/wsgi.wsgi", "server-name": "www.mysite.example",
        "aliases": "/static/ /srv/mysite/var/static/\n/media/ /srv/mysite/var/media/"}
APACHE_SETS = {
    "default": {},
    "https-hsts": {"listen": "*:443", "ssl-certificate": "/etc/ssl/mysite.pem",
                   "ssl-certificate-key": "/etc/ssl/private/mysite.key",
                   "ssl-certificate-chain": "/etc/ssl/chain.pem", "redirect-http": "true", "hsts": "31536000",
                   "ocsp-stapling": "true",
                   "server-aliases": "mysite.example"},
    "acme": {"listen": "*:8443", "http-listen": "*:8080", "https": "acme", "acme-email": "webmaster@mysite.example",
             "acme-agreement": "true", "server-aliases": "mysite.example"},
    "acme-tls-alpn-modern": {"listen": "*:443", "https": "acme", "acme-email": "webmaster@mysite.example",
                             "acme-agreement": "true", "acme-challenge": "tls-alpn-01", "tls-profile": "modern",
                             "hsts": "off", "acme-ca": "https://acme-staging-v02.api.letsencrypt.org/directory"},
    "system": {"server": "system", "listen": "*:80", "user": "mysite", "writable": "var/db var/media"},
    "embedded": {"mode": "embedded", "listen": "127.0.0.1:8080", "apache-version": "2.2"},
    "edge-changed": {"listen": "0.0.0.0:8000", "processes": "4", "threads": "8", "body-processes": "0",
                     "workers": "300", "worker-threads": "64", "listen-backlog": "511", "keep-alive-timeout": "2",
                     "request-read-timeout": "off", "max-body-size": "10M", "compress": "false",
                     "static-max-age": "60", "hashed-max-age": "86400", "log-rotation": "off",
                     "log-level": "info", "status-listen": "off", "preload": "false", "display-name": "mysite",
                     "inactivity-timeout": "300", "maximum-requests": "1000", "lang": "en_US.UTF-8",
                     "served-from": "/srv/current", "extra": "Header set X-Site mysite"},
    "behind-balancer": {"listen": "127.0.0.1:8000", "trusted-proxies": "127.0.0.1\n10.0.0.0/24 10.1.2.3"},
    "one-host-balancer": {"listen": "127.0.0.1:8000", "trusted-proxies": "127.0.0.1", "balancer": "balancer"},
}


@pytest.mark.parametrize("name", APACHE_SETS)
def test_apache_files(name):
    site = read_site(buildout(), "apache", {**SITE, **APACHE_SETS[name]}, machine())
    compare(f"apache-{name}/vhost.conf", apache_config.vhost(site))
    compare(f"apache-{name}/wsgi-server.conf", apache_config.server_conf(site))
    compare(f"apache-{name}/bin-apache", apache_config.control_script(site))
    compare(f"apache-{name}/prune-logs", apache_config.prune_logs(site))
    if not site.system:
        compare(f"apache-{name}/httpd.conf", apache_config.httpd_conf(site, site.layout.vhost))
        compare(f"apache-{name}/{os.path.basename(site.systemd_unit)}", apache_config.systemd_unit(site))
    if site.balancer:
        spare = site.standby()
        compare(f"apache-{name}/standby-vhost.conf", apache_config.vhost(spare))
        compare(f"apache-{name}/standby-httpd.conf",
                apache_config.httpd_conf(spare, site.layout.beside("standby-vhost.conf")))


BALANCER = {"server-name": "www.mysite.example", "listen": "*:80",
            "backends": "web1.mysite.example:8000\nweb2.mysite.example:8000\n10.0.0.7:8001"}
BALANCER_SETS = {
    "default": ({}, {}),
    "https-files": ({"listen": "*:443", "ssl-certificate": "CERT", "ssl-certificate-key": "KEY", "hsts": "63072000",
                     "cache": "/static/\n/media/", "retry-methods": "GET HEAD PUT", "stats-listen": "off"},
                    {"euid": 1000, "prometheus": False}),
    "deploy-hosts": ({"backends": "deploy@web1.mysite.example\ndeploy@web2.mysite.example:2222",
                      "backend-port": "8000", "balance": "roundrobin", "server-maxconn": "0", "threads": "2",
                      "retry-on": "none", "cache": "off", "slowstart": "off", "log-rotation": "off",
                      "health-check": "/health/?full=1", "http-reuse": "safe"}, {}),
    "acme": ({"listen": "*:443", "https": "acme", "acme-email": "webmaster@mysite.example",
              "acme-agreement": "true", "server-aliases": "mysite.example"},
             {"apache": "/usr/sbin/apache2", "apache_modules": "/usr/lib/apache2/modules", "has_mod_md": True}),
}


@pytest.mark.parametrize("name", BALANCER_SETS)
def test_balancer_files(name, tmp_path):
    options, probed = BALANCER_SETS[name]
    for placeholder in ("CERT", "KEY"):
        (tmp_path / placeholder).write_text("")
    options = {key: str(tmp_path / value) if value in ("CERT", "KEY") else value for key, value in options.items()}
    balancer = read_balancer(buildout(), "balancer", {**BALANCER, **options}, haproxy(**probed))

    def shown(text):
        return text.replace(str(tmp_path), "/etc/ssl/mysite")
    compare(f"balancer-{name}/haproxy.cfg", shown(balancer_files.haproxy_cfg(balancer)))
    compare(f"balancer-{name}/bin-balancer", shown(balancer_files.control_script(balancer)))
    compare(f"balancer-{name}/balancer.service", balancer_files.systemd_unit(balancer))
    if balancer.https and balancer.https.acme:
        compare(f"balancer-{name}/acme-httpd.conf", balancer_acme.httpd_conf(balancer))


PROJECT = {"eggs": "mysite", "settings": "mysite.settings",
           "environment": "MYSITE_VAR_DIR=/srv/mysite/var\nQUOTED=it's \"quoted\" ''' $HOME %(x)s"}
PATHS = ["/srv/mysite/src", "/srv/mysite/eggs/Django-5.2.19-py3.egg", "/srv/mysite/lib"]
PROJECT_SETS = {
    "default": ({}, {}),
    "application-initialization": ({"application": "mysite.wsgi:application",
                                    "initialization": "import logging\nlogging.basicConfig()"}, {}),
    "environment-file": ({"environment-file": "SECRETS"}, {}),
    "relative-paths": ({}, {"relative-paths": "true"}),
}


@pytest.mark.parametrize("name", PROJECT_SETS)
def test_project_scripts(name, tmp_path):
    options, buildout_options = PROJECT_SETS[name]
    sections = buildout()
    sections["buildout"].update(buildout_options)
    secrets = tmp_path / "secrets.env"  # checked when read: it must exist, closed to others
    secrets.write_text("DJANGO_SECRET_KEY=x\n")
    os.chmod(secrets, 0o600)
    options = {key: value.replace("SECRETS", str(secrets)) for key, value in options.items()}
    for module, part in ((manage, "django"), (wsgi, "wsgi")):
        recipe = module.Recipe.checked(sections, part, {**PROJECT, **options})
        recipe.paths = PATHS
        content = recipe.render().replace(str(secrets), "/etc/mysite/secrets.env")
        compare(f"project-{name}/{os.path.basename(recipe.script)}", content)


@pytest.mark.parametrize("relative", [False, True])
def test_the_wsgi_scripts_paths_read_back(tmp_path, relative):
    """apache_site.py checks that the daemon can read every path the WSGI script
    names, as wsgi.script_python_path reads them back from the script."""
    script = tmp_path / "parts" / "wsgi" / "wsgi.wsgi"
    script.parent.mkdir(parents=True)
    paths = [str(tmp_path / "src"), str(tmp_path / "eggs" / "Django-5.2.19.egg"), "/opt/shared/lib"]
    code = render.python_path(paths, str(script), str(tmp_path) if relative else None)
    script.write_text(render.template("wsgi.py.in", part="wsgi", python_version="3.11", python_path=code,
                                      environment="", initialization="", application=""))
    assert wsgi.script_python_path(str(script)) == paths


def test_a_generated_wsgi_script_whose_paths_cannot_be_read_is_an_error(tmp_path):
    script = tmp_path / "wsgi.wsgi"
    script.write_text("# WSGI script of part [wsgi], generated by djangowsgi.\nsys.path[:] = ['/srv']\n")
    with pytest.raises(ValueError, match="its sys.path cannot be read from it"):
        wsgi.script_python_path(str(script))
    script.write_text("import sys\nsys.path.insert(0, '/srv')\n")  # written by hand: nothing to check
    assert wsgi.script_python_path(str(script)) == []


def test_the_control_scripts_import_djangowsgi_without_adding_to_sys_path(tmp_path):
    """bin/apache, bin/<balancer> and bin/deploy import djangowsgi by its path: a
    wheel's site-packages on sys.path would hand every other package there to them."""
    script = tmp_path / "control"
    script.write_text("import sys\nbefore = list(sys.path)\n" + render.import_djangowsgi()
                      + "\nfrom djangowsgi.runtime import files\nimport djangowsgi\n"
                      + "print(sys.path == before, djangowsgi.__version__, files.__file__)\n")

    out = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, cwd=tmp_path).stdout
    same, version, where = out.split()
    assert same == "True" and version == __import__("djangowsgi").__version__
    assert where == str(REPO / "src" / "djangowsgi" / "runtime" / "files.py")
