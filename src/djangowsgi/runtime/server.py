"""What the control scripts of both kinds of server share: where the script was
called from, waiting, reporting a failure, the remembered configuration, and
restarting a site's daemons one at a time."""
import hashlib
import os
import resource
import socket
import sys

from djangowsgi.runtime import daemons, writable

WAIT = 15.0  # seconds for a server to come up or go away
# Each of Apache's worker threads can hold a client's connection and a daemon's
# socket at once, and an event MPM process keeps idle keep-alive connections
# besides: more than the 1024 open files a login shell or systemd gives. Debian's
# apache2ctl gives the system Apache this many.
OPEN_FILES = 8192


def prepare(server, command, commands_as_root):
    """The server's paths as called (see as_called); before a command that
    (re)starts Apache or daemons, Apache's limit of open files raised and, as
    root, the writable directories given to the daemon's account."""
    server = as_called(server, sys.argv[0])
    if command in commands_as_root:
        raise_open_files(OPEN_FILES)
        if os.geteuid() == 0 and server.writable:
            writable.give(list(server.writable), server.user, server.group)
    return server


def raise_open_files(wanted):
    """Raise this process's limit of open files (which Apache inherits) to
    ``wanted``: the soft limit up to the hard one, and the hard one too as root."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    if hard == resource.RLIM_INFINITY or hard >= wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        return
    try:  # root may raise the hard limit, unless a container forbids it
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def as_called(server, script):
    """The server's paths inside the buildout, seen from where the script was
    called, symlinks left unresolved: called as ``/srv/site/current/bin/apache``
    it runs ``-f /srv/site/current/parts/apache/httpd.conf``, so that a graceful
    restart after ``current`` moves to a new release re-reads the new release's
    configuration (see the deploy recipe)."""
    cwd = os.getcwd()
    logical = os.environ.get("PWD", cwd)
    try:
        if not os.path.samefile(logical, cwd):
            logical = cwd
    except OSError:
        logical = cwd
    called_from = os.path.dirname(os.path.dirname(os.path.normpath(os.path.join(logical, script))))
    try:
        if not os.path.samefile(called_from, server.directory):
            return server
    except OSError:
        return server
    return server.seen_from(server.directory, called_from)


def wait_for(condition, timeout=WAIT):
    return daemons.wait_for(condition, timeout)


def failed(message, output="", error_log=None):
    """Say what failed on stderr (with the tail of ``error_log``); the exit status 1."""
    sys.stderr.write(message.rstrip() + "\n")
    if output.strip():
        sys.stderr.write(output.rstrip() + "\n")
    if error_log:
        sys.stderr.write(f"Last lines of {error_log}:\n{error_log_tail(error_log)}")
    return 1


def error_log_tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(no error log: {e})\n"


def answers(server):
    try:
        with socket.create_connection((server.host, server.port), timeout=1):
            return True
    except OSError:
        return False


def daemon_processes(server, parent):
    """The daemons of every process group of the site."""
    return [pid for group in server.groups for pid in daemons.daemon_processes(parent, group.display_name)]


def wait_for_new_daemons(server, parent_pid, before, timeout):
    """Until the site runs its full count of daemons, none of them one of ``before``."""
    def renewed():
        parent = parent_pid()
        now = set(daemon_processes(server, parent)) if parent else set()
        return len(now) == server.processes and not now & before
    return wait_for(renewed, timeout)


def reload_daemons(server, parent):
    """The site's daemons restarted one at a time (daemons.restart_one_at_a_time)."""
    restarted = 0
    for group in server.groups:
        count, stuck = daemons.restart_one_at_a_time(parent, group.display_name, group.processes,
                                                     WAIT + server.graceful_timeout)
        restarted += count
        if stuck:
            return failed(f"The mod_wsgi daemon process {stuck} did not restart.", error_log=server.error_log)
    names = " and ".join(group.name for group in server.groups)
    print(f"Reloaded {restarted} mod_wsgi daemon process(es) of {names}, one at a time.")
    return 0


def config_digest(server):
    """A digest of the configuration files (httpd.conf and what lies beside it)."""
    digest = hashlib.sha256()
    directory = server.config_directory
    for name in sorted(os.listdir(directory)):
        if name.endswith(".conf"):
            with open(os.path.join(directory, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()


def _digest_file(server):
    return os.path.join(server.run_directory, "config.sha256")


def remember_config(server):
    """The configuration the server has just read (at a start, a graceful restart,
    or an install on a system Apache that reads it when it starts)."""
    with open(_digest_file(server), "w") as f:
        f.write(config_digest(server))


def config_changed(server):
    """Has the configuration changed since the server read it?"""
    try:
        with open(_digest_file(server)) as f:
            return f.read().strip() != config_digest(server)
    except OSError:
        return True
