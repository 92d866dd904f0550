"""Upgrading djangowsgi under a served site, from every release in releases.txt
to the working tree, as docs/upgrading.rst says.

For each release: a checkout of it beside the project (``../djangowsgi``, a
develop egg: the releases before 0.2.0 were never packaged), the example built
with it and served by its self-contained Apache, then, under load, the checkout replaced by the working
tree (what ``git checkout`` does), the pin changed, and the doc's commands run.
"""
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILDOUT, DJANGOWSGI_VERSION, DOWNLOADS, EGGS, EXAMPLE, REPO, TEST_ROOT, LoadLoop, \
    copy_world_readable, free_port, versions_section, world_readable_directory
from helpers import example, http_get


def releases():
    found = []
    for line in (REPO / "releases.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            version, commit = line.split()[:2]
            found.append(pytest.param(version, commit, id=version))
    return found


def doc_block(after):
    """The first console block of docs/upgrading.rst after the words ``after``."""
    text = (REPO / "docs" / "upgrading.rst").read_text()
    block = text.split(after, 1)[1].split(".. code-block:: console\n", 1)[1]
    return [line.strip().lstrip("$ ") for line in re.match(r"\n((?:    .*\n|\n)+)", block).group(1).splitlines()
            if line.strip()]


def site_config(version, port):
    """The example as a user of ``version`` builds it: buildout.cfg's parts, served on ``port``."""
    header = (f"[buildout]\ndevelop = ../djangowsgi example\neggs-directory = {EGGS}\n"
              f"download-cache = {DOWNLOADS}\nallow-picked-versions = false\n\n")
    parts = example.parts("django wsgi apache", changes={"apache": {"listen": f"127.0.0.1:{port}", "writable": None}})
    return header + parts + versions_section(djangowsgi=version)


def fetch(port, path):
    """200 for a whole 200 response; the status, or 'truncated', otherwise."""
    status, headers, body = http_get(port, path, host=f"127.0.0.1:{port}")
    length = headers.get("Content-Length")
    if length is not None and int(length) != len(body):
        return (path, "truncated")
    return status if status == 200 else (path, status)


def run(command, cwd):
    result = subprocess.run(command, cwd=cwd, shell=True, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def replace_with_working_tree(checkout):
    """What ``git checkout`` of the new release does to ../djangowsgi."""
    for entry in checkout.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        source, target = REPO / name, checkout / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    subprocess.run(["chmod", "-R", "a+rX", str(checkout)], check=True)


@pytest.mark.parametrize("version,commit", releases())
def test_upgrade_from_a_release_under_load_fails_no_request(version, commit, shared_cache):
    root = world_readable_directory(TEST_ROOT, f"upgrade-{version}-")
    checkout, site = root / "djangowsgi", root / "site"
    checkout.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
    subprocess.run(["chmod", "-R", "a+rX", str(checkout)], check=True)
    site.mkdir()
    copy_world_readable(EXAMPLE, site / "example")
    port = free_port()
    (site / "buildout.cfg").write_text(site_config(version, port))
    try:
        run(f"{BUILDOUT} bootstrap", site)  # bin/buildout, which the doc runs
        run("bin/buildout -N", site)
        run("bin/django migrate --noinput", site)
        run("bin/apache start", site)
        manifest = json.loads((site / "var" / "static" / "staticfiles.json").read_text())
        css = "/static/" + manifest["paths"]["admin/css/base.css"]
        requests = [lambda: fetch(port, "/"), lambda: fetch(port, css)]
        served = {name: os.stat(site / "parts" / name).st_ino for name in ("wsgi", "apache")}

        with LoadLoop(requests, limit=100000, seconds=180, settle=1.0) as upgrade:
            replace_with_working_tree(checkout)
            config = site / "buildout.cfg"
            config.write_text(config.read_text().replace(f"djangowsgi = {version}\n",
                                                         f"djangowsgi = {DJANGOWSGI_VERSION}\n"))
            commands = doc_block("In the buildout's directory")
            assert commands[-1] == "bin/apache reload"
            for command in commands[:-1]:
                run(command, site)
        assert len(upgrade.results) > 50 and upgrade.failures == []
        # The directories the running server reads from were never removed.
        assert served == {name: os.stat(site / "parts" / name).st_ino for name in ("wsgi", "apache")}

        with LoadLoop(requests, limit=100000, seconds=120, settle=1.0) as reload:
            said = run(commands[-1], site)
        # A changed configuration makes reload a graceful restart, which may fail requests
        # with a 503 and nothing else (docs/serving.rst, "The self-contained server": reloading).
        assert all(isinstance(f, tuple) and f[1] == 503 for f in reload.failures), reload.failures
        assert len(reload.failures) < len(reload.results) // 2, reload.failures
        assert "Restarted gracefully" in said or "Reloaded" in said
        status = run("bin/apache status", site)
        assert "answering" in status and "requests served" in status  # the new configuration's mod_status
        assert fetch(port, "/") == 200 and fetch(port, css) == 200
    finally:
        subprocess.run([str(site / "bin" / "apache"), "stop"], cwd=site, capture_output=True)
        if not os.environ.get("DJANGOWSGI_KEEP"):
            shutil.rmtree(root, ignore_errors=True)
