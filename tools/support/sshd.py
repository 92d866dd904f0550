"""Test hosts for deploys: sshd servers on 127.0.0.2-4 (each host with its own
base directory, and through sshd's SetEnv no package index), and a git
checkout of the example with bin/deploy built for them. tests/e2e/test_deploy.py
and bench/deploy.py deploy to these."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from support import example
from support.pins import TASK_PINS, versions_section
from support.postgres import PSYCOPG_PINS
from support.places import BUILDOUT, DOWNLOADS, EGGS, REPO, copy_world_readable, free_port, world_readable_directory

ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
SSHD_CONFIG = """\
ListenAddress {address}:{port}
HostKey {directory}/host_key
PidFile {directory}/sshd.pid
AuthorizedKeysFile {directory}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
Subsystem sftp internal-sftp
# A host with no package index: pip and buildout are pointed at nothing.
SetEnv PIP_INDEX_URL=http://127.0.0.1:9/simple PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null
"""


def wait_for_port(address, port, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answers on {address}:{port}")


class SshHosts:
    """Three sshd servers, a client key they accept, and a known_hosts file."""

    def __init__(self, root):
        self.root = root
        self.key = root / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)], check=True)
        self.known_hosts = root / "known_hosts"
        self.ssh_port = free_port()
        self.web_port = free_port()
        self.processes, known = [], []
        os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
        for address in ADDRESSES:
            directory = root / f"sshd-{address}"
            directory.mkdir()
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "host_key")],
                           check=True)
            shutil.copy(f"{self.key}.pub", directory / "authorized_keys")
            config = directory / "sshd_config"
            config.write_text(SSHD_CONFIG.format(address=address, port=self.ssh_port, directory=directory))
            self.processes.append(subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                                                  stderr=open(directory / "sshd.log", "w")))
            known.append(f"[{address}]:{self.ssh_port} " + (directory / "host_key.pub").read_text().split(" ", 2)[0]
                         + " " + (directory / "host_key.pub").read_text().split(" ", 2)[1])
            wait_for_port(address, self.ssh_port)
        self.known_hosts.write_text("\n".join(known) + "\n")

    def base(self, address):
        return self.root / address

    def url(self, address, path="/"):
        return f"http://{address}:{self.web_port}{path}"

    def stop(self):
        for address in ADDRESSES:
            for part in ("tasks", "apache"):
                ctl = self.base(address) / "current" / "bin" / part
                if ctl.exists():
                    subprocess.run([str(ctl), "stop"], capture_output=True)
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)


def started_hosts():
    """SshHosts under a short root (mod_wsgi's socket path, inside it, must stay
    under 108 bytes), each host's shared/host.cfg naming its own address to listen on."""
    hosts = SshHosts(world_readable_directory(Path("/var/tmp"), "dw-"))
    hosts.shared_media = hosts.root / "media"  # storage the hosts share, as an NFS mount would be
    hosts.shared_media.mkdir()
    shutil.chown(hosts.shared_media, "www-data", "www-data")
    for address in ADDRESSES:
        shared = hosts.base(address) / "shared"
        shared.mkdir(parents=True)
        (shared / "host.cfg").write_text(f"[host]\nlisten = {address}:{hosts.web_port}\n")
        for path in (hosts.base(address), shared):
            os.chmod(path, 0o755)
        os.chmod(shared / "host.cfg", 0o644)
    return hosts


def project_buildout_cfg(test_hosts, deploy=None, sqlparse="0.6.1", apache=None, balancer=None, database=None):
    """The example's buildout.cfg as a checkout deployed to ``test_hosts`` has it:
    each host's listen from its host.cfg, the deploy part pointed at the hosts;
    with ``balancer`` (its options), a balancer part here in front of the hosts,
    which the deploy drains them on. With ``database`` (a PostgresServer with a
    database coleman), the hosts share it and a media directory, migrate in the
    release step, and run a task queue in it (deploytasks: a worker part
    ``tasks`` on each host, a jobs part ``jobs`` on the first); without, each host
    keeps its own SQLite, on purpose (data-on-each-host), for the tests of the
    rollout alone."""
    deploy_options = {
        "hosts": "\n".join(f"root@{a}:{test_hosts.ssh_port}" for a in ADDRESSES),
        "path": f"{test_hosts.root}/{{host}}",
        "identity-file": str(test_hosts.key),
        "known-hosts": str(test_hosts.known_hosts),
        "health-url": f"http://{{host}}:{test_hosts.web_port}/",
        "health-timeout": "15",
        "shared-files": "host.cfg",
    }
    project = {"environment": example.section("project")["environment"]
               + f"\nCOLEMAN_ALLOWED_HOSTS=localhost,{','.join(ADDRESSES)}"}
    pins = {"sqlparse": sqlparse}
    develop = f"{REPO} example"
    if database:
        develop += " deploytasks"
        project["eggs"] = example.section("project")["eggs"] + "\npsycopg[binary]\ndeploytasks"
        project["settings"] = "deploytasks.settings"
        project["environment"] += (f"\nCOLEMAN_DATABASE_HOST=127.0.0.1\nCOLEMAN_DATABASE_PORT={database.port}"
                                   f"\nCOLEMAN_DATABASE_PASSWORD=coleman-test\n"
                                   f"COLEMAN_MEDIA_ROOT={test_hosts.shared_media}")
        pins.update(PSYCOPG_PINS, **TASK_PINS)
    else:  # each its own database, migrated on each
        deploy_options.update({"data-on-each-host": "true", "release-step": None,
                               "before-switch": "bin/django migrate --noinput"})
    if balancer is not None:
        deploy_options["balancer"] = "${balancer:script}"
    deploy_options.update(deploy or {})
    header = f"[buildout]\nextends = host.cfg\ndevelop = {develop}\nallow-picked-versions = false\n\n"
    parts = ("django wsgi apache" + (" tasks jobs" if database else "") + " deploy"
             + (" balancer" if balancer is not None else ""))
    text = header + example.parts(parts, names=("django", "wsgi", "apache", "deploy"), changes={
        "project": project,
        "apache": {"listen": "${host:listen}", "writable": None, **(apache or {})},
        "deploy": deploy_options,
    })
    if database:
        text += example.text("tasks", {"recipe": "djangowsgi:worker", "eggs": "${project:eggs}",
                                       "settings": "${project:settings}", "environment": "${project:environment}",
                                       "command": "db_worker --interval 0.2", "stop-timeout": "20"})
        text += example.text("jobs", {"recipe": "djangowsgi:jobs", "eggs": "${project:eggs}",
                                      "settings": "${project:settings}", "environment": "${project:environment}",
                                      "jobs": "clearsessions | daily | clearsessions"})
    if balancer is not None:
        text += example.text("balancer", {"recipe": "djangowsgi:balancer", "server-name": "localhost",
                                          "backends": "${deploy:hosts}", "backend-port": test_hosts.web_port,
                                          "check-interval": "500ms", **balancer})
    return text + versions_section(**pins)


PRODUCTION_CFG = """\
[buildout]
extends = buildout.cfg
parts = django wsgi apache{more}
"""


class Project:
    """A git checkout of a project using the recipes, with bin/deploy built."""

    def __init__(self, test_hosts, directory, deploy=None, database=None):
        self.directory, self.database = directory, database
        copy_world_readable(REPO / "example", directory / "example")
        (directory / "host.cfg").write_text("[host]\nlisten = 127.0.0.1:8000\n")
        (directory / "production.cfg").write_text(PRODUCTION_CFG.format(more=" tasks jobs" if database else ""))
        if database:
            copy_world_readable(Path(__file__).parent / "deploytasks", directory / "deploytasks")
        (directory / ".gitignore").write_text("/bin/\n/parts/\n/develop-eggs/\n/var/\n/.installed.cfg\n*.egg-info/\n")
        self.configure(test_hosts, deploy)
        self.git("init", "-q")
        self.commit("first release")

    def configure(self, test_hosts, deploy=None, **more):
        (self.directory / "buildout.cfg").write_text(project_buildout_cfg(test_hosts, deploy, database=self.database,
                                                                          **more))
        # Locally only: the test caches, so that bin/deploy is built without downloads.
        (self.directory / "local.cfg").write_text(
            f"[buildout]\nextends = buildout.cfg\neggs-directory = {EGGS}\n"
            f"download-cache = {DOWNLOADS}\n")
        return subprocess.run([str(BUILDOUT), "-N", "-c", str(self.directory / "local.cfg")],
                              cwd=self.directory, capture_output=True, text=True)

    def git(self, *args):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
        return subprocess.run(["git", "-C", str(self.directory), *args], check=True, capture_output=True,
                              text=True, env=env)

    def commit(self, message):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def change_home_page(self, text):
        template = self.directory / "example" / "coleman" / "templates" / "coleman" / "home.html"
        content = template.read_text()
        start = content.index("<h1>") + 4
        template.write_text(content[:start] + text + content[content.index("</h1>"):])
        self.commit(f"home page says {text}")

    def deploy(self, *args, check=True):
        result = subprocess.run([str(self.directory / "bin" / "deploy"), *args], capture_output=True, text=True,
                                timeout=600)
        if check and result.returncode:
            raise AssertionError(f"bin/deploy {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result
