"""Configs are checked before any work starts, and every command reports errors the same way:
one line `gato COMMAND: error: ...` on stderr, exit status 1, a traceback only with --debug."""

import pytest

from gato import cli
from gato.config import apply_overrides, load_config, parse_variant
from gato.testing import train as testing

CPU = "experiments/gato_cpu.py"


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith(f"gato {command}: error: "), err
    return err


def test_a_typo_in_a_variant_is_an_error_naming_it():
    # ConfigError is a ValueError
    with pytest.raises(ValueError, match=r"unknown variant key 'quikc'.*quick \(bool\)"):
        load_config(f"{CPU}:quikc")
    with pytest.raises(ValueError, match="steps takes a int, got 'abc'"):
        load_config(f"{CPU}:quick,steps=abc")
    assert parse_variant("quick,steps=7", {"quick": bool, "steps": int}) == {"quick": True,
                                                                               "steps": 7}


@pytest.mark.parametrize("spec,overrides,key", [
    (f"{CPU}:quick,steps=-3", [], "train.total_steps=-3"),
    (f"{CPU}:quick", ["train.total_steps=-5"], "train.total_steps=-5"),
    (f"{CPU}:quick", ["generate.episodes=-1"], "generate.episodes=-1"),
    (f"{CPU}:quick", ["data.prompt_fraction=1.5"], "data.prompt_fraction=1.5"),
    (f"{CPU}:quick", ["data.on_bad_episode='ignore'"], "data.on_bad_episode='ignore'"),
    (f"{CPU}:quick", ["checkpoint.on_damaged='retry'"], "checkpoint.on_damaged='retry'"),
    (f"{CPU}:quick", ["data.max_episodes=0"], "data.max_episodes=0"),
    (f"{CPU}:quick", ["train.batch_size=True"], "train.batch_size=True"),
])
def test_out_of_range_values_name_the_key_and_the_expectation(spec, overrides, key):
    from gato.errors import ConfigError
    from gato.train.validate import validate_config

    config = apply_overrides(load_config(spec), overrides)
    with pytest.raises(ConfigError, match=f"config key {key}: expected "):
        validate_config(config)


def test_frame_motion_without_two_frames_is_refused_before_any_work():
    from gato.errors import ConfigError
    from gato.train.validate import validate_config

    config = apply_overrides(load_config(f"{CPU}:quick"), ["data.frame_motion=True"])
    with pytest.raises(ConfigError, match="data.frame_stack=1 / data.frame_motion=True: "
                                          "frame_motion needs frame_stack=2.*got frame_stack=1"):
        validate_config(config)
    validate_config(apply_overrides(config, ["data.frame_stack=2"]))


def test_names_are_checked_against_the_registries():
    from gato.errors import ConfigError
    from gato.train.validate import validate_config

    config = apply_overrides(load_config(f"{CPU}:quick"), ["data.tasks='cartpole-swingup,nope'"])
    with pytest.raises(ConfigError, match="data.tasks.*'nope'"):
        validate_config(config)
    config = apply_overrides(load_config(f"{CPU}:quick"), ["model.overrides={'layers': 2}"])
    with pytest.raises(ConfigError, match="model.*unknown ModelConfig fields \\['layers'\\]"):
        validate_config(config)
    config = apply_overrides(load_config(f"{CPU}:quick"), ["data.mixture={'contrl': 1.0}"])
    with pytest.raises(ConfigError, match="data.mixture names unknown \\['contrl'\\]"):
        validate_config(config)
    for path in ("experiments/gato_cpu.py", "experiments/gato_cluster.py",
                 "experiments/synthetic_tiny.py"):
        validate_config(load_config(path))  # the shipped configs pass


def test_a_wrongly_typed_override_is_a_config_error():
    with pytest.raises(ValueError, match="train.total_steps holds int values, got str 'abc'"):
        apply_overrides(load_config(CPU), ["train.total_steps=abc"])


def test_train_refuses_bad_configs_in_one_line_and_writes_nothing(tmp_path, capsys):
    workdir = tmp_path / "run"
    base = ["train", "--config", f"{CPU}:quick", "--workdir", str(workdir)]
    assert cli.main([*base, "--set", "train.total_steps=-5"]) == 1
    assert "train.total_steps=-5: expected an integer >= 1" in _one_line_error(capsys, "train")
    assert cli.main(["train", "--config", f"{CPU}:quikc", "--workdir", str(workdir)]) == 1
    assert "'quikc'" in _one_line_error(capsys, "train")
    assert cli.main([*base, "--set", "train.total_steps=abc"]) == 1
    assert "train.total_steps" in _one_line_error(capsys, "train")
    assert cli.main([*base, "--set", "train.nope=1"]) == 1
    assert "config key train.nope is not a known key" in _one_line_error(capsys, "train")
    assert cli.main(["train", "--config", "experiments/missing.py", "--workdir",
                     str(workdir)]) == 1
    assert "missing.py" in _one_line_error(capsys, "train")
    assert not workdir.exists()


def test_every_command_reports_user_errors_the_same_way(tmp_path, capsys):
    assert cli.main(["generate", "--tasks", "nope", "--data-dir", str(tmp_path)]) == 1
    assert "unknown task 'nope'" in _one_line_error(capsys, "generate")
    assert cli.main(["tasks", "--tasks", "nope"]) == 1
    assert "unknown task 'nope'" in _one_line_error(capsys, "tasks")
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "none"), "--tasks", "pong"]) == 1
    assert str(tmp_path / "none") in _one_line_error(capsys, "eval")
    assert cli.main(["offline", "--checkpoint", str(tmp_path / "none"), "--data-dir",
                     str(tmp_path)]) == 1
    assert str(tmp_path / "none") in _one_line_error(capsys, "offline")
    assert cli.main(["main", "--config", f"{CPU}:quick,steps=0", "--workdir",
                     str(tmp_path / "m")]) == 1
    assert "train.total_steps=0" in _one_line_error(capsys, "main")
    assert not (tmp_path / "m").exists()


def test_debug_shows_the_traceback():
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        cli.main(["generate", "--tasks", "nope", "--debug"])


def test_debug_is_taken_after_a_sub_action_too(tmp_path, capsys):
    assert cli.main(["data", "describe", str(tmp_path / "none"), "--debug"]) == 1
    assert "no directory" in capsys.readouterr().err


def test_library_entry_point_validates_too(tmp_path):
    from gato.train.loop import train_and_evaluate

    with pytest.raises(ValueError, match="train.log_every=0"):
        train_and_evaluate(testing.tiny_config("train.log_every=0"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_misspelt_key_in_an_experiment_file_is_refused_naming_it(tmp_path, capsys):
    """The probe of issue 39: `c.train.totl_steps = 5` in a file used to train silently."""
    path = tmp_path / "typo.py"
    path.write_text("from gato.config import default_config\n\n\n"
                    "def get_config(arg=None):\n"
                    "    c = default_config()\n"
                    "    c.data.source = 'synthetic'\n"
                    "    c.train.totl_steps = 5\n"
                    "    return c\n")
    workdir = tmp_path / "run"
    assert cli.main(["train", "--config", str(path), "--workdir", str(workdir)]) == 1
    err = _one_line_error(capsys, "train")
    assert "config key train.totl_steps is not a known key (did you mean train.total_steps?)" in err
    assert not workdir.exists()


def test_a_config_without_some_sections_is_completed_from_the_defaults(tmp_path):
    path = tmp_path / "short.py"
    path.write_text("import ml_collections\n\n\n"
                    "def get_config(arg=None):\n"
                    "    return ml_collections.ConfigDict({'train': {'total_steps': 7}})\n")
    config = load_config(str(path))
    assert config.train.total_steps == 7 and config.train.batch_size == 8
    assert config.checkpoint.on_damaged == "fallback" and "generate" in config


def test_a_saved_run_config_reads_back_as_a_full_config():
    from gato.config import run_config

    saved = load_config(f"{CPU}:quick").to_dict()
    del saved["study"], saved["eval"]["gif_size"]
    saved["generate"]["control_tasks"] = "cartpole-balance"  # a key an older version had
    config = run_config(saved)
    assert config.eval.gif_size == 128 and config.study.arms == "bc,filtered,returns"
    assert "control_tasks" not in config.generate
    assert config.train.nan_check_keys == ("train/loss", "train/grad_norm", "train/param_norm")
    assert config.model.overrides.to_dict() == saved["model"]["overrides"]
