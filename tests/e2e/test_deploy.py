"""djangowsgi:deploy against real sshd servers on 127.0.0.2-4, each host with its
own base directory and its own self-contained Apache on its own address
(tools/support/sshd.py): what only real hosts show, under load where it
matters. The deploy's rules (order, parallel, health and rollback, pruning,
the summary) are tests/unit/test_deploy_rules.py's."""
import configparser
import os
import re
import shutil
import signal
import subprocess
import textwrap
import time
import types
import urllib.request

import pytest

from conftest import (BUILDOUT, DJANGO, DJANGOWSGI_VERSION, DOWNLOADS, EGGS, REPO, TEST_ROOT, LoadLoop, free_port,
                      world_readable_directory)
from helpers import doc_block, one_line_error
from support.postgres import PostgresServer
from support.sshd import ADDRESSES, Project, started_hosts

BALANCER_DOC = REPO / "docs" / "balancer.rst"


@pytest.fixture(scope="module")
def test_hosts():
    hosts = started_hosts()
    yield hosts
    hosts.stop()
    if not os.environ.get("DJANGOWSGI_KEEP"):
        shutil.rmtree(hosts.root, ignore_errors=True)


def page(test_hosts, address):
    with urllib.request.urlopen(test_hosts.url(address), timeout=20) as response:
        return response.status, response.read().decode()


def heading(test_hosts, address):
    body = page(test_hosts, address)[1]
    return body[body.index("<h1>") + 4:body.index("</h1>")]


def current_release(test_hosts, address):
    return os.path.basename(os.readlink(test_hosts.base(address) / "current"))


@pytest.fixture(scope="module")
def database(test_hosts):
    """The PostgreSQL server the three hosts share (one site's data on many hosts)."""
    server = PostgresServer(test_hosts.root, free_port())
    server.make_database("coleman", "coleman-test")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def project(test_hosts, database):
    directory = world_readable_directory(TEST_ROOT, "deploy-project-")
    project = Project(test_hosts, directory, database=database)
    assert (directory / "bin" / "deploy").exists()
    yield project
    if not os.environ.get("DJANGOWSGI_KEEP"):
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def first_deploy(project, test_hosts):
    """The first deploy to the three new hosts: its output and each host's page
    right after it, for the test that reads them."""
    result = project.deploy("deploy")
    return result, {a: page(test_hosts, a) for a in ADDRESSES}


@pytest.fixture
def deployed(project, first_deploy):
    """Every host serving a release of the project, whatever test ran before: the
    tests of this module run in any order (``pytest -p random_order``, ``--reverse``)."""
    return project


def test_deploy_to_three_hosts(project, test_hosts, first_deploy, database):
    result, pages = first_deploy
    for address in ADDRESSES:
        assert f"[root@{address}:{test_hosts.ssh_port}] switched current to" in result.stdout
        status, body = pages[address]
        assert status == 200 and "Welcome to Coleman" in body
    # One database for the three hosts, migrated once, by the release step on one host.
    assert result.stdout.count("release step: running bin/django migrate --noinput") == 1
    assert re.search(r"\nRelease step on root@127\.0\.0\.2:\d+: bin/django migrate --noinput: ", result.stdout)
    assert int(database.psql("SELECT count(*) FROM django_migrations", "coleman")) > 10
    # Nothing came from an index: the eggs were shipped, and buildout got none.
    assert "Got " not in result.stdout
    for address in ADDRESSES:
        shipped = re.search(rf"\[root@{address}:\d+\] shipping \d+ egg\(s\): (.*)", result.stdout).group(1)
        assert f"Django-{DJANGO}-" in shipped and "fabric" not in shipped.lower()
        venvs = os.listdir(test_hosts.base(address) / "shared" / "buildout")
        assert len(venvs) == 1
    status = project.deploy("status")
    assert status.stdout.count("healthy") == 3 and "NOT healthy" not in status.stdout
    assert status.stdout.count(f"(djangowsgi {DJANGOWSGI_VERSION})") == 3, status.stdout
    # Each host's worker, started on the release; the jobs' timers on the first host only.
    for n, address in enumerate(ADDRESSES):
        host = f"root@{address}:{test_hosts.ssh_port}"
        assert f"[{host}] restarting the workers of [tasks] on the new release" in result.stdout
        release = test_hosts.base(address) / "releases" / current_release(test_hosts, address)
        assert re.search(rf"\[{re.escape(host)}\]   \[tasks\] supervisor pid \d+, 1 worker\(s\) of "
                         rf"{release}/parts/tasks/worker:", status.stdout), status.stdout
        assert f"[{host}] current" in status.stdout and ("; roles: web workers jobs" if n == 0 else
                                                         "; roles: web workers") in status.stdout
        scheduled = run_in_current(test_hosts, address, "jobs", "run", "clearsessions", "--scheduled")
        if n == 0:
            assert "[jobs] job clearsessions ended with 0" in scheduled
        else:
            assert ("[jobs] job clearsessions not run: scheduled runs are disabled on this host (bin/deploy gives the "
                    f"jobs role to root@{ADDRESSES[0]}:{test_hosts.ssh_port})") in scheduled


def run_in_current(test_hosts, address, part, *args):
    """bin/<part> of the host's current release, run as the timers and the deploy run it."""
    return subprocess.run([str(test_hosts.base(address) / "current" / "bin" / part), *args], capture_output=True,
                          text=True, check=True, cwd=test_hosts.base(address) / "current").stdout


def ran(database):
    """{word: [(host, release)]} of every task the workers ran."""
    rows = database.psql("SELECT word, host, release FROM deploytasks_ran", "coleman")
    runs = {}
    for line in rows.splitlines():
        if line.strip():
            word, host, release = line.split("|")
            runs.setdefault(word, []).append((host, release))
    return runs


# Every bad input is a unit test (tests/unit/test_options.py); this one shows the
# line reaching the user through bin/buildout.
BAD_INPUTS = [
    ({"hosts": "root@127.0.0.2:22:33"}, "option hosts: 'root@127.0.0.2:22:33' is not [user@]host[:port]"),
]


@pytest.mark.parametrize("options, message", BAD_INPUTS, ids=[m.split(":")[0][7:] + str(i)
                                                              for i, (_, m) in enumerate(BAD_INPUTS)])
def test_bad_input_fails_at_build_time(project, test_hosts, options, message):
    deploy = project.directory / "bin" / "deploy"
    before = (deploy.stat().st_mtime_ns, deploy.read_text())
    try:
        error = one_line_error(project.configure(test_hosts, options))
        assert (deploy.stat().st_mtime_ns, deploy.read_text()) == before
    finally:
        project.configure(test_hosts)
    assert "djangowsgi part [deploy]" in error and message in error, error


def stylesheet_of(test_hosts, address):
    body = page(test_hosts, address)[1]
    return re.search(r'href="(/static/coleman/style\.[0-9a-f]{12}\.css)"', body).group(1)


def fetch(test_hosts, address, path):
    with urllib.request.urlopen(test_hosts.url(address, path), timeout=20) as response:
        return response.status, response.read().decode()


def test_pin_change_ships_the_one_new_egg(deployed, test_hosts):
    project = deployed
    built = project.configure(test_hosts, sqlparse="0.6.0")  # here, with an index: fetches sqlparse 0.6.0
    assert built.returncode == 0, built.stdout + built.stderr
    project.commit("sqlparse 0.6.0")
    try:
        result = project.deploy("deploy")
        for address in ADDRESSES:
            assert re.search(rf"\[root@{address}:\d+\] shipping 1 egg\(s\): sqlparse-0.6.0-", result.stdout)
            sys_path = (test_hosts.base(address) / "current" / "parts" / "wsgi" / "wsgi.wsgi").read_text()
            assert "/sqlparse-0.6.0-" in sys_path and "/sqlparse-0.6.1-" not in sys_path
            assert page(test_hosts, address)[0] == 200
        assert "Got " not in result.stdout
    finally:
        project.configure(test_hosts)
        project.commit("sqlparse 0.6.1 again")


def test_a_failed_release_step_leaves_every_host_on_its_release(deployed, test_hosts, database):
    """The migration of the shared database fails on the host it runs on (once):
    no host switches, and the new release is gone from each."""
    project = deployed
    before = {address: current_release(test_hosts, address) for address in ADDRESSES}
    releases = {address: sorted(os.listdir(test_hosts.base(address) / "releases")) for address in ADDRESSES}
    built = project.configure(test_hosts, deploy={"release-step": "bin/django migrate --noinput\n"
                                                                  "bin/django migrate coleman 9999"})
    assert built.returncode == 0, built.stdout + built.stderr
    project.commit("a release step that fails")
    try:
        result = project.deploy("deploy", check=False)
        assert result.returncode == 1
        assert result.stdout.count("release step: running bin/django migrate coleman 9999") == 1
        assert "Nothing was switched: could not run the release step: exit 1: " in result.stdout, result.stdout
        for address in ADDRESSES:
            assert current_release(test_hosts, address) == before[address]
            assert sorted(os.listdir(test_hosts.base(address) / "releases")) == releases[address]
            assert f"not switched, still on {before[address]}" in result.stdout
            assert page(test_hosts, address)[0] == 200
    finally:
        project.configure(test_hosts)
        project.commit("the release step as it was")


def test_a_host_with_an_unknown_key_stops_the_deploy_before_any_change(deployed, test_hosts, tmp_path):
    """(A host that is down is one of tests/unit/test_deploy_rules.py.)"""
    project = deployed
    before = {a: current_release(test_hosts, a) for a in ADDRESSES}
    hosts = [f"root@{a}:{test_hosts.ssh_port}" for a in ADDRESSES]
    known = tmp_path / "known_hosts"
    known.write_text("".join(line + "\n" for line in test_hosts.known_hosts.read_text().splitlines()
                             if not line.startswith(f"[{ADDRESSES[1]}]")))
    message = f"{hosts[1]}: FAILED: could not connect: Server '[{ADDRESSES[1]}]:{test_hosts.ssh_port}' " \
              f"not found in known_hosts; release unknown"
    project.configure(test_hosts, {"known-hosts": str(known)})
    project.change_home_page("Coleman, never deployed")
    try:
        result = project.deploy("deploy", check=False)
        status = project.deploy("status", check=False)
    finally:
        project.git("reset", "-q", "--hard", "HEAD~1")
        project.configure(test_hosts)
    assert result.returncode == 1 and status.returncode == 1
    assert message in result.stdout, result.stdout
    assert "Nothing was changed on any host." in result.stdout
    for index in (0, 2):
        assert f"{hosts[index]}: not reached, still on {before[ADDRESSES[index]]}" in result.stdout
        assert current_release(test_hosts, ADDRESSES[index]) == before[ADDRESSES[index]]
    assert "could not connect" in status.stdout and "release unknown" in status.stdout


def connection_processes(test_hosts, address):
    """Every process serving an SSH connection to ``address``: the children of its
    sshd listener and all below them (the shell, bin/buildout, ...)."""
    listener = test_hosts.processes[ADDRESSES.index(address)].pid
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parents[int(pid)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, todo = set(), [listener]
    while todo:
        parent = todo.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(children)
        todo.extend(children)
    return found


def drop_host(test_hosts, address):
    """As when the link or the host drops: every SSH process of that host killed
    (its listener stays, so the next deploy reaches it)."""
    for pid in connection_processes(test_hosts, address):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def unfinished_releases(test_hosts, address):
    releases = test_hosts.base(address) / "releases"
    return sorted(name for name in os.listdir(releases) if not (releases / name / ".deployed").exists()
                  and name != current_release(test_hosts, address))


def deploy_until(project, pattern, then, *args):
    """bin/deploy, and ``then()`` once a line of its output matches ``pattern``:
    (exit status, all its output)."""
    # SIGINT as a terminal gives it, even where the tests were started in the background
    # (which ignores SIGINT, and Python then leaves it ignored).
    process = subprocess.Popen([str(project.directory / "bin" / "deploy"), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines, done = [], False
    try:
        for line in process.stdout:
            lines.append(line)
            if not done and re.search(pattern, line):
                then(process)
                done = True
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert done, "".join(lines)
    return process.returncode, "".join(lines)


def every_page(test_hosts):
    return LoadLoop([lambda a=a: (a, page(test_hosts, a)[0]) for a in ADDRESSES], limit=20000, seconds=300,
                    pause=0.02)


def test_a_host_lost_during_its_build_is_said_so_and_cleaned_up_on_the_next_deploy(deployed, test_hosts):
    project, victim = deployed, ADDRESSES[1]
    before = {a: current_release(test_hosts, a) for a in ADDRESSES}
    project.change_home_page("Coleman, lost and found edition")
    with every_page(test_hosts) as load:
        code, output = deploy_until(project, rf"\[root@{victim}:\d+\]   (Develop|Installing)",
                                    lambda process: drop_host(test_hosts, victim), "deploy")
    assert code == 1, output
    assert (f"root@{victim}:{test_hosts.ssh_port}: lost the connection while running bin/buildout, "
            f"still on {before[victim]}") in output
    assert "Nothing was switched" in output and "switched current" not in output
    assert len(load.results) > 20 and load.failures == []
    assert {a: current_release(test_hosts, a) for a in ADDRESSES} == before
    left = unfinished_releases(test_hosts, victim)
    assert left, "the lost host kept nothing half-made: the test dropped it too late"
    # The next deploy reaches the host again, removes what was left, and puts every host on the release.
    result = project.deploy("deploy")
    assert f"[root@{victim}:{test_hosts.ssh_port}] removed {len(left)} release(s) that never went live" \
        in result.stdout
    for address in ADDRESSES:
        assert heading(test_hosts, address) == "Coleman, lost and found edition"
        assert unfinished_releases(test_hosts, address) == []


def test_an_interrupted_deploy_leaves_the_hosts_as_a_lost_connection_would(deployed, test_hosts):
    """SIGTERM (a kill, a CI job cancelled) in the middle of the builds. Ctrl-C and a
    closed terminal take the same way, with their own exit status
    (tests/unit/test_deploy_rules.py)."""
    project = deployed
    signal_number, code = signal.SIGTERM, 143
    before = {a: current_release(test_hosts, a) for a in ADDRESSES}
    project.change_home_page("Coleman, interrupted edition")
    try:
        with every_page(test_hosts) as load:
            status, output = deploy_until(project, r"\]   (Develop|Installing)",
                                          lambda process: process.send_signal(signal_number), "deploy")
    finally:
        project.git("reset", "-q", "--hard", "HEAD~1")
    assert status == code, output
    assert "Interrupted while deploying" in output and "Traceback" not in output
    for address in ADDRESSES:
        assert re.search(rf"root@{address}:{test_hosts.ssh_port}: interrupted while [a-z]+ .*, still on "
                         rf"{before[address]}", output), output
        assert current_release(test_hosts, address) == before[address]
    assert load.failures == []
    # What the interrupted builds left (once their buildouts are gone): status names it, and the
    # next deploy (nothing to build: the checkout is back on what the hosts serve) removes it.
    deadline = time.monotonic() + 60
    while any(connection_processes(test_hosts, a) for a in ADDRESSES) and time.monotonic() < deadline:
        time.sleep(0.5)
    named = project.deploy("status").stdout
    assert "that never went live" in named and "(the next deploy removes them)" in named, named
    assert any(unfinished_releases(test_hosts, a) for a in ADDRESSES)
    result = project.deploy("deploy")
    assert "removed" in result.stdout and "that never went live" in result.stdout
    for address in ADDRESSES:
        assert unfinished_releases(test_hosts, address) == []
        assert current_release(test_hosts, address) == before[address]


def doc_sections(after):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(doc_block(BALANCER_DOC, after))
    return {name: dict(parser[name]) for name in parser.sections()}


@pytest.fixture
def balancer(deployed, test_hosts):
    """The project with a balancer part here in front of the three hosts, started,
    and its deploy part draining hosts on it; afterwards the project as before. The
    sections are docs/balancer.rst's "Several hosts" as written but for the test's
    addresses and ports: the balancer on a free port of 127.0.0.1 (where the hosts see
    it come from) for localhost, the hosts' Apache on theirs, a faster check-interval."""
    project = deployed
    port = free_port()
    doc = doc_sections("In the checkout's ``buildout.cfg``, beside")
    host_apache = doc_sections("and trusts the balancer's")["apache"]
    assert doc["deploy"] == {"balancer": "${balancer:script}"} and host_apache["listen"] == "${host:listen}"
    options = {**doc["balancer"], "listen": f"127.0.0.1:{port}", "server-name": "localhost",
               "backend-port": test_hosts.web_port}
    apache = {**host_apache, "trusted-proxies": "127.0.0.1"}

    def configure(deploy=None, **more_apache):
        return project.configure(test_hosts, deploy, balancer=options, apache={**apache, **more_apache})

    built = configure()
    assert built.returncode == 0, built.stdout + built.stderr
    project.commit("behind a balancer")
    control = project.directory / "bin" / "balancer"
    subprocess.run([str(control), "start"], check=True, capture_output=True)
    front = types.SimpleNamespace(port=port, control=control, states=lambda: balancer_states(control),
                                  configure=configure)
    wait_until(lambda: set(front.states().values()) == {"UP"})
    yield front
    subprocess.run([str(control), "stop"], capture_output=True)
    project.configure(test_hosts)
    project.commit("no balancer")


def balancer_states(control):
    out = subprocess.run([str(control), "servers"], capture_output=True, text=True).stdout
    return {line.split()[0].rsplit(":", 1)[0]: line.split()[1] for line in out.splitlines() if line.strip()}


def wait_until(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s"
        time.sleep(0.2)


def through(balancer):
    """GETs of the page and POSTs with a body through the balancer, in turn, bounded."""
    def get():
        request = urllib.request.Request(f"http://127.0.0.1:{balancer.port}/", headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status if "Coleman" in response.read().decode() else "wrong page"

    def post():
        request = urllib.request.Request(f"http://127.0.0.1:{balancer.port}/visitor/", data=b"x" * 1000,
                                         headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status if response.read().decode().endswith(" 1000\n") else "wrong answer"
    return LoadLoop([get, post], limit=40000, seconds=300, pause=0.01)


def test_rolling_deploy_of_a_new_page_stylesheet_and_apache_configuration_behind_the_balancer_drops_no_request(
        deployed, test_hosts, balancer, database):
    """Under load through the balancer, GETs and POSTs, a release with a new heading, a
    changed stylesheet and a changed Apache configuration (a graceful restart on each
    host): each host drained, switched, checked and put back in turn. Every page answers
    all along, the old page's stylesheet too, and so does the stylesheet of whatever page
    the balancer serves at that moment; afterwards every host serves the new page and
    its new stylesheet. Tasks enqueued before, during and after it each run exactly
    once (each host's worker is restarted onto the new release with a warm
    shutdown, a task in progress finishing), and those after it on the new release."""
    project = deployed
    first = {a: current_release(test_hosts, a) for a in ADDRESSES}
    old = stylesheet_of(test_hosts, ADDRESSES[0])
    style = project.directory / "example" / "coleman" / "static" / "coleman" / "style.css"
    style.write_text(style.read_text() + "\nh1 { color: teal; }\n")
    built = balancer.configure(**{"keep-alive-timeout": "4"})
    assert built.returncode == 0, built.stdout + built.stderr
    project.change_home_page("Coleman, teal edition")

    def front(path="/", data=None):
        request = urllib.request.Request(f"http://127.0.0.1:{balancer.port}{path}", data=data,
                                         headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read().decode()

    def the_page():
        status, body = front()
        return status if "Coleman" in body else "wrong page"

    def a_post():
        status, body = front("/visitor/", b"x" * 1000)
        return status if body.endswith(" 1000\n") else "wrong answer"

    def page_and_its_stylesheet():
        body = front()[1]
        return front(re.search(r'href="(/static/coleman/style\.[0-9a-f]{12}\.css)"', body).group(1))[0]

    enqueued = []

    def enqueue(word, seconds=0.0):
        status, body = front(f"/enqueue/{word}/{seconds}/")
        enqueued.append(word)
        return status if body == f"queued {word}\n" else "not queued"

    last = [0.0]

    def a_task_now_and_then():  # twice a second, each in progress for a moment
        if time.monotonic() - last[0] < 0.5:
            return 200
        last[0] = time.monotonic()
        return enqueue(f"during-{len(enqueued)}", 0.3)

    assert all(enqueue(f"before-{n}", 0.5) == 200 for n in range(6))
    with LoadLoop([the_page, a_post, lambda: front(old)[0], page_and_its_stylesheet, a_task_now_and_then],
                  limit=40000, seconds=300, pause=0.01) as load:
        result = project.deploy("deploy")
    assert len(load.results) > 100 and load.failures == [], load.failures[:5]
    releases = {str(test_hosts.base(a).name): current_release(test_hosts, a) for a in ADDRESSES}
    after = [f"after-{n}" for n in range(6)]
    assert all(enqueue(word) == 200 for word in after)
    wait_until(lambda: set(enqueued) <= set(ran(database)), 60)
    runs = ran(database)
    assert len(enqueued) > 12 and {word: len(runs[word]) for word in enqueued} == {word: 1 for word in enqueued}
    for word in after:  # after the deploy: on the new release of whichever host ran it
        (host, release), = runs[word]
        assert releases[host] == release, (word, host, release, releases)
    for address in ADDRESSES:
        assert heading(test_hosts, address) == "Coleman, teal edition"
        assert current_release(test_hosts, address) != first[address]
        new = stylesheet_of(test_hosts, address)
        assert new != old
        assert "teal" in fetch(test_hosts, address, new)[1]
        assert "KeepAliveTimeout 4" in (test_hosts.base(address) / "current" / "parts" / "apache" /
                                        "httpd.conf").read_text()
        assert re.search(rf"\[balancer\] Drained {address}:\d+: no new requests", result.stdout)
        assert re.search(rf"\[balancer\] Ready: {address}:\d+ in rotation \(UP\)", result.stdout)
    # Pins did not change: the shared eggs served the new releases, nothing was fetched.
    assert "Got " not in result.stdout
    status = project.deploy("status").stdout
    assert status.count("on the balancer: UP") == 3, status
    assert result.stdout.count("[tasks] restarted 1 worker(s) (pids ") == 3
    for address in ADDRESSES:
        assert f"{test_hosts.base(address)}/releases/{current_release(test_hosts, address)}/parts/tasks/worker" in status


def test_a_release_that_fails_its_health_check_is_rolled_back_and_left_drained(deployed, test_hosts, balancer):
    """The release on the second host listens elsewhere (its host.cfg changed): it fails
    its health check, goes back to its release and stays out of rotation; no visitor of
    the balancer sees a failure."""
    project = deployed
    before = {a: current_release(test_hosts, a) for a in ADDRESSES}
    host_cfg = test_hosts.base(ADDRESSES[1]) / "shared" / "host.cfg"
    original = host_cfg.read_text()
    host_cfg.write_text(f"[host]\nlisten = {ADDRESSES[1]}:{free_port()}\n")
    project.change_home_page("Coleman, unhealthy on one host")
    # To that host alone: the rollout's order and what stays untouched are the unit layer's
    # (tests/unit/test_deploy_rules.py); here what only real servers show.
    built = balancer.configure({"health-timeout": "5"})
    assert built.returncode == 0, built.stdout + built.stderr
    spec = f"root@{ADDRESSES[1]}:{test_hosts.ssh_port}"
    try:
        with through(balancer) as load:
            result = project.deploy("deploy", "--hosts", spec, check=False)
    finally:
        host_cfg.write_text(original)
    assert result.returncode == 1
    assert len(load.results) > 20 and load.failures == [], load.failures[:5]
    assert (f"{spec}: FAILED to pass the health check, rolled back to {before[ADDRESSES[1]]}; left drained on the "
            f"balancer (balancer ready {ADDRESSES[1]} puts it back)") in result.stdout, result.stdout
    assert {a: current_release(test_hosts, a) for a in ADDRESSES} == before
    # Out of rotation: DOWN until its checks pass again on its release, then DRAIN.
    wait_until(lambda: balancer.states() == {ADDRESSES[0]: "UP", ADDRESSES[1]: "DRAIN", ADDRESSES[2]: "UP"})
    assert page(test_hosts, ADDRESSES[1])[0] == 200  # healthy again on its release, out of rotation
    subprocess.run([str(balancer.control), "ready", ADDRESSES[1]], check=True, capture_output=True)
    assert balancer.states()[ADDRESSES[1]] == "UP"


def test_reference_complete_example_deploys_and_passes_its_health_check(test_hosts, tmp_path):
    """The buildout.cfg of docs/reference.rst and the production.cfg of
    docs/deploying.rst, with the host names, the path and the ssh key (in a HOME
    of the test's) substituted: one host (its SQLite database its own), no index there."""
    from test_docs import MYSITE, REFERENCE

    directory = world_readable_directory(TEST_ROOT, "readme-deploy-")
    project = directory / "mysite"
    for name, text in MYSITE.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text))
    config = doc_block(REFERENCE, "A complete ``buildout.cfg``")
    config = config.replace("deploy@web1.mysite.example", f"root@{ADDRESSES[0]}:{test_hosts.ssh_port}")
    config = config.replace("path = /srv/mysite", f"path = {test_hosts.root}/readme/{{host}}")
    (project / "buildout.cfg").write_text(config)
    (project / "production.cfg").write_text(doc_block(REPO / "docs" / "deploying.rst",
                                                      "A ``production.cfg`` for the hosts"))
    # The test caches, and djangowsgi developed from the tree (test_docs.py says why), which the deploy ships.
    (project / "local.cfg").write_text(f"[buildout]\nextends = buildout.cfg\ndevelop = . {REPO}\n"
                                       f"eggs-directory = {EGGS}\ndownload-cache = {DOWNLOADS}\n")
    (project / ".gitignore").write_text("/bin/\n/parts/\n/develop-eggs/\n/var/\n/.installed.cfg\n*.egg-info/\n"
                                        "/local.cfg\n")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    shutil.copy(test_hosts.key, home / ".ssh" / "id_ed25519")
    shutil.copy(test_hosts.known_hosts, home / ".ssh" / "known_hosts")
    env = dict(os.environ, HOME=str(home), GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    try:
        built = subprocess.run([str(BUILDOUT), "-N", "-c", "local.cfg"], cwd=project, env=env, capture_output=True,
                               text=True)
        assert built.returncode == 0, built.stdout + built.stderr
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "mysite"]):
            subprocess.run(["git", "-C", str(project), *command], check=True, env=env)
        result = subprocess.run([str(project / "bin" / "deploy"), "deploy"], cwd=project, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"shipping develop egg(s) {REPO.resolve().name}-" in result.stdout and "Got " not in result.stdout
        for address in ADDRESSES[:1]:
            assert f"[root@{address}:{test_hosts.ssh_port}] healthy" in result.stdout
            request = urllib.request.Request(f"http://{address}:8000/", headers={"Host": "www.mysite.example"})
            with urllib.request.urlopen(request, timeout=20) as response:
                assert response.read().decode() == "Hello from mysite"
    finally:
        for address in ADDRESSES[:1]:
            ctl = test_hosts.root / "readme" / address / "current" / "bin" / "apache"
            if ctl.exists():
                subprocess.run([str(ctl), "stop"], capture_output=True)
        if not os.environ.get("DJANGOWSGI_KEEP"):
            shutil.rmtree(directory, ignore_errors=True)
