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
import hashlib
import os
import re
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from djangowsgi import __version__
from djangowsgi.runtime import shipping

HOST = re.compile(r"(?:(?P<user>[^@]+)@)?(?P<host>\[[^\]]+\]|[^:]+)(?::(?P<port>\d+))?\Z")
PROGRESS = re.compile(r"^(Installing|Updating|Got|Develop|Uninstalling) ")
print_lock = threading.Lock()
# The health check goes straight to each host, whatever http_proxy says.
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
DEPLOYED = ".deployed"
CONTENT = ".content"  # a release's content_key  # in a release that went live and passed its health check
BUILT_WITH = ".djangowsgi-version"  # in each release: the djangowsgi it was built with


class StepFailed(Exception):
    """``step`` (what was being done: "run bin/buildout") failed with ``message``."""

    def __init__(self, step, message):
        super().__init__(message if step == "connect" else f"could not {step}: {message}")
        self.step, self.message = step, str(self)


def say(host, message):
    with print_lock:
        print(f"[{host}] {message}", flush=True)


def main(config, argv):
    parser = argparse.ArgumentParser(prog=f"bin/{config['part']}", description="Deploy this buildout with Fabric.")
    commands = parser.add_subparsers(dest="command", required=True)
    deploy_parser = commands.add_parser("deploy", help="build a new release on each host and switch to it")
    deploy_parser.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
    deploy_parser.add_argument("--force", action="store_true",
                               help="build a new release even on hosts already on this one's content")
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
        return deploy(config, hosts, args.dry_run, args.force)
    if args.command == "rollback":
        return rollback(config, hosts)
    if args.command == "status":
        return status(config, hosts)
    return releases(config, hosts)


class Host:
    """One host: its SSH connection and its layout under ``path``."""

    def __init__(self, spec, config):
        import fabric

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

    def connect(self):
        """Open the SSH connection; a failure says which of reaching the host, its
        key and the login went wrong."""
        import paramiko
        client = self.connection.client
        policy = paramiko.AutoAddPolicy() if self.config["accept_new_host_keys"] else paramiko.RejectPolicy()
        client.set_missing_host_key_policy(policy)
        try:
            if os.path.exists(self.config["known_hosts"]):
                client.load_host_keys(self.config["known_hosts"])
            self.connection.open()
        except paramiko.AuthenticationException as e:
            raise StepFailed("connect", f"could not log in as {self.connection.user}: {e}") from None
        except paramiko.SSHException as e:
            raise StepFailed("connect", f"could not connect: {e}") from None
        except Exception as e:  # noqa: BLE001 - refused, unreachable, timed out, no such host
            raise StepFailed("connect", f"could not connect: {type(e).__name__}: {e}") from None

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

    def upload(self, local, remote, step="upload the release"):
        try:
            self.connection.put(local, remote)
        except Exception as e:  # noqa: BLE001
            raise StepFailed(step, f"{type(e).__name__}: {e}") from None

    def current(self):
        out = self.run("read the current release", f"readlink {q(self.base + '/current')} || true")
        return os.path.basename(out.strip()) or None

    def built_with(self):
        """The djangowsgi version the current release was built with (releases of 0.1.0
        and before have no record)."""
        out = self.run("read the current release", f"cat {q(self.base + '/current/' + BUILT_WITH)} 2>/dev/null || true")
        return out.strip() or "not recorded"

    def release_names(self):
        out = self.run("list the releases", f"ls -1 {q(self.base + '/releases')} 2>/dev/null || true")
        return release_names(out)

    def deployed_releases(self):
        """Releases that went live and passed their health check, oldest first."""
        out = self.run("list the releases", f"cd {q(self.base + '/releases')} 2>/dev/null && "
                                            f"ls -1d */{DEPLOYED} 2>/dev/null || true")
        return sorted(line.split("/")[0] for line in out.split())

    def switch(self, release):
        """Point ``current`` at ``release`` with one rename: never missing, never half."""
        tmp = f"{self.base}/.current-{os.getpid()}"
        self.run("switch current", f"ln -sfn {q('releases/' + release)} {q(tmp)} && mv -Tf {q(tmp)} {q(self.base + '/current')}")

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
            request = urllib.request.Request(url, headers={"Host": config["health_host"]} if config["health_host"] else {})
            with NO_PROXY.open(request, timeout=5) as response:
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


def deploy(config, specs, dry_run=False, force=False):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    archive, revision = package(config)
    release = f"{stamp}-{revision}"
    try:
        if dry_run:
            build_steps, switch_steps = deploy_steps(config, release)
            for heading, steps in [(f"Would build release {release} on each host that needs it, "
                                    f"{config['build_parallel']} at a time:", build_steps),
                                   (f"Then would switch them, {config['parallel']} at a time:", switch_steps)]:
                print(heading)
                for spec in specs:
                    name = HOST.match(spec).group("host").strip("[]")
                    for step in steps:
                        say(spec, f"would {step.replace('{host}', name)}")
            return 0
        with concurrent.futures.ThreadPoolExecutor(1) as background:
            packed = background.submit(shipping.prepare, config)  # done by bin/buildout, unless cleaned
            config = dict(config, outside_develop=shipping.outside_develop(config), force=force)
            config["content"] = content_key(config)
            hosts = {spec: Host(spec, config) for spec in specs}
            try:
                return rollout(config, specs, hosts, release, archive, packed)
            finally:
                for host in hosts.values():
                    host.close()
    finally:
        os.unlink(archive)


def content_key(config):
    """What a release is made of: the checkout's tree at HEAD, the develop eggs'
    trees and everything the recipe passes to the hosts' buildout. A host whose
    current release has the same key needs no new one."""
    tree = subprocess.run(["git", "-C", config["checkout"], "rev-parse", "HEAD^{tree}"], capture_output=True,
                          text=True, check=True).stdout.strip()
    inputs = [tree, config["buildout_config"], config["apache_part"] or "", *config["buildout_requirements"],
              *config["shipped_eggs"], *config["host_settings"], *config["develop"],
              *(name for name, _ in config["outside_develop"].values()), *config["before_switch"]]
    return hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]


def rollout(config, specs, hosts, release, archive, packed):
    """Every host looked at first (all reachable, or nothing changes); the release
    built on every host that needs it, ``build-parallel`` at a time (a failure
    anywhere, and none is switched); then switched ``parallel`` at a time,
    stopping at the first group with a failure."""
    looked = dict(zip(specs, _in_threads(lambda spec: look(config, hosts[spec]), specs, len(specs))))
    unreachable = {spec: e for spec, e in looked.items() if isinstance(e, StepFailed)}
    outcome = {}
    for spec, layout in looked.items():
        if spec in unreachable:
            outcome[spec] = f"FAILED: {unreachable[spec].message}; release unknown"
        else:
            outcome[spec] = f"not reached, still on {layout.current or 'no release'}"
    if unreachable:
        print(f"Not deploying release {release}: {len(unreachable)} host(s) could not be looked at.")
        return summary(specs, outcome, "Nothing was changed on any host.")
    building = []
    for spec in specs:
        layout = looked[spec]
        if layout.current and layout.content == config["content"] and not config["force"]:
            say(spec, f"on {layout.current}, which has this release's content: nothing to do "
                      f"(--force builds it anew)")
            outcome[spec] = f"on {layout.current} (unchanged)"
        else:
            building.append(spec)
    if not building:
        return summary(specs, outcome)
    try:
        packed.result()
    except (OSError, RuntimeError) as e:
        print(f"Not deploying release {release}: could not prepare the eggs and wheels to ship: {e}")
        return summary(specs, outcome, "Nothing was changed on any host.")
    shipments = {spec: shipment(config, looked[spec]) for spec in building}
    print(f"Building release {release} on {len(building)} host(s), {config['build_parallel']} at a time.")
    failures = dict(zip(building, _in_threads(
        lambda spec: build(config, hosts[spec], looked[spec], release, archive, shipments[spec]),
        building, min(len(building), config["build_parallel"]))))
    if any(failures.values()):
        for spec in building:
            previous = looked[spec].current or "no release"
            outcome[spec] = (f"FAILED to {failures[spec].step}, still on {previous}" if failures[spec]
                             else f"not switched, still on {previous}")
        remove_release(config, [hosts[spec] for spec in building if not failures[spec]], release)
        return summary(specs, outcome, "Nothing was switched: the release did not build on every host.")
    print(f"Switching {len(building)} host(s) to {release}, {config['parallel']} at a time.")
    for start in range(0, len(building), config["parallel"]):
        group = building[start:start + config["parallel"]]
        results = _in_threads(lambda spec: go_live(config, hosts[spec], looked[spec].current, release),
                              group, len(group))
        outcome.update((spec, state) for spec, (_, state) in zip(group, results))
        if not all(ok for ok, _ in results):
            rest = building[start + len(group):]
            for spec in rest:
                outcome[spec] = f"not switched, still on {looked[spec].current or 'no release'}"
            remove_release(config, [hosts[spec] for spec in rest], release)
            return summary(specs, outcome, "Rollout stopped: hosts not switched keep their release.")
    return summary(specs, outcome)


def look(config, host):
    try:
        host.connect()
        return Layout(config, host)
    except StepFailed as e:
        say(host.spec, f"FAILED: {e}")
        return e


def summary(specs, outcome, failure=None):
    print("\nSummary:")
    for spec in specs:
        print(f"  {spec}: {outcome[spec]}")
    if failure:
        print(failure)
        return 1
    return 0


def _in_threads(function, items, threads):
    with concurrent.futures.ThreadPoolExecutor(max(1, threads)) as pool:
        return list(pool.map(function, items))


def deploy_steps(config, release):
    """What a deploy does on a host: (the build steps, the switch steps)."""
    shared = ", ".join(config["shared_directories"] + config["shared_files"])
    build = []
    if config["ship_eggs"]:
        build += [f"check that {config['python']} is Python {config['python_version']} on {config['platform']}",
                  f"ship the eggs it lacks of {len(config['shipped_eggs'])} into shared/eggs"]
    build += ["upload the checkout as releases/" + release, "link shared " + shared,
              f"make shared/buildout/{shipping.venv_key(config)} with {config['python']} and "
              f"{', '.join(config['buildout_requirements'])}, unless it is there"
              + (" (from shipped wheels)" if config["ship_eggs"] else ""),
              f"run bin/buildout -N -c {config['buildout_config']}"
              + (" with no package index" if config["ship_eggs"] else "")
              + "".join(f" {setting}" for setting in config["host_settings"])]
    switch = [f"run {c}" for c in config["before_switch"]]
    switch += ["switch current to " + release] + ([f"run {config['reload']}"] if config["reload"] else [])
    switch += [f"run {c}" for c in config["after_switch"]]
    if config["health_url"]:
        switch.append(f"check {config['health_url']} from this machine"
                      + (f" with Host: {config['health_host']}" if config["health_host"] else "")
                      + f" (200 within {config['health_timeout']} s)")
    return build, switch + [f"keep {config['keep_releases']} releases"]


class Layout:
    """What a host has, read in one command: its release, its Python, its shared eggs,
    wheels and buildout virtualenv."""

    def __init__(self, config, host):
        self.venv = f"{host.base}/shared/buildout/{shipping.venv_key(config)}"
        self.eggs = f"{host.base}/shared/eggs" + (f"/{config['eggs_subdirectory']}"
                                                  if config["eggs_subdirectory"] else "")
        self.wheels = f"{host.base}/shared/wheels"
        self.develop = f"{host.base}/shared/develop"
        probe = ("import sys, sysconfig; print('%d.%d' % sys.version_info[:2], sysconfig.get_platform())")
        out = host.run("look at the host", "; echo ---; ".join([
            f"readlink {q(host.base + '/current')}",
            f"{q(config['python'])} -c {q(probe)} || echo missing",
            f"ls -1 {q(self.eggs)} 2>/dev/null",
            f"ls -1 {q(self.wheels)} 2>/dev/null",
            f"test -e {q(self.venv + '/.complete')} && echo yes",
            f"ls -1 {q(self.develop)} 2>/dev/null",
            f"test -e {q(host.base + '/current/' + DEPLOYED)} && cat {q(host.base + '/current/' + CONTENT)}",
        ]) + "; true")
        current, python, eggs, wheels, venv, develop, content = (
            part.strip() for part in (out + "\n").split("---\n"))
        self.content = content or None  # of the current release, if it went live
        self.develop_here = set(develop.split())
        self.current = os.path.basename(current) or None
        self.python = python
        self.eggs_here, self.wheels_here = set(eggs.split()), set(wheels.split())
        self.has_venv = venv == "yes"


class Shipment:
    """What one host lacks: (name, archive) of eggs and develop eggs, wheel files."""

    def __init__(self, eggs, develop, wheels):
        self.eggs, self.develop, self.wheels = eggs, develop, wheels


def shipment(config, layout):
    """What ``layout``'s host lacks, packed here (once for all hosts) before any build starts."""
    develop = [(name, archive) for name, archive in config["outside_develop"].values()
               if name not in layout.develop_here]
    if not config["ship_eggs"]:
        return Shipment([], develop, [])
    eggs = [(egg, shipping.egg_archive(config, egg)) for egg in config["shipped_eggs"]
            if egg not in layout.eggs_here]
    wheels = [] if layout.has_venv else [w for w in shipping.local_wheels(config)
                                         if os.path.basename(w) not in layout.wheels_here]
    return Shipment(eggs, develop, wheels)


def build(config, host, layout, release, archive, shipped):
    """The release built on ``host``, not yet live; None, or the StepFailed (and the
    release removed)."""
    spec, base = host.spec, host.base
    rel = f"{base}/releases/{release}"
    incoming = f".incoming-{os.getpid()}"
    try:
        say(spec, f"on {layout.current or 'no release yet'}; uploading {release}")
        if config["ship_eggs"]:
            check_python(config, host, layout)
        shared = [f"{base}/shared/{d}" for d in ["eggs", "downloads", "buildout"] + config["shared_directories"]]
        host.run("prepare directories", "mkdir -p " + " ".join(q(p) for p in [
            f"{base}/releases", rel, *shared, f"{layout.eggs}/{incoming}", f"{layout.develop}/{incoming}",
            layout.wheels]))
        if shipped.eggs:
            say(spec, f"shipping {len(shipped.eggs)} egg(s): {', '.join(name for name, _ in shipped.eggs)}")
        if shipped.develop:
            say(spec, f"shipping develop egg(s) {', '.join(name for name, _ in shipped.develop)}")
        for wheel in shipped.wheels:
            host.upload(wheel, f"{layout.wheels}/{os.path.basename(wheel)}", "ship wheels")
        # The virtualenv needs only the wheels: it is made while the rest goes up.
        with concurrent.futures.ThreadPoolExecutor(1) as background:
            venv = background.submit(make_buildout_venv, config, host, layout) if not layout.has_venv else None
            try:
                for name, egg in shipped.eggs:
                    host.upload(egg, f"{layout.eggs}/{incoming}/{name}.tar.gz", "ship eggs")
                for name, tree in shipped.develop:
                    host.upload(tree, f"{layout.develop}/{incoming}/{name}.tar.gz", "ship develop eggs")
                host.upload(archive, f"{rel}.tar.gz")
                host.run("unpack the release", " && ".join([
                    unpack_command(layout.eggs, incoming, [name for name, _ in shipped.eggs]),
                    unpack_command(layout.develop, incoming, [name for name, _ in shipped.develop]),
                    f"tar -xzf {q(rel + '.tar.gz')} -C {q(rel)} && rm -f {q(rel + '.tar.gz')}",
                    f"echo {q(__version__)} > {q(rel + '/' + BUILT_WITH)}",
                    *link_commands(config, base, rel)]))
            finally:
                if venv:
                    venv.result()
        run_buildout(config, host, layout, rel)
    except StepFailed as e:
        say(spec, f"FAILED: {e}")
        try:  # a release that never went live is of no use to anyone
            host.run("clean up", f"rm -rf {q(rel)} {q(rel + '.tar.gz')} {q(layout.eggs + '/' + incoming)} "
                                 f"{q(layout.develop + '/' + incoming)}")
        except StepFailed:
            pass
        return e
    return None


def check_python(config, host, layout):
    """Shipped eggs run only on the Python and platform they were built for."""
    if layout.python == "missing" or not layout.python:
        raise StepFailed("check the host's Python", f"{config['python']} does not run on {host.name}")
    version, platform = layout.python.split()
    if (version, platform) != (config["python_version"], config["platform"]):
        raise StepFailed("check the host's Python",
                         f"{config['python']} on {host.name} is Python {version} on {platform}, but the eggs "
                         f"shipped from here are for Python {config['python_version']} on {config['platform']}: "
                         f"deploy from a machine like the hosts, or set ship-eggs = false so that the hosts "
                         f"fetch their own")


def unpack_command(directory, incoming, names):
    """Each uploaded ``incoming/<name>.tar.gz`` unpacked and moved to ``directory/<name>``
    whole: a half-unpacked one never appears under its name."""
    loop = (f"for name in {' '.join(q(n) for n in names)}; do tar -xzf \"$name.tar.gz\" && "
            f"rm -f \"$name.tar.gz\" && {{ test -e ../\"$name\" || mv \"$name\" ../; }} || exit 1; done && "
            if names else "")
    return f"( cd {q(directory + '/' + incoming)} && {loop}cd .. && rm -rf {q(incoming)} )"


def link_commands(config, base, rel):
    links = []
    for name in config["shared_directories"] + config["shared_files"]:
        target = f"{base}/shared/{name}"
        links.append(f"( test -e {q(target)} || {{ echo 'missing {target}' >&2; exit 1; }}; "
                     f"mkdir -p {q(os.path.dirname(rel + '/' + name))} && rm -rf {q(rel + '/' + name)} && "
                     f"ln -s {q(target)} {q(rel + '/' + name)} )")
    return links


def make_buildout_venv(config, host, layout):
    """The virtualenv that runs bin/buildout, shared by every release with the same
    versions. From shipped pure-Python wheels, it is made without pip: the wheels
    are unpacked into its site-packages (installing a wheel is that) and bin/buildout
    written (0.8 s here, where making it with pip took 7-9 s); with pip otherwise."""
    say(host.spec, f"making {layout.venv}")
    venv, python = q(layout.venv), q(config["python"])
    wheels = shipping.local_wheels(config) if config["ship_eggs"] else []
    if wheels and shipping.purelib_wheels(wheels):
        script = f"#!{layout.venv}/bin/python\nimport sys\nfrom zc.buildout.buildout import main\nsys.exit(main())\n"
        site = f"$({venv}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')"
        make = (f"{python} -m venv --without-pip {venv} && site={site} && for wheel in "
                + " ".join(q(f"{layout.wheels}/{os.path.basename(w)}") for w in wheels)
                + f"; do {venv}/bin/python -m zipfile -e \"$wheel\" \"$site\" || exit 1; done && "
                f"printf %s {q(script)} > {venv}/bin/buildout && chmod 755 {venv}/bin/buildout")
    else:
        source = f"--no-index --find-links {q(layout.wheels)} " if config["ship_eggs"] else ""
        requirements = " ".join(q(r) for r in config["buildout_requirements"])
        make = (f"{python} -m venv {venv} && "
                f"{venv}/bin/pip install -q --disable-pip-version-check {source}{requirements}")
    host.run("make the buildout virtualenv", f"rm -rf {venv} && {make} && touch {venv}/.complete")


def run_buildout(config, host, layout, rel):
    say(host.spec, "running bin/buildout")
    started = time.monotonic()
    base = host.base
    settings = [f"buildout:eggs-directory={base}/shared/eggs", f"buildout:download-cache={base}/shared/downloads"]
    if config["apache_part"]:
        settings.append(f"{config['apache_part']}:served-from={base}/current")
    environment = ""
    if config["ship_eggs"]:
        # Nothing may come from an index: a missing egg fails the build, loudly.
        settings.append(f"buildout:index=file://{layout.wheels}")
        environment = "PIP_NO_INDEX=1 PIP_NO_BUILD_ISOLATION=0 "
    develop = config["outside_develop"]
    if develop:  # the paths outside the checkout, as shipped
        settings.append("buildout:develop=" + " ".join(
            f"{layout.develop}/{develop[path][0]}" if path in develop else path for path in config["develop"]))
    settings += [setting.replace("{host}", host.name) for setting in config["host_settings"]]
    host.run("run bin/buildout", f"cd {q(rel)} && {environment}{q(layout.venv + '/bin/buildout')} -N "
                                 f"-c {q(config['buildout_config'])} " + " ".join(q(s) for s in settings),
             progress=True)
    say(host.spec, f"built in {time.monotonic() - started:.1f} s")


def remove_release(config, hosts, release):
    """``release``, built and never switched to, removed from ``hosts``."""
    def remove(host):
        try:
            host.run("clean up", f"rm -rf {q(host.base + '/releases/' + release)}")
        except StepFailed as e:
            say(host.spec, f"FAILED: {e}")
    _in_threads(remove, hosts, min(len(hosts), config["build_parallel"]))


def go_live(config, host, previous, release):
    """before-switch, the switch, the reload and the health check: (ok, what the host is on now)."""
    spec = host.spec
    rel = f"{host.base}/releases/{release}"
    try:
        for command in config["before_switch"]:
            say(spec, f"running {command}")
            host.run("before-switch", f"cd {q(rel)} && {command}")
    except StepFailed as e:
        say(spec, f"FAILED: {e}")
        remove_release(config, [host], release)
        return False, f"FAILED to {e.step}, still on {previous or 'no release'}"
    try:
        host.switch(release)
        say(spec, f"switched current to {release}")
        if config["reload"]:
            host.in_current("reload", config["reload"])
        for command in config["after_switch"]:
            say(spec, f"running {command}")
            host.in_current("after-switch", command)
        if not health(config, host):
            raise StepFailed("pass the health check", f"{config['health_url'].replace('{host}', host.name)} "
                                                      f"did not answer 200 within {config['health_timeout']} s")
        if config["health_url"]:
            say(spec, "healthy")
        names = host.run("mark the release", f"echo {q(config['content'])} > {q(rel + '/' + CONTENT)} && "
                                             f"touch {q(rel + '/' + DEPLOYED)} && ls -1 {q(host.base + '/releases')}")
        prune(config, host, release_names(names), release, previous)
        return True, f"on {release}"
    except StepFailed as e:
        say(spec, f"FAILED: {e}")
        if not previous:
            return False, f"FAILED to {e.step}, on {release} (no earlier release to go back to)"
        try:
            host.switch(previous)
            if config["reload"]:
                host.in_current("reload", config["reload"])
            say(spec, f"rolled back to {previous}")
            return False, f"FAILED to {e.step}, rolled back to {previous}"
        except StepFailed as again:
            return False, f"FAILED to {e.step}, and rolling back failed too: {again}; release unknown"


def release_names(listing):
    return sorted(n for n in listing.split() if not n.endswith(".tar.gz"))


def prune(config, host, names, current, previous):
    keep = set(names[-config["keep_releases"]:]) | {current, previous}
    doomed = [n for n in names if n not in keep]
    if doomed:
        host.run("prune", "rm -rf " + " ".join(q(f"{host.base}/releases/{n}") for n in doomed))
        say(host.spec, f"removed {len(doomed)} old release(s)")


# -- other commands --------------------------------------------------------------

def for_each_host(config, specs, action):
    return _in_threads(lambda spec: _guarded(config, spec, action), specs, min(len(specs), 8))


def _guarded(config, spec, action):
    host = Host(spec, config)
    try:
        host.connect()
        return action(host)
    except StepFailed as e:
        say(spec, f"FAILED: {e}" + ("; release unknown" if e.step == "connect" else ""))
        return False
    finally:
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
        built_with = f" (djangowsgi {host.built_with()})" if current else ""
        say(host.spec, f"current {current or '(none)'}{built_with}, "
                       f"{state if config['health_url'] else 'no health-url'}")
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
