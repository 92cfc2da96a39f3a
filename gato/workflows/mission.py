"""`gato main`: the whole mission on the built-in default data, on one machine.

    gato main [--config gato_cpu[:variant] | path.py[:variant]] [--workdir runs/main]

1. generate expert episodes for the config's control and Atari tasks (RLDS through TFDS, in
   WORKDIR/data; resumable: a rerun only makes what is missing),
2. train one generalist on the mixture of those tasks and the default text corpus
   (WORKDIR/train; resumes from its last checkpoint),
3. evaluate the final checkpoint on every task with an environment and print per-suite tables
   of returns and expert-normalized scores (WORKDIR/train/eval/step_N: JSON, CSV, plots, GIFs),
4. print text samples from a prompt.
"""

import argparse
import pathlib
import time

from gato.workflows import common

DEFAULT_CONFIG = "gato_cpu"  # experiments/gato_cpu.py, shipped with the package


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, config=DEFAULT_CONFIG, workdir="runs/main")
    parser.add_argument("--prompt", default="The Python interpreter",
                        help="text prompt for the samples printed at the end")


def sample_text(train_dir: pathlib.Path, prompt: str, num_tokens: int = 48) -> None:
    """Prints the final checkpoint's held-out text bits per byte (the validation split of the
    run's corpus) and greedy and sampled continuations of `prompt` (step 4)."""
    from gato.data.pipeline.resolve import load_text_documents
    from gato.eval import checkpoints
    from gato.eval.text import bits_per_byte, generate_text

    loaded = checkpoints.load_checkpoint(train_dir)
    data = loaded.config.data
    name = data.text
    documents = load_text_documents(name, "validation", data.data_dir, data.text_max_documents)
    r = bits_per_byte(loaded.model_config, loaded.params, documents)
    print(f"held-out {name}: {r['bits_per_byte']:.3f} bits per byte ({r['nll']:.3f} nats per "
          f"token; {r['documents']} documents, {r['tokens']} tokens, {r['bytes']} bytes)",
          flush=True)
    for temperature in (0.0, 0.8):
        text = generate_text(loaded.model_config, loaded.params, prompt, num_tokens,
                             temperature=temperature)
        print(f"[temperature {temperature}] {prompt}{text}", flush=True)


def run(args: argparse.Namespace) -> int:
    from gato.train import train_and_evaluate

    config = common.start(args)
    workdir = pathlib.Path(args.workdir)
    data_dir = common.data_dir(config, workdir)
    train_dir = workdir / "train"
    started = time.perf_counter()

    common.banner(f"1/4 expert data -> {data_dir}")
    common.record(config, data_dir)
    common.banner(f"2/4 training {config.model.name} for {config.train.total_steps} steps -> "
                  f"{train_dir}")
    final = train_and_evaluate(config, train_dir)
    print({k: round(float(v), 4) for k, v in final.items() if k.startswith("train/loss")})
    common.banner("3/4 evaluation of the final checkpoint")
    if config.eval.suites or config.eval.tasks:
        common.evaluate(config, train_dir)
    else:
        print("no tasks with environments: the in-training evaluators are the evaluation "
              f"(gato curve {train_dir})")
    common.banner("4/4 text: held-out bits per byte and samples")
    if config.data.mixture.get("text", 0.0) > 0:
        sample_text(train_dir, args.prompt)
    else:
        print("none: the mixture has no text")
    print(f"\ndone in {(time.perf_counter() - started) / 60:.1f} min; everything is in {workdir}")
    return 0
