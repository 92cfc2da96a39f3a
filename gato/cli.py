"""The `gato` console script: one subcommand per job, each implemented in its own module.

Every subcommand module exposes `add_arguments(parser: argparse.ArgumentParser) -> None` and
`run(args: argparse.Namespace) -> int`. Modules are imported only when their subcommand runs, so
`gato --help` stays fast.

Errors take one path for every subcommand: an exception out of `run` is printed as one line,
`gato COMMAND: error: MESSAGE` (exit status 1; see `gato.errors`), and `--debug` re-raises it
with its traceback. Ctrl-C exits with status 130.
"""

import argparse
import importlib
import sys

from gato import compile_cache, host_memory

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "main": ("gato.workflows.mission",
             "The whole mission on the default data: generate, train, evaluate."),
    "return-study": ("gato.workflows.return_study",
                     "BC, filtered BC and return-conditioned arms on mixed-quality data."),
    "tasks": ("gato.policies.tasks", "List registered tasks and suites with their specs."),
    "tokenize": ("gato.data.pipeline.show_tokens", "Tokenize default data and print the tokens."),
    "generate": ("gato.data.recording.generate", "Record episodes as RLDS datasets (TFDS)."),
    "data": ("gato.data.cli", "Describe datasets: episodes, tokens, return quantiles."),
    "train": ("gato.workflows.train", "Train a model from an experiment config."),
    "eval": ("gato.eval.cli", "Evaluate checkpoints per task suite."),
    "curve": ("gato.results.curve", "Learning curves per task from in-training evaluators."),
    "compare": ("gato.results.compare",
                "Compare two evaluated runs: per-task differences, P(A > B)."),
    "finetune": ("gato.workflows.finetune",
                 "Fine-tune a checkpoint on the first N episodes of a task; best by held-out nll."),
    "transfer": ("gato.workflows.transfer",
                 "Gato's Fig. 9: pretraining variants fine-tuned on a held-out task."),
    "scaling": ("gato.workflows.scaling",
                "Gato's Fig. 8: model sizes on one token budget, with a power-law fit."),
    "sweep": ("gato.workflows.sweep",
              "Train a config over several seeds, evaluate and aggregate them."),
    "offline": ("gato.eval.offline", "Teacher-forced action metrics on recorded episodes."),
}


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(prog="gato", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser, sub


def report_error(command: str, error: BaseException) -> int:
    """Prints `error` as one line on stderr; returns the exit status (1)."""
    from gato.errors import USER_ERRORS, message

    if isinstance(error, USER_ERRORS):
        print(f"gato {command}: error: {message(error)}", file=sys.stderr)
    else:
        print(f"gato {command}: unexpected {type(error).__name__}: {message(error)} "
              "(run again with --debug for the traceback)", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, sub = build_parser()
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)  # prints help / the error for unknown commands
        parser.print_help()
        return 2
    command = argv[0]
    debug = "--debug" in argv[1:]
    host_memory.configure()  # before JAX starts its threads (gato.host_memory)
    compile_cache.configure()  # before JAX is imported (gato.compile_cache)
    try:
        module = importlib.import_module(COMMANDS[command][0])
        module.add_arguments(sub.choices[command])
        sub.choices[command].add_argument(
            "--debug", action="store_true", help="show the traceback of an error")
        # --debug is the command's, wherever it stands (after a sub-action too)
        args = parser.parse_args([a for a in argv if a != "--debug"])
        args.debug = debug
        return int(module.run(args) or 0)
    except KeyboardInterrupt as error:  # Ctrl-C, or training stopped by a signal (saved)
        detail = f": {error}" if str(error) else ""
        print(f"gato {command}: interrupted{detail}", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 -- the one place errors become messages
        if debug:
            raise
        return report_error(command, error)


if __name__ == "__main__":
    sys.exit(main())
