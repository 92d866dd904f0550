"""Hosts that are directories on this machine, at the deploy's own seam (the
``Host`` of runtime/hosts.py, as ``DryRunHost`` shows): each command a deploy
sends runs in a local shell on real files, uploads are copies. Only what needs
a real site is the test's to say: bin/buildout, the reload and the health check
succeed unless told otherwise, the buildout virtualenv is an empty directory,
and a host can be down or drop its connection at a step. tests/e2e/test_deploy.py
runs the same deploys against real sshd hosts, for what only they can show."""
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
from concurrent.futures import Future

from djangowsgi.runtime.deploy_config import DeployConfig, Facts
from djangowsgi.runtime.front_door import FrontDoor
from djangowsgi.runtime.hosts import ConnectionLost, Host, StepFailed

# Steps that would run the site's own buildout or server: done here as they would succeed.
PRETENDED = ("run bin/buildout", "reload", "before-switch", "after-switch", "restart the workers",
             "stop the workers", "enable the jobs", "disable the jobs")


class World:
    """The hosts of one test, what each host did, and what goes wrong where."""

    def __init__(self, root):
        self.root = root
        self.steps = []  # (host name, step), in order
        self.down = set()  # host names that refuse connections
        self.failing = {}  # (host name, step): "fail", "fail once" or "lost"
        self.workers_running = set()  # host names whose bin/<worker part> status says running
        self.unhealthy = set()  # host names whose health check fails
        self.specs = [f"root@127.0.0.{n}:22" for n in (2, 3, 4)]

    def host(self, spec, config):
        return LocalHost(spec, config, self)

    def did(self, name, step):
        return (name, step) in self.steps

    def config(self, **changes):
        values = dict(
            part="deploy", checkout=str(self.root / "checkout"), hosts=self.specs,
            path=str(self.root / "hosts" / "{host}"), python=sys.executable, buildout_config="production.cfg",
            apache_part="apache", buildout_requirements=["zc.buildout==6.0.1", "zc.recipe.egg==6.0.0"],
            ship_eggs=False, eggs_directory=str(self.root / "eggs"), eggs_subdirectory="v5", shipped_eggs=[],
            python_version="%d.%d" % sys.version_info[:2], platform=sysconfig.get_platform(), host_settings=[],
            develop=[], work_directory=str(self.root / "work"), parallel=1, build_parallel=3,
            health_url="http://{host}:8000/", health_timeout=1, health_host="", keep_releases=5,
            before_switch=[], after_switch=[], reload="bin/apache reload", identity_file=None,
            known_hosts=str(self.root / "known_hosts"), accept_new_host_keys=False, shared_directories=[],
            shared_files=[], djangowsgi_version="0.2.0.test")
        values.update(changes)
        return DeployConfig(**values)

    def archive(self, text, files=None):
        """A release's checkout, packed as rollout.package packs one: a page saying
        ``text``, and ``files`` ({path: (content, mode)})."""
        source = self.root / "source"
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        for name, (content, mode) in {"page.txt": (text, 0o644), **(files or {})}.items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_text(content)
            (source / name).chmod(mode)
        archive = self.root / f"release-{len(self.steps)}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=str(path.relative_to(source)))
        return str(archive)

    def base(self, name):
        return self.root / "hosts" / name

    def current(self, name):
        link = self.base(name) / "current"
        return link.readlink().name if link.is_symlink() else None

    def releases(self, name):
        directory = self.base(name) / "releases"
        return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def deploy(world, config, release, text="a page", content="content-1", force=False, front=None, files=None):
    """One rollout of ``release`` (a release name) to the world's hosts, through
    ``front`` (a LocalBalancer) if given, the release holding ``files`` too: its exit status."""
    from djangowsgi.runtime.rollout import Progress, rollout
    packed = Future()
    packed.set_result(None)
    specs = list(config.hosts)
    hosts = {spec: world.host(spec, config) for spec in specs}
    facts = Facts(outside_develop={}, force=force, content=content)
    return rollout(config, facts, specs, hosts, release, world.archive(text, files), packed, Progress(), front)


class LocalHost(Host):
    def __init__(self, spec, config, world):
        self.world = world
        super().__init__(spec, config)

    def _connection(self, match):
        return None

    def connect(self):
        if self.name in self.world.down:
            raise StepFailed("connect", "could not connect: NoValidConnectionsError")

    def run(self, step, command, progress=False):
        self.doing = step
        self.world.steps.append((self.name, step))
        failing = self.world.failing.get((self.name, step))
        if failing == "fail once":
            del self.world.failing[(self.name, step)]
            failing = "fail"
        if failing == "lost":
            raise ConnectionLost(step)
        if failing == "fail":
            raise StepFailed(step, f"exit 1: {step} failed on purpose")
        if step in PRETENDED:
            return ""
        if step == "read the workers":
            running = self.name in self.world.workers_running
            return ("[tasks] supervisor pid 41, 1 worker(s) of /srv/releases/x/parts/tasks/worker:\nexit 0\n"
                    if running else "[tasks] not running.\nexit 3\n")
        if step == "make the buildout virtualenv":
            venv = re.match(r"rm -rf (\S+) && ", command).group(1)
            command = f"mkdir -p {venv} && touch {venv}/.complete"
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
        if result.returncode:
            raise StepFailed(step, f"exit {result.returncode}: {result.stderr.strip()}")
        return result.stdout

    def upload(self, local, remote, step="upload the release"):
        self.doing = step
        self.world.steps.append((self.name, step))
        shutil.copy(local, remote)

    def healthy(self):
        self.world.steps.append((self.name, "pass the health check"))
        return self.name not in self.world.unhealthy

    def close(self):
        pass


class LocalBalancer(FrontDoor):
    """The balancer at the FrontDoor's seam: bin/<balancer>'s commands answered as
    it answers them, from a dict of backend states; what it was told goes into
    the world's steps as ("balancer", "drain 127.0.0.2")."""

    def __init__(self, world, config, backends=None):
        super().__init__(config)
        self.world = world
        self.states = {f"{name}:8000": "UP" for name in backends or ("127.0.0.2", "127.0.0.3", "127.0.0.4")}
        self.unreachable = False
        self.never_up = set()  # hosts whose health check on the balancer never passes

    def run(self, *args):
        self.world.steps.append(("balancer", " ".join(args)))
        if self.unreachable:
            raise StepFailed(f"run {args[0]} on the balancer", "could not connect: NoValidConnectionsError")
        if args[0] == "servers":
            return 0, "\n".join(f"{name} {state} 0 0" for name, state in self.states.items())
        command, host = args
        named = [name for name in self.states if name.rsplit(":", 1)[0] == host]
        if not named:
            return 2, f"{host!r} is no backend of this balancer."
        for name in named:
            self.states[name] = "DRAIN" if command == "drain" else ("DOWN" if host in self.never_up else "UP")
        if command == "ready" and host in self.never_up:
            return 1, f"Ready, but not UP after 30 s (its health check fails): {named[0]} DOWN."
        return 0, f"{ {'drain': 'Drained', 'ready': 'Ready:'}[command]} {', '.join(named)}."
