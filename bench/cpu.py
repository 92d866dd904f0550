"""Where the CPU goes: the CPU time every process on the machine used while a load
ran, summed by kind of process (Apache's own, mod_wsgi's daemons, rotatelogs,
nginx, the application servers) and divided by the requests answered."""
import collections
import os

TICK = os.sysconf("SC_CLK_TCK")
KINDS = {"apache2": "apache", "rotatelogs": "rotatelogs", "nginx": "nginx",
         "gunicorn": "application server", "uwsgi": "application server", "granian": "application server"}


def _kind(name, command):
    """By the process's name; mod_wsgi's daemons are apache2 too, told by their display-name."""
    return "mod_wsgi daemon" if command.startswith("(wsgi:") else KINDS.get(name)


def snapshot():
    """{pid: (kind, CPU seconds)} of the processes of the kinds above."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat, open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                head, tail = stat.read().rsplit(")", 1)
                command = cmdline.read().decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = tail.split()
        kind = _kind(head.split("(", 1)[1], command)
        if kind:
            found[pid] = (kind, (int(fields[11]) + int(fields[12])) / TICK)  # utime + stime
    return found


def per_request(before, after, requests):
    """CPU microseconds a request, by kind, between two snapshots."""
    used = collections.Counter()
    for pid, (kind, seconds) in after.items():
        used[kind] += seconds - before.get(pid, (kind, 0))[1]
    per = {kind: round(seconds / max(requests, 1) * 1e6) for kind, seconds in used.items()}
    return {kind: micro for kind, micro in per.items() if micro > 0}
