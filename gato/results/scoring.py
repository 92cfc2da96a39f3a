"""Per-task and per-suite scores: return statistics, expert- and human-normalized scores.

Expert-normalized score (Gato, Reed et al. 2022): (return - random) / (expert - random), with the
expert and random mean returns from the reference table (`gato.envs.scores`), measured under the
evaluation's protocol (`gato.envs.protocol`; a mismatch raises `ProtocolMismatchError`, never a
biased score). Human-normalized (Atari only, under the protocol of the published table):
(return - random) / (human - random). Aggregates with intervals: `gato.results.statistics`.
"""

import logging
import math
from collections.abc import Sequence

import numpy as np

from gato.envs.protocol import Protocol
from gato.envs.scores import ProtocolMismatchError, normalize

THRESHOLDS = tuple(i / 100 for i in range(0, 201, 5))  # 0%, 5%, ..., 200% of expert

log = logging.getLogger(__name__)


def return_stats(returns: Sequence[float]) -> dict[str, float]:
    """Mean, std (population), min and max of episode returns; NaN when there are none."""
    r = np.asarray(returns, np.float64)
    if r.size == 0:
        return {"mean_return": math.nan, "std_return": math.nan,
                "min_return": math.nan, "max_return": math.nan}
    return {"mean_return": float(r.mean()), "std_return": float(r.std()),
            "min_return": float(r.min()), "max_return": float(r.max())}


def _reference_scores(task_name: str, suite: str, mean_return: float,
                      protocol: Protocol | None) -> dict:
    """Expert-normalized (all suites) and human-normalized (Atari) scores of a mean return, and
    the reference used; None where the table has no entry (logged). Raises ProtocolMismatchError
    when the table's entry was measured under other environment settings."""
    out: dict = {"expert_normalized": None, "human_normalized": None, "reference": None}
    try:
        from gato.envs import scores

        ref = scores.reference(task_name, protocol)
        out["expert_normalized"] = normalize(mean_return, ref["random_mean"], ref["expert_mean"])
        out["reference"] = {"expert_mean": ref["expert_mean"], "random_mean": ref["random_mean"],
                            "measured_under": ref.get("measured_under")}
    except ProtocolMismatchError:
        raise
    except (ImportError, OSError, KeyError, ValueError) as e:
        log.warning("no expert-normalized score for %s: %s", task_name, e)
    if suite == "atari":
        try:
            from gato.envs import scores

            if protocol is not None:
                scores.check_human_protocol(task_name, protocol)
            out["human_normalized"] = float(scores.human_normalized(task_name, mean_return))
        except ProtocolMismatchError as e:  # expected off the "full" protocol (Evaluator warns)
            log.debug("%s", e)
        except (ImportError, AttributeError, KeyError, ValueError) as e:
            log.warning("no human-normalized score for %s: %s", task_name, e)
    return out


def task_summary(task_name: str, suite: str, episodes: Sequence[dict],
                 protocol: Protocol | None = None, normalize_scores: bool = True) -> dict:
    """Scores of one task from its episode records ({"return", "length", "error", "seed"}).

    Episodes that ended in an environment error are counted in `errors` and left out of the
    return statistics. Normalized against references measured under `protocol` (None: the
    default protocol); with normalize_scores=False, returns only.
    """
    ok = [e for e in episodes if e.get("error") is None]
    stats = return_stats([e["return"] for e in ok])
    row = {"suite": suite, "task": task_name, "episodes": len(episodes),
           "errors": len(episodes) - len(ok), **stats,
           "mean_length": float(np.mean([e["length"] for e in ok])) if ok else math.nan,
           "success_rate": success_rate(ok),
           "expert_normalized": None, "human_normalized": None, "reference": None}
    if ok and normalize_scores:
        row.update(_reference_scores(task_name, suite, stats["mean_return"], protocol))
    return row


def success_rate(episodes: Sequence[dict]) -> float | None:
    """Fraction of episodes that succeeded, where every episode reports success (BabyAI,
    Meta-World); None for suites without a success signal."""
    flags = [e.get("success") for e in episodes]
    if not flags or any(f is None for f in flags):
        return None
    return float(np.mean([bool(f) for f in flags]))


def tasks_at_or_above(scores: Sequence[float], thresholds: Sequence[float] = THRESHOLDS
                      ) -> list[int]:
    """For each threshold x, the number of tasks whose normalized score is >= x (Gato Fig. 5)."""
    s = np.asarray([v for v in scores if v is not None and math.isfinite(v)], np.float64)
    return [int((s >= t).sum()) for t in thresholds]


def suite_summary(suite: str, rows: Sequence[dict]) -> dict:
    """Aggregate of one suite's task rows: mean/median normalized score and threshold counts."""
    norm = [r["expert_normalized"] for r in rows if r.get("expert_normalized") is not None]
    human = [r["human_normalized"] for r in rows if r.get("human_normalized") is not None]
    success = [r["success_rate"] for r in rows if r.get("success_rate") is not None]
    return {
        "suite": suite,
        "tasks": len(rows),
        "scored_tasks": len(norm),
        "episodes": int(sum(r["episodes"] for r in rows)),
        "errors": int(sum(r["errors"] for r in rows)),
        "mean_expert_normalized": float(np.mean(norm)) if norm else None,
        "median_expert_normalized": float(np.median(norm)) if norm else None,
        "mean_human_normalized": float(np.mean(human)) if human else None,
        "mean_success_rate": float(np.mean(success)) if success else None,
        "tasks_at_50pct": tasks_at_or_above(norm, (0.5,))[0],
        "tasks_at_100pct": tasks_at_or_above(norm, (1.0,))[0],
    }
