"""The built wheel is a working install: package data inside, and it runs from a folder outside
the repository (a fresh virtual environment, the project's dependencies, nothing from the repo)."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def wheel(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(repo)],
                   check=True, capture_output=True, timeout=300)
    [path] = out.glob("gato_jax-*.whl")
    return path


def test_wheel_holds_the_package_data_and_only_gato(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for required in ("gato/tokenizers/assets/gato_sp32k.model", "gato/envs/reference_scores.json",
                     "gato/data/recording/builders.py", "gato/experiments/gato_cpu.py",
                     "gato/testing/train.py"):
        assert required in names, required
    tops = {n.split("/")[0] for n in names}
    assert tops == {"gato", wheel.name.split("-py3")[0] + ".dist-info"}, tops


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.slow
def test_installed_wheel_runs_tokenize_generate_and_the_quick_main_job_out_of_tree(
        wheel, tmp_path, repo):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies come from this environment's site-packages (a path entry, so its .pth
    # files, the checkout's editable install among them, are not run).
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)], check=True, capture_output=True)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(MUJOCO_GL="osmesa", PYOPENGL_PLATFORM="osmesa")
    gato = str(venv / "bin" / "gato")

    where = _run([str(python), "-c", "import gato; print(gato.__file__)"], work, env, 60)
    assert where.startswith(str(site)) and str(repo) not in where
    assert "round trip exact: True" in _run([gato, "tokenize"], work, env, 300)
    _run([gato, "generate", "--tasks", "cartpole-balance", "--episodes", "2",
          "--max-episode-steps", "20", "--data-dir", "data"], work, env, 300)
    assert (work / "data" / "gato_control" / "cartpole-balance").is_dir()
    out = _run([gato, "main", "--config", "gato_cpu:quick", "--workdir", "main"], work, env, 900)
    assert "control" in out and list((work / "main" / "train" / "eval").glob("step_*/results.json"))
