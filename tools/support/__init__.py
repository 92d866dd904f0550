"""What the tests and the benchmarks share: the example's buildout configuration
(example.py) and the pins (pins.py), both read from the repository's
buildout.cfg, and the sshd hosts a deploy goes to (sshd.py). Put tools/ on
sys.path, then ``from support import example``."""
