"""The evaluator: roll out an agent on every task of the eval config, score, and report.

    evaluator = Evaluator(config.eval, model, workdir=workdir)
    metrics = evaluator.run(params, step)   # {"eval/control/cartpole-swingup/normalized_score": ..}

`run` builds a `ModelAgent` per task; `evaluate(make_agent, step)` takes any agent factory, so
scripted stand-ins go through the same code. Episodes run under the config's evaluation protocol
(`gato.envs.protocol`); a protocol whose settings differ from those the reference returns were
measured under is refused before any episode runs. Each task's spec comes from the run's data
section (`data_config`, `gato.envs.specs.task_spec`: return tokens, stacked frames). A model with
return-to-go tokens needs its data.returns (each task's return range and placement) and asks
for eval.return_target (`gato.eval.returns`); each task row records the target and, for fixed
targets, the requested return. Outputs (see `gato.results.report`) go to
`out_dir` (default WORKDIR/eval/step_<step>) and scalars to WORKDIR/tensorboard; the aggregates
with intervals come from `gato.results.statistics`.
"""

import json
import logging
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ml_collections
import tqdm

from gato import host_memory
from gato.envs import registry, specs
from gato.envs.instruction import with_other_instruction
from gato.envs.registry import Task
from gato.eval.agent import Agent, ModelAgent
from gato.eval.config import eval_protocol, return_conditioning_options, validate
from gato.eval.prompts import PromptSource, load_prompt_source
from gato.eval.returns import ReturnConditioning, dataset_returns, initial_return
from gato.eval.rollout import run_batch
from gato.results import figures, report, scoring, statistics
from gato.rundir import RESULTS_JSON, RunDir
from gato.train import evaluators

log = logging.getLogger(__name__)


def select_tasks(config: ml_collections.ConfigDict) -> list[Task]:
    """The config's tasks that have environments (text tasks are skipped with a warning)."""
    tasks = registry.select(config.suites or None, config.tasks or None)
    skipped = [t.name for t in tasks if t.make_env is None or t.spec is None]
    if skipped:
        log.warning("skipping tasks without environments: %s", ", ".join(skipped))
    return [t for t in tasks if t.name not in skipped]


class Evaluator:
    """Evaluates agents on `tasks` (default: config.suites + config.tasks) per `config` (the
    `eval` section, see `default_eval_config`)."""

    def __init__(self, config: ml_collections.ConfigDict, model: Any = None, *,
                 tasks: Sequence[Task] | None = None, workdir: str | pathlib.Path | None = None,
                 out_dir: str | pathlib.Path | None = None,
                 demonstrations: Mapping[str, Any] | None = None,
                 data_config: Mapping[str, Any] | None = None):
        validate(config)
        self.config, self.model = config, model
        self.tasks = list(tasks) if tasks is not None else select_tasks(config)
        if not self.tasks:
            raise ValueError("no tasks to evaluate")
        self.workdir = pathlib.Path(workdir) if workdir else None
        self.rundir = RunDir(self.workdir) if self.workdir else None
        self.out_dir = pathlib.Path(out_dir) if out_dir else None
        self.demonstrations = dict(demonstrations or {})
        self._prompts: dict[str, PromptSource | None] = {}
        self.warnings: list[str] = []
        self.protocol = eval_protocol(config)
        self.normalize = bool(config.normalize)
        if self.normalize:
            self._check_references()
        self.data_config = data_config  # the run's data section (None: Gato's timesteps)
        self.return_target, self.expert_inference = return_conditioning_options(config)
        if (model is not None and not model.config.return_tokens
                and self.return_target.mode != "none"):
            raise ValueError(f"eval.return_target={self.return_target} for a model trained "
                             "without return tokens (model return_tokens=False)")
        self._conditioning: dict[str, ReturnConditioning] = {}

    def task_spec(self, task: Task) -> Any:
        """The task's TimestepSpec as the run's data section made it (return tokens, frames)."""
        return specs.task_spec(task, self.data_config)

    def return_conditioning(self, task: Task) -> ReturnConditioning:
        """The task's return target per eval.return_target (quantiles read its dataset once)."""
        if task.name not in self._conditioning:
            target, c = self.return_target, self.config
            data = None
            if target.mode == "quantile":
                data = dataset_returns(task.name, c.data_dir or None, c.prompt_split)
            self._conditioning[task.name] = ReturnConditioning(
                target, initial_return(target, task.name, data, self.protocol),
                self.expert_inference)
        return self._conditioning[task.name]

    def output_dir(self, step: int) -> pathlib.Path | None:
        if self.out_dir is not None:
            return self.out_dir
        return self.rundir.eval_dir(step) if self.rundir else None

    def _prompt_source(self, task: Task) -> PromptSource | None:
        c = self.config
        policy = c.on_bad_episode
        if task.name not in self._prompts:
            if c.prompt == "none":
                source = None
            elif task.name in self.demonstrations:
                source = PromptSource(task, self.demonstrations[task.name], c.prompt,
                                      c.prompt_tokens, on_bad_episode=policy,
                                      spec=self.task_spec(task))
            else:
                try:
                    source = load_prompt_source(task, c.prompt, c.prompt_tokens, c.data_dir,
                                                c.prompt_split, policy, self.task_spec(task))
                except FileNotFoundError as e:
                    self._warn(f"{e}; evaluating {task.name} without a prompt")
                    source = None
            self._prompts[task.name] = source
        return self._prompts[task.name]

    def _warn(self, message: str) -> None:
        log.warning(message)
        self.warnings.append(message)

    def _check_references(self) -> None:
        """Raises ProtocolMismatchError (one line) for the first task whose reference returns
        were measured under other settings than this evaluation's protocol: its normalized
        score would be biased (e.g. Pong capped at 1000 steps against a reference over 4500)."""
        from gato.envs import scores

        for task in self.tasks:
            try:
                scores.reference(task, self.protocol)
            except (KeyError, OSError):
                continue  # no reference at all: the task is reported unscored
        atari = [t for t in self.tasks if t.suite == "atari"]
        try:
            for task in atari:
                scores.check_human_protocol(task, self.protocol)
        except scores.ProtocolMismatchError:
            self._warn(f"no human-normalized Atari scores under protocol {self.protocol.label}: "
                       f"the published human scores need protocol {scores.HUMAN_PROTOCOL}")

    def evaluate_task(self, task: Task, agent: Agent) -> tuple[dict, list[dict], list]:
        """(score row, episode records, GIF frames) of the protocol's episodes of `task`."""
        c = self.config
        seeds = self.protocol.seeds()
        run_task = self.protocol.apply(task)
        if c.instruction == "other":
            run_task = with_other_instruction(run_task)
        source = self._prompt_source(task)
        episodes, frames = [], []
        # rows of a batch share one KV-cache position, so their timesteps need equal token
        # counts: text observations (instructions of different lengths) go one at a time
        batch_size = 1 if "text" in task.spec.observation.values() else int(c.batch_size)
        for start in range(0, len(seeds), batch_size):
            batch = seeds[start:start + batch_size]
            prompt = source.prompt(batch) if source is not None else None
            for message in source.skipped if source is not None else ():
                if message not in self.warnings:
                    self._warn(message)
            done, new_frames = run_batch(
                run_task, agent, batch, run_task.max_episode_steps, prompt=prompt,
                gif_frames=int(c.gif_max_frames) if c.gif and start == 0 else 0,
                gif_size=int(c.gif_size))
            prompt_len = 0 if prompt is None else int(prompt["tokens"].shape[1])
            episodes += [{**e, "prompt_tokens": prompt_len} for e in done]
            frames = frames or new_frames
        row = scoring.task_summary(task.name, task.suite, episodes, self.protocol,
                                   normalize_scores=self.normalize)
        row["return_target"] = str(self.return_target)
        if not self.return_target.samples_returns:
            row["requested_return"] = self.return_conditioning(task).initial
        return row, episodes, frames

    def evaluate(self, make_agent: Callable[[Task], Agent], step: int,
                 extra: Mapping[str, Any] | None = None) -> dict:
        """Evaluates every task with make_agent(task); writes outputs; returns the results."""
        rows, all_episodes, gifs = [], {}, {}
        bar = tqdm.tqdm(self.tasks, desc=f"eval step {step}", unit="task", dynamic_ncols=True)
        for task in bar:
            bar.set_postfix(task=task.name)
            row, episodes, frames = self.evaluate_task(task, make_agent(task))
            rows.append(row)
            all_episodes[task.name] = episodes
            gifs[task.name] = frames
            log.info("%s: mean return %.3f, expert-normalized %s", task.name,
                     row["mean_return"], row["expert_normalized"])
        suites = [scoring.suite_summary(s, [r for r in rows if r["suite"] == s])
                  for s in sorted({r["suite"] for r in rows})]
        results = {"step": int(step), "tasks": rows, "suites": suites, "episodes": all_episodes,
                   "protocol": self.protocol.to_dict(), "eval_config": self.config.to_dict(),
                   "warnings": list(self.warnings), **dict(extra or {})}
        label = str(results.get("checkpoint") or f"step {step}")
        results["aggregate"] = statistics.summarize({label: results},
                                                    int(self.config.bootstrap_reps))
        for suite in suites:
            print(report.format_table(suite, [r for r in rows if r["suite"] == suite["suite"]]))
        print(statistics.format_summary(results["aggregate"]))
        self._write(results, gifs, step)
        return results

    def _write(self, results: dict, gifs: Mapping[str, list], step: int) -> None:
        out = self.output_dir(step)
        rows, suites, summary = results["tasks"], results["suites"], results["aggregate"]
        if self.rundir is not None:
            report.write_tensorboard(self.rundir.tensorboard, step, rows, suites, summary)
        if out is None:
            return
        report.write_json(out / RESULTS_JSON, results)
        report.write_csv(out / "tasks.csv", rows, report.TASK_COLUMNS)
        report.write_csv(out / "suites.csv", suites, report.SUITE_COLUMNS)
        figures.write_summary_figures(out, summary)
        for name, frames in gifs.items():
            if frames:
                report.write_gif(out / "gifs" / f"{name}.gif", frames)
        log.info("evaluation of step %d written to %s", step, out)

    def evaluate_params(self, params: Any, step: int, extra: Mapping[str, Any] | None = None
                        ) -> dict:
        """Evaluates the model with `params`; returns the results (as in results.json)."""
        if self.model is None:
            raise ValueError("evaluating params needs the model (Evaluator(config, model, ...))")
        c = self.config

        def make_agent(task: Task) -> Agent:
            return ModelAgent(self.model, params, self.task_spec(task),
                              temperature=float(c.temperature), decoding=str(c.decoding),
                              returns=self.return_conditioning(task))

        return self.evaluate(make_agent, step, extra)

    def run(self, params: Any, step: int, extra: Mapping[str, Any] | None = None
            ) -> dict[str, float]:
        """Evaluates the model with `params`; returns named scalar metrics."""
        results = self.evaluate_params(params, step, extra)
        return report.scalar_metrics(results["tasks"], results["suites"], results["aggregate"])



@evaluators.register("rollout")
def rollout_evaluator(config: ml_collections.ConfigDict, options: Mapping[str, Any],
                      workdir: pathlib.Path) -> Evaluator:
    """The "rollout" in-training evaluator: the Evaluator of `config.eval`'s settings (updated
    with `options`) on `config.model`; reports go to `workdir/eval/step_N/`."""
    from gato.eval.config import run_settings
    from gato.model.build import build_model

    try:
        eval_config = run_settings(config, options)
    except ValueError as e:
        raise ValueError(f"rollout evaluator: {e}") from None
    model, _ = build_model(config.model)
    return Evaluator(eval_config, model, workdir=workdir, data_config=config.data)


def _same_config(saved: Mapping[str, Any], config: ml_collections.ConfigDict) -> bool:
    """Whether a saved results.json was made with `config` (compared as JSON)."""
    now = json.loads(json.dumps(config.to_dict(), sort_keys=True, default=str))
    return saved.get("eval_config") == now


def evaluate_checkpoint(path: str | pathlib.Path,
                        config_for: Callable[[dict], ml_collections.ConfigDict], *,
                        step: int | None = None, out: pathlib.Path | None = None,
                        reuse: bool = False, replace: bool = True) -> dict:
    """Loads a checkpoint, evaluates it with config_for(run config) and writes its reports;
    returns the results. With `reuse`, a results.json already written with the same eval config
    is returned instead (a resumed sweep does not evaluate twice). With `replace=False`, one
    written with another eval config (another seed, episode count, protocol: e.g. the run's own
    final evaluation) is kept and a ValueError raised before any episode."""
    from gato.eval import checkpoints
    from gato.model import Gato

    host_memory.release_compiled()  # a long study's earlier programs (gato.host_memory)
    loaded = checkpoints.load_checkpoint(path, step)
    config = config_for(loaded.config)
    done = out / RESULTS_JSON if out else RunDir(loaded.workdir).results(loaded.step)
    saved = json.loads(done.read_text()) if done.is_file() else None
    same = saved is not None and _same_config(saved, config)
    if reuse and same:
        print(f"step {loaded.step} of {loaded.workdir}: already evaluated ({done}), reusing")
        return saved
    if not replace and saved is not None and not same:
        raise ValueError(f"{done.parent} already holds the results of another evaluation of step "
                         f"{loaded.step}; --force replaces them (with one checkpoint, --out DIR "
                         f"keeps both)")
    tasks = select_tasks(config)
    warnings = checkpoints.check_compatible(loaded, tasks)
    evaluator = Evaluator(config, Gato(loaded.model_config), tasks=tasks,
                          workdir=loaded.workdir, out_dir=out,
                          data_config=loaded.config.data)
    evaluator.warnings += warnings
    results = evaluator.evaluate_params(loaded.params, loaded.step,
                                        extra={"checkpoint": str(loaded.path)})
    print(f"step {loaded.step}: results in {evaluator.output_dir(loaded.step)}")
    return results
