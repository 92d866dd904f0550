"""The SSH side of a deploy: one host, its connection, the commands run there,
and its layout under ``path``::

    releases/<timestamp>-<revision>/   one checkout each, built by its own bin/buildout
    current -> releases/...            what is served; switched with an atomic rename
    shared/eggs, shared/downloads      eggs and downloads shared by all releases
    shared/<shared-directories>        state that outlives releases (var/: database,
    shared/<shared-files>              logs, pid files, sockets; host.cfg, secrets)
"""
import concurrent.futures
import os
import re
import shlex
import threading
import time
import urllib.error
import urllib.request

from djangowsgi.runtime import direct

HOST = re.compile(r"(?:(?P<user>[^@]+)@)?(?P<host>\[[^\]]+\]|[^:]+)(?::(?P<port>\d+))?\Z")
PROGRESS = re.compile(r"^(Installing|Updating|Got|Develop|Uninstalling) ")
print_lock = threading.Lock()
DEPLOYED = ".deployed"  # in a release that went live and passed its health check
CONTENT = ".content"  # a release's content key
BUILT_WITH = ".djangowsgi-version"  # in each release: the djangowsgi it was built with


class StepFailed(Exception):
    """``step`` (what was being done: "run bin/buildout") failed with ``message``."""

    lost = False

    def __init__(self, step, message):
        super().__init__(message if step == "connect" else f"could not {step}: {message}")
        self.step, self.message = step, str(self)

    def outcome(self, previous):
        """The summary's line for a host left on ``previous`` by this failure."""
        return f"FAILED to {self.step}, still on {previous or 'no release'}"


class ConnectionLost(StepFailed):
    """The connection dropped while ``step`` ran: the step's own outcome is unknown."""

    lost = True

    def __init__(self, step):
        Exception.__init__(self, f"lost the connection while {gerund(step)}")
        self.step, self.message = step, str(self)

    def outcome(self, previous):
        return f"lost the connection while {gerund(self.step)}, still on {previous or 'no release'}"


def gerund(step):
    """"run bin/buildout" -> "running bin/buildout"."""
    verb, _, rest = step.partition(" ")
    doubled = {"run": "running", "ship": "shipping", "put": "putting"}
    verb = doubled.get(verb) or (verb[:-1] + "ing" if verb.endswith("e") and not verb.endswith("ee") else verb + "ing")
    return f"{verb} {rest}".strip()


# Every open connection, so that an interrupted deploy can close them all and
# the threads waiting on them return.
_open_hosts = set()
_open_lock = threading.Lock()


def close_every_connection():
    with _open_lock:
        hosts = list(_open_hosts)
    for host in hosts:
        host.close()


def say(host, message):
    with print_lock:
        print(f"[{host}] {message}", flush=True)


class Host:
    """One host: its SSH connection and its layout under ``path``."""

    dry_run = False

    def __init__(self, spec, config):
        match = HOST.match(spec)
        self.spec, self.config = spec, config
        self.name = match.group("host").strip("[]")
        self.base = config.path.replace("{host}", self.name)
        self.connection = self._connection(match)
        self.doing = "connect"  # the step running, for an interrupted deploy's summary
        self.switching = False  # set once a switch of current has begun

    def _connection(self, match):
        import fabric

        connect_kwargs = {"look_for_keys": self.config.identity_file is None}
        if self.config.identity_file:
            connect_kwargs["key_filename"] = self.config.identity_file
        return fabric.Connection(
            self.name, user=match.group("user"), port=int(match.group("port") or 22),
            connect_kwargs=connect_kwargs, connect_timeout=15,
        )

    def connect(self):
        """Open the SSH connection; a failure says which of reaching the host, its
        key and the login went wrong."""
        import paramiko
        client = self.connection.client
        policy = paramiko.AutoAddPolicy() if self.config.accept_new_host_keys else paramiko.RejectPolicy()
        client.set_missing_host_key_policy(policy)
        try:
            if os.path.exists(self.config.known_hosts):
                client.load_host_keys(self.config.known_hosts)
            with _open_lock:
                _open_hosts.add(self)
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
        self.doing = step
        try:
            result = self.connection.run(command, hide=True, warn=True, in_stream=False,
                                         **({"out_stream": stream} if stream else {}))
        except Exception as e:  # noqa: BLE001 - SSH errors come in many types
            if self.lost():
                raise ConnectionLost(step) from None
            raise StepFailed(step, f"{type(e).__name__}: {e}") from None
        if result.exited in (None, -1) or (result.exited != 0 and self.lost()):
            raise ConnectionLost(step)
        if result.exited != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-8:]
            raise StepFailed(step, f"exit {result.exited}: " + " | ".join(output))
        return result.stdout

    def upload(self, local, remote, step="upload the release"):
        self.doing = step
        try:
            self.connection.put(local, remote)
        except Exception as e:  # noqa: BLE001
            if self.lost():
                raise ConnectionLost(step) from None
            raise StepFailed(step, f"{type(e).__name__}: {e}") from None

    def lost(self):
        """Has the SSH connection gone (the host or the link dropped, or this side closed it)?"""
        transport = self.connection.transport if self.connection else None
        return transport is None or not transport.is_active()

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
        self.switching = True
        self.run("switch current", f"ln -sfn {q('releases/' + release)} {q(tmp)} && mv -Tf {q(tmp)} {q(self.base + '/current')}")

    def in_current(self, step, command):
        # cd through the symlink: scripts there see .../current, not the release path.
        return self.run(step, f"cd {q(self.base + '/current')} && {command}")

    def say(self, message):
        say(self.spec, message)

    def healthy(self):
        """Does health-url answer 200 (or is there none)?"""
        return health(self.config, self)

    def close(self):
        with _open_lock:
            _open_hosts.discard(self)
        self.connection.close()


class DryRunHost(Host):
    """A host that is told what would be done and does nothing: ``deploy
    --dry-run`` runs a deploy's own steps against one, so the two cannot drift.
    It is taken to have nothing yet (no release, no shared eggs): the dry run
    shows a first deploy, and never connects."""

    dry_run = True

    def _connection(self, match):
        return None

    def connect(self):
        pass

    def say(self, message):
        pass  # what it says is what it would do (run, upload, healthy), not what a deploy reports

    def run(self, step, command, progress=False):
        say(self.spec, f"would {step}: {command}")
        return ""

    def upload(self, local, remote, step="upload the release"):
        say(self.spec, f"would {step}: {os.path.basename(local)} to {remote}")

    def healthy(self):
        if not self.config.health_url:
            return True
        url = self.config.health_url.replace("{host}", self.name)
        host = f" with Host: {self.config.health_host}" if self.config.health_host else ""
        say(self.spec, f"would check {url} from this machine{host} (200 within {self.config.health_timeout} s)")
        return True

    def close(self):
        pass


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


def release_names(listing):
    return sorted(n for n in listing.split() if not n.endswith(".tar.gz"))


def in_threads(function, items, threads):
    pool = concurrent.futures.ThreadPoolExecutor(max(1, threads))
    try:
        return list(pool.map(function, items))
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM): the threads wait on remote commands;
        # closing the connections ends those waits, and the threads return.
        close_every_connection()
        raise
    finally:
        pool.shutdown(wait=True)


def health(config, host):
    """True when health-url answers 200 within health-timeout (or there is no health-url)."""
    if not config.health_url:
        return True
    url = config.health_url.replace("{host}", host.name)
    deadline = time.monotonic() + config.health_timeout
    while True:
        try:
            request = urllib.request.Request(url, headers={"Host": config.health_host} if config.health_host else {})
            with direct.open_url(request, timeout=5) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
