"""`gato train`: train a model from an experiment config file.

    gato train --config experiments/synthetic_tiny.py[:variant] --workdir DIR
        [--resume | --no-resume] [--resume-from CKPT] [--init-from CKPT]
        [--coordinator HOST:PORT --num-processes N --process-id I] [--set key=value ...]
"""

import argparse
import json
import logging

from gato.workflows import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common.add_run_arguments(parser, config=None, workdir=None)
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None,
                        help="resume from WORKDIR/checkpoints if it holds one (default: yes)")
    parser.add_argument("--resume-from", default=None,
                        help="explicit checkpoint to resume from when WORKDIR has none")
    parser.add_argument("--init-from", default=None, help="checkpoint whose params start the run")
    parser.add_argument("--coordinator", default=None, help="jax.distributed coordinator host:port")
    parser.add_argument("--num-processes", type=int, default=None)
    parser.add_argument("--process-id", type=int, default=None)


def run(args: argparse.Namespace) -> int:
    from gato.train import distributed

    distributed.initialize(args.coordinator, args.num_processes, args.process_id)

    from gato.train.loop import train_and_evaluate

    config = common.start(args, level=logging.INFO)
    if args.resume is not None:
        config.checkpoint.resume = args.resume
    if args.resume_from:
        config.checkpoint.resume_from = args.resume_from
    if args.init_from:
        config.checkpoint.init_from = args.init_from
    final = train_and_evaluate(config, args.workdir)
    print(json.dumps({"final": final}, sort_keys=True))
    return 0
