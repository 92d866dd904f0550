"""How the defaults were chosen: the mod_wsgi daemons' processes x threads, and
the event MPM's sizing under a 2000-connection flood, measured in one run,
interleaved (each round measures every row once), on loopback only.

    python bench/tuning.py            three rounds (about twenty minutes on 2 CPUs)
    python bench/tuning.py --smoke    a second a target, two of each kind (run by make test)

The daemon rows are parts built with ``processes`` and ``threads``; the MPM rows
are the package's default part with the MPM lines of its httpd.conf rewritten
(``mpm_variant``), started with ``apache2 -f``. nginx + gunicorn and granian
are measured in the same rounds as the reference.
"""
import argparse
import datetime
import json
import os
import re
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402

DAEMON_SHAPES = [(2, 3), (2, 6), (2, 10), (4, 5), (2, 15)]
# (processes, threads a process, AsyncRequestWorkerFactor) of the event MPM;
# MaxRequestWorkers is processes x threads.
MPM_SIZINGS = [(16, 64, 2), (8, 320, 2), (8, 320, 1), (16, 160, 1), (4, 640, 2)]
SECTIONS = ["daemons", "mpm", "cost"]
FIRST_PORT = 18020
MPM_PORT = 18030


def shape_part(processes, threads):
    return f"p{processes}x{threads}"


def build_site(venv):
    parts = [(shape_part(p, t), FIRST_PORT + i, f"processes = {p}\nthreads = {t}")
             for i, (p, t) in enumerate(DAEMON_SHAPES)]
    return bench.build_site(venv, "tuning-site", parts + [("mpm", MPM_PORT, "")])


MPM_LINES = ("ServerLimit", "StartServers", "ThreadLimit", "ThreadsPerChild", "MaxRequestWorkers",
             "MinSpareThreads", "MaxSpareThreads", "AsyncRequestWorkerFactor")


def mpm_variant(config, processes, threads, factor):
    """httpd.conf's text with the event MPM sized as ``processes`` x ``threads``,
    the way the package writes it (all started at once, kept)."""
    values = dict(ServerLimit=processes, StartServers=processes, ThreadLimit=threads, ThreadsPerChild=threads,
                  MaxRequestWorkers=processes * threads, MinSpareThreads=threads,
                  MaxSpareThreads=processes * threads + threads, AsyncRequestWorkerFactor=factor)
    for directive in MPM_LINES:
        config, found = re.subn(rf"(?m)^{directive} \d+$", f"{directive} {values[directive]}", config)
        assert found == 1, directive
    return config


def mpm_server(site, processes, threads, factor):
    original = site / "parts" / "mpm" / "httpd.conf"
    variant = site / "parts" / "mpm" / f"httpd-{processes}x{threads}-{factor}.conf"
    variant.write_text(mpm_variant(original.read_text(), processes, threads, factor))
    os.chmod(variant, 0o644)
    return bench.Server(f"{processes}x{threads}",
                        lambda: bench.run("/usr/sbin/apache2", "-f", variant, "-k", "start"),
                        lambda: _stop(site, variant), MPM_PORT)


# The generated configuration with one thing taken out (or changed), to see what
# each costs Apache a request: (httpd.conf, vhost.conf) -> (httpd.conf, vhost.conf).
COST_VARIANTS = {
    "generated": lambda h, v: (h, v),
    "ExtendedStatus Off": lambda h, v: (h + "\nExtendedStatus Off\n", v),
    "no RequestReadTimeout": lambda h, v: (re.sub(r"(?m)^RequestReadTimeout .*$", "", h), v),
    "no SetEnvIf (one process group)": lambda h, v: (h, re.sub(
        r"(?m)^\s*SetEnvIf(NoCase)? Request_Method .*DJANGOWSGI_GROUP=.*$", "", v).replace(
        "WSGIProcessGroup %{ENV:DJANGOWSGI_GROUP}", "WSGIProcessGroup mpm")),
    "access log to a file": lambda h, v: (h, re.sub(r'(?m)^(\s*CustomLog )"\|[^"]*"', r"\1/tmp/djangowsgi-cost.log", v)),
    "no access log": lambda h, v: (h, re.sub(r"(?m)^\s*CustomLog .*$", "", v)),
    "no RedirectMatch": lambda h, v: (h, re.sub(r"(?m)^\s*RedirectMatch .*$", "", v)),
    "no mod_cache": lambda h, v: (re.sub(r"(?m)^LoadModule cache.*$", "", h), re.sub(
        r"(?m)^\s*(Cache\w+ .*|CacheEnable .*)$", "", v).replace(";CACHE", "")),
}


def cost_server(site, variant):
    directory = site / "parts" / "mpm"
    slug = re.sub(r"[^a-z]+", "-", variant.lower()).strip("-")
    httpd, vhost = COST_VARIANTS[variant]((directory / "httpd.conf").read_text(),
                                          (directory / "vhost.conf").read_text())
    (directory / f"vhost-{slug}.conf").write_text(vhost)
    config = directory / f"httpd-{slug}.conf"
    config.write_text(httpd.replace(str(directory / "vhost.conf"), str(directory / f"vhost-{slug}.conf")))
    return bench.Server(variant, lambda: bench.run("/usr/sbin/apache2", "-f", config, "-k", "start"),
                        lambda: _stop(site, config), MPM_PORT)


def measure_cost(site, seconds, rounds, variants):
    """Apache's CPU a page request (cpu.py) with each variant, the variants interleaved."""
    found = {}
    for n in range(rounds):
        print(f"Round {n + 1} of {rounds}: Apache's CPU a request, variants", flush=True)
        for variant in variants:
            with cost_server(site, variant):
                load = bench.wrk(MPM_PORT, "/", seconds)
            found.setdefault(variant, {}).setdefault("page", []).append(load["rate"])
            found[variant].setdefault("apache us", []).append(load["cpu"].get("apache", 0))
            found[variant].setdefault("daemon us", []).append(load["cpu"].get("mod_wsgi daemon", 0))
    return found


def _stop(site, config):
    pid_file = site / "var" / "run" / "mpm" / "httpd.pid"
    bench.run("/usr/sbin/apache2", "-f", config, "-k", "stop")
    deadline = time.monotonic() + 30
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # the daemons' sockets and the port


def error_log_lines(site):
    path = site / "var" / "log" / "mpm" / "error.log"
    return path.read_text(errors="replace").splitlines() if path.exists() else []


def measure(smoke, rounds, sections):
    seconds = 1 if smoke else 10
    flood_connections = 200 if smoke else 2000
    bench.WORK.mkdir(parents=True, exist_ok=True)
    os.chmod(bench.WORK, 0o755)
    venv = bench.make_venv()
    print("Building the example with one part per daemon shape", flush=True)
    site = build_site(venv)
    references = [(name, server) for name, server, _ in bench.peer_servers(site, venv, 2)
                  if name.startswith(("nginx + gunicorn 2 sync workers", "granian")) and "no access" not in name]
    rows, mpm = {}, {}
    for i, (p, t) in enumerate(DAEMON_SHAPES):
        bench.PORTS[shape_part(p, t)] = FIRST_PORT + i

    def record(table, row, key, value):
        table.setdefault(row, {}).setdefault(key, []).append(value)

    for n in range(rounds if "daemons" in sections else 0):
        print(f"Round {n + 1} of {rounds}: daemon shapes", flush=True)
        servers = [(f"{p} x {t}", bench.apache_server(site, shape_part(p, t)))
                   for p, t in (DAEMON_SHAPES[:2] if smoke else DAEMON_SHAPES)]
        for name, server in servers + references:
            with server:
                page = bench.wrk(server.port, "/", seconds)
                waiting = bench.wrk(server.port, f"/waiting/?ms={bench.WAIT_MS}", seconds)
            for key, load in (("page", page), ("waiting", waiting)):
                record(rows, name, key, load["rate"])
                record(rows, name, f"{key} p99", load["p99"])
                record(rows, name, f"{key} failed", load["failed"])
    for n in range(rounds if "mpm" in sections else 0):
        print(f"Round {n + 1} of {rounds}: event MPM sizings under the flood", flush=True)
        for processes, threads, factor in (MPM_SIZINGS[-1:] if smoke else MPM_SIZINGS):
            name = f"{processes} x {threads}, factor {factor}"
            before = len(error_log_lines(site))
            with mpm_server(site, processes, threads, factor):
                bench.settle(MPM_PORT)
                flood = bench.flood(MPM_PORT, flood_connections, seconds)
                bench.settle(MPM_PORT)
                page = bench.wrk(MPM_PORT, "/", seconds)
                static = bench.wrk(MPM_PORT, "/static/coleman/style.css", seconds)
                memory = apache_memory(site)
            logged = error_log_lines(site)[before:]
            record(mpm, name, "flood requests", flood["requests"])
            record(mpm, name, "flood socket errors", flood["socket_errors"])
            record(mpm, name, "flood timeouts", flood["timeouts"])
            record(mpm, name, "page", page["rate"])
            record(mpm, name, "apache us", page["cpu"].get("apache", 0))
            record(mpm, name, "static", static["rate"])
            record(mpm, name, "apache MB", memory)
            for code in ("AH00484", "AH03490", "Too many open files"):
                record(mpm, name, code, sum(1 for line in logged if code in line))
        if references:
            for name, server in references:
                with server:
                    flood = bench.flood(server.port, flood_connections, seconds)
                record(mpm, name, "flood requests", flood["requests"])
                record(mpm, name, "flood socket errors", flood["socket_errors"])
                record(mpm, name, "flood timeouts", flood["timeouts"])
    variants = list(COST_VARIANTS)[:2] if smoke else list(COST_VARIANTS)
    cost = measure_cost(site, seconds, rounds, variants) if "cost" in sections else {}
    return rows, mpm, cost


def apache_memory(site):
    """The proportional set size of Apache's own processes (not the daemons), in MB."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read()
            if not command.startswith(b"/usr/sbin/apache2") or b"httpd-" not in command:
                continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += int(re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M).group(1))
        except (OSError, AttributeError):
            continue
    return round(total / 1024, 1)


def medians(table):
    return {row: {key: statistics.median(values) for key, values in entry.items()} for row, entry in table.items()}


def text(rows, mpm, cost):
    lines = [f"{'processes x threads':28} {'page /s':>9} {'p99 ms':>8} {'waiting /s':>11} {'p99 ms':>8}"]
    for name, entry in medians(rows).items():
        lines.append(f"{name:28} {entry['page']:9.0f} {entry['page p99']:8.1f} {entry['waiting']:11.0f} "
                     f"{entry['waiting p99']:8.1f}")
    lines += ["", f"{'event MPM, 2000 connections':28} {'requests':>9} {'errors':>7} {'timeouts':>9} "
                  f"{'page /s':>8} {'apache us':>9} {'static /s':>10} {'MB':>6}  error log"]
    for name, entry in medians(mpm).items():
        logged = ", ".join(f"{code} x{entry[code]:.0f}" for code in ("AH00484", "AH03490", "Too many open files")
                           if entry.get(code))
        lines.append(f"{name:28} {entry['flood requests']:9.0f} {entry['flood socket errors']:7.0f} "
                     f"{entry['flood timeouts']:9.0f} {entry.get('page', 0):8.0f} {entry.get('apache us', 0):9.0f} "
                     f"{entry.get('static', 0):10.0f} "
                     f"{entry.get('apache MB', 0):6.1f}  {logged}")
    if cost:
        costs = medians(cost)
        base = costs["generated"]["apache us"]
        lines += ["", f"{'Apache CPU a page request':36} {'page /s':>8} {'apache us':>10} {'vs generated':>13} "
                      f"{'daemon us':>10}"]
        for name, entry in costs.items():
            lines.append(f"{name:36} {entry['page']:8.0f} {entry['apache us']:10.0f} "
                         f"{entry['apache us'] - base:+13.0f} {entry['daemon us']:10.0f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one short round")
    parser.add_argument("--rounds", type=int, help="rounds (default 3; 1 with --smoke)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--output", type=Path, default=bench.REPO / "bench" / "results")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))  # for 2000 connections
    rounds = args.rounds or (1 if args.smoke else 3)
    rows, mpm, cost = measure(args.smoke, rounds, args.sections)
    report = text(rows, mpm, cost)
    print("\n" + report)
    args.output.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.output / f"{'smoke-' if args.smoke else ''}tuning-{stamp}.json"
    path.write_text(json.dumps(dict(when=stamp, smoke=args.smoke, rounds=rounds, cpus=os.cpu_count(),
                                    daemons=rows, mpm=mpm, cost=cost, table=report), indent=2) + "\n")
    print(f"\nWritten to {path}")


if __name__ == "__main__":
    main()
