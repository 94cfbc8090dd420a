"""``tito leaderboard --executor ray`` on a local Ray (the ``ray`` nox session)."""

from __future__ import annotations

import pytest

ray = pytest.importorskip("ray")

from tito.leaderboard import build  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_and_process_pool_give_the_same_board(board_folder, tmp_path, local_ray):
    local = build(str(board_folder), db_path=str(tmp_path / "local.sqlite"))
    remote = build(str(board_folder), executor="ray", db_path=str(tmp_path / "ray.sqlite"))
    assert remote["validated"] == 5

    def ranks(board):
        return {e: [(r["name"], r["rank"]) for r in rows] for e, rows in board["events"].items()}

    assert ranks(remote) == ranks(local)
    assert [r["name"] for r in remote["rejected"]] == ["liar.json"]
    again = build(str(board_folder), executor="ray", db_path=str(tmp_path / "ray.sqlite"))
    assert (again["validated"], again["cached"]) == (0, 5)
