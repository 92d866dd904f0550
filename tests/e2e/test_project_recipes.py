"""djangowsgi:django and djangowsgi:wsgi, run through a real bin/buildout."""
import os
import shutil
import subprocess
import sysconfig

import pytest

from conftest import REPO, call_wsgi
from helpers import one_line_error, section, snapshot

def example_parts(coleman=None, wsgi=None, parts="coleman wsgi", environment=""):
    """The example's parts; ``coleman`` and ``wsgi`` override or add options (None drops one)."""
    project = {
        "eggs": "coleman",
        "settings": "coleman.settings",
        "environment": "\n" + "COLEMAN_VAR_DIR=${buildout:directory}/var\n" + environment,
    }
    common = {key: f"${{project:{key}}}" for key in project}
    return (
        section("buildout", {"parts": parts})
        + section("project", project)
        # The example's production settings hash static file names: its page needs the manifest.
        + section("coleman", {"recipe": "djangowsgi:django", **common, "collectstatic": "true", **(coleman or {})})
        + section("wsgi", {"recipe": "djangowsgi:wsgi", **common, **(wsgi or {})})
    )


@pytest.fixture
def example(buildout):
    buildout.build(example_parts())
    return buildout


def test_manage_script_runs_management_commands(example):
    assert "System check identified no issues" in example.bin("coleman", "check").stdout
    example.bin("coleman", "migrate", "--noinput")
    assert example.path("var", "db", "db.sqlite3").exists()
    unknown = example.bin("coleman", "no-such-command", check=False)
    assert unknown.returncode == 1 and "Unknown command" in unknown.stderr


def test_wsgi_script_serves_from_a_python_without_buildout(example):
    example.bin("coleman", "migrate", "--noinput")
    script = example.path("parts", "wsgi", "wsgi.wsgi")
    status, body, path = call_wsgi(script)
    assert status == "200 OK"
    assert "Welcome to Coleman" in body
    baked = [p for p in path if str(example.directory) in p or "/eggs/" in p or p.startswith(str(REPO))]
    assert any("Django-5.2.19" in p for p in baked)
    assert not any("zc.buildout" in p or "zc_buildout" in p for p in path)
    assert str(REPO / "src") not in path
    assert sysconfig.get_paths()["purelib"] not in path


def test_wsgi_directory_holds_the_script_alone(example):
    assert os.listdir(example.path("parts", "wsgi")) == ["wsgi.wsgi"]
    assert example.path("parts", "wsgi", "wsgi.wsgi").stat().st_mode & 0o777 == 0o644


def test_wsgi_script_loaded_twice_puts_each_path_once(example):
    example.bin("coleman", "migrate", "--noinput")
    script = example.path("parts", "wsgi", "wsgi.wsgi")
    _, _, path = call_wsgi(script, extra_code=f"runpy.run_path({str(script)!r})")
    assert len(path) == len(set(path))
    django = [p for p in path if "Django-5.2.19" in p]
    assert len(django) == 1 and path.index(django[0]) < 5


def test_settings_are_assigned_not_defaulted(example):
    example.bin("coleman", "migrate", "--noinput")
    env = {"DJANGO_SETTINGS_MODULE": "some.other.site.settings"}
    status, body, _ = call_wsgi(example.path("parts", "wsgi", "wsgi.wsgi"), environ=env)
    assert status == "200 OK" and "Welcome to Coleman" in body


def test_second_run_rewrites_nothing(example):
    files = [example.path("bin", "coleman"), example.path("parts", "wsgi", "wsgi.wsgi")]
    before = snapshot(*files)
    result = example.run()
    assert "Installing" not in result.stdout + result.stderr
    assert snapshot(*files) == before


def test_removing_parts_removes_their_files(example):
    example.build(example_parts(parts=""))
    assert not example.path("bin", "coleman").exists()
    assert not example.path("parts", "wsgi").exists()


def test_exports_script_directory_and_python_path(example):
    example.build(example_parts(parts="coleman wsgi show") + section("show", {
        "recipe": "djangowsgi:django",
        "eggs": "coleman",
        "settings": "coleman.settings",
        "initialization": "# ${coleman:script} ${wsgi:script} ${wsgi:directory}\npaths_of_wsgi = '''${wsgi:python-path}'''",
    }))
    show = example.path("bin", "show").read_text()
    assert f"# {example.path('bin', 'coleman')} {example.path('parts', 'wsgi', 'wsgi.wsgi')} {example.path('parts', 'wsgi')}" in show
    assert "Django-5.2.19" in show.split("paths_of_wsgi")[1]


def test_wsgi_part_may_point_at_the_projects_own_application(example):
    example.build(example_parts(wsgi={"application": "coleman.wsgi:application"}))
    script = example.path("parts", "wsgi", "wsgi.wsgi")
    assert "from coleman.wsgi import application as application" in script.read_text()
    example.bin("coleman", "migrate", "--noinput")
    status, body, _ = call_wsgi(script)
    assert status == "200 OK" and "Welcome to Coleman" in body


def test_wsgi_part_may_use_other_settings_than_the_manage_script(example):
    settings = example.path("lib", "wsgisettings.py")
    settings.parent.mkdir()
    settings.write_text("from coleman.settings import *\nALLOWED_HOSTS = ['only.example']\n")
    example.build(example_parts(wsgi={"settings": "wsgisettings", "extra-paths": "lib"}))
    example.bin("coleman", "migrate", "--noinput")
    status, _, _ = call_wsgi(example.path("parts", "wsgi", "wsgi.wsgi"))
    assert status.startswith("400")  # Host "localhost" is refused by the WSGI part's settings only.
    assert example.bin("coleman", "check").returncode == 0


QUOTED = "it's \"quoted\" \\n ''' + __import__('os').getcwd() + ''' $HOME %(x)s"


def test_environment_initialization_and_extra_paths(example):
    lib = example.path("lib")
    lib.mkdir()
    (lib / "sitehook.py").write_text("VALUE = 'from extra-paths'\n")
    initialization = {
        "extra-paths": "lib",
        "initialization": "\nimport sitehook\nos.environ['HOOK'] = sitehook.VALUE + ' / ' + os.environ['QUOTED']",
    }
    example.build(example_parts(coleman=initialization, wsgi=initialization, environment="QUOTED=" + QUOTED))
    expected = "from extra-paths / " + QUOTED
    result = example.bin("coleman", "shell", "-c", "import os; print(os.environ['HOOK'])")
    assert result.stdout.strip().splitlines()[-1] == expected
    example.bin("coleman", "migrate", "--noinput")
    status, body, _ = call_wsgi(
        example.path("parts", "wsgi", "wsgi.wsgi"),
        extra_code="import atexit, os; atexit.register(lambda: print('HOOK=' + os.environ['HOOK']))",
    )
    assert status == "200 OK"
    assert body.rstrip("\n").splitlines()[-1] == "HOOK=" + expected  # printed as the WSGI half's Python ends


def test_collectstatic(example):
    # The example part collects at each build: the fixture's build did.
    assert example.path("var", "static", "coleman", "style.css").exists()
    assert example.path("var", "static", "admin", "css", "base.css").exists()
    added = example.example / "coleman" / "static" / "coleman" / "added.css"
    added.write_text("p { color: teal; }\n")
    os.chmod(added, 0o644)
    example.run()  # options unchanged: the part's update collects the new file
    assert example.path("var", "static", "coleman", "added.css").read_text() == "p { color: teal; }\n"


def test_relative_paths_let_the_buildout_move(example):
    lib = example.path("lib")
    lib.mkdir()
    (lib / "sitehook.py").write_text("WHERE = __file__\n")
    hook = {"extra-paths": "lib", "initialization": "import sitehook; print(sitehook.WHERE)"}
    example.build(example_parts(coleman=hook, wsgi=hook), buildout_options="relative-paths = true\n")
    for script in (example.path("bin", "coleman"), example.path("parts", "wsgi", "wsgi.wsgi")):
        assert "os.path.join(base, 'lib')" in script.read_text()
    moved = example.directory.with_name(example.directory.name + "-moved")
    shutil.copytree(example.directory, moved, symlinks=True)
    try:
        shutil.rmtree(lib)
        result = subprocess.run([str(moved / "bin" / "coleman"), "check"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == str(moved / "lib" / "sitehook.py")
    finally:
        shutil.rmtree(moved)


# Every bad input is a unit test (tests/unit/test_options.py); these show that the
# line reaches the user through bin/buildout and that the last good files stay.
BAD_INPUTS = [
    ("wsgi", dict(wsgi={"settings": None}), "option settings: is required"),
    ("coleman", dict(coleman={"collectstatic": "maybe"}), "option collectstatic: 'maybe' is not true or false"),
]


@pytest.mark.parametrize("part, change, message", BAD_INPUTS, ids=[m.split(":")[0][7:] for _, _, m in BAD_INPUTS])
def test_bad_input_is_one_line_and_keeps_the_last_good_files(example, part, change, message):
    files = [example.path("bin", "coleman"), example.path("parts", "wsgi", "wsgi.wsgi")]
    before = snapshot(*files)
    example.write(example_parts(**change))
    error = one_line_error(example.run(check=False))
    assert f"djangowsgi part [{part}]" in error and message in error, error
    assert snapshot(*files) == before
