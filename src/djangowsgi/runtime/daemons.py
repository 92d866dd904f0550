"""Finding Apache's children and the mod_wsgi daemons of one process group in /proc,
and restarting those daemons one at a time."""
import os
import signal
import time


def wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return _stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def running_pid(pid_file):
    """The pid in ``pid_file`` when that process runs, else None (a server just killed
    may linger a moment as a zombie: alive says no)."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) else None


def children(parent):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = _stat_fields(name)
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(name))
    return found


def _argv0(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[0].decode(errors="replace")


def daemon_processes(parent, display_name):
    """The mod_wsgi daemons named ``display_name`` among the children of Apache ``parent``.

    mod_wsgi writes the display name over the daemon's argv[0], padded with
    spaces and cut to the length of Apache's own argv[0] (17 characters for
    /usr/sbin/apache2), so a longer name is compared as cut.
    """
    try:
        expected = display_name[:len(_argv0(parent))]
    except OSError:
        return []
    found = []
    for pid in children(parent):
        try:
            name = _argv0(pid).split(" ")[0]
        except OSError:
            continue
        if name == expected:
            found.append(pid)
    return found


def restart_one_at_a_time(parent, display_name, processes, timeout):
    """SIGUSR1 to each daemon in turn: mod_wsgi's graceful restart of a daemon
    process (it stops taking new requests, finishes those it has, up to
    graceful-timeout, and exits; Apache starts a new one, which preloads the
    application). The next daemon is signalled once the new one runs, so the
    others keep answering meanwhile. Returns (restarted, the daemon that did not
    come back or None)."""
    restarted = 0
    for daemon in daemon_processes(parent, display_name):
        try:
            os.kill(daemon, signal.SIGUSR1)
        except ProcessLookupError:
            continue
        restarted += 1

        def back():
            now = daemon_processes(parent, display_name)
            return daemon not in now and len(now) >= processes

        if not wait_for(back, timeout):
            return restarted, daemon
    return restarted, None
