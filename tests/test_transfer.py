"""`gato transfer` (Gato's Fig. 9): the held-out task never reaches pretraining, each variant's
learning rate is chosen by held-out nll, every cell is fine-tuned, scored, reported, resumed."""

import json

import numpy as np
import pytest

from gato import cli
from gato.config import apply_overrides, load_config
from gato.data.pipeline import loader
from gato.data.recording.generate import generate_datasets
from gato.envs import registry
from gato.errors import ConfigError
from gato.results import transfer_report
from gato.testing.results import fixed_results
from gato.workflows import common, transfer

HELDOUT = "cartpole-swingup"


def _config(*overrides: str):
    return apply_overrides(load_config("transfer:quick"), list(overrides))


def test_each_variant_pretrains_without_the_heldout_task():
    c = _config()
    assert HELDOUT in c.data.tasks.split(",")  # the main job's list holds it; variants drop it
    tasks = {v: transfer.pretraining_tasks(c, v) for v in transfer.VARIANTS}
    assert all(HELDOUT not in t for t in tasks.values())
    assert "cartpole-balance" in tasks["all"] and "pong" in tasks["all"]
    assert {registry.get(t).suite for t in tasks["same_domain"]} == {"control"}
    assert set(tasks["non_control"]) == {"pydocs", "minigrid-scenes"}
    assert tasks["scratch"] == []
    for variant in ("all", "same_domain", "non_control"):
        p = transfer.pretrain_config(c, "tiny", variant)
        assert p.data.tasks.split(",") == tasks[variant] and p.model.name == "tiny"


def test_presets_pass_the_study_checks():
    for variant in ("", ":quick", ":cluster"):
        transfer.check_study(load_config(f"transfer{variant}"))
    cluster = load_config("transfer:cluster")
    assert cluster.transfer.sizes == "364m,1.18b" and cluster.train.batch_size == 512
    assert "minigrid-scenes" in transfer.pretraining_tasks(cluster, "non_control")


def test_a_pretraining_config_that_reads_the_heldout_task_is_refused():
    c = _config()
    c.data.tasks = "cartpole-balance,cartpole-swingup"
    with pytest.raises(ConfigError, match="holds the held-out task"):
        transfer.check_pretraining(c, {HELDOUT})
    with pytest.raises(ConfigError, match="transfer.heldout"):
        transfer.heldout_tasks(_config("transfer.heldout='no-such-task'"))


def test_heldout_task_is_in_no_pretraining_batch(tmp_path):
    data = tmp_path / "data"
    generate_datasets([registry.get("cartpole-balance"), registry.get(HELDOUT)], data,
                      episodes=2, max_episode_steps=20)
    c = _config(f"data.data_dir='{data}'", "data.tasks='cartpole-balance,cartpole-swingup'",
                "data.mixture={'control': 1.0}")
    for variant in ("all", "same_domain"):
        p = transfer.pretrain_config(c, "tiny", variant)
        it = loader.make_iterator(p.data, batch_size=8, seq_len=64, seed=0)
        assert HELDOUT not in it.task_names
        seen = {it.task_names[i] for _ in range(10) for i in np.asarray(next(it)["task_id"])}
        assert seen == {"cartpole-balance"}


def test_too_few_heldout_demonstrations_are_refused_before_any_work(tmp_path, capsys):
    code = cli.main(["transfer", "--config", "transfer:quick", "--workdir", str(tmp_path / "w"),
                     "--set", "transfer.episodes='1,20'"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "recorded with 8 episodes" in err[0]
    assert not (tmp_path / "w").exists()


def test_report_rows_tables_ranking_and_figure(tmp_path):
    runs = {}
    for variant, base in (("all", 0.6), ("scratch", 0.1)):
        for n in (1, 5):
            for schedule in transfer_report.SCHEDULES:
                runs[("tiny", schedule, variant, n)] = {
                    f"seed{s}": fixed_results(f"{variant}{n}{s}", {HELDOUT: [base + 0.01 * s] * 3})
                    for s in range(3)}
    rows = transfer_report.score_rows(runs, reps=200)
    row = next(r for r in rows if r["variant"] == "all" and r["n"] == 5)
    assert row["mean"] == pytest.approx(0.61) and row["ci"][0] <= 0.61 <= row["ci"][1]
    assert row["runs"] == 3 and row["episodes"] == 9
    assert transfer_report.ranking(rows, "tiny", "own") == ["all", "scratch"]
    text = transfer_report.format_tables(rows, {("tiny", "all"): 3e-4,
                                                ("tiny", "scratch"): 1e-3}, 1e-4)
    assert "| all | 0.0003 | 0.61 [" in text and "| scratch | 0.0001 |" in text
    assert transfer_report.plot_transfer(tmp_path / "t.png", rows, "tiny").stat().st_size > 0


def test_study_runs_every_cell_keeps_best_checkpoints_and_resumes(tmp_path):
    workdir, data = tmp_path / "w", tmp_path / "data"
    generate_datasets([registry.get("cartpole-balance")], data, episodes=2, max_episode_steps=20)
    generate_datasets([registry.get(HELDOUT)], data, episodes=4, max_episode_steps=20)
    args = ["transfer", "--config", "transfer:quick", "--workdir", str(workdir),
            "--set", f"data.data_dir='{data}'", "--set", "generate.tasks=''",
            "--set", "data.tasks='cartpole-balance,cartpole-swingup,pydocs'",
            "--set", "transfer.variants='same_domain,scratch'",
            "--set", "transfer.episodes='1'", "--set", "transfer.seeds='0'",
            "--set", "eval.max_steps=10"]
    assert cli.main(args) == 0
    schedules = json.loads((workdir / "schedules.json").read_text())
    assert set(schedules) == {"tiny/same_domain", "tiny/scratch"}
    for choice in schedules.values():
        nll = {float(k): v for k, v in choice["heldout_nll"].items()}
        assert sorted(nll) == [1e-3, 3e-3] and nll[choice["lr"]] == min(nll.values())
    report = json.loads((workdir / "transfer.json").read_text())
    assert {(r["variant"], r["schedule"], r["n"]) for r in report["rows"]} == {
        (v, s, 1) for v in ("same_domain", "scratch") for s in ("own", "shared")}
    assert not (workdir / "pretrain" / "tiny" / "scratch").exists()
    cell = workdir / "finetune" / "tiny" / "same_domain" / "lr0.001" / "n1" / "seed0"
    best = json.loads((cell / "best.json").read_text())
    kept = [p.name for p in (cell / "checkpoints").iterdir() if p.name.isdigit()]
    assert kept == [str(best["step"])]
    assert (cell / "eval" / f"step_{best['step']}" / "results.json").is_file()
    assert (workdir / "transfer_tiny.png").is_file() and "same_domain" in (
        workdir / "transfer.md").read_text()
    metrics = (cell / "metrics.jsonl").read_text()
    first = json.loads((workdir / "clock.json").read_text())
    assert first["calls"] == 1 and first["seconds"] == pytest.approx(report["study_seconds"])
    assert cli.main(args) == 0  # everything reused: nothing trained again
    assert (cell / "metrics.jsonl").read_text() == metrics
    second = json.loads((workdir / "clock.json").read_text())  # the time adds up over calls
    assert second["calls"] == 2 and first["seconds"] <= second["seconds"] < 2 * first["seconds"]
    assert "over 2 calls" in (workdir / "transfer.md").read_text()


def test_study_clock_adds_calls_and_keeps_what_was_saved(tmp_path, monkeypatch):
    now = iter([100.0, 130.0, 500.0, 510.0, 512.0])
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(now))
    first = common.StudyClock(tmp_path)  # started at 100
    first.save()  # 30 s
    second = common.StudyClock(tmp_path)  # a second call starts at 500, from the saved 30 s
    assert second.calls == 2 and second.seconds() == 40.0  # at 510
    assert second.summary() == "the study has taken 0.7 min over 2 calls (this call 0.2 min)"
