"""What the unit tests share: the repository, the working tree's version, and a
buildout given as plain dicts (no bin/buildout runs in this layer)."""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VERSION = re.search(r'^__version__ = "(.+)"$', (REPO / "src" / "djangowsgi" / "__init__.py").read_text(),
                    re.M).group(1)


def buildout(directory="/srv/mysite", parts="django wsgi apache", **sections):
    """The sections a recipe reads, as zc.buildout would give them."""
    return {
        "buildout": {"directory": directory, "parts-directory": f"{directory}/parts",
                     "bin-directory": f"{directory}/bin", "eggs-directory": f"{directory}/eggs",
                     "develop-eggs-directory": f"{directory}/develop-eggs", "parts": parts, "develop": "."},
        **sections,
    }
