"""The benchmark: the example site built by the package's recipes, against the
alternatives, on this machine, in one run.

    python bench/run.py            the full run (about twenty minutes on 2 CPUs)
    python bench/run.py --smoke    a second or two per target (run by make test)

It prints one table (target, median, min-max, ratio to the package's default)
and writes it as JSON under bench/results/. Traffic goes to 127.0.0.1 only; every
load is bounded in time.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tools"))
from djangowsgi import __version__  # noqa: E402
from support import example  # noqa: E402
from support.pins import versions_section  # noqa: E402
from support.places import copy_world_readable  # noqa: E402
from djangowsgi.wsgi import script_python_path  # noqa: E402

import cpu  # noqa: E402  (bench/, beside this file)
import peers  # noqa: E402

WORK = Path(os.environ.get("DJANGOWSGI_BENCH_DIR", "/var/tmp/djangowsgi-bench"))
SYSTEM_PYTHON = "/usr/bin/python3"
# The tools measured against, pinned; built for Debian's Python, like the site.
BENCH_REQUIREMENTS = ["zc.buildout==6.0.1", "zc.recipe.egg==6.0.0", "gunicorn==27.0.1", "granian==2.8.9",
                      "uwsgi==2.0.31", "mod_wsgi==6.1.1"]
DJANGORECIPE = "2.2.1"
PORTS = {"daemon": 18001, "embedded": 18002, "nopreload": 18003, "gunicorn": 18004, "express": 18005,
         "nginx-gunicorn": 18006, "granian": 18007, "uwsgi": 18008, "nginx-uwsgi": 18009,
         "nginx-gunicorn-nolog": 18010, "apache-floor": 18013, "cpu": 18014, "lean": 18015}
# edge.py: 18011-18012; tuning.py: 18020-18030
BACKEND = 10  # a peer behind nginx listens on nginx's port + 10
CONNECTIONS, THREADS = 20, 2
FLOOD = 2000  # connections of the flood rows (200 in smoke mode)
# The package's Apache parts measured like the peers: row suffix by part.
VARIANTS = {"daemon": " (package defaults)", "cpu": ", workload = cpu", "lean": ", worker-threads = 64"}
# The example's /waiting/ page sleeps this long first, as a view waiting on a remote
# database or service does: what a daemon's threads are for.
WAIT_MS = 5


def run(*args, **kwargs):
    kwargs.setdefault("check", True)
    return subprocess.run([str(a) for a in args], **kwargs)


# -- setting up -------------------------------------------------------------------

def make_venv():
    venv = WORK / "venv"
    stamp = venv / (".installed-" + "-".join(BENCH_REQUIREMENTS).replace("=", ""))
    if not stamp.exists():
        shutil.rmtree(venv, ignore_errors=True)
        run(SYSTEM_PYTHON, "-m", "venv", venv)
        print("Installing", ", ".join(BENCH_REQUIREMENTS), "(mod_wsgi and uWSGI compile: about a minute)",
              flush=True)
        run(venv / "bin" / "pip", "install", "-q", *BENCH_REQUIREMENTS, stdout=subprocess.DEVNULL)
        stamp.touch()
    return venv


# The package's Apache parts of the benchmark's site: (part, its own options).
SITE_PARTS = [("daemon", ""), ("embedded", "mode = embedded"), ("nopreload", "preload = false"),
              ("cpu", "workload = cpu"), ("lean", "worker-threads = 64")]


def site_config(develop, apache_parts, more=()):
    """The example's buildout.cfg (tools/support/example.py) with its apache part
    as ``apache_parts``: [(part, port, its own options as "key = value" lines)],
    and ``more`` parts: [(part, its section's text)]."""
    header = (f"[buildout]\ndevelop = {develop}\neggs-directory = {WORK}/eggs\ndownload-cache = {WORK}/downloads\n"
              f"allow-picked-versions = false\n\n")
    names = [name for name, _, _ in apache_parts] + [name for name, _ in more]
    text = example.parts("django wsgi " + " ".join(names), names=("django", "wsgi"))
    text += "".join(section for _, section in more)
    for name, port, extra in apache_parts:
        own = dict(line.split(" = ", 1) for line in extra.splitlines() if line.strip())
        text += example.text(name, example.section("apache", {
            "process-group": name, "listen": f"127.0.0.1:{port}", "writable": None, **own}))
    return header + text + versions_section(djangowsgi=__version__)


def build_site(venv, name="site", apache_parts=None, more=()):
    """The example built in WORK/``name`` with ``apache_parts`` and ``more`` (site_config), SITE_PARTS by default."""
    site = WORK / name
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    copy_world_readable(REPO / "example", site / "example")
    apache_parts = apache_parts or [(part, PORTS[part], extra) for part, extra in SITE_PARTS]
    (site / "buildout.cfg").write_text(site_config(f"{REPO} example", apache_parts, more))
    run(venv / "bin" / "buildout", "-N", "-c", site / "buildout.cfg", cwd=site, stdout=subprocess.DEVNULL)
    run(site / "bin" / "django", "migrate", "--noinput", "-v0", cwd=site)
    # A few notes, so that the page reads rows from the database.
    run(site / "bin" / "django", "shell", "-c",
        "from coleman.models import Note\n"
        "[Note.objects.create(title=f'Note {i}', body='x' * 200) for i in range(10)]", cwd=site)
    return site


# -- measuring --------------------------------------------------------------------

def get(port, path="/", timeout=5):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as response:
        return response.status, response.headers.get("X-Process"), response.read()


def wait_for_200(port, seconds=30, different_from=None, path="/"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status, process, _ = get(port, path, timeout=2)
            if status == 200 and (different_from is None or process not in different_from):
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"no 200 on port {port} within {seconds} s")


def wrk(port, path, seconds):
    """wrk's rate, requests, failures and p99 latency; and the CPU each kind of
    server process used a request (cpu.py)."""
    before = cpu.snapshot()
    out = run("wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency",
              f"http://127.0.0.1:{port}{path}", capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return dict(rate=rate, total=total, failed=non2xx + errors, p99=p99,
                cpu=cpu.per_request(before, cpu.snapshot(), total))


def flood(port, connections, seconds):
    """wrk with ``connections`` keep-alive clients: requests, socket errors, timeouts."""
    out = run("wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", f"http://127.0.0.1:{port}/",
              capture_output=True, text=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = {kind: int(n) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", out)}
    return dict(requests=total, socket_errors=sum(v for k, v in errors.items() if k != "timeout"),
                timeouts=errors.get("timeout", 0))


def settle(port):
    """Until the server has let go of the last load's connections."""
    wait_for_200(port, seconds=60)
    time.sleep(2)


class Server:
    """One server under test, started and stopped around its measurements."""

    def __init__(self, name, start, stop, port, ready="/"):
        self.name, self._start, self._stop, self.port, self.ready = name, start, stop, port, ready

    def __enter__(self):
        self._start()
        wait_for_200(self.port, path=self.ready)
        return self

    def __exit__(self, *exc):
        self._stop()


def apache_server(site, part):
    ctl = site / "bin" / part
    return Server(part, lambda: run(ctl, "start", stdout=subprocess.DEVNULL),
                  lambda: run(ctl, "stop", stdout=subprocess.DEVNULL), PORTS[part])


def process_server(name, command, port, env=None):
    state = {}

    def start():
        state["process"] = subprocess.Popen([str(c) for c in command], env=env, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)

    def stop():
        os.killpg(state["process"].pid, signal.SIGTERM)
        state["process"].wait(timeout=30)

    return Server(name, start, stop, port)


def wsgi_environment(site):
    return dict(os.environ, DJANGO_SETTINGS_MODULE="coleman.settings", COLEMAN_VAR_DIR=str(site / "var"),
                PYTHONPATH=":".join(script_python_path(site / "parts" / "wsgi" / "wsgi.wsgi")))


def gunicorn_server(site, venv, workers):
    logs = WORK / "peers" / "gunicorn"
    logs.mkdir(parents=True, exist_ok=True)
    return process_server("gunicorn", [venv / "bin" / "gunicorn", "-w", workers, "-b", f"127.0.0.1:{PORTS['gunicorn']}",
                                       "--access-logfile", logs / "access.log", "coleman.wsgi:application"],
                          PORTS["gunicorn"], wsgi_environment(site))


def peer_servers(site, venv, workers):
    """(row name, Server, also measure nginx's static files) of each peer."""
    env, static = wsgi_environment(site), site / "var" / "static"

    def server(peer):
        return Server(peer.name, peer.start, peer.stop, peer.port)

    def behind_nginx(kind, factory, **kwargs):
        port = PORTS[kind]
        return factory(WORK, venv, env, port, port + BACKEND, static, workers, **kwargs)

    return [
        (f"nginx + gunicorn {workers} sync workers", server(behind_nginx("nginx-gunicorn", peers.nginx_gunicorn)),
         "static: nginx /static/"),
        (f"nginx + gunicorn {workers} sync workers, no access logs",
         server(behind_nginx("nginx-gunicorn-nolog", peers.nginx_gunicorn, logging=False)),
         "static: nginx /static/, no access log"),
        (f"nginx + uWSGI {workers} processes", server(behind_nginx("nginx-uwsgi", peers.nginx_uwsgi)), None),
        (f"uWSGI {workers} processes, http-socket", server(peers.uwsgi_http(WORK, venv, env, PORTS["uwsgi"], workers)),
         None),
        (f"granian {workers} workers", server(peers.granian(WORK, venv, env, PORTS["granian"], workers)), None),
    ]


def apache_floor_server(site):
    floor = peers.apache_floor(WORK, PORTS["apache-floor"], site / "var" / "static")
    return Server(floor.name, floor.start, floor.stop, floor.port, ready="/static/coleman/style.css")


def express_server(site, venv):
    return process_server("mod_wsgi-express", [
        venv / "bin" / "mod_wsgi-express", "start-server", site / "parts" / "wsgi" / "wsgi.wsgi",
        "--host", "127.0.0.1", "--port", PORTS["express"], "--user", "www-data", "--group", "www-data",
        "--server-root", WORK / "express", "--access-log"], PORTS["express"])


CEILING = """
import io, runpy, sys, time
application = runpy.run_path(sys.argv[1])["application"]
def call():
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "", "SCRIPT_NAME": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
               "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": False,
               "wsgi.multiprocess": False, "wsgi.run_once": False}
    b"".join(application(environ, lambda s, h, e=None: None))
call()
n, end = 0, time.monotonic() + float(sys.argv[2])
start = time.monotonic()
while time.monotonic() < end:
    call()
    n += 1
print(n / (time.monotonic() - start))
"""


def ceiling(site, seconds):
    out = run(SYSTEM_PYTHON, "-I", "-c", CEILING, site / "parts" / "wsgi" / "wsgi.wsgi", seconds,
              capture_output=True, text=True, env={"COLEMAN_VAR_DIR": str(site / "var")}).stdout
    return dict(rate=float(out.strip()))


def daemon_pids(site, part):
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().startswith(f"(wsgi:{part})".encode()):
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def restart_times(site, part, command):
    """(seconds from the command to the first 200, to the first 200 from a new
    process): the site's gap, and when the new code answers."""
    ctl = site / "bin" / part
    port = PORTS[part]
    if command == "start":
        run(ctl, "stop", stdout=subprocess.DEVNULL)
        before = set()
    else:
        before = {get(port)[1] for _ in range(20)} | {str(p) for p in daemon_pids(site, part)}
    started = time.monotonic()
    runner = threading.Thread(target=run, args=(ctl, command), kwargs={"stdout": subprocess.DEVNULL})
    runner.start()
    answered = wait_for_200(port)
    renewed = wait_for_200(port, different_from=before) if before else answered
    runner.join()
    return answered - started, renewed - started


def failures_during(site, part, action, seconds):
    """Failed requests of a wrk load while ``action`` happens a third of the way in."""
    result = {}
    load = threading.Thread(target=lambda: result.update(wrk(PORTS[part], "/", seconds)))
    load.start()
    time.sleep(seconds / 3)
    extra = action() or {}
    load.join()
    return dict(failed=result["failed"], total=result["total"], **extra)


def kill_a_daemon(site, part):
    victim = daemon_pids(site, part)[0]
    count = len(daemon_pids(site, part))
    killed = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    deadline = killed + 30
    while time.monotonic() < deadline:
        pids = daemon_pids(site, part)
        if victim not in pids and len(pids) >= count:
            break
        time.sleep(0.005)
    wait_for_200(PORTS[part])
    return {"recovery": time.monotonic() - killed}


# -- buildout ---------------------------------------------------------------------

def snapshot(directory):
    found = {}
    for sub in ("bin", "parts"):
        for root, _, files in os.walk(directory / sub):
            for name in files:
                path = os.path.join(root, name)
                found[path] = os.stat(path).st_mtime_ns
    return found


def package_wheel(venv):
    """djangowsgi as a wheel in a find-links directory: the reference installs
    djangorecipe as a released egg, so djangowsgi is installed the same way (a
    develop egg costs buildout a `pip install -e` on every run)."""
    dist = WORK / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    run(venv / "bin" / "pip", "wheel", "-q", "--no-deps", "-w", dist, REPO, stdout=subprocess.DEVNULL)
    shutil.rmtree(REPO / "build", ignore_errors=True)
    # The reference recipe beside it: the builds below use no other index (a
    # new machine's download cache does not hold it yet).
    run(venv / "bin" / "pip", "download", "-q", "--no-deps", "-d", dist, f"djangorecipe=={DJANGORECIPE}",
        stdout=subprocess.DEVNULL)
    return dist


def buildout_times(venv, kind, n, dist):
    """(cold build seconds, no-op rerun seconds, files the rerun rewrote), with a
    warm download cache and an empty eggs directory."""
    directory = WORK / f"build-{kind}-{n}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    copy_world_readable(REPO / "example", directory / "example")
    if kind == "djangowsgi":
        parts = """
[django]
recipe = djangowsgi:django
eggs = coleman
settings = coleman.settings

[wsgi]
recipe = djangowsgi:wsgi
eggs = coleman
settings = coleman.settings
"""
        develop = "example"
        pins = versions_section(djangowsgi=__version__)
    else:
        parts = """
[django]
recipe = djangorecipe
eggs = coleman
project = coleman
settings = settings
wsgi = true
"""
        develop = "example"
        pins = versions_section(djangorecipe=DJANGORECIPE)
    (directory / "buildout.cfg").write_text(f"""
[buildout]
develop = {develop}
parts = {'django wsgi' if kind == 'djangowsgi' else 'django'}
eggs-directory = {directory}/eggs
download-cache = {WORK}/downloads
find-links = {dist}
# Not PyPI: djangowsgi is not there, and buildout would then scan PyPI's whole
# index (40 s). Every distribution is in the warm download cache.
index = file://{dist}
allow-picked-versions = false
""" + parts + pins)
    command = [venv / "bin" / "buildout", "-N", "-c", directory / "buildout.cfg"]
    started = time.monotonic()
    run(*command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cold = time.monotonic() - started
    before = snapshot(directory)
    started = time.monotonic()
    run(*command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    noop = time.monotonic() - started
    after = snapshot(directory)
    rewritten = sum(1 for path, mtime in after.items() if before.get(path) != mtime)
    shutil.rmtree(directory, ignore_errors=True)
    return cold, noop, rewritten


# -- the run ----------------------------------------------------------------------

def measure(smoke, runs):
    seconds = 1 if smoke else 10
    results = {}

    def record(name, value, unit, better="higher"):
        results.setdefault(name, dict(values=[], unit=unit, better=better))["values"].append(value)

    def record_load(name, load, p99=False):
        """A row's rate, its p99 if asked, and where the CPU went (us a request, by kind)."""
        record(f"{name}", load["rate"], "req/s")
        if p99:
            record(f"p99: {name.split(': ', 1)[1]}", load["p99"], "ms", "lower")
        for kind, used in sorted(load["cpu"].items()):
            record(f"cpu/request, {name}: {kind}", used, "us", "lower")

    def record_flood(name, port):
        """FLOOD clients at once, each sending its next request as soon as the last is answered."""
        settle(port)
        found = flood(port, FLOOD if not smoke else FLOOD // 10, seconds)
        record(f"flood: {name}, socket errors", 100 * found["socket_errors"] / max(1, found["requests"]), "%",
               "lower")
        record(f"flood: {name}, timeouts", found["timeouts"], "requests", "lower")
        settle(port)

    WORK.mkdir(parents=True, exist_ok=True)
    os.chmod(WORK, 0o755)
    venv = make_venv()
    print("Building the example site with the recipes", flush=True)
    site = build_site(venv)
    processes = int(re.search(r"processes=(\d+)", (site / "parts" / "daemon" / "vhost.conf").read_text()).group(1))
    static = "/static/coleman/style.css"
    dist = package_wheel(venv)

    for n in range(runs):
        print(f"Run {n + 1} of {runs}", flush=True)
        for part in ("daemon", "embedded", "cpu", "lean"):
            with apache_server(site, part):
                page = wrk(PORTS[part], "/", seconds)
                if part in VARIANTS:
                    record_load(f"page: apache daemon{VARIANTS[part]}", page, p99=True)
                    waiting = wrk(PORTS[part], f"/waiting/?ms={WAIT_MS}", seconds)
                    record(f"page waiting {WAIT_MS} ms: apache daemon{VARIANTS[part]}", waiting["rate"], "req/s")
                else:
                    record("page: apache embedded", page["rate"], "req/s")
                if part == "daemon":
                    record_load("static: apache /static/", wrk(PORTS[part], static, seconds))
                    record("static: django /django-static/",
                           wrk(PORTS[part], "/django-static/coleman/style.css", seconds)["rate"], "req/s")
                if part in ("daemon", "lean"):
                    record_flood(f"apache daemon{VARIANTS[part]}", PORTS[part])
        with gunicorn_server(site, venv, processes):
            record(f"page: gunicorn {processes} sync workers", wrk(PORTS["gunicorn"], "/", seconds)["rate"], "req/s")
        with express_server(site, venv):
            record("page: mod_wsgi-express defaults", wrk(PORTS["express"], "/", seconds)["rate"], "req/s")
        for name, server, static_row in peer_servers(site, venv, processes):
            with server:
                record_load(f"page: {name}", wrk(server.port, "/", seconds), p99=True)
                waiting = wrk(server.port, f"/waiting/?ms={WAIT_MS}", seconds)
                record(f"page waiting {WAIT_MS} ms: {name}", waiting["rate"], "req/s")
                if static_row:
                    record_load(static_row, wrk(server.port, static, seconds))
                if "no access logs" not in name:
                    record_flood(name, server.port)
        with apache_floor_server(site):
            record_load("static: apache floor (minimal config)", wrk(PORTS["apache-floor"], static, seconds))
        record("page: django handler in-process (ceiling)", ceiling(site, seconds)["rate"], "req/s")

        for part, label in (("daemon", "preload"), ("nopreload", "no preload")):
            for command in ("start", "graceful", "reload"):
                gap, renewed = restart_times(site, part, command)
                record(f"first 200 after {command} ({label})", gap, "s", "lower")
                if command != "start":
                    record(f"new process answers after {command} ({label})", renewed, "s", "lower")
            run(site / "bin" / part, "stop", stdout=subprocess.DEVNULL)

        with apache_server(site, "daemon"):
            for command in ("graceful", "reload"):
                outcome = failures_during(site, "daemon", lambda c=command: run(
                    site / "bin" / "daemon", c, stdout=subprocess.DEVNULL) and None, max(seconds, 3))
                record(f"failed requests during {command}", outcome["failed"], "requests", "lower")
            outcome = failures_during(site, "daemon", lambda: kill_a_daemon(site, "daemon"), max(seconds, 3))
            record("failed requests, daemon SIGKILLed", outcome["failed"], "requests", "lower")
            record("service back after SIGKILL", outcome["recovery"], "s", "lower")

        for kind in ("djangowsgi", "djangorecipe"):
            cold, noop, rewritten = buildout_times(venv, kind, n, dist)
            record(f"buildout cold: {kind}", cold, "s", "lower")
            record(f"buildout no-op: {kind}", noop, "s", "lower")
            record(f"files rewritten by no-op: {kind}", rewritten, "files", "lower")
    return results, processes


def table(results):
    base = statistics.median(results["page: apache daemon (package defaults)"]["values"])
    lines = [f"{'target':50} {'median':>12} {'min-max':>22} {'ratio':>7}"]
    for name, entry in results.items():
        values = entry["values"]
        median = statistics.median(values)
        entry.update(median=median, min=min(values), max=max(values))
        ratio = ""
        if entry["unit"] == "req/s":
            entry["ratio_to_default"] = round(median / base, 3)
            ratio = f"{median / base:7.2f}"
        fmt = "{:.0f}" if entry["unit"] in ("req/s", "requests", "files") else "{:.3f}"
        span = f"{fmt.format(min(values))}-{fmt.format(max(values))}"
        lines.append(f"{name:50} {fmt.format(median):>12} {span:>22} {ratio:>7}  {entry['unit']}")
    return "\n".join(lines)


def targets(results, processes):
    """The targets as ratios of medians in this run: the page and the waiting page
    against the best of nginx + gunicorn and granian, static files against nginx,
    and the flood's socket errors."""
    def median(name):
        return statistics.median(results[name]["values"])

    def best(prefix):
        rows = {name: median(name) for name in results if name.startswith(prefix) and any(
            peer in name for peer in ("nginx + gunicorn", "granian")) and "no access logs" not in name}
        name = max(rows, key=rows.get)
        return rows[name], name

    page, page_peer = best("page: ")
    waiting, waiting_peer = best(f"page waiting {WAIT_MS} ms: ")
    found = {
        "page vs best peer": (median("page: apache daemon (package defaults)") / page, 1.0, page_peer),
        "page waiting vs best peer": (
            median(f"page waiting {WAIT_MS} ms: apache daemon (package defaults)") / waiting, 1.0, waiting_peer),
        "static vs nginx": (median("static: apache /static/") / median("static: nginx /static/"), 0.5,
                            "static: nginx /static/"),
        "flood socket errors, % (lower is better)": (
            median("flood: apache daemon (package defaults), socket errors"), 0.1, f"{FLOOD} connections"),
    }
    lines = [f"{'target':45} {'value':>7} {'wanted':>8}  against"]
    for name, (value, wanted, against) in found.items():
        met = value <= wanted if "lower" in name else value >= wanted
        lines.append(f"{name:45} {value:7.2f} {('<=' if 'lower' in name else '>=') + str(wanted):>8}  {against}"
                     f"{'' if met else '  NOT MET'}")
    return ({name: dict(value=round(v, 3), wanted=w, against=a, met=(v <= w if "lower" in name else v >= w))
             for name, (v, w, a) in found.items()}, "\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one short run of each target")
    parser.add_argument("--runs", type=int, help="runs of each target (default 3; 1 with --smoke)")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # for the flood's connections
    runs = args.runs or (1 if args.smoke else 3)
    results, processes = measure(args.smoke, runs)
    text = table(results)
    goals, goals_text = targets(results, processes)
    text += "\n\n" + goals_text
    print("\n" + text)
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = dict(
        when=stamp, smoke=args.smoke, runs=runs,
        machine=dict(cpus=os.cpu_count(), platform=platform.platform(), python=platform.python_version(),
                     apache=run("/usr/sbin/apache2", "-v", capture_output=True, text=True).stdout.split("\n")[0]),
        load=dict(tool="wrk", threads=THREADS, connections=CONNECTIONS, keepalive=True),
        daemon_processes=processes, results=results, targets=goals, table=text, peers=peers.versions(make_venv()),
    )
    path = args.output / f"{'smoke-' if args.smoke else ''}{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
