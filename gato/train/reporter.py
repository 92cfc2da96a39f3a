"""The train loop's reporter: each step's metrics fetched, checked, shown and written.

    reporter = Reporter(config.train, start, writer, checkpointer, abstract_state, data_iter,
                        flops_per_token, peak_flops)
    reporter(step, device_metrics)   # once per step, while the next step runs
    reporter.last                    # {"step": s, name: value} of the newest step

Per step: the metrics are fetched to the host (floats), losses of modalities without targets
dropped, every `train.nan_check_keys` checked (FloatingPointError naming the step, the bad
values and the newest verified checkpoint), the bad-episode counter added, the progress bar
advanced. Every `train.log_every` steps and at the last one the row is written with the
throughput since the last write (the first step, which compiles, excluded) and the XLA
compilations since the run started.
"""

import logging
import time
from typing import Any

import jax
import numpy as np
import tqdm

from gato.train import metrics as metrics_lib


class Reporter:
    """Fetches, checks and writes the metrics of each train step (see the module docstring)."""

    def __init__(self, train_config: Any, start: int, writer: metrics_lib.MetricsWriter,
                 checkpointer: Any, abstract_state: Any, data_iter: Any,
                 flops_per_token: float, peak_flops: float):
        self.tc, self.start, self.writer = train_config, start, writer
        self.checkpointer, self.abstract_state, self.data_iter = (checkpointer, abstract_state,
                                                                  data_iter)
        self.flops_per_token, self.peak_flops = flops_per_token, peak_flops
        self.tokens_per_step = train_config.batch_size * train_config.seq_len
        self.compiles = metrics_lib.CompileCounter()
        self.bar = tqdm.tqdm(total=train_config.total_steps, initial=start,
                             disable=jax.process_index() != 0, desc="train",
                             dynamic_ncols=True)
        self.last: dict[str, float] = {}
        self._since, self._steps = time.perf_counter(), 0  # the throughput window

    def __call__(self, step: int, device_metrics: dict[str, jax.Array]) -> None:
        values = {k: float(v) for k, v in jax.device_get(device_metrics).items()}
        values = metrics_lib.drop_empty_losses(values)
        self.check_finite(step, values)
        values |= data_metrics(self.data_iter)
        self._steps += 1
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{values['train/loss']:.4f}")
        log = step % self.tc.log_every == 0 or step == self.tc.total_steps
        if step == self.start + 1:  # exclude compilation from the throughput
            self._since, self._steps = time.perf_counter(), 0
        elif log:
            values |= self.throughput()
            self.bar.set_postfix(loss=f"{values['train/loss']:.4f}",
                                 tok_s=f"{values['train/tokens_per_s']:.0f}")
        if log:
            self.writer.write(step, values)
        self.last = {"step": step, **values}

    def check_finite(self, step: int, values: dict[str, float]) -> None:
        """Raises FloatingPointError naming the non-finite metrics, the step, and the newest
        checkpoint that passes its checksums (the bad state is never saved)."""
        bad = [k for k in self.tc.nan_check_keys if k in values and not np.isfinite(values[k])]
        if not bad:
            return
        good = self.checkpointer.newest_verified_step(self.abstract_state)
        where = self.checkpointer.directory
        raise FloatingPointError(
            f"non-finite {', '.join(bad)} at step {step}: "
            + ", ".join(f"{k}={values[k]}" for k in bad)
            + (f"; last good checkpoint: step {good} (verified: {where / str(good)})"
               if good is not None else f"; no intact checkpoint in {where}"))

    def throughput(self) -> dict[str, float]:
        """train/tokens_per_s, train/mfu since the last write, and the compilations so far."""
        elapsed = time.perf_counter() - self._since
        values = metrics_lib.throughput(self._steps * self.tokens_per_step, elapsed,
                                        self.flops_per_token, self.peak_flops)
        self._since, self._steps = time.perf_counter(), 0
        return values | self.compiles.totals()

    def close(self) -> None:
        self.bar.close()


def data_metrics(data_iter: Any) -> dict[str, float]:
    """Data-pipeline counters for the metrics: bad episodes skipped so far (cumulative)."""
    stats = getattr(data_iter, "stats", None)
    if not isinstance(stats, dict) or "bad_episode_skips" not in stats:
        return {}
    return {"data/bad_episode_skips": float(stats["bad_episode_skips"])}


def report_bad_episodes(data_iter: Any) -> None:
    """Logs how many bad episodes were skipped in the run, and the first ones."""
    stats = getattr(data_iter, "stats", None) or {}
    if stats.get("bad_episode_skips"):
        logging.warning("skipped %d bad episode reads (data.on_bad_episode='skip'); first: %s",
                        stats["bad_episode_skips"], "; ".join(stats.get("bad_episodes", [])[:5]))
