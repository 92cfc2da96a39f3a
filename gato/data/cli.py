"""`gato data`: what is in the project's datasets.

    gato data describe DIR            # each dataset under DIR: episodes, steps, tokens, returns
    gato data describe DIR --write    # and write the manifests of datasets that have none
    gato data describe DIR --json     # the manifests themselves

DIR is a TFDS data_dir, a dataset's folder or one version folder (`gato_<suite>/<task>/<version>`).
A dataset's manifest (`gato.data.formats.manifest`) is read when `gato generate` wrote one, else
computed from its episodes. Outside data under DIR is described too, each split apart, computed
and never written beside its files: a local copy of the JAT dataset (`<config>/<split>-*.parquet`
under DIR or DIR/jat-dataset, `gato.data.formats.jat`) and Minari datasets (`<id>/data/` under
DIR, a Minari store such as $MINARI_DATASETS_PATH, `gato.data.formats.minari`). Image-text
datasets (`gato_vision_language/minigrid-scenes`, captions and question/answer pairs) are
described per split: images, captions, pairs and tokens as trained (computed, never written).
"""

import argparse
import json
import sys
from pathlib import Path

from gato.data.formats import manifest as manifest_lib
from gato.data.formats.optional import MissingExtraError


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


def describe(directory: Path, write: bool = False) -> list[dict]:
    """The manifests of one version folder: an episode dataset's, read or computed (and written
    with `write`); an image-text dataset's, computed per split."""
    from gato.data.formats import captions

    task, data_dir = directory.parent.name, directory.parents[2]
    if task in captions.OWN_DATASETS:
        from gato.envs import registry

        suite = registry.get(task).suite
        return [manifest_lib.image_text_manifest(
            task, suite, captions.load_image_text(task, data_dir, split), split)
            for split in splits(directory)]
    manifest = manifest_lib.read_manifest(directory)
    if manifest is None:
        manifest, _ = manifest_lib.dataset_manifest(task, data_dir)
        if write:
            manifest_lib.write_manifest(directory, manifest)
    return [manifest]


def splits(directory: Path) -> list[str]:
    """The splits a TFDS version folder holds, in dataset_info.json's order."""
    info = json.loads((directory / "dataset_info.json").read_text())
    return [s["name"] for s in info.get("splits", [])]


def describe_outside(root: str | Path) -> list[dict]:
    """Manifests of the JAT tasks (per split) and Minari datasets stored under `root`."""
    from gato.data.formats import jat, minari
    from gato.envs import registry

    manifests = []
    for task_name, split in jat.find_tasks(root):
        task = registry.get(task_name)
        source = jat.load_jat_episodes(task_name, root, split)
        manifests.append(manifest_lib.source_manifest(
            task_name, task.suite, task.spec, source, split,
            {"source": "jat", "files": [str(f) for f in source.files]}))
    for dataset_id in minari.find_datasets(root):
        source = minari.MinariEpisodeSource(dataset_id, root=root)
        manifests.append(manifest_lib.source_manifest(
            minari.PREFIX + dataset_id, minari.SUITE, source.spec, source, "train",
            {"source": "minari", "data_path": str(source.data_path)}))
    return manifests


def run(args: argparse.Namespace) -> int:
    try:
        dirs = dataset_dirs(args.dir)
        manifests = [m for d in dirs for m in describe(d, args.write)] + describe_outside(
            args.dir)
        if not manifests:
            raise FileNotFoundError(f"no gato_<suite>/<task>, JAT or Minari datasets under "
                                    f"{args.dir!r}")
    except (FileNotFoundError, KeyError, ValueError, MissingExtraError) as e:
        print(f"gato data: error: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(manifests, indent=1))
    else:
        print("\n\n".join(manifest_lib.format_manifest(m) for m in manifests))
    return 0
