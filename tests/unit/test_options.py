"""Bad input of every recipe, read from the options alone: one exact line naming
the part and the option. (tests/e2e keeps one case a recipe, through a real
bin/buildout, to show that the line reaches the user and no file changes.)"""
import configparser
import os
import re
import textwrap

import pytest
from zc.buildout import UserError

from djangowsgi import apache_checks, apache_config, deploy, manage, system, wsgi
from djangowsgi.apache_site import read_site
from djangowsgi.options import PartOptions
from layout import REPO, buildout, machine

PROJECT = {"eggs": "mysite", "settings": "mysite.settings"}


def error_of(read):
    with pytest.raises(UserError) as raised:
        read()
    message = str(raised.value)
    assert "\n" not in message
    return message


def without(options, drop):
    return {k: v for k, v in options.items() if k not in drop}


PROJECT_BAD_INPUTS = [
    (wsgi, {"settings": None}, "option settings: is required (a dotted module name such as myproject.settings)"),
    (wsgi, {"settings": "mysite settings"},
     "option settings: 'mysite settings' is not a dotted Python name like myproject.settings"),
    (wsgi, {"settings": "mysite.class"},
     "option settings: 'mysite.class' is not a dotted Python name like myproject.settings"),
    (manage, {"environment": "NOEQUALS"}, "option environment: line 'NOEQUALS' is not KEY=VALUE"),
    (manage, {"environment": "2X=1"}, "option environment: '2X' in line '2X=1' is not a valid variable name"),
    (wsgi, {"application": "mysite.wsgi.application"},
     "option application: 'mysite.wsgi.application' is not module:callable, e.g. myproject.wsgi:application"),
    (wsgi, {"application": "mysite.wsgi:app; import os"},
     "option application: 'app; import os' is not a dotted Python name like myproject.settings"),
    (manage, {"eggs": None}, "option eggs: is required: the project's eggs, one a line"),
    (manage, {"initialization": "print(1"}, "option initialization: is not valid Python: '(' was never closed (line 1)"),
    (manage, {"control-script": "../evil"}, "option control-script: '../evil' is not a plain file name"),
    (manage, {"collectstatic": "maybe"}, "option collectstatic: 'maybe' is not true or false"),
    (manage, {"environment-file": "/nonexistent/secrets.env"},
     "option environment-file: /nonexistent/secrets.env: No such file or directory"),
]


@pytest.mark.parametrize("recipe, change, message", PROJECT_BAD_INPUTS,
                         ids=[f"{r.__name__.split('.')[-1]}-{m.split(':')[0][7:]}-{i}"
                              for i, (r, _, m) in enumerate(PROJECT_BAD_INPUTS)])
def test_project_recipes_bad_input(recipe, change, message):
    name = "django" if recipe is manage else "wsgi"
    options = {**PROJECT, **change}
    options = without(options, [k for k, v in options.items() if v is None])
    error = error_of(lambda: recipe.Recipe.checked(buildout(), name, options))
    assert error == f"djangowsgi part [{name}], option {message.split('option ', 1)[1]}"


def test_environment_file_open_to_every_account(tmp_path):
    secrets = tmp_path / "secrets.env"
    secrets.write_text("SECRET=1\n")
    os.chmod(secrets, 0o644)
    error = error_of(lambda: manage.Recipe.checked(buildout(), "django",
                                                   {**PROJECT, "environment-file": str(secrets)}))
    assert error == (f"djangowsgi part [django], option environment-file: {secrets} is open to every account on "
                     f"this machine (mode 0644): chmod o= {secrets}")
    secrets.write_text("SECRET=1\nnot a line\n")
    os.chmod(secrets, 0o600)
    error = error_of(lambda: manage.Recipe.checked(buildout(), "django",
                                                   {**PROJECT, "environment-file": str(secrets)}))
    assert error == f"djangowsgi part [django], option environment-file: {secrets}, line 2: not KEY=VALUE"


def test_good_project_options_are_read():
    recipe = wsgi.Recipe.checked(buildout(), "wsgi", {**PROJECT, "application": "mysite.wsgi:application",
                                                      "environment": "A=1\nB = two words"})
    assert recipe.application == ("mysite.wsgi", ["application"])
    assert recipe.project.environment == [("A", "1"), ("B", "two words")]
    assert recipe.script == "/srv/mysite/parts/wsgi/wsgi.wsgi"


SITE = {"wsgi-script": "/srv/mysite/parts/wsgi/wsgi.wsgi", "server-name": "www.mysite.example",
        "listen": "127.0.0.1:8000"}
ACME = {"https": "acme", "acme-email": "webmaster@mysite.example", "acme-agreement": "true"}

APACHE_BAD_INPUTS = [
    ({"wsgi-script": None}, "option wsgi-script: is required"),
    ({"server-name": None}, "option server-name: is required"),
    ({"user": "root"}, "option user: 'root' is root: mod_wsgi refuses to run a daemon as root; name an "
                       "unprivileged account such as www-data"),
    ({"server-name": 'example.com"\nInclude /etc/passwd'},
     "option server-name: 'example.com\"\\nInclude /etc/passwd' holds '\"', which would break the Apache "
     "configuration"),
    ({"server-name": "exa mple.com"}, "option server-name: 'exa mple.com' is not a host name"),
    ({"server-name": "example.com/"}, "option server-name: 'example.com/' is not a host name"),
    ({"display-name": 'x"y'}, "option display-name: 'x\"y' holds '\"', which would break the Apache configuration"),
    ({"extra": "</VirtualHost>\n<VirtualHost *:80>"},
     "option extra: may not open or close a VirtualHost: it goes inside the part's own"),
    ({"listen": "127.0.0.1:70000"}, "option listen: port 70000 is outside 1-65535"),
    ({"listen": "localhost"}, "option listen: 'localhost' is not [address:]port, e.g. 127.0.0.1:8000"),
    ({"status-listen": "0.0.0.0:9000"}, "option status-listen: 0.0.0.0 is not a loopback address (127.0.0.1, "
                                        "[::1]): mod_status shows every request's URL and client"),
    ({"status-listen": "9000"}, "option status-listen: * is not a loopback address (127.0.0.1, [::1]): "
                                "mod_status shows every request's URL and client"),
    ({"status-listen": "127.0.0.1:8000"}, "option status-listen: port 8000 is the site's own"),
    ({"server": "system", "status-listen": "127.0.0.1:9000"},
     "option status-listen: is for the self-contained server; the system Apache's mod_status is configured "
     "in its mods-enabled/status.conf"),
    ({"python-home": "venv"}, "option python-home: 'venv' is not an absolute path"),
    ({"aliases": "/media/ var/media"}, "option aliases: 'var/media' is not an absolute path"),
    ({"aliases": "media /srv/media"}, "option aliases: 'media /srv/media' is not 'URL-PATH DIRECTORY', e.g. "
                                      "/static/ /srv/site/static"),
    ({"ssl-certificate": "/etc/ssl/site.pem"},
     "option ssl-certificate-key: is required when ssl-certificate is given"),
    ({"ssl-certificate-key": "/etc/ssl/site.key"},
     "option ssl-certificate: is required when ssl-certificate-key is given"),
    ({"hsts": "600"}, "option hsts: needs https = acme, or ssl-certificate and ssl-certificate-key"),
    ({"acme-email": "a@example.org"}, "option acme-email: needs https = acme"),
    ({"https": "letsencrypt"}, "option https: 'letsencrypt' is not one of off, acme"),
    ({**ACME, "acme-email": ""},
     "option acme-email: is required (the authority writes there before a certificate expires)"),
    ({**ACME, "acme-email": "webmaster"}, "option acme-email: 'webmaster' is not an email address"),
    ({**ACME, "acme-agreement": ""}, "option acme-agreement: must be true: it says you accept Let's Encrypt's "
                                     "terms (https://letsencrypt.org/repository/)"),
    ({**ACME, "acme-ca": "http://ca.example/dir"},
     "option acme-ca: 'http://ca.example/dir' is not the https:// URL of an ACME directory"),
    ({**ACME, "acme-ca-root": "/nonexistent/pebble.pem"}, "option acme-ca-root: cannot read /nonexistent/pebble.pem"),
    ({**ACME, "acme-challenge": "dns-01"}, "option acme-challenge: 'dns-01' is not one of http-01, tls-alpn-01"),
    ({**ACME, "acme-renew-window": "soon"}, "option acme-renew-window: 'soon' is not a share of the "
                                            "certificate's lifetime like 33%, or days like 30d"),
    ({**ACME, "server-name": "localhost"}, "option server-name: localhost cannot get a certificate from Let's "
                                           "Encrypt: it needs a public domain name that resolves to this server"),
    ({**ACME, "server-name": "203.0.113.7"}, "option server-name: 203.0.113.7 cannot get a certificate from "
                                             "Let's Encrypt: it needs a public domain name that resolves to this "
                                             "server"),
    ({**ACME, "server-aliases": "intranet"}, "option server-aliases: intranet cannot get a certificate from "
                                             "Let's Encrypt: it needs a public domain name that resolves to this "
                                             "server"),
    ({**ACME, "server-aliases": "*.mysite.example"},
     "option server-aliases: *.mysite.example is a wildcard: mod_md gets one only through dns-01, which "
     "djangowsgi does not set up; name each host"),
    ({**ACME, "ssl-certificate": "/etc/ssl/site.pem", "ssl-certificate-key": "/etc/ssl/site.key"},
     "option ssl-certificate: is for a certificate from elsewhere; with https = acme mod_md obtains the "
     "certificate: remove one of the two"),
    ({**ACME, "redirect-http": "false"},
     "option redirect-http: must be on with acme-challenge = http-01: the authority checks the site on its "
     "HTTP port (or set acme-challenge = tls-alpn-01)"),
    ({**ACME, "tls-profile": "old"}, "option tls-profile: 'old' is not one of intermediate, modern"),
    ({**ACME, "hsts": "forever"}, "option hsts: 'forever' is not a whole number"),
    ({"ssl-certificate": "/etc/ssl/site.pem", "ssl-certificate-key": "/etc/ssl/site.key", "listen": "8443",
      "redirect-http": "true", "http-listen": "8443"}, "option http-listen: port 8443 is the HTTPS port of listen"),
    ({"processes": "0"}, "option processes: 0 is out of range (from 1 to 1000)"),
    ({"threads": "many"}, "option threads: 'many' is not a whole number"),
    ({"workload": "web"}, "option workload: 'web' is not one of io, cpu"),
    ({"mode": "threaded"}, "option mode: 'threaded' is not one of daemon, embedded"),
    ({"apache-version": "2.0"}, "option apache-version: '2.0' is not one of 2.4, 2.2"),
    ({"process-group": "my site"},
     "option process-group: 'my site' is not a plain name (letters, digits, '.', '_', '-')"),
    ({"server": "system", "mode": "embedded"},
     "option mode: embedded would run the site in every child of the system Apache, with one Python for all "
     "its sites: use mode = daemon with server = system"),
    ({"server": "apache2"}, "option server: 'apache2' is not one of self-contained, system"),
    ({"max-body-size": "lots"}, "option max-body-size: 'lots' is not a size like 100M, 512K or 0"),
    ({"max-body-size": "3G"}, "option max-body-size: 3221225472 bytes is over Apache's limit of 2G - 1 "
                              "(0 means no limit)"),
    ({"log-rotation": "weekly"}, "option log-rotation: 'weekly' is not a size like 100M, a number of seconds "
                                 "like 86400, or off"),
    ({"log-level": "loud"}, "option log-level: 'loud' is not one of emerg, alert, crit, error, warn, notice, "
                            "info, debug, trace1, trace2, trace3, trace4, trace5, trace6, trace7, trace8"),
    ({"log-keep": "0"}, "option log-keep: 0 is out of range (from 1 to 10000)"),
    ({"body-processes": "-1"}, "option body-processes: -1 is out of range (from 0 to 1000)"),
    ({"workers": "0"}, "option workers: 0 is out of range (from 1 to 20000)"),
    ({"worker-threads": "0"}, "option worker-threads: 0 is out of range (from 1 to 20000)"),
    ({"request-read-timeout": "header=ten"},
     "option request-read-timeout: 'header=ten' is not mod_reqtimeout's stage=timeout[-maximum][,MinRate=rate] "
     "list, e.g. header=10-20,MinRate=500 body=20,MinRate=500, or off"),
    ({"server": "system", "apache-confdir": "etc/apache2"},
     "option apache-confdir: 'etc/apache2' is not an absolute path"),
    ({"umask": "0999"}, "option umask: '0999' is not an octal umask like 0022"),
    ({"writable": "."}, "option writable: /srv/mysite holds the site's code or configuration: the daemon must "
                        "not be able to change it (name a directory such as var/media)"),
    ({"writable": "parts"}, "option writable: /srv/mysite/parts holds the site's code or configuration: the "
                            "daemon must not be able to change it (name a directory such as var/media)"),
]


@pytest.mark.parametrize("change, message", APACHE_BAD_INPUTS,
                         ids=[f"{m.split(':')[0][7:]}-{i}" for i, (_, m) in enumerate(APACHE_BAD_INPUTS)])
def test_apache_bad_input(change, message):
    options = without({**SITE, **change}, [k for k, v in change.items() if v is None])
    error = error_of(lambda: read_site(buildout(), "apache", options, machine()))
    assert error == f"djangowsgi part [apache], {message}"


# Checked against the machine (its accounts, its mod_wsgi, its files), still without bin/buildout.
MACHINE_BAD_INPUTS = [
    ({"group": "no-such-group"}, "option group: no group 'no-such-group' on this machine"),
    ({"user": "no-such-user", "group": "www-data"}, "option user: no user 'no-such-user' on this machine"),
    ({"aliases": "/media/ /nonexistent/media"},
     "option aliases: directory /nonexistent/media/ (for /media/) does not exist"),
    ({"socket-prefix": "/var/tmp/" + "x" * 90 + "/wsgi"},
     f"option socket-prefix: /var/tmp/{'x' * 90}/wsgi is too long for the daemon's socket (125 of at most 107 "
     f"bytes): set a shorter socket-prefix"),
    ({"mod-wsgi": "/nonexistent/mod_wsgi.so"},
     "option mod-wsgi: /nonexistent/mod_wsgi.so does not exist: install mod_wsgi (Debian, Ubuntu: "
     "libapache2-mod-wsgi-py3; Fedora: python3-mod_wsgi) or set mod-wsgi to its path"),
    ({"python-home": "/nonexistent"}, "option python-home: /nonexistent is not a directory"),
    ({"python-home": "/etc"}, "option python-home: /etc is neither a virtualenv nor a Python installation"),
    ({"log-rotation": "100M", "rotatelogs": "/nonexistent/rotatelogs"},
     "option rotatelogs: no rotatelogs on this machine (Debian: apache2-utils); install it, or set "
     "log-rotation = off"),
]


@pytest.mark.parametrize("change, message", MACHINE_BAD_INPUTS,
                         ids=[f"{m.split(':')[0][7:]}-{i}" for i, (_, m) in enumerate(MACHINE_BAD_INPUTS)])
def test_apache_checked_against_the_machine(change, message, tmp_path):
    options = {**SITE, "user": "www-data", "python-home": "/usr", **change}
    error = error_of(lambda: check_machine(options, tmp_path))
    assert error == f"djangowsgi part [apache], {message}"


def check_machine(options, tmp_path, **machine_changes):
    """apache_checks.check_machine on a machine whose mod_wsgi and rotatelogs are
    files in ``tmp_path`` (mod_wsgi embedding /usr's Python 3.11 unless changed)."""
    for name in ("mod_wsgi.so", "rotatelogs"):
        (tmp_path / name).write_bytes(b"")
    this = machine(mod_wsgi=str(tmp_path / "mod_wsgi.so"), rotatelogs=str(tmp_path / "rotatelogs"),
                   **machine_changes)
    site = read_site(buildout(), "apache", options, this)
    apache_checks.check_machine(site, this, PartOptions(buildout(), "apache", options))
    return site


def test_a_good_site_passes_the_checks(tmp_path):
    site = check_machine({**SITE, "user": "www-data", "python-home": "/usr"}, tmp_path,
                         mod_wsgi_python=(system.python_home_python("/usr")[0], "/usr"))
    assert site.check and site.user == "www-data"


def fake_python_home(directory, version, home):
    directory.mkdir()
    (directory / "pyvenv.cfg").write_text(f"home = {home}\nversion = {version}\n")
    return directory


@pytest.mark.parametrize("change, threads", [({}, 10), ({"workload": "cpu"}, 3),
                                             ({"workload": "cpu", "threads": "5"}, 5)])
def test_daemon_threads_follow_the_workload_unless_set(change, threads):
    site = read_site(buildout(), "apache", {**SITE, **change}, machine())
    assert site.threads == threads
    assert f" threads={threads} " in apache_config.vhost(site)


def test_serving_docs_workload_block_gives_the_threads_it_says():
    """docs/serving.rst, "How many daemons, how many threads": the block as written,
    then with its commented choice taken."""
    text = (REPO / "docs" / "serving.rst").read_text().split("How many daemons, how many threads", 1)[1]
    block = textwrap.dedent(re.match(r"\n((?:    .*\n|\n)+)", text.split(".. code-block:: ini\n", 1)[1]).group(1))
    for ini, threads in ((block, 10), (block.replace("#workload = cpu", "workload = cpu"), 3)):
        parser = configparser.ConfigParser(strict=False)
        parser.read_string(ini)
        site = read_site(buildout(), "apache", {**SITE, **parser["apache"]}, machine())
        assert site.threads == threads, ini


def test_python_home_of_another_python(tmp_path):
    embedded = ("3.11", "/usr")
    home = fake_python_home(tmp_path / "old-venv", "3.9.2", "/usr/bin")
    options = {**SITE, "user": "www-data", "python-home": str(home)}
    mod_wsgi = tmp_path / "mod_wsgi.so"
    assert error_of(lambda: check_machine(options, tmp_path, mod_wsgi_python=embedded)) == (
        f"djangowsgi part [apache], option python-home: {home} runs Python 3.9 but "
        f"{mod_wsgi} embeds Python 3.11: build the buildout with that Python")
    home = fake_python_home(tmp_path / "pyenv-venv", "3.11.7", "/opt/pyenv/versions/3.11.7/bin")
    options["python-home"] = str(home)
    assert error_of(lambda: check_machine(options, tmp_path, mod_wsgi_python=embedded)) == (
        f"djangowsgi part [apache], option python-home: {home} is made from the Python in "
        f"/opt/pyenv/versions/3.11.7 but {mod_wsgi} embeds the one in "
        f"/usr: make the virtualenv with /usr/bin/python3")


def test_the_machine_chooses_what_the_options_leave_open_and_buildout_is_told():
    from djangowsgi.apache_site import in_effect
    site = read_site(buildout(), "apache", SITE, machine(cpus=8, euid=1001, login="mysite"))
    assert (site.user, site.group, site.processes, site.systemd_user) == ("mysite", "mysite", 8, "mysite")
    written = in_effect(site)
    assert written["processes"] == "8" and written["user"] == "mysite" and written["threads"] == "10"
    assert written["python-home"] == "/srv/mysite/venv" and written["httpd"] == "/usr/sbin/apache2"
    assert read_site(buildout(), "apache", {**SITE, **written}, machine(cpus=8, euid=1001, login="mysite")) == site
    as_root = read_site(buildout(), "apache", SITE, machine())
    assert (as_root.user, as_root.processes, as_root.systemd_user) == ("www-data", 2, None)


DEPLOY = {"hosts": "deploy@web1.mysite.example", "path": "/srv/mysite"}

DEPLOY_BAD_INPUTS = [
    ({"hosts": None}, "option hosts: is required: [user@]host[:port], one a line"),
    ({"hosts": "root@127.0.0.2:22:33"}, "option hosts: 'root@127.0.0.2:22:33' is not [user@]host[:port]"),
    ({"hosts": "root@127.0.0.2:99999"}, "option hosts: port 99999 in 'root@127.0.0.2:99999' is outside 1-65535"),
    ({"path": None}, "option path: is required"),
    ({"path": "srv/site"}, "option path: 'srv/site' is not an absolute path"),
    ({"path": "/srv/{name}"}, "option path: may hold {host} and no other placeholder"),
    ({"parallel": "0"}, "option parallel: 0 is out of range (from 1 up)"),
    ({"build-parallel": "many"}, "option build-parallel: 'many' is not a whole number"),
    ({"health-url": "localhost:8000/"}, "option health-url: 'localhost:8000/' is not an http:// or https:// URL"),
    ({"health-url": "http://{name}/"}, "option health-url: may hold {host} and no other placeholder"),
    ({"health-timeout": "0"}, "option health-timeout: 0 is out of range (from 1 up)"),
    ({"keep-releases": "0"}, "option keep-releases: 0 is out of range (from 1 up)"),
    ({"buildout-config": "../other.cfg"}, "option buildout-config: '../other.cfg' is not a path inside the checkout"),
    ({"shared-files": "/etc/passwd"}, "option shared-files: '/etc/passwd' is not a path inside the checkout"),
    ({"shared-directories": "var/../.."}, "option shared-directories: 'var/../..' is not a path inside the checkout"),
    ({"host-settings": "listen=1"}, "option host-settings: 'listen=1' is not section:option=value"),
    ({"host-settings": "apache:listen={name}:80"}, "option host-settings: may hold {host} and no other placeholder"),
    ({"ship-eggs": "maybe"}, "option ship-eggs: 'maybe' is not true or false"),
    ({"accept-new-host-keys": "sometimes"}, "option accept-new-host-keys: 'sometimes' is not true or false"),
    ({"identity-file": "id_ed25519"}, "option identity-file: 'id_ed25519' is not an absolute path"),
    ({"balancer-host": "lb.example"}, "option balancer-host: needs balancer: the path of bin/<balancer part> there"),
    ({"balancer": "/srv/lb/bin/balancer", "balancer-host": "lb.example:70000"},
     "option balancer-host: port 70000 in 'lb.example:70000' is outside 1-65535"),
    ({"roles": "deploy@web1.mysite.example web"}, "option roles: 'deploy@web1.mysite.example web' is not HOST = "
                                                  "ROLE ... (roles: web, workers, jobs)"),
    ({"roles": "web2.mysite.example = web"}, "option roles: 'web2.mysite.example' is not one of hosts (write it "
                                             "as hosts does)"),
    ({"roles": "deploy@web1.mysite.example = web cron"}, "option roles: 'cron' (deploy@web1.mysite.example) is "
                                                         "not a role: web, workers, jobs"),
    ({"roles": "deploy@web1.mysite.example = web\ndeploy@web1.mysite.example = jobs"},
     "option roles: deploy@web1.mysite.example is named twice"),
    ({"hosts": "web1\nweb2", "roles": "web1 = web jobs\nweb2 = workers jobs"},
     "option roles: jobs is given to web1, web2: give it to one host, so that each job runs once"),
]


@pytest.mark.parametrize("change, message", DEPLOY_BAD_INPUTS,
                         ids=[f"{m.split(':')[0][7:]}-{i}" for i, (_, m) in enumerate(DEPLOY_BAD_INPUTS)])
def test_deploy_bad_input(change, message):
    options = without({**DEPLOY, **change}, [k for k, v in change.items() if v is None])
    error = error_of(lambda: deploy.Recipe.checked(buildout(parts="deploy"), "deploy", options))
    assert error == f"djangowsgi part [deploy], {message}"


def test_a_balancer_the_deploy_cannot_reach_is_refused_at_install(tmp_path):
    missing = str(tmp_path / "bin" / "balancer")
    recipe = deploy.Recipe.checked(buildout(parts="deploy"), "deploy", {**DEPLOY, "balancer": missing})
    error = error_of(recipe.check_balancer)
    assert error == (f"djangowsgi part [deploy], option balancer: {missing} is not a control script on this machine "
                     f"(the balancer part's bin/<part>, e.g. ${{balancer:script}}; on another machine, give "
                     f"balancer-host too)")
    remote = deploy.Recipe.checked(buildout(parts="deploy"), "deploy",
                                   {**DEPLOY, "balancer": missing, "balancer-host": "deploy@lb.example"})
    remote.check_balancer()  # over SSH: reached when bin/deploy runs, before anything changes


def test_deploy_reads_the_apache_part_it_reloads():
    sections = buildout(parts="apache deploy", apache={"recipe": "djangowsgi:apache",
                                                       "server-name": "www.mysite.example"})
    recipe = deploy.Recipe.checked(sections, "deploy", DEPLOY)
    assert recipe.apache_part == "apache" and recipe.reload == "bin/apache reload"
    assert recipe.health_host == "www.mysite.example"


def test_each_host_serves_the_site_and_runs_the_workers_and_one_host_the_jobs_unless_roles_say():
    hosts = {"hosts": "web1\nweb2\nbatch1"}
    sections = buildout(parts="apache tasks cron deploy", apache={"recipe": "djangowsgi:apache"},
                        tasks={"recipe": "djangowsgi:worker"}, cron={"recipe": "djangowsgi:jobs"})
    recipe = deploy.Recipe.checked(sections, "deploy", {**DEPLOY, **hosts})
    assert (recipe.worker_parts, recipe.jobs_parts) == (["tasks"], ["cron"])
    assert recipe.roles == {"web1": ["web", "workers", "jobs"], "web2": ["web", "workers"],
                            "batch1": ["web", "workers"]}
    recipe = deploy.Recipe.checked(sections, "deploy", {**DEPLOY, **hosts, "roles": "batch1 = jobs workers"})
    assert recipe.roles == {"web1": ["web", "workers"], "web2": ["web", "workers"], "batch1": ["workers", "jobs"]}
    assert error_of(lambda: deploy.Recipe.checked(sections, "deploy", {**DEPLOY, **hosts, "roles": (
        "web1 = workers\nweb2 = workers\nbatch1 = jobs")})) == ("djangowsgi part [deploy], option roles: no host "
                                                                  "has the web role: nothing would serve [apache]")


def test_the_workers_docs_roles_block_gives_the_roles_it_says():
    """docs/workers.rst, "Deploys": the block as written, beside an apache, a worker and a jobs part."""
    text = (REPO / "docs" / "workers.rst").read_text().split("a host not named keeps ``web workers``:", 1)[1]
    block = textwrap.dedent(re.match(r"\n((?:    .*\n|\n)+)", text.split(".. code-block:: ini\n", 1)[1]).group(1))
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(block)
    sections = buildout(parts="apache tasks jobs deploy", apache={"recipe": "djangowsgi:apache"},
                        tasks={"recipe": "djangowsgi:worker"}, jobs={"recipe": "djangowsgi:jobs"})
    recipe = deploy.Recipe.checked(sections, "deploy", dict(parser["deploy"]))
    assert recipe.roles == {"deploy@web1.mysite.example": ["web", "workers"],
                            "deploy@web2.mysite.example": ["web", "workers"],
                            "deploy@batch1.mysite.example": ["workers", "jobs"]}


def test_deploy_asks_the_django_parts_own_script_where_the_site_keeps_its_data():
    sections = buildout(parts="manage deploy", manage={"recipe": "djangowsgi:django", "control-script": "django"})
    assert deploy.Recipe.checked(sections, "deploy", DEPLOY).django_script == "django"
    sections = buildout(parts="manage deploy", manage={"recipe": "djangowsgi:django"})
    assert deploy.Recipe.checked(sections, "deploy", DEPLOY).django_script == "manage"
    assert deploy.Recipe.checked(buildout(parts="deploy"), "deploy", DEPLOY).django_script == ""
    assert "data-on-each-host: 'sometimes' is not true or false" in error_of(
        lambda: deploy.Recipe.checked(buildout(parts="deploy"), "deploy", {**DEPLOY, "data-on-each-host": "sometimes"}))


def test_mod_wsgi_is_found_under_the_name_the_distribution_gives_it(tmp_path):
    assert system.find_mod_wsgi(str(tmp_path)) == str(tmp_path / "mod_wsgi.so")  # named in the error
    (tmp_path / "mod_wsgi_python3.so").write_bytes(b"")  # Fedora's
    assert system.find_mod_wsgi(str(tmp_path)) == str(tmp_path / "mod_wsgi_python3.so")
    (tmp_path / "mod_wsgi.so").write_bytes(b"")  # Debian's
    assert system.find_mod_wsgi(str(tmp_path)) == str(tmp_path / "mod_wsgi.so")


def test_the_machines_accounts_are_looked_up_one_name_at_a_time():
    """As the system's name service gives them (a directory need not list its users)."""
    from djangowsgi.machine import Account, Accounts
    accounts = Accounts()
    assert accounts.user("root") == Account(0, 0) and accounts.user("no-such-user") is None
    assert accounts.group("root") == 0 and accounts.group("no-such-group") is None
    assert accounts.group_name(0) == "root"
