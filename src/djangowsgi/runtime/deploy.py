"""bin/<deploy part>: rolling deploys of the buildout to many hosts, over SSH with Fabric.

On each host, under ``path``::

    releases/<timestamp>-<revision>/   one checkout each, built by its own bin/buildout
    current -> releases/...            what is served; switched with an atomic rename
    shared/eggs, shared/downloads      eggs and downloads shared by all releases
    shared/<shared-directories>        state that outlives releases (var/: database,
    shared/<shared-files>              logs, pid files, sockets; host.cfg, secrets)
"""
import argparse
import concurrent.futures
import datetime
import os
import re
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

HOST = re.compile(r"(?:(?P<user>[^@]+)@)?(?P<host>\[[^\]]+\]|[^:]+)(?::(?P<port>\d+))?\Z")
PROGRESS = re.compile(r"^(Installing|Updating|Got|Develop|Uninstalling) ")
print_lock = threading.Lock()
DEPLOYED = ".deployed"  # in a release that went live and passed its health check


class StepFailed(Exception):
    def __init__(self, step, message):
        super().__init__(f"{step} failed: {message}")
        self.step = step


def say(host, message):
    with print_lock:
        print(f"[{host}] {message}", flush=True)


def main(config, argv):
    parser = argparse.ArgumentParser(prog=f"bin/{config['part']}", description="Deploy this buildout with Fabric.")
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser("deploy", help="build a new release on each host and switch to it")
    deploy_parser.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    rollback_parser = commands.add_parser("rollback", help="put each host back on its previous release")
    commands.add_parser("status", help="each host's current release and health")
    commands.add_parser("releases", help="the releases kept on each host")
    for sub in (deploy_parser, rollback_parser):
        sub.add_argument("--hosts", nargs="+", metavar="HOST", help="only these hosts (as written in buildout.cfg)")
    args = parser.parse_args(argv)
    hosts = config["hosts"]
    if getattr(args, "hosts", None):
        unknown = [h for h in args.hosts if h not in hosts]
        if unknown:
            parser.error(f"not in the part's hosts: {', '.join(unknown)}")
        hosts = [h for h in hosts if h in args.hosts]
    if args.command == "deploy":
        return deploy(config, hosts, args.dry_run)
    if args.command == "rollback":
        return rollback(config, hosts)
    if args.command == "status":
        return status(config, hosts)
    return releases(config, hosts)


class Host:
    """One host: its SSH connection and its layout under ``path``."""

    def __init__(self, spec, config):
        import fabric
        import paramiko

        match = HOST.match(spec)
        self.spec, self.config = spec, config
        self.name = match.group("host").strip("[]")
        self.base = config["path"].replace("{host}", self.name)
        connect_kwargs = {"look_for_keys": config["identity_file"] is None}
        if config["identity_file"]:
            connect_kwargs["key_filename"] = config["identity_file"]
        self.connection = fabric.Connection(
            self.name, user=match.group("user"), port=int(match.group("port") or 22),
            connect_kwargs=connect_kwargs, connect_timeout=15,
        )
        client = self.connection.client
        if os.path.exists(config["known_hosts"]):
            client.load_host_keys(config["known_hosts"])
        policy = paramiko.AutoAddPolicy() if config["accept_new_host_keys"] else paramiko.RejectPolicy()
        client.set_missing_host_key_policy(policy)

    def run(self, step, command, progress=False):
        """Run ``command`` on the host; StepFailed with its last lines if it fails."""
        stream = _ProgressStream(self.spec) if progress else None
        try:
            result = self.connection.run(command, hide=True, warn=True, in_stream=False,
                                         **({"out_stream": stream} if stream else {}))
        except Exception as e:  # noqa: BLE001 - SSH errors come in many types
            raise StepFailed(step, f"{type(e).__name__}: {e}") from None
        if result.exited != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-8:]
            raise StepFailed(step, f"exit {result.exited}: " + " | ".join(output))
        return result.stdout

    def upload(self, local, remote):
        try:
            self.connection.put(local, remote)
        except Exception as e:  # noqa: BLE001
            raise StepFailed("upload", f"{type(e).__name__}: {e}") from None

    def current(self):
        out = self.run("status", f"readlink {q(self.base + '/current')} || true")
        return os.path.basename(out.strip()) or None

    def release_names(self):
        out = self.run("releases", f"ls -1 {q(self.base + '/releases')} 2>/dev/null || true")
        return sorted(n for n in out.split() if not n.endswith(".tar.gz"))

    def deployed_releases(self):
        """Releases that went live and passed their health check, oldest first."""
        out = self.run("releases", f"cd {q(self.base + '/releases')} 2>/dev/null && "
                                   f"ls -1d */{DEPLOYED} 2>/dev/null || true")
        return sorted(line.split("/")[0] for line in out.split())

    def switch(self, release):
        """Point ``current`` at ``release`` with one rename: never missing, never half."""
        tmp = f"{self.base}/.current-{os.getpid()}"
        self.run("switch", f"ln -sfn {q('releases/' + release)} {q(tmp)} && mv -Tf {q(tmp)} {q(self.base + '/current')}")

    def in_current(self, step, command):
        # cd through the symlink: scripts there see .../current, not the release path.
        return self.run(step, f"cd {q(self.base + '/current')} && {command}")

    def close(self):
        self.connection.close()


class _ProgressStream:
    """Shows buildout's progress lines (Installing, Got, ...) prefixed by the host."""

    def __init__(self, host):
        self.host, self.buffer = host, ""

    def write(self, data):
        self.buffer += data
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            if PROGRESS.match(line):
                say(self.host, "  " + line.strip())

    def flush(self):
        pass


def q(value):
    return shlex.quote(value)


def health(config, host):
    """True when health-url answers 200 within health-timeout (or there is no health-url)."""
    if not config["health_url"]:
        return True
    url = config["health_url"].replace("{host}", host.name)
    deadline = time.monotonic() + config["health_timeout"]
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


# -- deploy ----------------------------------------------------------------------

def package(config):
    """The tracked files of the checkout at HEAD (git archive), and its revision."""
    checkout = config["checkout"]
    try:
        revision = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit(f"{checkout} is not a git checkout with a commit: deploy ships the tracked files at HEAD")
    dirty = subprocess.run(["git", "-C", checkout, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        print("Note: uncommitted changes are not deployed; deploying HEAD", revision)
    archive = tempfile.NamedTemporaryFile(prefix="djangowsgi-", suffix=".tar.gz", delete=False)
    archive.close()
    subprocess.run(["git", "-C", checkout, "archive", "--format=tar.gz", "-o", archive.name, "HEAD"], check=True)
    return archive.name, revision


def deploy(config, specs, dry_run=False):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    archive, revision = package(config)
    release = f"{stamp}-{revision}"
    print(f"Deploying release {release} to {len(specs)} host(s), {config['parallel']} at a time.")
    outcome = {spec: "not reached" for spec in specs}
    try:
        if dry_run:
            for spec in specs:
                name = HOST.match(spec).group("host").strip("[]")
                for step in deploy_steps(config, release):
                    say(spec, f"would {step.replace('{host}', name)}")
            return 0
        failed = False
        for start in range(0, len(specs), config["parallel"]):
            group = specs[start:start + config["parallel"]]
            with concurrent.futures.ThreadPoolExecutor(len(group)) as pool:
                results = dict(zip(group, pool.map(lambda s: deploy_host(config, s, release, archive), group)))
            outcome.update(results)
            if any(not ok for ok, _ in results.values()):
                failed = True
                break
    finally:
        os.unlink(archive)
    print("\nSummary:")
    for spec in specs:
        state = outcome[spec]
        print(f"  {spec}: {state if isinstance(state, str) else state[1]}")
    if failed:
        print("Rollout stopped: hosts not reached keep their release.")
        return 1
    return 0


def deploy_steps(config, release):
    steps = ["upload the checkout as releases/" + release, "link shared " + ", ".join(
        config["shared_directories"] + config["shared_files"]),
             f"create a virtualenv with {config['python']}", f"run bin/buildout -N -c {config['buildout_config']}"]
    steps += [f"run {c}" for c in config["before_switch"]]
    steps += ["switch current to " + release] + ([f"run {config['reload']}"] if config["reload"] else [])
    steps += [f"run {c}" for c in config["after_switch"]]
    if config["health_url"]:
        steps.append(f"check {config['health_url']} (200 within {config['health_timeout']} s)")
    return steps + [f"keep {config['keep_releases']} releases"]


def deploy_host(config, spec, release, archive):
    """(ok, what the host is on now)."""
    try:
        host = Host(spec, config)
    except Exception as e:  # noqa: BLE001
        say(spec, f"FAILED: {type(e).__name__}: {e}")
        return False, "FAILED to connect, untouched"
    base = host.base
    rel = f"{base}/releases/{release}"
    previous = None
    try:
        previous = host.current()
        say(spec, f"on {previous or 'no release yet'}; uploading {release}")
        shared = [f"{base}/shared/{d}" for d in ["eggs", "downloads"] + config["shared_directories"]]
        host.run("prepare", "mkdir -p " + " ".join(q(p) for p in [f"{base}/releases", rel] + shared))
        host.upload(archive, f"{rel}.tar.gz")
        host.run("upload", f"tar -xzf {q(rel + '.tar.gz')} -C {q(rel)} && rm -f {q(rel + '.tar.gz')}")
        links = []
        for name in config["shared_directories"] + config["shared_files"]:
            target = f"{base}/shared/{name}"
            links.append(f"test -e {q(target)} || {{ echo 'missing {target}' >&2; exit 1; }}; "
                         f"mkdir -p {q(os.path.dirname(rel + '/' + name))} && rm -rf {q(rel + '/' + name)} && "
                         f"ln -s {q(target)} {q(rel + '/' + name)}")
        if links:
            host.run("link shared", " && ".join(f"( {link} )" for link in links))
        say(spec, "creating the virtualenv")
        requirements = " ".join(q(r) for r in config["buildout_requirements"])
        host.run("virtualenv", f"{q(config['python'])} -m venv {q(rel + '/venv')} && "
                               f"{q(rel + '/venv/bin/pip')} install -q {requirements}")
        say(spec, "running bin/buildout")
        started = time.monotonic()
        served = f" {config['apache_part']}:served-from={q(base + '/current')}" if config["apache_part"] else ""
        host.run("buildout", f"cd {q(rel)} && venv/bin/buildout -N -c {q(config['buildout_config'])} "
                             f"buildout:eggs-directory={q(base + '/shared/eggs')} "
                             f"buildout:download-cache={q(base + '/shared/downloads')}{served}", progress=True)
        say(spec, f"built in {time.monotonic() - started:.1f} s")
        for command in config["before_switch"]:
            say(spec, f"running {command}")
            host.run("before-switch", f"cd {q(rel)} && {command}")
    except StepFailed as e:
        say(spec, f"FAILED: {e}")
        try:  # a release that never went live is of no use to anyone
            host.run("clean up", f"rm -rf {q(rel)} {q(rel + '.tar.gz')}")
        except StepFailed:
            pass
        host.close()
        return False, f"FAILED at {e.step}, still on {previous or 'no release'}"
    try:
        host.switch(release)
        say(spec, f"switched current to {release}")
        if config["reload"]:
            host.in_current("reload", config["reload"])
        for command in config["after_switch"]:
            say(spec, f"running {command}")
            host.in_current("after-switch", command)
        if not health(config, host):
            raise StepFailed("health check", f"{config['health_url'].replace('{host}', host.name)} "
                                             f"did not answer 200 within {config['health_timeout']} s")
        if config["health_url"]:
            say(spec, "healthy")
        host.run("mark", f"touch {q(rel + '/' + DEPLOYED)}")
        prune(config, host, release, previous)
        return True, f"on {release}"
    except StepFailed as e:
        say(spec, f"FAILED: {e}")
        if not previous:
            return False, f"FAILED at {e.step}, on {release} (no earlier release to go back to)"
        try:
            host.switch(previous)
            if config["reload"]:
                host.in_current("reload", config["reload"])
            say(spec, f"rolled back to {previous}")
            return False, f"FAILED at {e.step}, rolled back to {previous}"
        except StepFailed as again:
            return False, f"FAILED at {e.step}, and rolling back failed too: {again}"
    finally:
        host.close()


def prune(config, host, current, previous):
    names = host.release_names()
    keep = set(names[-config["keep_releases"]:]) | {current, previous}
    doomed = [n for n in names if n not in keep]
    if doomed:
        host.run("prune", "rm -rf " + " ".join(q(f"{host.base}/releases/{n}") for n in doomed))
        say(host.spec, f"removed {len(doomed)} old release(s)")


# -- other commands --------------------------------------------------------------

def for_each_host(config, specs, action):
    with concurrent.futures.ThreadPoolExecutor(max(1, min(len(specs), 8))) as pool:
        return list(pool.map(lambda spec: _guarded(config, spec, action), specs))


def _guarded(config, spec, action):
    host = None
    try:
        host = Host(spec, config)
        return action(host)
    except StepFailed as e:
        say(spec, f"FAILED: {e}")
        return False
    except Exception as e:  # noqa: BLE001
        say(spec, f"FAILED: {type(e).__name__}: {e}")
        return False
    finally:
        if host:
            host.close()


def rollback(config, specs):
    def action(host):
        current = host.current()
        older = [n for n in host.deployed_releases() if current and n < current]
        if not older:
            say(host.spec, f"on {current or 'no release'}: no earlier release to go back to")
            return False
        host.switch(older[-1])
        if config["reload"]:
            host.in_current("reload", config["reload"])
        healthy = health(config, host)
        say(host.spec, f"rolled back from {current} to {older[-1]}" + ("" if healthy else ", NOT healthy"))
        return healthy

    for start in range(0, len(specs), config["parallel"]):
        if not all(for_each_host(config, specs[start:start + config["parallel"]], action)):
            return 1
    return 0


def status(config, specs):
    def action(host):
        current = host.current()
        healthy = health(config, host) if current else False
        state = "healthy" if healthy else "NOT healthy"
        say(host.spec, f"current {current or '(none)'}, {state if config['health_url'] else 'no health-url'}")
        return healthy
    return 0 if all(for_each_host(config, specs, action)) else 1


def releases(config, specs):
    def action(host):
        current = host.current()
        names = host.release_names()
        say(host.spec, f"{len(names)} release(s)")
        for name in names:
            say(host.spec, ("* " if name == current else "  ") + name)
        return True
    return 0 if all(for_each_host(config, specs, action)) else 1
