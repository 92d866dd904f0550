"""Several sites on one system Apache (Debian's apache2 and its tools, run in a
private copy of /etc/apache2), each built by its own buildout and served by
daemons running as its own account; and names too long for ps."""
import os
import pwd
import subprocess
import time

import pytest

from conftest import TEST_ROOT, LoadLoop, SystemApache, free_port, make_account, world_readable_directory
from helpers import PID_APP, one_line_error, site_config

ACCOUNTS = {"alpha.example": "djwsgi-alpha", "beta.example": "djwsgi-beta"}


def uid_of_process(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Uid:")).split()[1])


def system_site_config(apache, server_name, **options):
    return site_config(apache.port, {
        "server": "system",
        "apache-confdir": str(apache.confdir),
        "listen": f"*:{apache.port}",
        "server-name": server_name,
        "user": ACCOUNTS.get(server_name, "www-data"),
        "writable": "var/db",
        **options,
    }, environment=f"COLEMAN_ALLOWED_HOSTS={server_name}")


@pytest.fixture(scope="module")
def apache(system_apache):
    for account in ACCOUNTS.values():
        make_account(account)
    yield system_apache
    for account in ACCOUNTS.values():
        subprocess.run(["userdel", "--force", account], capture_output=True)


@pytest.fixture(scope="module")
def sites(apache, new_buildout):
    """alpha.example and beta.example, built by two buildouts, both with the part
    name [apache], enabled with bin/apache install; beta has a stylesheet of its own."""
    built = {}
    for server_name in ACCOUNTS:
        buildout = new_buildout(server_name.split(".")[0])
        lib = buildout.path("lib")
        lib.mkdir()
        (lib / "pidapp.py").write_text(PID_APP)
        if server_name == "beta.example":
            css = buildout.example / "coleman" / "static" / "coleman" / "style.css"
            css.write_text(css.read_text() + "\n/* beta's own */\n")
        buildout.build(system_site_config(apache, server_name))
        buildout.bin("coleman", "migrate", "--noinput")
        result = buildout.bin("apache", "install")
        assert f"Enabled {server_name}" in result.stdout
        built[server_name] = buildout
    yield built
    for buildout in built.values():
        buildout.bin("apache", "uninstall", check=False)


def test_each_site_answers_by_name_from_its_own_account(apache, sites):
    for server_name, account in ACCOUNTS.items():
        status, headers, body = apache.get(server_name)
        assert status == 200 and "Welcome to Coleman" in body
        assert headers["X-Process-Group"] == server_name
        assert uid_of_process(int(headers["X-Pid"])) == pwd.getpwnam(account).pw_uid
        status, _, css = apache.get(server_name, "/static/coleman/style.css")
        assert status == 200 and ("beta's own" in css) == (server_name == "beta.example")
        started = apache.started_daemons(account, sites[server_name].path("parts", "apache", "vhost.conf"))
        status_line = sites[server_name].bin("apache", "status").stdout
        assert "Enabled on the system Apache" in status_line and "answering" in status_line
        assert f"{len(started)} mod_wsgi daemon process(es)" in status_line


def test_the_sites_hide_the_system_apaches_server_status(apache, sites):
    # Debian's status.conf lets local clients see /server-status on every vhost.
    assert (apache.confdir / "mods-enabled" / "status.conf").exists()
    for server_name in ACCOUNTS:
        for path in ("/server-status", "/server-info"):
            status, headers, _ = apache.get(server_name, path)
            assert status == 404 and "X-Pid" not in headers, (server_name, path)


def test_server_scope_is_one_file_shared_by_every_site(apache, sites):
    alpha, beta = (sites[name].path("parts", "apache") for name in ACCOUNTS)
    shared = (apache.confdir / "conf-available" / "djangowsgi.conf").read_text()
    assert (alpha / "wsgi-server.conf").read_text() == (beta / "wsgi-server.conf").read_text() == shared
    assert "WSGISocketPrefix ${APACHE_RUN_DIR}/wsgi" in shared
    assert any(name.startswith("wsgi.") for name in os.listdir(apache.root / "run"))
    for vhost in (alpha / "vhost.conf", beta / "vhost.conf"):
        assert "WSGISocketPrefix" not in vhost.read_text()
    assert not (alpha / "httpd.conf").exists()


def test_reload_of_one_site_leaves_the_other_alone(apache, sites):
    def daemons(name):
        return apache.started_daemons(ACCOUNTS[name], sites[name].path("parts", "apache", "vhost.conf"))
    alpha_before, beta_before = daemons("alpha.example"), daemons("beta.example")

    def page(host):
        return lambda: (host, apache.get(host)[0])
    with LoadLoop([page("alpha.example"), page("beta.example")], limit=4000, seconds=60, settle=0.5) as load:
        result = sites["alpha.example"].bin("apache", "reload")
    assert "Reloaded" in result.stdout and "graceful" not in result.stdout
    assert load.failures == [] and len(load.results) > 20
    assert daemons("beta.example") == beta_before
    alpha_after = daemons("alpha.example")
    assert len(alpha_after) == len(alpha_before) and not alpha_after & alpha_before
    _, headers, _ = apache.get("alpha.example")
    assert int(headers["X-Pid"]) in alpha_after


def test_removing_a_site_leaves_the_other_answering(apache, sites):
    """uninstall, then the buildout's directory gone (moved away, and put back
    and installed again afterwards, for the other tests of this module)."""
    alpha = sites["alpha.example"]
    result = alpha.bin("apache", "uninstall")
    assert "Disabled alpha.example" in result.stdout
    gone = alpha.directory.with_name(alpha.directory.name + "-gone")
    alpha.directory.rename(gone)
    try:
        assert sorted(os.listdir(apache.confdir / "sites-enabled")) == ["beta.example.conf"]
        for _ in range(20):
            status, headers, _ = apache.get("beta.example")
            assert status == 200 and headers["X-Process-Group"] == "beta.example"
        assert sites["beta.example"].bin("apache", "status").returncode == 0
    finally:
        gone.rename(alpha.directory)
        alpha.bin("apache", "install")


# -- names longer than ps shows, on the self-contained server ------------------------

LONG_PART = "apache-long-part-name"
LONG_SERVER_NAME = "www.a-long-site-name.example"


@pytest.fixture(scope="module")
def long_names(new_buildout):
    buildout = new_buildout("long-names")
    lib = buildout.path("lib")
    lib.mkdir()
    (lib / "pidapp.py").write_text(PID_APP)
    port = free_port()
    config = site_config(port, {"server-name": LONG_SERVER_NAME},
                         environment=f"COLEMAN_ALLOWED_HOSTS={LONG_SERVER_NAME}")
    buildout.build(config.replace("[apache]", f"[{LONG_PART}]").replace("coleman wsgi apache",
                                                                          f"coleman wsgi {LONG_PART}"))
    buildout.bin("coleman", "migrate", "--noinput")
    yield buildout
    buildout.bin(LONG_PART, "stop", check=False)


def test_long_part_and_server_names(long_names):
    assert "Started" in long_names.bin(LONG_PART, "start").stdout
    status = long_names.bin(LONG_PART, "status").stdout
    assert "answering" in status and " 0 mod_wsgi" not in status and "daemon process(es)" in status, status
    result = long_names.bin(LONG_PART, "reload")
    assert "Reloaded" in result.stdout and "graceful" not in result.stdout, result.stdout
    pid = int(long_names.path("var", "run", LONG_PART, "httpd.pid").read_text())
    shown = [line.split()[0] for line in subprocess.run(["ps", "-o", "args=", "--ppid", str(pid)],
                                                         capture_output=True, text=True).stdout.splitlines()]
    assert any(name.startswith("(wsgi:www.a~") and name.endswith(")") for name in shown), shown
    long_names.bin(LONG_PART, "stop")


def test_a_process_group_in_use_is_refused_at_build_time(apache, sites, long_names):
    """The third buildout: long_names, now for the system Apache."""
    long_names.write(system_site_config(apache, "gamma.example", **{"process-group": "beta.example"}))
    error = one_line_error(long_names.run(check=False))
    assert "djangowsgi part [apache], option process-group: 'beta.example' is already the process group" in error
    assert "sites-enabled/beta.example.conf" in error


# -- a site installed while the system Apache is stopped ----------------------------

def test_sites_installed_on_a_stopped_apache_reload_alone_after_it_starts(new_buildout):
    """Installed while Apache is stopped (as on a new machine, or during a
    maintenance window): once Apache runs, a reload of one site restarts that
    site's daemons alone, not every site's through a graceful restart."""
    server = SystemApache(world_readable_directory(TEST_ROOT, "stopped-apache-"))
    for account in ACCOUNTS.values():
        make_account(account)
    buildout = new_buildout("stopped-apache")
    lib = buildout.path("lib")
    lib.mkdir()
    (lib / "pidapp.py").write_text(PID_APP)
    names = list(ACCOUNTS)

    def part(server_name):
        return {"server": "system", "apache-confdir": str(server.confdir), "listen": f"*:{server.port}",
                "server-name": server_name, "user": ACCOUNTS[server_name]}
    config = site_config(server.port, part(names[0]), parts="coleman wsgi apache apache2",
                         environment="COLEMAN_ALLOWED_HOSTS=" + ",".join(names))
    second = config.split("[apache]\n", 1)[1].replace(names[0], names[1]).replace(ACCOUNTS[names[0]],
                                                                                   ACCOUNTS[names[1]])
    try:
        buildout.build(config + "\n[apache2]\n" + second)
        buildout.bin("coleman", "migrate", "--noinput")
        for script in ("apache", "apache2"):
            assert "the system Apache is not running" in buildout.bin(script, "install").stdout
        server.ctl("start")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (server.root / "run" / "apache2.pid").exists():
            time.sleep(0.1)
        server.started_daemons(ACCOUNTS[names[0]], buildout.path("parts", "apache", "vhost.conf"))
        others = server.started_daemons(ACCOUNTS[names[1]], buildout.path("parts", "apache2", "vhost.conf"))
        assert server.get(names[1])[0] == 200

        def page(host):
            return lambda: (host, server.get(host)[0])
        with LoadLoop([page(names[0]), page(names[1])], limit=4000, seconds=60, settle=0.5) as load:
            result = buildout.bin("apache", "reload")
        assert "Reloaded" in result.stdout and "graceful" not in result.stdout, result.stdout
        assert load.failures == [] and len(load.results) > 20
        assert server.started_daemons(ACCOUNTS[names[1]], buildout.path("parts", "apache2", "vhost.conf")) == others
    finally:
        server.stop_and_remove()
        for account in ACCOUNTS.values():
            subprocess.run(["userdel", "--force", account], capture_output=True)
