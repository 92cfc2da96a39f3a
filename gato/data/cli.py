"""`gato data`: what is in the project's datasets.

    gato data describe DIR            # each dataset under DIR: episodes, steps, tokens, returns
    gato data describe DIR --write    # and write the manifests of datasets that have none
    gato data describe DIR --json     # the manifests themselves

DIR is a TFDS data_dir, a dataset's folder or one version folder (`gato_<suite>/<task>/<version>`).
A dataset's manifest (`gato.data.formats.manifest`) is read when `gato generate` wrote one, else
computed from its episodes.
"""

import argparse
import json
import sys
from pathlib import Path

from gato.data.formats import manifest as manifest_lib


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    describe = sub.add_parser("describe", help="print each dataset's manifest")
    describe.add_argument("dir", help="a data_dir, a dataset folder or a version folder")
    describe.add_argument("--write", action="store_true",
                          help="write manifest.json where a dataset has none")
    describe.add_argument("--json", action="store_true", help="print the manifests as JSON")


def dataset_dirs(root: str | Path) -> list[Path]:
    """Version folders `gato_<suite>/<task>/<version>` of prepared datasets under `root`."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no directory {str(root)!r}")
    found = [p.parent for p in sorted(root.rglob("dataset_info.json"))]
    if (root / "dataset_info.json").exists():
        found = [root]
    return [d for d in found if d.parent.parent.name.startswith("gato_")
            and "staging" not in d.parts and not d.name.startswith("incomplete")]


def describe(directory: Path, write: bool = False) -> dict:
    """The manifest of one version folder: read, or computed (and written with `write`)."""
    manifest = manifest_lib.read_manifest(directory)
    if manifest is None:
        task, data_dir = directory.parent.name, directory.parents[2]
        manifest, _ = manifest_lib.dataset_manifest(task, data_dir)
        if write:
            manifest_lib.write_manifest(directory, manifest)
    return manifest


def run(args: argparse.Namespace) -> int:
    try:
        dirs = dataset_dirs(args.dir)
        if not dirs:
            raise FileNotFoundError(f"no gato_<suite>/<task> datasets under {args.dir!r}")
        manifests = [describe(d, args.write) for d in dirs]
    except (FileNotFoundError, KeyError, ValueError) as e:
        print(f"gato data: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(manifests, indent=1))
    else:
        print("\n\n".join(manifest_lib.format_manifest(m) for m in manifests))
    return 0
