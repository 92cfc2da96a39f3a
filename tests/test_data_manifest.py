"""Dataset manifests (totals, return quantiles per policy) and %BC filtering (top episodes)."""

import numpy as np
import pytest

from gato.data.formats import manifest as manifest_lib
from gato.data.pipeline.filtering import SubsetSource, episode_returns, filter_top, top_episodes


def _episode(rewards, is_last=True):
    rewards = np.asarray(rewards, np.float32)
    flags = np.zeros(len(rewards), bool)
    flags[-1] = is_last
    return {"reward": rewards, "is_last": flags, "action": np.zeros((len(rewards), 1))}


class _Source:
    def __init__(self, episodes, policies):
        self.episodes, self.policies = episodes, policies

    def __len__(self):
        return len(self.episodes)

    def __getitem__(self, i):
        return self.episodes[i]

    def metadata(self, i):
        return {"policy": self.policies[i], "episode_id": i}


def test_top_episodes_keeps_exactly_the_best_and_breaks_ties_by_index():
    returns = [5.0, 9.0, 1.0, 9.0, 7.0, 3.0, 7.0, 0.0]
    assert top_episodes(returns, 1.0).tolist() == list(range(8))
    assert top_episodes(returns, 0.25).tolist() == [1, 3]  # the two 9s
    assert top_episodes(returns, 0.3).tolist() == [1, 3, 4]  # ceil(2.4) = 3: the first 7 wins
    assert top_episodes(returns, 0.5).tolist() == [1, 3, 4, 6]
    assert top_episodes(returns, 0.01).tolist() == [1]  # at least one episode
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top_fraction must be in"):
            top_episodes(returns, bad)


def test_filter_top_reads_returns_from_the_manifest_or_the_episodes():
    rng = np.random.default_rng(0)
    episodes = [_episode(rng.uniform(0, 1, int(rng.integers(3, 9)))) for _ in range(10)]
    source = _Source(episodes, ["a"] * 10)
    sums = np.array([float(e["reward"].sum(dtype=np.float64)) for e in episodes])
    np.testing.assert_allclose(episode_returns(source), sums)
    kept = filter_top(source, 0.3)
    assert isinstance(kept, SubsetSource) and len(kept) == 3
    best = sorted(np.argsort(-sums)[:3])
    assert [kept[i] is episodes[j] for i, j in enumerate(best)] == [True] * 3
    assert kept.metadata(0)["episode_id"] == best[0]
    assert filter_top(source, 1.0) is source
    # a manifest listing one return per episode is used instead of reading the episodes
    fake = {"episode_returns": list(range(10))}
    assert SubsetSource(source, [7, 8, 9]).indices.tolist() == \
        filter_top(source, 0.3, fake).indices.tolist()
    with pytest.raises(ValueError, match="outside"):
        SubsetSource(source, [10])


def test_manifest_counts_and_quantiles_per_policy(tmp_path):
    episodes = [_episode([1, 1, 0]), _episode([5, 0]), _episode([2, 2, 2, 0]),
                _episode([0, 0, 0, 0, 0], is_last=False)]
    policies = ["expert", "random", "expert", "random"]
    records = manifest_lib.source_records(_Source(episodes, policies))
    m = manifest_lib.build_manifest("walk", "control", records, tokens_per_timestep=7,
                                    generation={"seed": 3})
    assert m["episodes"] == 4 and m["steps"] == 14
    assert m["timesteps"] == 2 + 1 + 3 + 5  # the is_last step carries no action
    assert m["tokens"] == 11 * 7
    assert m["episode_returns"] == [2.0, 5.0, 6.0, 0.0]
    assert m["episode_policies"] == policies
    r = [2.0, 5.0, 6.0, 0.0]
    for name, q in manifest_lib.QUANTILES:
        assert m["returns"][name] == pytest.approx(np.quantile(r, q))
    assert m["returns"]["mean"] == pytest.approx(3.25)
    assert m["policies"]["expert"]["episodes"] == 2
    assert m["policies"]["expert"]["returns"]["median"] == pytest.approx(4.0)
    assert m["policies"]["random"]["timesteps"] == 1 + 5
    path = manifest_lib.write_manifest(tmp_path, m)
    assert path.name == "manifest.json" and manifest_lib.read_manifest(tmp_path) == m
    assert manifest_lib.read_manifest(tmp_path / "missing") is None
    text = manifest_lib.format_manifest(m)
    assert "walk (control): 4 episodes, 11 timesteps" in text and "random" in text
    empty = manifest_lib.return_quantiles([])
    assert empty["median"] is None and empty["mean"] is None
