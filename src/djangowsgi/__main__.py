"""The ``djangowsgi`` command: ``djangowsgi init`` and ``djangowsgi bootstrap``."""
import sys

USAGE = """\
usage: djangowsgi init [--help] ...       a buildout for the Django project here, and bin/buildout
       djangowsgi bootstrap [--help] ...  bin/buildout for the buildout here
"""


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in ("init", "bootstrap"):
        print(USAGE, end="", file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] == "init":
        from djangowsgi.init import main as command
    else:
        from djangowsgi.bootstrap import main as command
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
