"""Where each host's own cgroup goes, read from a process's mount table and cgroup list."""

from __future__ import annotations

from pathlib import Path

from citybox.cgroups import BOX_GROUP, hierarchies, make, processes, remove

HYBRID_MOUNTS = """\
30 25 0:26 / {root}/unified rw,nosuid - cgroup2 cgroup2 rw
31 25 0:27 / {root}/memory rw,nosuid - cgroup cgroup rw,memory
32 25 0:28 / {root}/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
"""
HYBRID_CGROUPS = """\
9:name=systemd:/
4:memory:/process_api/80e4
0::/
"""


def _proc(tmp_path: Path, mounts: str, groups: str) -> Path:
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "mountinfo").write_text(mounts.format(root=tmp_path / "cg"))
    (proc / "cgroup").write_text(groups)
    return proc


def test_a_hybrid_machine_gives_the_named_systemd_and_the_unified_hierarchies(
    tmp_path: Path,
) -> None:
    for name in ("unified", "memory/process_api/80e4", "systemd"):
        (tmp_path / "cg" / name).mkdir(parents=True)
    found = hierarchies(_proc(tmp_path, HYBRID_MOUNTS, HYBRID_CGROUPS))
    assert sorted(found) == [tmp_path / "cg/systemd", tmp_path / "cg/unified"]


def test_a_unified_machine_gives_the_process_own_cgroup(tmp_path: Path) -> None:
    (tmp_path / "cg/system.slice/ci.service").mkdir(parents=True)
    proc = _proc(
        tmp_path,
        "30 25 0:26 / {root} rw - cgroup2 cgroup2 rw,nsdelegate\n",
        "0::/system.slice/ci.service\n",
    )
    assert hierarchies(proc) == [tmp_path / "cg/system.slice/ci.service"]


def test_a_cgroup_not_mounted_where_it_is_said_to_be_is_left_out(tmp_path: Path) -> None:
    assert hierarchies(_proc(tmp_path, HYBRID_MOUNTS, HYBRID_CGROUPS)) == []


def test_groups_are_made_and_removed_deepest_first(tmp_path: Path) -> None:
    groups = [tmp_path / "systemd" / BOX_GROUP / "cam-01", tmp_path / "unified" / BOX_GROUP]
    make(groups)
    (groups[0] / "payload/system.slice/ssh.service").mkdir(parents=True)
    (groups[1] / "cam-02/payload/init.scope").mkdir(parents=True)
    remove(groups)
    assert not groups[0].exists()
    assert not groups[1].exists()
    assert (tmp_path / "systemd" / BOX_GROUP).is_dir()


def test_the_processes_of_a_group_are_those_of_every_group_below_it(tmp_path: Path) -> None:
    host = tmp_path / BOX_GROUP / "cam-01"
    (host / "payload/init.scope").mkdir(parents=True)
    (host / "cgroup.procs").write_text("")
    (host / "payload/cgroup.procs").write_text("")
    (host / "payload/init.scope/cgroup.procs").write_text("4242\n4243\n")
    assert processes([host]) == {4242, 4243}
    assert processes([tmp_path / BOX_GROUP / "cam-02"]) == set()
