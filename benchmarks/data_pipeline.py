"""Data pipeline throughput (tokens/s) by grain worker count, next to the trainer's consumption.

    .venv/bin/python -m benchmarks.data_pipeline --seq-len 1024 --batch 8 --batches 10
    .venv/bin/python -m benchmarks.data_pipeline --data-dir ~/tensorflow_datasets \
        --suites text --tasks cartpole-swingup,pong    # generated RLDS data (`gato generate`)

Without --data-dir the episodes are synthetic (gato.testing.pipeline): control episodes of 8
tokens per step, Atari-like episodes of 80x80 RGB frames (25 patches + separator + action per
step) and packed text, mixed 1:1:1. Throughput counts every token of a batch (padding included)
after a warm-up batch (worker start-up excluded). With --trainer-steps N the tiny trainer config
(experiments/synthetic_tiny.py, same batch and seq_len) is run for N steps and its logged
train/tokens_per_s printed: the rate the pipeline has to sustain.
"""

import argparse
import pathlib
import tempfile
import time

from gato.data.pipeline import loader as pipeline
from gato.data.pipeline.examples import TaskData
from gato.testing import pipeline as fakes


def synthetic_tasks(seq_len: int, episodes: int) -> list[TaskData]:
    return [
        TaskData("control", "control", fakes.CONTROL_SPEC,
                 fakes.control_episodes(episodes, min_len=100, max_len=400)),
        TaskData("atari", "atari", fakes.ATARI_SPEC,
                 fakes.atari_episodes(episodes, length=200, size=80)),
        TaskData("text", "text", chunks=fakes.text_chunks(seq_len, count=400)),
    ]


def pipeline_rate(args: argparse.Namespace, workers: int) -> tuple[float, float]:
    """(tokens/s, non-padding tokens/s) over args.batches batches after one warm-up batch."""
    config = pipeline.default_data_config()
    config.worker_count = workers
    overrides = {"data_dir": args.data_dir, "suites": args.suites, "tasks": args.tasks}
    config.update({k: v for k, v in overrides.items() if v is not None})
    kwargs = dict(batch_size=args.batch, seq_len=args.seq_len, seed=0)
    if args.data_dir:
        iterator = pipeline.make_iterator(config, **kwargs)
    else:
        iterator = pipeline.build_iterator(synthetic_tasks(args.seq_len, args.episodes), config,
                                           **kwargs)
    try:
        next(iterator)
        start, real = time.perf_counter(), 0
        for _ in range(args.batches):
            real += int((next(iterator)["modality"] != 0).sum())
        elapsed = time.perf_counter() - start
    finally:
        iterator.close()
    return args.batches * args.batch * args.seq_len / elapsed, real / elapsed


def trainer_rate(args: argparse.Namespace) -> float:
    """train/tokens_per_s of the tiny trainer config at this batch and seq_len (last log)."""
    from gato.testing import train as testing
    from gato.train.loop import train_and_evaluate

    config = testing.tiny_config(f"train.batch_size={args.batch}", f"train.seq_len={args.seq_len}",
                                 f"train.total_steps={args.trainer_steps}", "train.log_every=2",
                                 "train.checkpoint_every=1000")
    with tempfile.TemporaryDirectory() as workdir:
        train_and_evaluate(config, workdir)
        from gato.train.metrics import read_jsonl

        rows = [r for r in read_jsonl(pathlib.Path(workdir) / "metrics.jsonl")
                if "train/tokens_per_s" in r]
    if not rows:
        raise RuntimeError("the trainer logged no train/tokens_per_s")
    return float(rows[-1]["train/tokens_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10, help="timed batches per setting")
    parser.add_argument("--workers", default="0,1,2", help="comma-separated worker counts")
    parser.add_argument("--episodes", type=int, default=16, help="synthetic episodes per task")
    parser.add_argument("--data-dir", default=None, help="read generated RLDS data instead")
    parser.add_argument("--suites", default=None, help="with --data-dir: suites to mix")
    parser.add_argument("--tasks", default=None, help="with --data-dir: tasks to mix")
    parser.add_argument("--trainer-steps", type=int, default=0, help="0: skip the trainer")
    args = parser.parse_args()
    print(f"batch {args.batch} x seq_len {args.seq_len}, {args.batches} timed batches")
    for workers in (int(w) for w in args.workers.split(",")):
        total, real = pipeline_rate(args, workers)
        print(f"pipeline worker_count={workers}: {total:,.0f} tokens/s "
              f"({real:,.0f} non-padding tokens/s)", flush=True)
    if args.trainer_steps:
        print(f"trainer (tiny model, synthetic source): {trainer_rate(args):,.0f} tokens/s")


if __name__ == "__main__":
    main()
