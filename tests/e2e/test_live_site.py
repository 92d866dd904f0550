"""A site being served while buildout runs again: static files never change under
it, a failed run leaves the last good server, secrets stay private, and the
daemon can write what it must (built as root)."""
import grp
import hashlib
import http.client
import os
import re
import stat
import urllib.parse

import pytest

from conftest import LoadLoop, free_port
from helpers import PID_APP, Site, one_line_error, site_config, snapshot

SECRET = "s3cret-value-7f2a9c"
SECRET_APP = PID_APP + '''

_inner = application


def application(environ, start_response):
    """Also tells a digest of the secret, so a test sees that the site got it."""
    import hashlib
    digest = hashlib.sha256(os.environ.get("COLEMAN_TEST_SECRET", "").encode()).hexdigest()

    def start(status, headers, exc_info=None):
        return start_response(status, list(headers) + [("X-Secret-Digest", digest)], exc_info)
    return _inner(environ, start)
'''


class LiveSite(Site):
    """The example with an environment-file of secrets and writable directories."""

    def __init__(self, buildout, port):
        secrets = buildout.path("secrets.env")
        secrets.write_text(f"# secrets of the site\nDJANGO_SECRET_KEY='{SECRET}-key'\n"
                           f"export COLEMAN_TEST_SECRET={SECRET}\n")
        os.chown(secrets, 0, grp.getgrnam("www-data").gr_gid)
        os.chmod(secrets, 0o640)
        self.secrets = secrets
        super().__init__(buildout, port, self.apache_options())

    @staticmethod
    def apache_options(**more):
        return {"writable": "var/db var/media", **more}

    def config(self, **apache):
        text = site_config(self.port, self.apache_options(**apache))
        return text.replace("[coleman]\n", f"[coleman]\nenvironment-file = {self.secrets}\n").replace(
            "[wsgi]\n", f"[wsgi]\nenvironment-file = {self.secrets}\n")

    def build(self, check=True, **apache):
        self.buildout.write(self.config(**apache))
        return self.buildout.run(check=check)


@pytest.fixture(scope="module")
def live(new_buildout):
    site = LiveSite(new_buildout("live-site"), free_port())
    site.buildout.path("lib", "pidapp.py").write_text(SECRET_APP)
    site.build()  # now with the environment file
    site.ctl("start")
    yield site
    site.ctl("stop", check=False)


def stylesheet_url(site):
    status, _, body = site.get("/")
    assert status == 200
    return re.search(r'href="(/static/coleman/style\.[0-9a-f]{12}\.css)"', body).group(1)


def served_files(site):
    """(path, inode, size, mtime) of every file the current collect serves."""
    root = os.path.realpath(site.buildout.path("var", "static"))
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            st = os.stat(os.path.join(directory, name))
            found[os.path.join(directory, name)] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return found


def test_static_names_are_hashed_and_served_by_apache(live):
    url = stylesheet_url(live)
    status, headers, body = live.get(url)
    assert status == 200 and "X-Pid" not in headers and "body" in body
    assert os.path.islink(live.buildout.path("var", "static"))


def test_rebuild_under_load_changes_no_served_file(live):
    url = stylesheet_url(live)
    css_path = live.buildout.path("var", "static") / url[len("/static/"):]
    expected = hashlib.sha256(css_path.read_bytes()).hexdigest()

    def stylesheet():
        status, _, body = live.get(url)
        return status if hashlib.sha256(body.encode()).hexdigest() == expected else f"{status} {len(body)} bytes"

    def page():
        status, _, body = live.get("/")
        return status if "Welcome to Coleman" in body else f"{status} wrong body"

    before = served_files(live)
    with LoadLoop([page], seconds=20) as pages, LoadLoop([stylesheet], seconds=20) as sheets:
        result = live.buildout.run()  # nothing changed: nothing is collected
        assert "Static files unchanged" in result.stdout + result.stderr
        assert served_files(live) == before
        # A source file touched: a new collect, into a new directory.
        source = live.buildout.example / "coleman" / "static" / "coleman" / "style.css"
        os.utime(source)
        result = live.buildout.run()
        assert "Collected" in result.stdout + result.stderr
    assert len(pages.results) > 5 and len(sheets.results) > 5
    assert pages.failures == [] and sheets.failures == []
    # The files served before were neither rewritten nor removed; new ones serve now.
    for path, identity in before.items():
        st = os.stat(path)
        assert (st.st_ino, st.st_size, st.st_mtime_ns) == identity, path
    assert set(served_files(live)).isdisjoint(before)


def test_an_old_pages_stylesheet_outlives_a_change(live):
    old_url = stylesheet_url(live)
    source = live.buildout.example / "coleman" / "static" / "coleman" / "style.css"
    original = source.read_text()
    try:
        source.write_text(original + "\nh1 { color: teal; }\n")
        live.buildout.run()
        live.ctl("reload")  # the daemons read the new manifest
        new_url = stylesheet_url(live)
        assert new_url != old_url
        assert live.get(new_url)[0] == 200 and "teal" in live.get(new_url)[2]
        assert live.get(old_url)[0] == 200 and "teal" not in live.get(old_url)[2]
    finally:
        source.write_text(original)
        live.buildout.run()
        live.ctl("reload")


def server_files(site):
    b = site.buildout
    return [b.path("parts", "apache", "vhost.conf"), b.path("parts", "apache", "httpd.conf"),
            b.path("bin", "apache"), b.path("parts", "wsgi", "wsgi.wsgi"), b.path("bin", "coleman")]


@pytest.mark.parametrize("change, message", [
    ({"aliases": "/static/ ${buildout:directory}/var/static/\n/media/ ${buildout:directory}/var/nothere/"},
     "option aliases: directory"),
    ({"extra": "NoSuchDirective on"}, "apache configtest failed"),
], ids=["missing-alias-directory", "configtest"])
def test_failed_rebuild_leaves_the_running_server_in_control(live, change, message):
    before = snapshot(*server_files(live))
    error = one_line_error(live.build(check=False, **change))
    assert message in error, error
    assert snapshot(*server_files(live)) == before
    status = live.ctl("status")
    assert "answering" in status.stdout
    _, headers, _ = live.get("/")
    with LoadLoop([lambda: live.get("/")[0]], settle=0.2) as load:
        assert "Reloaded" in live.ctl("reload").stdout
    assert load.failures == []
    assert live.get("/")[1]["X-Pid"] != headers["X-Pid"]
    live.build()  # the next good run: as if nothing had happened
    assert snapshot(*server_files(live)) == before


def test_secret_reaches_the_site_and_no_file_others_can_read(live):
    _, headers, _ = live.get("/")
    assert headers["X-Secret-Digest"] == hashlib.sha256(SECRET.encode()).hexdigest()
    shell = live.buildout.bin("coleman", "shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    assert shell.stdout.strip().splitlines()[-1] == f"{SECRET}-key"
    leaked = []
    for directory, _, files in os.walk(live.buildout.directory):
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.stat(path).st_mode & stat.S_IROTH:
                continue
            with open(path, "rb") as f:
                if SECRET.encode() in f.read():
                    leaked.append(path)
    assert leaked == []


def test_secret_in_environment_is_warned_about(live):
    live.buildout.write(live.config().replace("COLEMAN_VAR_DIR=", "API_TOKEN=abc\n    COLEMAN_VAR_DIR="))
    try:
        result = live.buildout.run()
        assert "option environment: API_TOKEN looks like a secret" in result.stdout + result.stderr
    finally:
        live.build()


@pytest.mark.parametrize("mode, message", [(0o644, "is open to every account on this machine (mode 0644)"),
                                           (None, "No such file or directory")])
def test_bad_environment_file_is_refused(live, mode, message):
    before = snapshot(*server_files(live))
    bad = live.buildout.path(f"bad-{mode}.env")
    if mode is not None:
        bad.write_text("KEY=value\n")
        os.chmod(bad, mode)
    live.buildout.write(live.config().replace(str(live.secrets), str(bad)))
    try:
        error = one_line_error(live.buildout.run(check=False))
        assert "option environment-file:" in error and message in error, error
        assert snapshot(*server_files(live)) == before
    finally:
        live.build()


def test_migrate_as_root_then_the_daemon_writes_the_database(live):
    """Built and migrated as root; the admin login (a POST that writes the
    session and last_login through the daemon, as www-data) succeeds."""
    assert os.geteuid() == 0, "the tests run as root, as CI does"
    db = live.buildout.path("var", "db", "db.sqlite3")
    live.buildout.bin("coleman", "shell", "-c", "from django.contrib.auth.models import User\n"
                      "User.objects.filter(username='admin').delete()\n"
                      "User.objects.create_superuser('admin', 'a@example.com', 'pw-for-test')")
    os.chown(db, 0, 0)  # as a root migrate leaves a new database
    live.ctl("reload")  # start, graceful and reload give writable directories to the daemon
    www = grp.getgrnam("www-data").gr_gid
    assert os.stat(db).st_gid == www and os.stat(live.buildout.path("var", "media")).st_gid == www
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=20)
    connection.request("GET", "/admin/login/", headers={"Host": "localhost"})
    response = connection.getresponse()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie")).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode()).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "admin", "password": "pw-for-test",
                                   "next": "/admin/"})
    connection.request("POST", "/admin/login/", body=form, headers={
        "Host": "localhost", "Cookie": f"csrftoken={cookie}", "Referer": f"http://localhost:{live.port}/admin/login/",
        "Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 302 and response.getheader("Location") == "/admin/", response.status


def test_writable_may_not_hold_the_code(live):
    error = one_line_error(live.build(check=False, writable="."))
    assert "option writable:" in error and "holds the site's code" in error
    live.build()


def test_removing_the_parts_removes_their_files(new_buildout):
    site = Site(new_buildout("live-remove"), free_port())
    site.buildout.write(site_config(site.port, parts="coleman"))
    site.buildout.run()
    assert not site.buildout.path("parts", "apache").exists() and not site.buildout.path("bin", "apache").exists()
    assert not site.buildout.path("parts", "wsgi").exists()
    assert site.buildout.path("bin", "coleman").exists()
