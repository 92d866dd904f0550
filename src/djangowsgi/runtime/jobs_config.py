"""What the jobs recipe tells bin/<jobs part>: one typed, versioned object,
written into the generated script as a dict and rebuilt from it
(``JobsConfig.from_script``, which reads the scripts of older releases too)."""
from dataclasses import asdict, dataclass, fields

CONFIG_VERSION = 1


@dataclass(frozen=True)
class JobsConfig:
    part: str
    job_script: str  # parts/<part>/job NAME: runs that job's command once, in the eggs' Python
    python: str
    jobs: list  # [{"name", "schedule", "command"}], command: a management command's argument list
    user: str  # "" when buildout did not run as root
    group: str
    run_directory: str  # var/run/<part>: each job's lock and last run
    log_directory: str  # var/log/<part>: each job's log

    @classmethod
    def from_script(cls, values):
        version = values.get("config_version", 1)
        if version > CONFIG_VERSION:
            raise ValueError(f"bin/<jobs part> was written by a newer djangowsgi (config version {version}): "
                             f"run bin/buildout again")
        known = {each.name for each in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def to_script(self):
        return {"config_version": CONFIG_VERSION, **asdict(self)}
