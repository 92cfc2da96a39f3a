"""Evaluation results with chosen scores, as `gato.eval.evaluator` writes them (results.json)."""

from gato.envs import protocol, registry, scores
from gato.results import scoring


def fixed_results(label: str, normalized: dict[str, list[float]],
                  failed: dict[str, int] | None = None,
                  run_protocol: protocol.Protocol | None = None) -> dict:
    """results.json of one run whose episodes score `normalized[task]` (expert-normalized), the
    first failed[task] episodes of a task ending in an environment error."""
    run_protocol = run_protocol or protocol.get("cap1000")
    rows, episodes = [], {}
    for name, values in normalized.items():
        ref = scores.reference(name, run_protocol)
        low, high = ref["random_mean"], ref["expert_mean"]
        eps = [{"seed": i, "return": low + v * (high - low), "length": 10,
                "error": "RuntimeError at step 3: boom" if i < (failed or {}).get(name, 0)
                else None} for i, v in enumerate(values)]
        episodes[name] = eps
        rows.append(scoring.task_summary(name, registry.get(name).suite, eps, run_protocol))
    return {"checkpoint": label, "step": 1, "protocol": run_protocol.to_dict(), "tasks": rows,
            "episodes": episodes}
