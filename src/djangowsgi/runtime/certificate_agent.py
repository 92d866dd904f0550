"""certificate-agent, installed by djangowsgi (https = acme): Apache starts it with
the server, as a piped log it never writes to, so it runs as the user that
started Apache (root for ports 80 and 443). mod_md's own commands run as the
server's user, which cannot restart a server started as root: certificate-event
leaves mod_md's events in a directory, and this agent logs them and restarts
Apache gracefully when a new certificate is ready (mod_md activates one only
when Apache restarts).

usage: certificate-agent EVENTS-DIRECTORY SERVER-USER PID-FILE

Standard library only: the system Apache runs it with /usr/bin/python3.
"""
import os
import pwd
import select
import signal
import sys
import time

POLL = 2.0  # seconds between two looks at the events directory


def agent(events, user, pid_file, serve=None):
    """Run until Apache closes the pipe (it stops, or restarts and starts a new
    agent): log the events certificate-event leaves in ``events``, and restart
    Apache gracefully after a "renewed" one (mod_md activates a new certificate
    only when Apache restarts). ``serve``, called at the start and after each
    look, puts the certificate in service elsewhere (the balancer's HAProxy)."""
    events_directory(events, user)
    take_events(events)  # Apache has just (re)started: it activated what was ready
    while True:
        if serve:
            serve()
        ready, _, _ = select.select([0], [], [], POLL)
        if ready and not os.read(0, 65536):
            return 0
        renewed = take_events(events)
        if renewed:
            graceful(pid_file, renewed)


def events_directory(events, user):
    os.makedirs(events, mode=0o700, exist_ok=True)
    if os.geteuid() == 0:  # mod_md's command runs as the server's user
        entry = pwd.getpwnam(user)
        os.chown(events, entry.pw_uid, entry.pw_gid)


def take_events(events):
    """Log and remove the events waiting in ``events``; the domains renewed."""
    renewed = []
    for name in sorted(os.listdir(events)):
        if name.startswith("."):
            continue  # still being written
        path = os.path.join(events, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                reason, _, domain = f.read().strip().partition(" ")
            os.unlink(path)
        except OSError:
            continue
        log(f"mod_md: {reason} {domain}")
        if reason == "renewed":
            renewed.append(domain)
    return renewed


def graceful(pid_file, domains):
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        log(f"new certificate for {', '.join(domains)}: graceful restart of Apache (pid {pid}) to serve it")
        os.kill(pid, signal.SIGUSR1)
    except (OSError, ValueError) as e:
        log(f"new certificate for {', '.join(domains)}, but no graceful restart ({pid_file}: {e}): "
            f"restart Apache to serve it")


def log(message):
    stamp = time.strftime("%a %b %d %H:%M:%S %Y")
    sys.stderr.write(f"[{stamp}] [djangowsgi:notice] [pid {os.getpid()}] certificate-agent: {message}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(agent(*sys.argv[1:4]))
