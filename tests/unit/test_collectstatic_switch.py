"""STATIC_ROOT switched to a new collect: a real directory left by an older
release is replaced by the link in one step, and kept aside."""
import os

from djangowsgi.runtime import collectstatic


def test_a_real_static_root_becomes_the_link_and_is_kept_aside(tmp_path):
    static_root = tmp_path / "static"
    (static_root / "css").mkdir(parents=True)
    (static_root / "css" / "old.css").write_text("old")
    versions = tmp_path / ("static" + collectstatic.VERSIONS_SUFFIX)
    (versions / "2-new" / "css").mkdir(parents=True)
    (versions / "2-new" / "css" / "new.css").write_text("new")
    collectstatic.switch(str(static_root), str(versions / "2-new"))
    assert os.path.islink(static_root) and (static_root / "css" / "new.css").read_text() == "new"
    [aside] = [n for n in os.listdir(versions) if n.endswith("-before")]
    assert (versions / aside / "css" / "old.css").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["static", "static.versions"]  # no temporary left


def test_exchange_swaps_a_directory_and_a_link_in_one_step(tmp_path):
    (tmp_path / "directory").mkdir()
    os.symlink("elsewhere", tmp_path / "link")
    assert collectstatic.exchange(str(tmp_path / "link"), str(tmp_path / "directory"))  # Linux, glibc 2.28+
    assert os.path.islink(tmp_path / "directory") and os.path.isdir(tmp_path / "link")


def test_a_link_is_replaced_by_a_link(tmp_path):
    os.symlink("one", tmp_path / "static")
    collectstatic.switch(str(tmp_path / "static"), "two")
    assert os.readlink(tmp_path / "static") == "two"
