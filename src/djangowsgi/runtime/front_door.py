"""The balancer as bin/deploy drives it: its bin/<balancer part>, run on this
machine or over SSH on the balancer's (balancer-host). A deploy drains each host
there before it changes, and puts it back once it is healthy."""
import subprocess

from djangowsgi.runtime.hosts import Host, StepFailed, say


class FrontDoor:
    """bin/<balancer part> of ``config.balancer``; ``run`` gives (exit status, output)."""

    def __init__(self, config, dry_run=False):
        self.config, self.dry_run = config, dry_run
        self.script = config.balancer
        self.where = config.balancer_host or "this machine"
        self.label = f"balancer {config.balancer_host}" if config.balancer_host else "balancer"
        self.host = Host(config.balancer_host, config) if config.balancer_host and not dry_run else None

    def connect(self):
        if self.host:
            self.host.connect()

    def run(self, *args):
        command = [self.script, *args]
        if self.dry_run:
            say(self.label, f"would run {' '.join(command)}")
            return 0, ""
        if self.host:
            try:
                result = self.host.connection.run(" ".join(_quoted(command)), hide=True, warn=True, in_stream=False)
            except Exception as e:  # noqa: BLE001 - SSH errors come in many types
                raise StepFailed(f"run {args[0]} on the balancer", f"{type(e).__name__}: {e}") from None
            return result.exited, (result.stdout + result.stderr).strip()
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except OSError as e:
            raise StepFailed(f"run {args[0]} on the balancer", f"{self.script}: {e.strerror}") from None
        return result.returncode, (result.stdout + result.stderr).strip()

    def servers(self):
        """{backend name: (host, state)} as the balancer sees them now."""
        code, output = self.run("servers")
        if code:
            raise StepFailed("ask the balancer for its backends", _last_line(output) or f"exit {code}")
        found = {}
        for line in output.splitlines():
            fields = line.split()
            if len(fields) == 4:
                found[fields[0]] = (fields[0].rsplit(":", 1)[0], fields[1])
        return found

    def states_of(self, name):
        """The states of the backends on host ``name``: [(backend, state)]."""
        return [(backend, state) for backend, (host, state) in self.servers().items() if host == name]

    def drain(self, name):
        """Take host ``name`` out of rotation; wait until its requests have ended (bounded)."""
        code, output = self.run("drain", name)
        if code == 1 and "still in progress" in output:
            say(self.label, _last_line(output) + " Switching anyway: Apache ends them gracefully.")
            return
        if code:
            raise StepFailed(f"drain {name} on the balancer", _last_line(output) or f"exit {code}")
        say(self.label, _last_line(output) if not self.dry_run else f"would drain {name}")

    def ready(self, name):
        code, output = self.run("ready", name)
        if code:
            raise StepFailed(f"put {name} back on the balancer", _last_line(output) or f"exit {code}")
        if not self.dry_run:
            say(self.label, _last_line(output))

    def close(self):
        if self.host:
            self.host.close()


def _quoted(words):
    import shlex
    return [shlex.quote(word) for word in words]


def _last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
