"""bin/<part> of a site served by the machine's own Apache (``server = system``).

The site is one of several on that Apache: ``reload`` restarts this site's
daemons alone, and only ``install``, ``graceful`` and ``uninstall`` touch the
whole server. Debian's tools do the work (a2ensite, a2enconf, a2enmod,
apache2ctl), all with ``APACHE_CONFDIR`` set to the part's apache-confdir.
"""
import os
import subprocess
import sys

from djangowsgi.runtime import certificates, daemons
from djangowsgi.runtime.files import write_if_changed
from djangowsgi.runtime.server import (WAIT, answers, config_changed, daemon_processes, failed, prepare,
                                       reload_daemons, remember_config, wait_for_new_daemons)
from djangowsgi.runtime.server_config import ServerConfig

USAGE = """usage: {prog} COMMAND

This site is served by the system Apache ({confdir}).

  install     (root) enable the site and the mod_wsgi server settings, check
              the configuration, then restart the system Apache gracefully
  reload      restart this site's mod_wsgi daemons alone, one at a time
              (root or the site's user {user}); as root, install a site
              that is not enabled yet
  graceful    (root) restart the system Apache gracefully: every site's daemons
  status      say whether the site is enabled and its daemons run
  configtest  check the system Apache's whole configuration
  uninstall   (root) disable the site, then restart the system Apache gracefully
"""

SERVER_CONF = "djangowsgi"  # conf-available/djangowsgi.conf: the same for every site


COMMANDS_AS_ROOT = ("install", "reload", "graceful")


def main(values, args):
    try:
        server = ServerConfig.from_script(values)
    except ValueError as e:  # written by a newer release
        sys.stderr.write(f"{e}\n")
        return 2
    return run(server, args)


def run(server, args):
    if len(args) != 1 or args[0] not in COMMANDS:
        prog = os.path.basename(sys.argv[0])
        sys.stderr.write(USAGE.format(prog=prog, confdir=server.confdir, user=server.user))
        if len(args) == 1 and args[0] in ("start", "stop", "restart", "foreground"):
            sys.stderr.write(f"\n'{args[0]}' is the system Apache's: use systemctl {args[0]} apache2 "
                             f"(or apache2ctl).\n")
        return 2
    return COMMANDS[args[0]](prepare(server, args[0], COMMANDS_AS_ROOT))


def _environment(server):
    return {**os.environ, "APACHE_CONFDIR": server.confdir}


def tool(server, *command):
    return subprocess.run(command, env=_environment(server), capture_output=True, text=True)


def read_envvar(confdir, name):
    """A value the system Apache's envvars file exports (APACHE_PID_FILE, ...), or ""."""
    script = f'. "$APACHE_CONFDIR/envvars" >/dev/null 2>&1; printf %s "${name}"'
    return subprocess.run(["/bin/sh", "-c", script], env={**os.environ, "APACHE_CONFDIR": confdir},
                          capture_output=True, text=True).stdout.strip()


def running_pid(server):
    return daemons.running_pid(read_envvar(server.confdir, "APACHE_PID_FILE") or "/var/run/apache2/apache2.pid")


def _site_link(server):
    return os.path.join(server.confdir, "sites-available", server.site + ".conf")


def _enabled(server):
    return os.path.exists(os.path.join(server.confdir, "sites-enabled", server.site + ".conf"))


def _ours(path, server):
    return os.path.islink(path) and os.readlink(path) == server.vhost


def _need_root(command):
    if os.geteuid() != 0:
        return failed(f"{command} changes the system Apache: run it as root (sudo).")
    return 0


def install(server):
    if _need_root("install"):
        return 1
    link = _site_link(server)
    if os.path.lexists(link) and not _ours(link, server):
        return failed(f"{link} exists and is not a link to {server.vhost}: another site uses the name "
                       f"{server.site} (remove it, or set process-group in buildout.cfg)")
    write_server_settings(server)
    created = not os.path.lexists(link)
    if created:
        os.symlink(server.vhost, link)
    steps = [("a2enmod", "-q", *server.modules), ("a2enconf", "-q", SERVER_CONF),
             ("a2ensite", "-q", server.site), ("apache2ctl", "configtest")]
    for step in steps:
        result = tool(server, *step)
        if result.returncode:
            tool(server, "a2dissite", "-q", server.site)
            if created:
                os.unlink(link)
            return failed(f"{' '.join(step)} failed; the site is not enabled:", result.stdout + result.stderr)
    if not running_pid(server):
        # Apache reads these files when it starts: the first reload after that restarts this site's daemons alone.
        remember_config(server)
        print(f"Enabled {server.site}; the system Apache is not running: start it (systemctl start apache2).")
        return 0
    restarted = graceful(server, done=f"Enabled {server.site}")
    if not restarted and server.managed_domains:
        print(certificates.from_store(os.path.join(server.confdir, "md"), server.managed_domains[0]))
    return restarted


def write_server_settings(server):
    """conf-available/djangowsgi.conf and the scripts it names, from this build.
    Written before each graceful restart too: a vhost.conf of a newer djangowsgi
    may need what only the newer server settings hold (SSLStaplingCache)."""
    with open(server.server_conf, encoding="utf-8") as f:
        write_if_changed(os.path.join(server.confdir, "conf-available", SERVER_CONF + ".conf"), f.read())
    if server.scripts_directory:
        os.makedirs(server.scripts_directory, exist_ok=True)
    for script in server.certificate_scripts:  # named by the server settings (https = acme)
        with open(script, encoding="utf-8") as f:
            write_if_changed(os.path.join(server.scripts_directory, os.path.basename(script)), f.read(), mode=0o755)


def graceful(server, done="Restarted the system Apache gracefully"):
    if _need_root("graceful"):
        return 1
    pid = running_pid(server)
    if not pid:
        return failed("The system Apache is not running: start it (systemctl start apache2).")
    write_server_settings(server)
    before = set(_daemons(server))
    result = tool(server, "apache2ctl", "graceful")
    if result.returncode:
        return failed("apache2ctl graceful failed:", result.stdout + result.stderr)
    if _enabled(server):
        wait = WAIT + server.graceful_timeout
        if not wait_for_new_daemons(server, lambda: running_pid(server), before, wait):
            return failed(f"The daemons of {server.site} did not start within {wait:.0f} s: "
                          f"see {server.error_log}")
        remember_config(server)
    print(f"{done} ({server.url}, Host: {server.server_name}).")
    return 0


def _daemons(server):
    pid = running_pid(server)
    return daemon_processes(server, pid) if pid else []


def reload(server):
    pid = running_pid(server)
    if not pid:
        return failed("The system Apache is not running: start it (systemctl start apache2).")
    if not _enabled(server):
        if os.geteuid() == 0:  # the first deploy of a site
            print(f"{server.site} is not enabled on the system Apache yet: installing it.")
            return install(server)
        return failed(f"{server.site} is not enabled on the system Apache: run {sys.argv[0]} install as root.")
    if config_changed(server):
        print(f"The configuration of {server.site} changed since the system Apache read it: graceful "
              f"restart of the system Apache (every site's daemons restart).")
        return graceful(server)
    daemons.wait_for(lambda: len(_daemons(server)) == server.processes, WAIT)
    if not _daemons(server):
        shown = server.groups[0].display_name
        return failed(f"No mod_wsgi daemon of {server.site} ({shown}) runs under the system Apache "
                       f"(pid {pid}): see {server.error_log}")
    return reload_daemons(server, pid)


def status(server):
    pid = running_pid(server)
    if not pid:
        print("The system Apache is not running.")
        return 3
    if not _enabled(server):
        print(f"The system Apache runs (pid {pid}); {server.site} is not enabled.")
        return 3
    found = _daemons(server)
    answering = answers(server)
    print(f"Enabled on the system Apache (pid {pid}), {len(found)} mod_wsgi daemon process(es) of "
          f"{server.site}, at {server.url} (Host: {server.server_name}), "
          f"{'answering' if answering else 'NOT answering'}.")
    if server.managed_domains:
        print(certificates.from_store(os.path.join(server.confdir, "md"), server.managed_domains[0]))
    return 0 if answering and found else 1


def configtest(server):
    result = tool(server, "apache2ctl", "configtest")
    sys.stdout.write(result.stdout + result.stderr)
    return result.returncode


def uninstall(server):
    if _need_root("uninstall"):
        return 1
    link = _site_link(server)
    enabled = _enabled(server)
    if enabled:
        result = tool(server, "a2dissite", "-q", server.site)
        if result.returncode:
            return failed("a2dissite failed:", result.stdout + result.stderr)
    if _ours(link, server):
        os.unlink(link)
    if enabled and running_pid(server):
        result = tool(server, "apache2ctl", "graceful")
        if result.returncode:
            return failed("apache2ctl graceful failed:", result.stdout + result.stderr)
    print(f"Disabled {server.site}." if enabled else f"{server.site} was not enabled.")
    return 0


COMMANDS = {
    "install": install,
    "reload": reload,
    "graceful": graceful,
    "status": status,
    "configtest": configtest,
    "uninstall": uninstall,
}
