"""bin/<jobs part>: run NAME [--wait], list, enable, disable.

``run`` runs one job now, as its systemd timer does: under the part's account,
its output appended to var/log/<part>/<name>.log, its outcome kept for ``list``.
One run of a job at a time: a second ``run`` while one runs is refused (exit
75), or waits for it with ``--wait``. The timers run ``run NAME --scheduled``,
which does nothing on a host where scheduled runs are disabled: a deploy to
several hosts disables them on every host but the one with the jobs role, so
that each job runs on one host only.

Standard library only.
"""
import fcntl
import json
import os
import subprocess
import sys
import time

from djangowsgi.runtime.files import write_if_changed
from djangowsgi.runtime.jobs_config import JobsConfig
from djangowsgi.runtime.workerctl import as_user

USAGE = """usage: bin/{part} run NAME [--wait] [--scheduled] | list | enable | disable [WHY]
  run NAME   run the job now (one run of a job at a time: refused while one runs, or --wait for it);
             --scheduled, as the timers run it: nothing when this host's scheduled runs are disabled
  list       each job, its schedule and its last run, and whether the timers run them on this host
  enable     the timers run the jobs on this host (the default)
  disable    the timers' runs do nothing on this host (a deploy does this where the jobs role is not)
"""
BUSY = 75  # EX_TEMPFAIL: try again later


def last_run_file(config, name):
    return os.path.join(config.run_directory, f"{name}.json")


def disabled_file(config):
    return os.path.join(config.run_directory, "disabled")


def disabled(config):
    """Why the timers' runs do nothing on this host, or None."""
    try:
        with open(disabled_file(config)) as f:
            return f.read().strip() or "disabled"
    except FileNotFoundError:
        return None


def run(config, name, wait=False, scheduled=False):
    job = next((j for j in config.jobs if j["name"] == name), None)
    if job is None:
        print(f"[{config.part}] no job {name!r}: {', '.join(j['name'] for j in config.jobs)}", file=sys.stderr)
        return 2
    why = disabled(config) if scheduled else None
    if why:
        print(f"[{config.part}] job {name} not run: scheduled runs are disabled on this host ({why})")
        return 0
    os.makedirs(config.run_directory, exist_ok=True)
    os.makedirs(config.log_directory, exist_ok=True)
    with open(os.path.join(config.run_directory, f"{name}.lock"), "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            print(f"[{config.part}] job {name} is running already (pid {holder}): not started again",
                  file=sys.stderr)
            return BUSY
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        started = time.time()
        log = os.path.join(config.log_directory, f"{name}.log")
        with open(log, "ab") as out:
            out.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] djangowsgi: job {name} started\n".encode())
            out.flush()
            status = subprocess.run([config.python, config.job_script, name], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=out, preexec_fn=as_user(config)).returncode
            took = time.time() - started
            out.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] djangowsgi: job {name} ended with {status} "
                      f"after {took:.1f} s\n".encode())
        write_if_changed(last_run_file(config, name),
                         json.dumps({"started": started, "seconds": round(took, 1), "status": status}) + "\n")
    print(f"[{config.part}] job {name} ended with {status} after {took:.1f} s (log: {log})")
    return status


def list_jobs(config):
    why = disabled(config)
    print(f"Scheduled runs on this host: {'disabled (' + why + ')' if why else 'enabled'}")
    for job in config.jobs:
        try:
            with open(last_run_file(config, job["name"])) as f:
                last = json.load(f)
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last["started"]))
            ran = f"last run {when}, exit status {last['status']}, {last['seconds']} s"
        except (OSError, ValueError, KeyError):
            ran = "never run"
        print(f"{job['name']}: {job['schedule']}, bin/django {' '.join(job['command'])}; {ran}")
    return 0


def enable(config, on, why=""):
    os.makedirs(config.run_directory, exist_ok=True)
    if on:
        try:
            os.unlink(disabled_file(config))
        except FileNotFoundError:
            pass
        print(f"[{config.part}] scheduled runs enabled on this host.")
    else:
        write_if_changed(disabled_file(config), (why or "bin/" + config.part + " disable") + "\n")
        print(f"[{config.part}] scheduled runs disabled on this host.")
    return 0


def main(values, argv=None):
    config = JobsConfig.from_script(values)
    argv = sys.argv[1:] if argv is None else argv
    flags = set(argv[2:])
    if len(argv) >= 2 and argv[0] == "run" and flags <= {"--wait", "--scheduled"} and len(flags) == len(argv[2:]):
        return run(config, argv[1], wait="--wait" in flags, scheduled="--scheduled" in flags)
    if argv == ["list"]:
        return list_jobs(config)
    if argv == ["enable"]:
        return enable(config, True)
    if argv[:1] == ["disable"] and len(argv) <= 2:
        return enable(config, False, " ".join(argv[1:]))
    help_asked = argv[:1] in (["-h"], ["--help"])
    print(USAGE.format(part=config.part), end="", file=sys.stdout if help_asked else sys.stderr)
    return 0 if help_asked else 2
