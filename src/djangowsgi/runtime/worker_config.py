"""What the worker recipe tells bin/<worker part>: one typed, versioned object,
written into the generated script as a dict and rebuilt from it
(``WorkerConfig.from_script``, which reads the scripts of older releases too)."""
from dataclasses import asdict, dataclass, fields

CONFIG_VERSION = 1


@dataclass(frozen=True)
class WorkerConfig:
    part: str
    worker: str  # parts/<part>/worker: runs the command once, in the eggs' Python
    python: str
    processes: int
    stop_signal: str  # SIGTERM: the one the worker takes for a warm shutdown
    stop_timeout: int  # seconds between it and SIGKILL
    user: str  # "" when buildout did not run as root: the caller's account
    group: str
    run_directory: str  # var/run/<part>: the supervisor's pid file and its state
    log: str  # var/log/<part>/worker.log, always the current file
    rotatelogs: str  # "" when log-rotation = off
    log_rotation: str
    prune_logs: str
    unit: str  # parts/<part>/<unit name>

    @classmethod
    def from_script(cls, values):
        version = values.get("config_version", 1)
        if version > CONFIG_VERSION:
            raise ValueError(f"bin/<worker part> was written by a newer djangowsgi (config version {version}): "
                             f"run bin/buildout again")
        known = {each.name for each in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def to_script(self):
        return {"config_version": CONFIG_VERSION, **asdict(self)}
