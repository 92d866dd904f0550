"""The deploy's rules, on hosts that are directories here (local_hosts.py): the
order of a rollout, ``parallel``, health checks and rollback, what stays and
what is removed, and the summary's words. A tenth of a second a deploy; the real sshd
hosts of tests/e2e/test_deploy.py keep the scenarios only they can show."""
import pytest

from djangowsgi.runtime import deploy as commands
from djangowsgi.runtime.hosts import ConnectionLost, StepFailed
from local_hosts import LocalBalancer, World, deploy

HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def summary(capsys):
    out = capsys.readouterr().out
    return out, dict(line.strip().split(": ", 1) for line in out.split("\nSummary:\n", 1)[1].splitlines()
                     if line.startswith("  root@"))


def spec(name):
    return f"root@{name}:22"


def first(world, capsys, release="20261201000001-aaaaaaa", **changes):
    assert deploy(world, world.config(**changes), release, "first page") == 0
    capsys.readouterr()
    world.steps.clear()
    return release


def test_a_first_deploy_builds_on_every_host_then_switches_them_one_at_a_time(world, capsys):
    code = deploy(world, world.config(), "20261201000001-aaaaaaa", "first page")
    out, lines = summary(capsys)
    assert code == 0
    for name in HOSTS:
        assert lines[spec(name)] == "on 20261201000001-aaaaaaa"
        assert world.current(name) == "20261201000001-aaaaaaa"
        release = world.base(name) / "releases" / "20261201000001-aaaaaaa"
        assert (release / "page.txt").read_text() == "first page"
        assert (release / ".deployed").exists() and (release / ".content").read_text() == "content-1\n"
        assert (release / ".djangowsgi-version").read_text() == "0.2.0.test\n"
    # Every build is over before the first switch; then one host at a time, checked before the next.
    switches = [i for i, (_, step) in enumerate(world.steps) if step == "switch current"]
    builds = [i for i, (_, step) in enumerate(world.steps) if step == "run bin/buildout"]
    assert len(switches) == 3 and max(builds) < min(switches)
    order = [(name, step) for name, step in world.steps if step in ("switch current", "pass the health check")]
    assert order == [(n, s) for n in HOSTS for s in ("switch current", "pass the health check")]
    assert "Building release 20261201000001-aaaaaaa on 3 host(s), 3 at a time." in out
    assert "Switching 3 host(s) to 20261201000001-aaaaaaa, 1 at a time." in out


def test_a_host_on_the_same_content_is_left_alone_unless_forced(world, capsys):
    previous = first(world, capsys)
    world.steps.clear()
    assert deploy(world, world.config(), "20261201000002-bbbbbbb", "first page") == 0
    _, lines = summary(capsys)
    assert lines == {spec(n): f"on {previous} (unchanged)" for n in HOSTS}
    assert not any(step in ("upload the release", "switch current") for _, step in world.steps)
    assert world.releases(HOSTS[0]) == [previous]
    # --force builds anew, with the virtualenv the hosts have.
    assert deploy(world, world.config(), "20261201000003-ccccccc", "first page", force=True) == 0
    assert {world.current(n) for n in HOSTS} == {"20261201000003-ccccccc"}
    assert not any(step == "make the buildout virtualenv" for _, step in world.steps)


def test_a_failed_health_check_rolls_that_host_back_and_stops_the_rollout(world, capsys):
    previous = first(world, capsys)
    world.unhealthy.add(HOSTS[1])
    code = deploy(world, world.config(), "20261201000002-bbbbbbb", "broken page", content="content-2")
    out, lines = summary(capsys)
    assert code == 1 and "Rollout stopped: hosts not switched keep their release." in out
    assert lines[spec(HOSTS[0])] == "on 20261201000002-bbbbbbb"
    assert lines[spec(HOSTS[1])] == f"FAILED to pass the health check, rolled back to {previous}"
    assert lines[spec(HOSTS[2])] == f"not switched, still on {previous}"
    assert [world.current(n) for n in HOSTS] == ["20261201000002-bbbbbbb", previous, previous]
    assert world.releases(HOSTS[2]) == [previous]  # built there, never switched to: removed
    # The host rolled back keeps the release it failed with, unmarked: the next deploy removes it.
    assert not (world.base(HOSTS[1]) / "releases" / "20261201000002-bbbbbbb" / ".deployed").exists()


def test_a_failure_in_a_parallel_group_starts_no_other_group(world, capsys):
    previous = first(world, capsys)
    world.unhealthy.update(HOSTS[:2])
    code = deploy(world, world.config(parallel=2), "20261201000002-bbbbbbb", content="content-2")
    out, lines = summary(capsys)
    assert code == 1 and "2 at a time" in out
    for name in HOSTS[:2]:
        assert lines[spec(name)] == f"FAILED to pass the health check, rolled back to {previous}"
    assert lines[spec(HOSTS[2])] == f"not switched, still on {previous}"
    assert not world.did(HOSTS[2], "switch current")
    assert {world.current(n) for n in HOSTS} == {previous}


def test_parallel_switches_a_whole_group_at_once(world, capsys):
    first(world, capsys)
    assert deploy(world, world.config(parallel=3), "20261201000002-bbbbbbb", content="content-2") == 0
    out, lines = summary(capsys)
    assert "Switching 3 host(s) to 20261201000002-bbbbbbb, 3 at a time." in out
    assert set(lines.values()) == {"on 20261201000002-bbbbbbb"}


def test_a_release_that_fails_to_build_on_one_host_is_switched_on_none(world, capsys):
    previous = first(world, capsys)
    world.failing[(HOSTS[1], "run bin/buildout")] = "fail"
    code = deploy(world, world.config(), "20261201000002-bbbbbbb", content="content-2")
    out, lines = summary(capsys)
    assert code == 1 and "Nothing was switched: the release did not build on every host." in out
    assert lines[spec(HOSTS[1])] == f"FAILED to run bin/buildout, still on {previous}"
    for name in (HOSTS[0], HOSTS[2]):
        assert lines[spec(name)] == f"not switched, still on {previous}"
    for name in HOSTS:
        assert world.current(name) == previous and world.releases(name) == [previous]
        assert not world.did(name, "switch current")


def test_a_host_that_cannot_be_reached_stops_the_deploy_before_any_change(world, capsys):
    previous = first(world, capsys)
    world.down.add(HOSTS[1])
    world.steps.clear()
    code = deploy(world, world.config(), "20261201000002-bbbbbbb", content="content-2")
    out, lines = summary(capsys)
    assert code == 1 and "Nothing was changed on any host." in out
    assert lines[spec(HOSTS[1])] == "FAILED: could not connect: NoValidConnectionsError; release unknown"
    for name in (HOSTS[0], HOSTS[2]):
        assert lines[spec(name)] == f"not reached, still on {previous}"
    assert {step for _, step in world.steps} <= {"look at the host", "look for unfinished releases"}


def test_a_connection_lost_during_a_build_leaves_what_the_next_deploy_removes(world, capsys):
    previous = first(world, capsys)
    world.failing[(HOSTS[1], "run bin/buildout")] = "lost"
    assert deploy(world, world.config(), "20261201000002-bbbbbbb", content="content-2") == 1
    _, lines = summary(capsys)
    assert lines[spec(HOSTS[1])] == f"lost the connection while running bin/buildout, still on {previous}"
    assert "20261201000002-bbbbbbb" in world.releases(HOSTS[1])  # the host could not be told
    del world.failing[(HOSTS[1], "run bin/buildout")]
    assert deploy(world, world.config(), "20261201000003-ccccccc", content="content-3") == 0
    out, _ = summary(capsys)
    assert f"[{spec(HOSTS[1])}] removed 1 release(s) that never went live: 20261201000002-bbbbbbb" in out
    assert world.releases(HOSTS[1]) == [previous, "20261201000003-ccccccc"]


def test_a_connection_lost_after_the_switch_began_says_current_is_unknown(world, capsys):
    previous = first(world, capsys)
    world.failing[(HOSTS[0], "reload")] = "lost"
    assert deploy(world, world.config(), "20261201000002-bbbbbbb", content="content-2") == 1
    _, lines = summary(capsys)
    assert lines[spec(HOSTS[0])] == (
        f"lost the connection while reloading, after the switch to 20261201000002-bbbbbbb began: current may "
        f"point at 20261201000002-bbbbbbb (it was on {previous}); run bin/deploy status")
    assert lines[spec(HOSTS[1])] == f"not switched, still on {previous}"


def test_before_switch_failing_keeps_the_host_on_its_release(world, capsys):
    previous = first(world, capsys)
    world.failing[(HOSTS[0], "before-switch")] = "fail"
    config = world.config(before_switch=["bin/django migrate --noinput"])
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2") == 1
    _, lines = summary(capsys)
    assert lines[spec(HOSTS[0])] == f"FAILED to before-switch, still on {previous}"
    assert world.current(HOSTS[0]) == previous and world.releases(HOSTS[0]) == [previous]


def test_keep_releases_prunes_all_but_the_newest_and_the_one_before(world, capsys):
    for n in range(1, 5):
        assert deploy(world, world.config(keep_releases=1), f"2026120100000{n}-aaaaaa{n}",
                      content=f"content-{n}") == 0
    assert world.releases(HOSTS[2]) == ["20261201000003-aaaaaa3", "20261201000004-aaaaaa4"]


def test_rollback_status_and_releases(world, capsys):
    first(world, capsys)
    assert deploy(world, world.config(), "20261201000002-bbbbbbb", content="content-2") == 0
    capsys.readouterr()
    config = world.config()
    assert commands.rollback(config, [spec(HOSTS[1])], world.host) == 0
    out = capsys.readouterr().out
    assert "rolled back from 20261201000002-bbbbbbb to 20261201000001-aaaaaaa" in out
    assert [world.current(n) for n in HOSTS] == ["20261201000002-bbbbbbb", "20261201000001-aaaaaaa",
                                                 "20261201000002-bbbbbbb"]
    assert commands.rollback(config, [spec(HOSTS[1])], world.host) == 1  # nothing older
    assert "no earlier release to go back to" in capsys.readouterr().out
    assert commands.status(config, world.specs, world.host) == 0
    out = capsys.readouterr().out
    assert f"[{spec(HOSTS[1])}] current 20261201000001-aaaaaaa (djangowsgi 0.2.0.test), healthy" in out
    assert commands.releases(config, [spec(HOSTS[0])], world.host) == 0
    assert "* 20261201000002-bbbbbbb" in capsys.readouterr().out


def test_status_names_releases_that_never_went_live_and_removes_none(world, capsys):
    previous = first(world, capsys)
    (world.base(HOSTS[0]) / "releases" / "20261201000009-zzzzzzz").mkdir()
    world.unhealthy.add(HOSTS[2])
    assert commands.status(world.config(), world.specs, world.host) == 1
    out = capsys.readouterr().out
    assert (f"[{spec(HOSTS[0])}] 1 release(s) that never went live: 20261201000009-zzzzzzz (the next deploy "
            f"removes them)") in out
    assert f"[{spec(HOSTS[2])}] current {previous} (djangowsgi 0.2.0.test), NOT healthy" in out
    assert "20261201000009-zzzzzzz" in world.releases(HOSTS[0])


def test_a_dry_run_says_each_step_and_does_nothing(world, capsys):
    from djangowsgi.runtime.hosts import DryRunHost
    from djangowsgi.runtime.rollout import Progress, rollout
    from djangowsgi.runtime.deploy_config import Facts
    from concurrent.futures import Future
    packed = Future()
    packed.set_result(None)
    config = world.config(build_parallel=1)
    hosts = {s: DryRunHost(s, config) for s in world.specs}
    assert rollout(config, Facts({}, False, "content-1"), world.specs, hosts, "20261201000001-aaaaaaa",
                   world.archive("page"), packed, Progress()) == 0
    out = capsys.readouterr().out
    for name in HOSTS:
        assert f"[{spec(name)}] would run bin/buildout: cd " in out
        assert f"[{spec(name)}] would switch current: " in out
        assert f"[{spec(name)}] would check http://{name}:8000/ from this machine" in out
    assert not (world.root / "hosts").exists()


def test_step_failures_read_as_the_summary_says_them():
    assert StepFailed("run bin/buildout", "exit 1: boom").outcome("r1") == "FAILED to run bin/buildout, still on r1"
    assert ConnectionLost("ship eggs").outcome(None) == "lost the connection while shipping eggs, still on no release"
    assert str(StepFailed("connect", "could not connect: refused")) == "could not connect: refused"


def test_the_deploy_config_reads_the_scripts_of_older_releases_and_refuses_newer(world, capsys):
    from djangowsgi.runtime.deploy_config import CONFIG_VERSION, DeployConfig
    config = world.config()
    written = config.to_script()
    assert written["config_version"] == CONFIG_VERSION and DeployConfig.from_script(written) == config
    older = {k: v for k, v in written.items() if k not in ("config_version", "djangowsgi_version")}  # 0.1.0's
    assert DeployConfig.from_script(older).djangowsgi_version == "unknown"
    # Before roles (config version 2): every host the site and its workers, the first the jobs.
    before_roles = DeployConfig.from_script({k: v for k, v in written.items() if k not in ("roles", "worker_parts",
                                                                                          "jobs_parts")})
    assert [before_roles.roles_of(s) for s in config.hosts] == [["web", "workers", "jobs"]] + [["web", "workers"]] * 2
    with pytest.raises(ValueError, match="written by a newer djangowsgi"):
        DeployConfig.from_script({**written, "config_version": CONFIG_VERSION + 1})
    assert commands.main({**written, "config_version": CONFIG_VERSION + 1}, ["status"]) == 2
    assert "bin/deploy was written by a newer djangowsgi" in capsys.readouterr().err


# Behind a balancer (the deploy part's balancer option): LocalBalancer answers as bin/<balancer> does.

def behind(world, **changes):
    config = world.config(balancer="/srv/lb/bin/balancer", **changes)
    return config, LocalBalancer(world, config)


def test_behind_a_balancer_each_host_is_drained_switched_checked_and_put_back_before_the_next(world, capsys):
    config, front = behind(world)
    previous = first(world, capsys)
    assert deploy(world, config, "20261201000002-bbbbbbb", "second page", content="content-2", front=front) == 0
    order = [(name, step) for name, step in world.steps
             if step in ("switch current", "pass the health check") or name == "balancer" and step != "servers"]
    expected = []
    for name in HOSTS:
        expected += [("balancer", f"drain {name}"), (name, "switch current"), (name, "pass the health check"),
                     ("balancer", f"ready {name}")]
    assert order == expected
    assert set(front.states.values()) == {"UP"} and previous


def test_a_host_that_fails_its_health_check_is_rolled_back_and_left_drained_and_the_rest_untouched(world, capsys):
    config, front = behind(world)
    previous = first(world, capsys)
    world.unhealthy.add(HOSTS[1])
    assert deploy(world, config, "20261201000002-bbbbbbb", "second page", content="content-2", front=front) == 1
    _, lines = summary(capsys)
    assert lines[spec(HOSTS[0])] == "on 20261201000002-bbbbbbb"
    assert lines[spec(HOSTS[1])] == (f"FAILED to pass the health check, rolled back to {previous}; left drained on the "
                                     f"balancer (balancer ready {HOSTS[1]} puts it back)")
    assert lines[spec(HOSTS[2])] == f"not switched, still on {previous}"
    assert front.states == {f"{HOSTS[0]}:8000": "UP", f"{HOSTS[1]}:8000": "DRAIN", f"{HOSTS[2]}:8000": "UP"}
    assert ("balancer", f"drain {HOSTS[2]}") not in world.steps and world.current(HOSTS[2]) == previous


def test_a_balancer_that_cannot_be_reached_or_does_not_know_a_host_changes_nothing(world, capsys):
    config, front = behind(world)
    previous = first(world, capsys)
    front.unreachable = True
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2", front=front) == 1
    out = capsys.readouterr().out
    assert ("Not deploying release 20261201000002-bbbbbbb: the balancer on this machine could not be reached: could "
            "not run servers on the balancer: could not connect: NoValidConnectionsError.") in out
    assert "Nothing was changed on any host." in out
    front = LocalBalancer(world, config, backends=HOSTS[:2])
    assert deploy(world, config, "20261201000003-ccccccc", content="content-2", front=front) == 1
    assert (f"{HOSTS[2]} is no backend of the balancer (its backends are on {HOSTS[0]}, {HOSTS[1]})"
            in capsys.readouterr().out)
    assert not any(step in ("run bin/buildout", "switch current") for _, step in world.steps)
    assert all(world.current(name) == previous for name in HOSTS)


def test_a_host_the_balancer_never_sees_up_stops_the_rollout_and_stays_drained(world, capsys):
    config, front = behind(world)
    first(world, capsys)
    front.never_up.add(HOSTS[0])
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2", front=front) == 1
    _, lines = summary(capsys)
    assert lines[spec(HOSTS[0])].startswith("on 20261201000002-bbbbbbb, but left drained: could not put 127.0.0.2 "
                                            "back on the balancer: Ready, but not UP")
    assert ("balancer", f"drain {HOSTS[1]}") not in world.steps


def test_status_shows_each_hosts_state_on_the_balancer_and_rollback_drains_first(world, capsys):
    config, front = behind(world)
    first(world, capsys)
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2", front=front) == 0
    front.states[f"{HOSTS[2]}:8000"] = "DRAIN"
    capsys.readouterr()
    commands.status(config, world.specs, world.host, front=front)
    out = capsys.readouterr().out
    shown = {line.split("] ", 1)[0][1:]: line for line in out.splitlines() if line.startswith("[root@")}
    assert shown[spec(HOSTS[0])].endswith(", healthy, on the balancer: UP")
    assert shown[spec(HOSTS[2])].endswith(", healthy, on the balancer: DRAIN")
    world.steps.clear()
    assert commands.rollback(config, [spec(HOSTS[1])], world.host, front=front) == 0
    steps = [(n, s) for n, s in world.steps if n == "balancer" or s == "switch current"]
    assert steps == [("balancer", f"drain {HOSTS[1]}"), (HOSTS[1], "switch current"), ("balancer", f"ready {HOSTS[1]}")]


def test_the_release_step_runs_once_on_one_host_after_every_build_and_before_any_switch(world, capsys):
    """Migrations once a deploy: on the first host to change, in the new release,
    however many switch at a time; its output in the summary."""
    previous = first(world, capsys)
    marker = world.root / "migrated"
    config = world.config(release_step=[f"echo migrated from $(cat page.txt) >> {marker} && echo 3 applied"],
                          parallel=3)
    assert deploy(world, config, "20261201000002-bbbbbbb", "second page", content="content-2") == 0
    out, lines = summary(capsys)
    assert marker.read_text() == "migrated from second page\n"  # once, in the new release
    steps = [(name, step) for name, step in world.steps
             if step in ("run bin/buildout", "run the release step", "switch current")]
    assert steps.count((HOSTS[0], "run the release step")) == 1 and len(steps) == 7
    assert steps.index((HOSTS[0], "run the release step")) == 3  # after the three builds, before any switch
    assert f"Release step on {spec(HOSTS[0])}: echo migrated" in out and ": 3 applied" in out
    assert lines == {spec(n): "on 20261201000002-bbbbbbb" for n in HOSTS}
    assert previous not in {world.current(n) for n in HOSTS}


def test_a_failed_release_step_switches_no_host_and_removes_the_release(world, capsys):
    previous = first(world, capsys)
    config = world.config(release_step=["echo applying; exit 3"])
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2") == 1
    out, lines = summary(capsys)
    assert lines == {spec(n): f"not switched, still on {previous}" for n in HOSTS}
    assert "Nothing was switched: could not run the release step: exit 3" in out
    assert f"(on {spec(HOSTS[0])})." in out, out
    assert [world.current(n) for n in HOSTS] == [previous] * 3
    assert all(world.releases(n) == [previous] for n in HOSTS)
    assert not any(step == "switch current" for _, step in world.steps)


def django_saying(engine, name, media):
    """A release's bin/django whose ``shell -c`` says where the site keeps its data."""
    said = f'{{"engine": "{engine}", "name": "{name}", "media": "{media}"}}'
    return {"bin/django": (f"#!/bin/sh\necho 'a line before'\necho '{said}'\n", 0o755)}


@pytest.mark.parametrize("engine, media, kept", [
    ("django.db.backends.sqlite3", "", "its database in SQLite (/srv/db.sqlite3)"),
    ("django.db.backends.postgresql", "{base}/shared/var/media", "the uploads in MEDIA_ROOT ({base}/shared/var/media)"),
])
def test_several_hosts_each_keeping_the_sites_data_are_refused_before_any_switch(world, capsys, engine, media, kept):
    previous = first(world, capsys)
    base = str(world.base(HOSTS[0]))
    config = world.config(django_script="django", release_step=["touch migrated"])
    files = django_saying(engine, "/srv/db.sqlite3", media.format(base=base))
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2", files=files) == 1
    out, lines = summary(capsys)
    assert (f"Not deploying release 20261201000002-bbbbbbb: its settings keep {kept.format(base=base)} on each of "
            f"the 3 hosts, so each would have its own: use a database server the hosts share (PostgreSQL: "
            f"docs/buildout.rst, \"Your database\") and storage they share for MEDIA_ROOT, or set "
            f"data-on-each-host = true in [deploy] if each host is meant to keep its own\n") in out, out
    assert lines == {spec(n): f"not switched, still on {previous}" for n in HOSTS}
    assert all(world.releases(n) == [previous] for n in HOSTS)
    assert not any(step in ("run the release step", "switch current") for _, step in world.steps)


def test_the_sites_data_on_each_host_is_let_through_when_meant_shared_or_on_one_host(world, capsys):
    first(world, capsys)
    sqlite = django_saying("django.db.backends.sqlite3", "db.sqlite3", "")
    meant = world.config(django_script="django", data_on_each_host=True)
    assert deploy(world, meant, "20261201000002-bbbbbbb", content="content-2", files=sqlite) == 0
    assert not world.did(HOSTS[0], "read where the site keeps its data")
    one = world.config(django_script="django", hosts=world.specs[:1])
    assert deploy(world, one, "20261201000003-ccccccc", content="content-3", files=sqlite) == 0
    shared = django_saying("django.db.backends.postgresql", "mysite", "/mnt/shared/media")
    assert deploy(world, world.config(django_script="django"), "20261201000004-ddddddd", content="content-4",
                  files=shared) == 0
    assert world.did(HOSTS[0], "read where the site keeps its data")
    assert {world.current(n) for n in HOSTS} == {"20261201000004-ddddddd"}


ROLES = {spec(HOSTS[0]): ["web", "workers", "jobs"], spec(HOSTS[1]): ["web", "workers"], spec(HOSTS[2]): ["workers"]}


def test_after_each_switch_the_workers_restart_onto_it_and_the_jobs_are_on_one_host_only(world, capsys):
    """Roles: the web hosts reloaded, checked and drained on the balancer; the workers
    restarted (a warm shutdown) once the host is on the new release; the jobs' timers
    enabled on the jobs host and disabled on the others."""
    config, front = behind(world, roles=ROLES, worker_parts=["tasks"], jobs_parts=["cron"])
    first(world, capsys, roles=ROLES, worker_parts=["tasks"], jobs_parts=["cron"])
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2", front=front) == 0
    steps = [(name, step) for name, step in world.steps if step not in ("list the releases", "prune")]
    for name in HOSTS:
        mine = [step for who, step in steps if who == name]
        after = mine[mine.index("switch current"):]
        web = name != HOSTS[2]
        expected = ["switch current"] + ["reload", "pass the health check"] * web + [
            "restart the workers", "enable the jobs" if name == HOSTS[0] else "disable the jobs", "mark the release"]
        assert after == expected, (name, after)
    assert ("balancer", f"drain {HOSTS[2]}") not in world.steps and ("balancer", f"drain {HOSTS[1]}") in world.steps
    # The worker-only host is not the balancer's to check: its status says so, with its workers.
    world.workers_running.update(HOSTS[:2])
    capsys.readouterr()
    assert commands.status(config, world.specs, world.host, front=front) == 1
    out = capsys.readouterr().out
    assert f"[{spec(HOSTS[2])}] current 20261201000002-bbbbbbb (djangowsgi 0.2.0.test), not a web host; " \
           f"roles: workers" in out
    assert f"[{spec(HOSTS[0])}] current 20261201000002-bbbbbbb (djangowsgi 0.2.0.test), healthy, on the balancer: " \
           f"UP; roles: web workers jobs" in out
    assert f"[{spec(HOSTS[0])}]   [tasks] supervisor pid 41, 1 worker(s) of /srv/releases/x" in out
    assert f"[{spec(HOSTS[2])}]   [tasks] NOT running, but the host has the workers role" in out
    world.workers_running.add(HOSTS[2])
    assert commands.status(config, world.specs, world.host, front=front) == 0


def test_workers_that_do_not_start_again_roll_the_host_back_and_restart_them_there(world, capsys):
    previous = first(world, capsys, worker_parts=["tasks"])
    world.failing[(HOSTS[0], "restart the workers")] = "fail once"
    code = deploy(world, world.config(worker_parts=["tasks"]), "20261201000002-bbbbbbb", content="content-2")
    _, lines = summary(capsys)
    assert code == 1
    assert lines[spec(HOSTS[0])] == f"FAILED to restart the workers, rolled back to {previous}"
    assert lines[spec(HOSTS[1])] == f"not switched, still on {previous}"
    mine = [step for who, step in world.steps if who == HOSTS[0]]
    assert mine[mine.index("switch current"):] == ["switch current", "reload", "pass the health check",
                                                   "restart the workers", "switch current", "reload",
                                                   "restart the workers"]
    assert world.current(HOSTS[0]) == previous


def test_a_rollback_restarts_the_workers_on_the_release_it_goes_back_to(world, capsys):
    first(world, capsys, worker_parts=["tasks"], roles=ROLES)
    config = world.config(worker_parts=["tasks"], roles=ROLES)
    assert deploy(world, config, "20261201000002-bbbbbbb", content="content-2") == 0
    world.steps.clear()
    assert commands.rollback(config, [spec(HOSTS[2])], world.host) == 0
    assert [s for n, s in world.steps if s in ("switch current", "reload", "pass the health check",
                                                 "restart the workers")] == ["switch current", "restart the workers"]
    assert world.current(HOSTS[2]) == "20261201000001-aaaaaaa"
    # Not healthy there: the workers follow current all the same (the code that runs is the old one now).
    world.unhealthy.add(HOSTS[0])
    world.steps.clear()
    assert commands.rollback(config, [spec(HOSTS[0])], world.host) == 1
    assert (HOSTS[0], "restart the workers") in world.steps


@pytest.mark.parametrize("signal_number", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_ctrl_c_a_kill_or_a_closed_terminal_interrupt_a_deploy_with_the_signals_exit_status(
        world, monkeypatch, signal_number):
    """Each ends the deploy as Ctrl-C does (its summary and hosts: tests/e2e/test_deploy.py,
    with SIGTERM), with the exit status a shell gives a process the signal ended."""
    import os
    import signal
    import time
    number = getattr(signal, signal_number)

    def interrupted_deploy(config, hosts, dry_run, force):
        try:
            os.kill(os.getpid(), number)
            time.sleep(5)
        except KeyboardInterrupt:
            return 130
        return 0
    monkeypatch.setattr(commands, "deploy", interrupted_deploy)
    monkeypatch.setattr(commands, "_signalled", [])
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python starts bin/deploy (pytest-xdist ignores it)
    try:
        assert commands.main(world.config().to_script(), ["deploy"]) == 128 + number
    finally:
        for each, handler in handlers.items():
            signal.signal(each, handler)
