"""Dataset manifests: a small JSON beside each dataset saying what is in it.

`<dataset dir>/manifest.json` (the TFDS version directory, beside dataset_info.json), written by
`gato generate` after each build and printed by `gato data describe DIR`:

    task, suite, episodes, steps (RLDS steps), timesteps (steps with an action: the last RLDS
    step of an episode holds only the final observation), tokens_per_timestep (Gato's layout;
    one more with return tokens; None where text observations make timesteps differ), tokens
    (timesteps x tokens_per_timestep, or each timestep counted with its text),
    returns: {min, p10, p25, median, p75, p90, max, mean, std} of the episode returns,
    policies: {label: {episodes, timesteps, returns: {...}}} per behaviour policy label,
    episode_returns, episode_policies: per episode, in dataset order (what `data.filter` and
    `--return-target q<quantile>` read instead of the episodes), generation: how it was made.

Image-text datasets (captions, question/answer pairs: no episodes, no returns) are described by
`image_text_manifest` instead, per split, computed and never written: kind "image_text",
examples (images), captions, questions, tokens (every pair laid out as trained: patches, prompt,
target, EOS) and target_tokens (those with loss).
"""

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST_NAME = "manifest.json"
QUANTILES = (("min", 0.0), ("p10", 0.1), ("p25", 0.25), ("median", 0.5), ("p75", 0.75),
             ("p90", 0.9), ("max", 1.0))


def return_quantiles(returns: Sequence[float]) -> dict[str, float | None]:
    """min, p10, p25, median, p75, p90, max, mean and std (population) of `returns`; None
    values when there are none."""
    r = np.asarray(returns, np.float64)
    if r.size == 0:
        return {**{name: None for name, _ in QUANTILES}, "mean": None, "std": None}
    out = {name: float(np.quantile(r, q)) for name, q in QUANTILES}
    return out | {"mean": float(r.mean()), "std": float(r.std())}


def episode_record(episode: Mapping[str, Any], policy: str, spec: Any = None
                   ) -> dict[str, Any]:
    """{policy, return, steps, timesteps} of one RLDS-layout episode, and its tokens in Gato's
    layout when `spec` has text observations (timesteps of such a spec differ in length)."""
    rewards = np.asarray(episode["reward"], np.float64)
    steps = int(rewards.shape[0])
    is_last = np.asarray(episode.get("is_last", np.zeros(steps, bool)))
    timesteps = steps - 1 if steps > 1 and is_last.shape == (steps,) and is_last[-1] else steps
    record = {"policy": str(policy), "return": float(rewards.sum()), "steps": steps,
              "timesteps": timesteps}
    if has_text(spec):
        from gato.tokenizers.timestep import episode_tokens

        record["tokens"] = episode_tokens(spec, episode["observation"], timesteps)
    return record


def has_text(spec: Any) -> bool:
    """Whether a TimestepSpec (or None) has text observations."""
    return spec is not None and "text" in spec.observation.values()


def build_manifest(task: str, suite: str, records: Sequence[Mapping[str, Any]],
                   tokens_per_timestep: int | None,
                   generation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a dataset from its per-episode records (`episode_record`, in order)."""
    returns = [float(r["return"]) for r in records]
    policies = [str(r["policy"]) for r in records]
    timesteps = int(sum(r["timesteps"] for r in records))
    tokens = None if tokens_per_timestep is None else timesteps * int(tokens_per_timestep)
    if records and all("tokens" in r for r in records):  # timesteps of different lengths
        tokens = int(sum(r["tokens"] for r in records))
    per_policy = {}
    for label in sorted(set(policies)):
        mine = [r for r in records if r["policy"] == label]
        per_policy[label] = {"episodes": len(mine),
                             "timesteps": int(sum(r["timesteps"] for r in mine)),
                             "returns": return_quantiles([r["return"] for r in mine])}
    return {
        "task": task, "suite": suite, "episodes": len(records),
        "steps": int(sum(r["steps"] for r in records)), "timesteps": timesteps,
        "tokens_per_timestep": tokens_per_timestep,
        "tokens": tokens,
        "returns": return_quantiles(returns), "policies": per_policy,
        "episode_returns": returns, "episode_policies": policies,
        "generation": dict(generation or {}),
    }


def source_records(source: Any, spec: Any = None) -> list[dict[str, Any]]:
    """`episode_record` of every episode of a random-access source (len, [i], and optionally
    metadata(i) with a "policy" field; "unknown" without one), with tokens for a `spec` with
    text observations."""
    records = []
    metadata = getattr(source, "metadata", None)
    for i in range(len(source)):
        policy = "unknown"
        if callable(metadata):
            policy = str(metadata(i).get("policy", "unknown"))
        records.append(episode_record(source[i], policy, spec))
    return records


def write_manifest(directory: str | Path, manifest: Mapping[str, Any]) -> Path:
    """Writes `directory`/manifest.json (NaN-free JSON) and returns its path."""
    path = Path(directory) / MANIFEST_NAME
    path.write_text(json.dumps(_finite(manifest), indent=1) + "\n")
    return path


def read_manifest(directory: str | Path) -> dict[str, Any] | None:
    """`directory`/manifest.json, or None when there is none."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def image_text_manifest(task: str, suite: str, source: Any, split: str) -> dict[str, Any]:
    """The manifest of one split of an image-text source (len, [i] -> `ImageText`): every
    example is read once and its texts tokenized as `gato.tokenizers.vision_language` lays
    them out."""
    from gato.tokenizers.text import default_tokenizer
    from gato.tokenizers.vision_language import patch_count, text_ids

    tokenizer = default_tokenizer()
    captions = questions = tokens = targets = 0
    for i in range(len(source)):
        example = source[i]
        captions, questions = captions + len(example.captions), questions + len(example.questions)
        patches = patch_count(example.image.shape)
        for prompt, target in example.texts():
            head, tail = text_ids(prompt, target, tokenizer)
            tokens += patches + len(head) + len(tail)
            targets += len(tail)
    return {"task": task, "suite": suite, "kind": "image_text", "split": split,
            "examples": len(source), "captions": captions, "questions": questions,
            "tokens": tokens, "target_tokens": targets}


def format_manifest(manifest: Mapping[str, Any]) -> str:
    """A few lines: totals, then the return quantiles overall and per policy label (one line
    for an image-text manifest)."""
    m = manifest
    tokens = "?" if m.get("tokens") is None else f"{m['tokens']:,}"
    name = f"{m['task']} [{m['split']}]" if m.get("split") else m["task"]
    if m.get("kind") == "image_text":
        return (f"{name} ({m['suite']}): {m['examples']:,} images, {m['captions']:,} captions, "
                f"{m['questions']:,} question/answer pairs, {tokens} tokens "
                f"({m['target_tokens']:,} of them targets)")
    per_step = m.get("tokens_per_timestep")
    if per_step is None and m.get("tokens") is not None and m["timesteps"]:
        per_step = f"{m['tokens'] / m['timesteps']:.1f} (mean)"
    lines = [f"{name} ({m['suite']}): {m['episodes']} episodes, {m['timesteps']:,} "
             f"timesteps ({m['steps']:,} steps), {per_step} tokens per timestep, {tokens} "
             "tokens"]
    head = f"  {'policy':<44}{'episodes':>9}" + "".join(f"{n:>9}" for n, _ in QUANTILES) + \
        f"{'mean':>9}"
    lines.append(head)
    rows = [("all", m["episodes"], m["returns"])] + [
        (label, p["episodes"], p["returns"]) for label, p in m["policies"].items()]
    for label, episodes, q in rows:
        cells = "".join(f"{_num(q.get(n)):>9}" for n, _ in QUANTILES)
        lines.append(f"  {label:<44}{episodes:>9}{cells}{_num(q.get('mean')):>9}")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def dataset_manifest(task_name: str, data_dir: str | Path | None, split: str = "train",
                     generation: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Path]:
    """(manifest, dataset directory) of the task's prepared dataset, computed from its episodes
    (every episode is read once)."""
    from gato.data.formats.load import load_episodes
    from gato.envs import registry
    from gato.tokenizers.timestep import tokens_per_timestep

    task = registry.get(task_name)
    source = load_episodes(task_name, data_dir, split)
    directory = getattr(source, "builder_dir", None)
    if directory is None:
        raise ValueError(f"{source!r} is not one of the project's datasets: no manifest")
    records = source_records(source, task.spec)
    per_step = None
    if len(source) and task.spec is not None and not has_text(task.spec):
        shapes = {k: np.shape(v)[1:] for k, v in source[0]["observation"].items()}
        per_step = tokens_per_timestep(task.spec, shapes)
    return build_manifest(task_name, task.suite, records, per_step, generation), Path(directory)


def manifest_of(source: Any) -> dict[str, Any] | None:
    """The manifest beside a dataset source's directory, if it has one and it lists as many
    episodes as the source holds (a stale or other-split manifest is ignored)."""
    directory = getattr(source, "builder_dir", None)
    manifest = read_manifest(directory) if directory is not None else None
    if manifest is None or manifest.get("episodes") != len(source):
        return None
    return manifest


def source_manifest(task: str, suite: str, spec: Any, source: Any, split: str,
                    generation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of an outside source (JAT, Minari: nothing is written beside their files),
    with its split; per-episode records from `source.episode_records()` when the source has
    that fast path (JAT: the rewards column alone) and no text observations to count, else
    from every episode."""
    from gato.tokenizers.timestep import tokens_per_timestep

    fast = None if has_text(spec) else getattr(source, "episode_records", None)
    records = fast() if callable(fast) else source_records(source, spec)
    per_step = None
    if len(source) and spec is not None and not has_text(spec):
        shapes = {k: np.shape(v)[1:] for k, v in source[0]["observation"].items()}
        per_step = tokens_per_timestep(spec, shapes)
    return build_manifest(task, suite, records, per_step, generation) | {"split": split}
