"""What a flat contract between a recipe and its generated script shares (the
worker and jobs parts'): written into the script as a dict with its version,
read back by ``from_script``, which takes the scripts of older releases too
(values it does not know are left aside) and refuses newer ones."""
from dataclasses import asdict, fields


class ScriptContract:
    CONFIG_VERSION = 1
    SCRIPT = "bin/<part>"

    @classmethod
    def from_script(cls, values):
        version = values.get("config_version", 1)
        if version > cls.CONFIG_VERSION:
            raise ValueError(f"{cls.SCRIPT} was written by a newer djangowsgi (config version {version}): "
                             f"run bin/buildout again")
        known = {each.name for each in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def to_script(self):
        return {"config_version": self.CONFIG_VERSION, **asdict(self)}
