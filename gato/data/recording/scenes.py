"""MiniGrid scenes with exact captions and question/answer pairs, made from the true grid state.

A scene is the start state of a BabyAI GoToLocal level in a 6 x 6 room (minigrid's own
environments, `BabyAI-GoToLocalS6N{2,3,4}-v0`: 2 to 4 objects among ball, box and key in six
colours, repeats allowed) rendered without the agent: the room's 4 x 4 floor at 16 pixels a
cell, a uint8 [64, 64, 3] image whose 16 patches are its 16 cells. The text is read from
`env.unwrapped.grid`, never from pixels, so every label is exact:

    captions   "a red ball, two blue keys and a grey box"   (objects in reading order)
               "a red ball left of a grey box"               (two objects unique by colour+type)
    questions  ("how many keys are there?", "2"), ("what colour is the ball?", "red"),
               ("is there a green box?", "no"), ("where is the grey box?", "bottom right"),
               ("is the red ball left of the grey box?", "yes")

Relations compare columns ("left of" / "right of"), or rows when the columns are equal
("above" / "below"). A scene is a pure function of its seed (and minigrid's version, 3.2.0 when
written): the seed picks the object count and resets the level. `make_scene(seed)` returns it.
"""

import contextlib
import dataclasses
import functools
import io
from typing import Any

import numpy as np

TYPES = ("ball", "box", "key")
PLURALS = {"ball": "balls", "box": "boxes", "key": "keys"}
COLOURS = ("blue", "green", "grey", "purple", "red", "yellow")  # minigrid's COLOR_NAMES
NUMBERS = {1: "a", 2: "two", 3: "three", 4: "four"}
OBJECT_COUNTS = (2, 3, 4)
TILE = 16  # pixels per cell: one cell per 16x16 patch
FLOOR = 4  # floor cells per side of a 6 x 6 room
IMAGE_SIZE = TILE * FLOOR  # 64
_SALT = 0x5CE2E  # separates the scene's own draws from other uses of the seed


@dataclasses.dataclass(frozen=True)
class SceneObject:
    kind: str  # "ball", "box" or "key"
    colour: str
    row: int  # floor cell, 0 = top
    col: int  # floor cell, 0 = left

    @property
    def name(self) -> str:
        return f"{self.colour} {self.kind}"


@dataclasses.dataclass(frozen=True)
class Scene:
    seed: int
    image: np.ndarray  # uint8 [64, 64, 3]
    objects: tuple[SceneObject, ...]  # reading order
    captions: tuple[str, ...]
    questions: tuple[tuple[str, str], ...]

    def layout(self) -> tuple[tuple[str, str, int, int], ...]:
        """What the image shows, as a hashable key (scenes with equal keys look the same)."""
        return tuple((o.kind, o.colour, o.row, o.col) for o in self.objects)


@functools.cache
def _env(count: int) -> Any:
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the BabyAI levels)

    return gym.make(f"BabyAI-GoToLocalS6N{count}-v0")


def render_scene(seed: int) -> tuple[np.ndarray, tuple[SceneObject, ...]]:
    """(image uint8 [64, 64, 3], objects in reading order) of scene `seed`."""
    rng = np.random.default_rng([_SALT, seed])
    env = _env(int(rng.choice(OBJECT_COUNTS)))
    with contextlib.redirect_stdout(io.StringIO()):  # BabyAI prints its rejected samples
        env.reset(seed=int(seed))
    grid = env.unwrapped.grid
    objects = []
    for row in range(FLOOR):
        for col in range(FLOOR):
            cell = grid.get(col + 1, row + 1)
            if cell is not None:
                objects.append(SceneObject(cell.type, cell.color, row, col))
    image = grid.render(TILE, agent_pos=None)[TILE:-TILE, TILE:-TILE]
    return np.ascontiguousarray(image), tuple(objects)


def _listing(objects: tuple[SceneObject, ...]) -> str:
    counts: dict[str, int] = {}
    for o in objects:
        counts[o.name] = counts.get(o.name, 0) + 1
    parts = [f"{NUMBERS[n]} {name}" if n == 1 else
             f"{NUMBERS[n]} {name.split()[0]} {PLURALS[name.split()[1]]}"
             for name, n in counts.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def relation(a: SceneObject, b: SceneObject) -> str:
    """Where a is relative to b: by column, else (same column) by row."""
    if a.col != b.col:
        return "left of" if a.col < b.col else "right of"
    return "above" if a.row < b.row else "below"


def quadrant(o: SceneObject) -> str:
    """"top left", "top right", "bottom left" or "bottom right": the 2 x 2 block holding o."""
    half = FLOOR // 2
    return f"{'top' if o.row < half else 'bottom'} {'left' if o.col < half else 'right'}"


def _unique(objects: tuple[SceneObject, ...]) -> list[SceneObject]:
    names = [o.name for o in objects]
    return [o for o in objects if names.count(o.name) == 1]


def describe(objects: tuple[SceneObject, ...], rng: np.random.Generator
             ) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(captions, (question, answer) pairs) of a scene, one of each applicable template."""
    unique = _unique(objects)
    captions = [_listing(objects)]
    questions = []
    if len(unique) >= 2:
        a, b = (unique[i] for i in rng.choice(len(unique), 2, replace=False))
        captions.append(f"a {a.name} {relation(a, b)} a {b.name}")
        a, b = (unique[i] for i in rng.choice(len(unique), 2, replace=False))
        questions.append((f"is the {a.name} left of the {b.name}?",
                          "yes" if a.col < b.col else "no"))
    kind = TYPES[rng.integers(len(TYPES))]
    questions.append((f"how many {PLURALS[kind]} are there?",
                      str(sum(o.kind == kind for o in objects))))
    single = [t for t in TYPES if sum(o.kind == t for o in objects) == 1]
    if single:
        kind = single[rng.integers(len(single))]
        colour = next(o.colour for o in objects if o.kind == kind)
        questions.append((f"what colour is the {kind}?", colour))
    present = {o.name for o in objects}
    if rng.random() < 0.5:
        name, answer = sorted(present)[rng.integers(len(present))], "yes"
    else:
        absent = sorted({f"{c} {t}" for c in COLOURS for t in TYPES} - present)
        name, answer = absent[rng.integers(len(absent))], "no"
    questions.append((f"is there a {name}?", answer))
    if unique:
        o = unique[rng.integers(len(unique))]
        questions.append((f"where is the {o.name}?", quadrant(o)))
    return tuple(captions), tuple(questions)


def make_scene(seed: int) -> Scene:
    """Scene `seed`: its image, objects, captions and questions (pure function of the seed)."""
    image, objects = render_scene(seed)
    captions, questions = describe(objects, np.random.default_rng([_SALT, seed, 1]))
    return Scene(int(seed), image, objects, captions, questions)


def split_seeds(train: int, validation: int, seed: int = 0) -> tuple[list[int], list[int]]:
    """Disjoint scene seeds: train [seed, seed + train); held-out ones from seed + 10**6 on,
    skipping any whose layout equals a training scene's, so no held-out image was trained on."""
    train_seeds = list(range(seed, seed + train))
    seen = {render_scene(s)[1] for s in train_seeds}
    held, s = [], seed + 10**6
    while len(held) < validation:
        if render_scene(s)[1] not in seen:
            held.append(s)
        s += 1
    return train_seeds, held
