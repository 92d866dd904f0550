"""bin/<apache part>: start, stop, restart, graceful, reload, configtest, status.

Every command runs Apache with an absolute ``-f``, so no Debian envvars file and
no system configuration is involved.
"""
import os
import subprocess
import sys

from djangowsgi.runtime import certificates, daemons, direct, standby
from djangowsgi.runtime.daemons import alive, children
from djangowsgi.runtime.server import (WAIT, answers, config_changed, daemon_processes, prepare, reload_daemons,
                                       remember_config, wait_for, wait_for_new_daemons)
from djangowsgi.runtime.server import failed as server_failed
from djangowsgi.runtime.server_config import ServerConfig

USAGE = """usage: {prog} COMMAND

  start       start the server; wait until it answers
  stop        stop it; wait until its processes are gone
  restart     stop and start every process (drops connections)
  graceful    restart Apache's children and mod_wsgi daemons without dropping requests
  reload      restart only the mod_wsgi daemon processes (new code, same Apache)
  configtest  check httpd.conf and vhost.conf
  status      say whether it runs, where, and what mod_status knows
  foreground  run in the foreground (for systemd, supervisord or a container)
"""

COMMANDS_AS_ROOT = ("start", "restart", "graceful", "reload", "foreground")


def main(values, args):
    try:
        server = ServerConfig.from_script(values)
    except ValueError as e:  # written by a newer release
        sys.stderr.write(f"{e}\n")
        return 2
    if server.system:  # bin/<part> written by djangowsgi 0.1.0 comes here for both kinds
        from djangowsgi.runtime import system_apache
        return system_apache.run(server, args)
    if len(args) != 1 or args[0] not in COMMANDS:
        sys.stderr.write(USAGE.format(prog=os.path.basename(sys.argv[0])))
        return 2
    return COMMANDS[args[0]](prepare(server, args[0], COMMANDS_AS_ROOT))


def apache(server, *args, **kwargs):
    return subprocess.run([server.httpd, "-f", server.config, *args], text=True, env=httpd_environment(server),
                          **kwargs)


def httpd_environment(server):
    return {**os.environ, **dict(server.environment)}


def running_pid(server):
    return daemons.running_pid(server.pid_file)


def failed(server, message, output=""):
    return server_failed(message, output, error_log=server.error_log)


def start(server):
    pid = running_pid(server)
    if pid:
        print(f"Already running (pid {pid}) at {server.url}")
        return 0
    if os.path.exists(server.pid_file):  # left by a server that was killed: apache2 -k start would believe it
        os.unlink(server.pid_file)
    started = _until_answering(server, "start", "Apache did not start:",
                               f"Apache did not come up at {server.url} within {WAIT:.0f} s.",
                               "Started (pid {pid}) at " + server.url)
    if not started and server.managed_domains:
        print(certificates.first_certificate(server))
    return started


def _until_answering(server, command, refused, silent, done):
    """``apache2 -k command``, then wait until the server answers again."""
    pid = running_pid(server)
    before = set(daemon_processes(server, pid)) if pid else set()
    result = apache(server, "-k", command, capture_output=True)
    if result.returncode:
        return failed(server, refused, result.stdout + result.stderr)
    if not wait_for(lambda: running_pid(server) and answers(server)):
        return failed(server, silent)
    if server.mode == "daemon":  # until the daemons of before (a graceful restart) are gone
        wait_for_new_daemons(server, lambda: running_pid(server), before, WAIT + server.graceful_timeout)
    remember_config(server)
    print(done.format(pid=running_pid(server)))
    return 0


def stop(server):
    if server.standby and running_pid(standby.standby_server(server)):  # left by an interrupted reload
        stop(standby.standby_server(server))
    return stop_this(server)


def stop_this(server):
    """Stop this Apache (not its standby)."""
    pid = running_pid(server)
    if not pid:
        print("Not running.")
        return 0
    result = apache(server, "-k", "stop", capture_output=True)
    if result.returncode:
        return failed(server, "Apache refused to stop:", result.stdout + result.stderr)
    if not wait_for(lambda: not alive(pid) and not children(pid)):
        return failed(server, f"Apache (pid {pid}) is still running after {WAIT:.0f} s.")
    print("Stopped.")
    return 0


def environment_changed(server):
    """Does the running server lack the environment the part gives it (lang and locale in
    embedded mode)? A graceful restart keeps the environment the server started with."""
    try:
        with open(f"/proc/{running_pid(server)}/environ", "rb") as f:
            running = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    except OSError:
        return False
    return any(running.get(name.encode()) != value.encode() for name, value in server.environment)


def renew(server):
    """Apache with its new configuration and environment, while the balancer sends it no
    request (the standby's swap): a full restart where a graceful one would keep the old
    environment."""
    if not environment_changed(server):
        return graceful(server)
    return stop_this(server) or start(server)


def restart(server):
    if not running_pid(server):
        return start(server)
    stop(server)
    return start(server)


def graceful(server):
    if not running_pid(server):
        return start(server)
    if environment_changed(server):
        print(f"{', '.join(name for name, _ in server.environment)} changed (lang, locale): a graceful restart "
              f"keeps the server's; they apply at the next bin/<part> restart.")
    return _until_answering(server, "graceful", "Apache refused the graceful restart:",
                            f"Apache did not come back at {server.url}.", "Restarted gracefully (pid {pid}).")


def reload(server):
    """Restart the mod_wsgi daemon processes of this part alone, one at a time
    (see daemons.restart_one_at_a_time; with one process, requests wait on the
    daemon socket meanwhile). Embedded mode has no daemons, and a changed Apache
    configuration needs Apache to read it: both are a graceful restart, or, behind
    a balancer on this host (standby), a swap through the standby.
    """
    pid = running_pid(server)
    if not pid:
        return start(server)
    if server.standby and (server.mode != "daemon" or config_changed(server)) and standby.balancer_answers(server):
        return standby.swap(server, start, renew, stop)
    if server.mode != "daemon":
        return graceful(server)
    # Right after a start or a graceful restart, some daemons may still be starting.
    wait_for(lambda: len(daemon_processes(server, pid)) == server.processes)
    if not daemon_processes(server, pid):
        return graceful(server)
    if config_changed(server):
        print("The Apache configuration changed since the server read it: graceful restart.")
        return graceful(server)
    return reload_daemons(server, pid)


def configtest(server):
    result = apache(server, "-t", capture_output=True)
    sys.stdout.write(result.stdout + result.stderr)
    return result.returncode


def status(server):
    pid = running_pid(server)
    if not pid:
        print(f"Not running (would listen at {server.url}).")
        return 3
    state = "answering" if answers(server) else "NOT answering"
    daemons = daemon_processes(server, pid)
    extra = f", {len(daemons)} mod_wsgi daemon process(es)" if daemons else ""
    print(f"Running (pid {pid}{extra}) at {server.url}, {state}.")
    if server.status_url:
        print(server_status(server.status_url))
    if server.md_status_url:
        print(certificates.describe(server.md_status_url))
    return 0 if state == "answering" else 1


def server_status(url):
    """What mod_status knows, in a few lines."""
    try:
        with direct.open_url(url + "?auto", timeout=5) as response:
            text = response.read().decode("utf-8", "replace")
    except (OSError, ValueError) as e:
        return f"mod_status: no answer from {url} ({e})."
    values = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    try:
        busy, idle = int(values["BusyWorkers"]), int(values["IdleWorkers"])
        uptime = int(values["Uptime"])
    except (KeyError, ValueError):
        return f"mod_status: {url} did not answer as mod_status does."
    lines = [
        f"Up {format_duration(uptime)}, {values.get('Total Accesses', '?')} requests served"
        f" ({float(values.get('ReqPerSec', 0)):.1f}/s).",
        f"Workers: {busy - 1} serving a request, {idle} idle, of {busy + idle} (not counting this status request).",
    ]
    if "ConnsTotal" in values:
        lines.append(f"Connections: {values['ConnsTotal']} open, {values.get('ConnsAsyncKeepAlive', '?')} waiting"
                     f" in keep-alive, {values.get('ConnsAsyncWriting', '?')} being written,"
                     f" {values.get('ConnsAsyncClosing', '?')} closing.")
    lines.append(f"Every request being served: {url}")
    return "\n".join(lines)


def format_duration(seconds):
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    shown = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(shown + [f"{seconds} s"]) if not days else " ".join(shown)


def foreground(server):
    os.execve(server.httpd, [server.httpd, "-f", server.config, "-DFOREGROUND"], httpd_environment(server))


COMMANDS = {
    "start": start,
    "stop": stop,
    "restart": restart,
    "graceful": graceful,
    "reload": reload,
    "configtest": configtest,
    "status": status,
    "foreground": foreground,
}
