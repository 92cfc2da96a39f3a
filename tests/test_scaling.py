"""`gato scaling` (Gato's Fig. 8): sizes over one token budget, the power-law fit, the report."""

import json

import numpy as np
import pytest

from gato import cli
from gato.config import apply_overrides, load_config
from gato.data.recording.generate import generate_datasets
from gato.envs import registry
from gato.errors import ConfigError
from gato.results import scaling_report
from gato.workflows import scaling


def test_power_law_fit_recovers_a_known_exponent():
    x = np.geomspace(1e5, 1e8, 5)
    fit = scaling_report.fit_power_law(x, 3.0 * x ** -0.2)
    assert fit["exponent"] == pytest.approx(0.2) and fit["coefficient"] == pytest.approx(3.0)
    assert fit["r2"] == pytest.approx(1.0) and fit["points"] == 5
    noisy = scaling_report.fit_power_law(x, 3.0 * x ** -0.2 * np.array([1, 1.1, 0.9, 1, 1.05]))
    assert 0.15 < noisy["exponent"] < 0.25 and noisy["r2"] < 1.0
    assert scaling_report.fit_power_law([1e5], [2.0]) is None
    assert scaling_report.fit_power_law([1e5, 1e6], [2.0, None]) is None


def test_sizes_are_fields_over_the_base_and_bad_ones_are_one_line():
    c = load_config("scaling")
    models = scaling.check_sizes(c)
    assert [models[k].embed_dim for k in ("w64", "w128", "w192", "w256")] == [64, 128, 192, 256]
    assert models["w128"].num_layers == 2 and models["w192"].num_layers == 4
    assert models["w64"].position_bias == "alibi"  # the config's own overrides are kept
    bad = apply_overrides(c, ["scaling.sizes={'x': {'name': 'tiny', 'depth': 3}, 'y': {}}"])
    with pytest.raises(ConfigError, match=r"scaling.sizes\['x'\]: unknown ModelConfig fields"):
        scaling.check_sizes(bad)
    with pytest.raises(ConfigError, match="names 1 model size"):
        scaling.check_sizes(apply_overrides(c, ["scaling.sizes={'x': {'name': 'tiny'}}"]))


def test_cluster_preset_runs_the_papers_three_sizes():
    from gato.model.params import count_params

    models = scaling.check_sizes(load_config("scaling:cluster"))
    counts = sorted(count_params(m) for m in models.values())
    assert [round(n / 1e6) for n in counts] == [83, 393, 1279]  # gato.model.params


def test_study_trains_each_size_on_the_same_tokens_and_resumes(tmp_path):
    data, workdir = tmp_path / "data", tmp_path / "w"
    generate_datasets([registry.get("cartpole-balance"), registry.get("point_mass-easy")], data,
                      episodes=3, max_episode_steps=20)
    args = ["scaling", "--config", "scaling:quick", "--workdir", str(workdir),
            "--set", f"data.data_dir='{data}'", "--set", "generate.tasks=''",
            "--set", "data.tasks='cartpole-balance,point_mass-easy'",
            "--set", "eval.tasks='cartpole-balance'", "--set", "eval.max_steps=10",
            "--set", "train.total_steps=4", "--set", "train.checkpoint_every=4"]
    assert cli.main(args) == 0
    report = json.loads((workdir / "scaling.json").read_text())
    points = report["points"]
    assert [p["label"] for p in points] == ["w32", "w64"]  # smallest first
    assert points[0]["params"] < points[1]["params"]
    assert points[0]["tokens"] == points[1]["tokens"] == 4 * 8 * 128
    assert points[0]["train_flops"] < points[1]["train_flops"]
    assert all(p["heldout_nll"] > 0 for p in points)
    assert report["fits"]["train_flops"]["points"] == 2
    assert (workdir / "scaling.png").stat().st_size > 0
    assert "| w64 |" in (workdir / "scaling.md").read_text()
    metrics = (workdir / "w64" / "seed0" / "metrics.jsonl").read_text()
    assert cli.main(args) == 0  # finished runs and evaluations are reused
    assert (workdir / "w64" / "seed0" / "metrics.jsonl").read_text() == metrics
