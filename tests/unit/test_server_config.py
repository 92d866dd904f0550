"""The contract between the build and bin/<part>: ServerConfig, read back from
the scripts this release writes (the golden bin-apache files) and from those
that older releases wrote (golden/control-scripts/, each written by that
release's own code, or for 0.1.0.dev0 as its render_control_script wrote it)."""
import ast
import dataclasses
import os

import pytest

from djangowsgi.runtime import apachectl, server
from djangowsgi.runtime.server_config import CONFIG_VERSION, DaemonGroup, ServerConfig
from layout import REPO

GOLDEN = REPO / "tests" / "unit" / "golden"


def script_values(path):
    """The SERVER dict of a generated bin/<part>, read as the script would."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SERVER":
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path} has no SERVER")


TODAY = sorted(GOLDEN.glob("apache-*/bin-apache"))


@pytest.mark.parametrize("path", TODAY, ids=[p.parent.name for p in TODAY])
def test_todays_scripts_read_back_whole(path):
    values = script_values(path)
    config = ServerConfig.from_script(values)
    assert config.version == CONFIG_VERSION
    assert config.to_script() == values
    assert config.system == (path.parent.name == "apache-system")
    assert config.processes == (sum(group.processes for group in config.groups) if config.mode == "daemon" else 0)


def test_a_0_1_0_self_contained_script():
    config = ServerConfig.from_script(script_values(GOLDEN / "control-scripts" / "0.1.0-self-contained"))
    assert config.version == 1 and not config.system
    assert config.groups == (DaemonGroup("www.mysite.example", 2, "(wsgi:www.m~4483)"),
                             DaemonGroup("www.mysite.example-bodies", 1, "(wsgi:www.m~791b)"))
    assert config.status_url == "http://127.0.0.1:18000/server-status"
    assert (config.md_status_url, config.managed_domains, config.certificate_scripts) == (None, (), ())
    assert config.config_directory == "/srv/mysite/parts/apache"


def test_a_0_1_0_system_script():
    config = ServerConfig.from_script(script_values(GOLDEN / "control-scripts" / "0.1.0-system"))
    assert config.system and config.site == "www.mysite.example"
    assert config.modules[0] == "wsgi" and config.writable == ("/srv/mysite/var/db", "/srv/mysite/var/media")
    assert (config.certificate_scripts, config.scripts_directory) == ((), "")  # written by 0.2.0 alone


def test_a_0_1_0_dev0_script():
    config = ServerConfig.from_script(script_values(GOLDEN / "control-scripts" / "0.1.0.dev0-self-contained"))
    assert config.version == 0 and config.server == "self-contained"
    assert config.groups == (DaemonGroup("apache", 2, "(wsgi:apache)"),)
    assert config.run_directory == "/srv/mysite/var/run/apache"
    assert config.config_directory == "/srv/mysite/parts/apache"
    assert (config.writable, config.user) == ((), "")


@pytest.mark.parametrize("kind", ["apache-default", "apache-system"])
def test_a_script_of_a_newer_release_is_refused_in_one_line(kind, capsys):
    from djangowsgi.runtime import system_apache
    values = {**script_values(GOLDEN / kind / "bin-apache"), "config_version": CONFIG_VERSION + 1}
    with pytest.raises(ValueError, match="written by a newer djangowsgi"):
        ServerConfig.from_script(values)
    runtime = system_apache if kind == "apache-system" else apachectl
    assert runtime.main(values, ["status"]) == 2
    assert capsys.readouterr().err == (f"bin/<part> was written by a newer djangowsgi (config version "
                                       f"{CONFIG_VERSION + 1}): run bin/buildout again\n")


def test_a_0_1_0_system_script_reaches_the_system_apaches_commands(capsys):
    """0.1.0 wrote bin/<part> of a system site to call apachectl too."""
    values = script_values(GOLDEN / "control-scripts" / "0.1.0-system")
    assert apachectl.main(values, ["no-such-command"]) == 2
    assert "This site is served by the system Apache (/etc/apache2)" in capsys.readouterr().err


def test_called_through_a_link_the_paths_follow_the_link(tmp_path, monkeypatch):
    """bin/apache called as /srv/site/current/bin/apache runs current's httpd.conf
    (server.as_called), whatever release current leads to."""
    release = tmp_path / "releases" / "r1"
    (release / "bin").mkdir(parents=True)
    (tmp_path / "current").symlink_to(release)
    config = dataclasses.replace(ServerConfig.from_script(script_values(GOLDEN / "apache-default" / "bin-apache")),
                                 directory=str(release), config=f"{release}/parts/apache/httpd.conf",
                                 writable=(f"{release}/var/db",))
    monkeypatch.chdir(tmp_path / "current")
    monkeypatch.setenv("PWD", str(tmp_path / "current"))
    seen = server.as_called(config, "bin/apache")
    assert seen.config == f"{tmp_path}/current/parts/apache/httpd.conf"
    assert seen.writable == (f"{tmp_path}/current/var/db",)
    assert seen.directory == str(release) and seen.url == config.url
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PWD", str(tmp_path))
    assert server.as_called(config, os.path.join("elsewhere", "bin", "apache")) == config
