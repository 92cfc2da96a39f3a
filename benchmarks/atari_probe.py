"""Do the frames the tokenizer sees hold what the Atari expert acts on? A pixel probe.

A small CNN (two non-overlapping strided convolutions and an MLP, not the Gato model) is
trained to predict the expert's recorded action from the frame (or the frame and the one before
it: motion), on the training episodes of a game, and scored on its held-out episodes against
the state-blind bar (the held-out actions' cross entropy under the training action
frequencies). If the probe goes well below the bar, the information is in the 80x80 frames and
the generalist's failure to read it is about the model or its budget; if it does not, the
preprocessing has lost it.

With `--play N` the trained probe also plays N episodes of the game under the settings of the
main job's evaluation protocol (cap1000; episode seeds from 100, apart from the evaluators'
0-9), picking its argmax action (or sampling), while the game's scripted expert is asked at
every visited state what it would do; then the expert plays the same episodes and the probe is
asked. That separates two reasons a clone can score at random despite a good held-out accuracy:
errors on the expert's own states (open loop: the agreement when the expert plays) against errors
that compound on states the expert never visits (closed loop: the agreement when the probe plays).

    python -m benchmarks.atari_probe --data-dir runs/s600/data --games pong,breakout \\
        --train-split "train[:-3]" --test-split "train[-3:]" --frames 1,2 --steps 1500 --play 5

Prints per game and frame count: the bar, the probe's held-out nll and accuracy, seconds; with
--play, the mean return (and its expert-normalized score) and the on-policy agreement.
"""

import argparse
import collections
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gato.data.formats import load_episodes
from gato.model.embed import space_to_depth


class ProbeCNN(nn.Module):
    """[B, H, W, C] uint8 frames -> [B, num_actions] logits. Two non-overlapping convolutions
    (4x4 stride 4, then 2x2 stride 2, written as space-to-depth and a dense layer: matmuls,
    which XLA:CPU runs far faster than its general convolutions) and an MLP."""

    num_actions: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.astype(jnp.float32) / 255.0
        x = nn.relu(nn.Dense(32)(space_to_depth(x, 4)))
        x = nn.relu(nn.Dense(64)(space_to_depth(x, 2)))
        x = nn.relu(nn.Dense(128)(x.reshape((x.shape[0], -1))))
        return nn.Dense(self.num_actions)(x)


def frames_and_actions(source, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, H, W, frames] (the frame, then earlier ones; an episode's first repeats) and
    int32 [N] actions, over every timestep of every episode except each episode's last (no
    action)."""
    xs, ys = [], []
    for i in range(len(source)):
        episode = source[i]
        pixels = episode["observation"]["pixels"][..., 0]  # [T, H, W]
        actions = np.asarray(episode["action"]).astype(np.int32).reshape(-1)
        t = np.arange(len(actions) - 1)
        stack = [pixels[np.maximum(t - k, 0)] for k in range(frames)]
        xs.append(np.stack(stack, axis=-1))
        ys.append(actions[t])
    return np.concatenate(xs), np.concatenate(ys)


def state_blind_bar(train_y: np.ndarray, test_y: np.ndarray, num_actions: int) -> float:
    """Cross entropy (nats) of test_y under train_y's action frequencies (add-one smoothed)."""
    counts = np.bincount(train_y, minlength=num_actions) + 1.0
    return float(-np.mean(np.log(counts / counts.sum())[test_y]))


def probe(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
          num_actions: int, steps: int, batch: int, seed: int) -> dict[str, float]:
    """Trains ProbeCNN for `steps` Adam steps on `train`; its held-out nll and accuracy."""
    model = ProbeCNN(num_actions)
    rng = np.random.default_rng(seed)
    params = model.init(jax.random.PRNGKey(seed), jnp.asarray(train[0][:1]))
    tx = optax.adam(1e-3)
    opt = tx.init(params)

    def loss_fn(p, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()

    @jax.jit
    def step(p, o, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, o = tx.update(grads, o, p)
        return optax.apply_updates(p, updates), o, loss

    @jax.jit
    def evaluate(p, x, y):
        logits = model.apply(p, x)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, y)
        return nll.sum(), (logits.argmax(-1) == y).sum()

    for _ in range(steps):
        idx = rng.integers(0, len(train[1]), batch)
        params, opt, _ = step(params, opt, jnp.asarray(train[0][idx]), jnp.asarray(train[1][idx]))
    nll, correct = 0.0, 0
    for first in range(0, len(test[1]), 512):
        a, b = evaluate(params, jnp.asarray(test[0][first:first + 512]),
                        jnp.asarray(test[1][first:first + 512]))
        nll, correct = nll + float(a), correct + int(b)
    return {"nll": nll / len(test[1]), "accuracy": correct / len(test[1]), "params": params}


def play(params, num_actions: int, game: str, frames: int, episodes: int, decoding: str,
         seed: int, driver: str = "probe", first_seed: int = 100) -> dict[str, float]:
    """Plays `game` under protocol cap1000's settings, episode seeds first_seed, first_seed + 1,
    ... (by default apart from the seeds 0-9 the evaluators score, so that a setting chosen here
    is reported on fresh episodes).

    The driver ("probe" or "expert") picks the executed action. Returns the mean return and the
    share of steps where the probe's action equals the one the game's scripted expert picks in
    the same state (the expert's state is updated every step whoever drives). With the expert
    driving, that share is the probe's accuracy on fresh expert episodes (open loop)."""
    from gato.envs import protocol, registry
    from gato.policies.experts import make_expert

    model = ProbeCNN(num_actions)
    act = jax.jit(lambda p, x: model.apply(p, x)[0])
    task = protocol.get("cap1000").apply(registry.get(game))
    rng = np.random.default_rng(seed)
    returns, agree, steps = [], 0, 0
    for episode in range(first_seed, first_seed + episodes):
        env = task.make_env(episode)
        expert = make_expert(game, env)
        expert.epsilon = 0.0
        expert.reset(episode)
        timestep = env.reset()
        history = collections.deque([timestep.observation["pixels"][..., 0]] * frames,
                                    maxlen=frames)
        total = 0.0
        while not timestep.last():
            x = np.stack(list(history)[::-1], axis=-1)[None]
            logits = np.asarray(act(params, jnp.asarray(x)), np.float64)
            if decoding == "greedy":
                action = int(logits.argmax())
            else:
                p = np.exp(logits - logits.max())
                action = int(rng.choice(num_actions, p=p / p.sum()))
            wanted = int(expert.step(timestep))
            agree += wanted == action
            steps += 1
            timestep = env.step(np.int32(wanted if driver == "expert" else action))
            total += float(timestep.reward or 0.0)
            history.append(timestep.observation["pixels"][..., 0])
        returns.append(total)
    return {"return": float(np.mean(returns)), "agreement": agree / max(steps, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="TFDS data_dir with gato_atari")
    parser.add_argument("--games", default="boxing,breakout,freeway,pong")
    parser.add_argument("--train-split", default="train[:-3]")
    parser.add_argument("--test-split", default="train[-3:]")
    parser.add_argument("--frames", default="1,2", help="frames per input, comma-separated")
    parser.add_argument("--steps", type=int, default=1500, help="Adam steps per probe")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--play", type=int, default=0,
                        help="episodes each trained probe plays under cap1000 (0: none)")
    parser.add_argument("--play-seed", type=int, default=100,
                        help="seed of the first episode played (the evaluators score 0-9)")
    parser.add_argument("--decoding", choices=("greedy", "sample"), default="greedy",
                        help="how the playing probe picks its action from its logits")
    args = parser.parse_args()
    if args.play < 0 or args.play_seed < 0:
        parser.error(f"--play and --play-seed must be >= 0, got {args.play} and {args.play_seed}")
    from gato.envs import protocol, registry, scores

    print(f"{'game':<10}{'frames':>7}{'train':>8}{'test':>7}{'bar':>8}{'nll':>8}{'accuracy':>10}"
          f"{'s':>6}" + (f"{'return':>9}{'score':>7}{'agree':>7}" * 2 if args.play else ""))
    if args.play:
        print(f"{'':>64}{'probe plays':^23}{'expert plays':^23}")
    for game in args.games.split(","):
        num_actions = registry.select(None, game)[0].spec.num_actions
        train_source = load_episodes(game, args.data_dir, args.train_split)
        test_source = load_episodes(game, args.data_dir, args.test_split)
        for frames in (int(f) for f in args.frames.split(",")):
            train = frames_and_actions(train_source, frames)
            test = frames_and_actions(test_source, frames)
            bar = state_blind_bar(train[1], test[1], num_actions)
            started = time.perf_counter()
            r = probe(train, test, num_actions, args.steps, args.batch, args.seed)
            line = (f"{game:<10}{frames:>7}{len(train[1]):>8}{len(test[1]):>7}{bar:>8.3f}"
                    f"{r['nll']:>8.3f}{r['accuracy']:>10.3f}{time.perf_counter() - started:>6.0f}")
            for driver in ("probe", "expert") if args.play else ():
                g = play(r["params"], num_actions, game, frames, args.play, args.decoding,
                         args.seed, driver, args.play_seed)
                score = scores.expert_normalized(game, g["return"], protocol.get("cap1000"))
                line += f"{g['return']:>9.1f}{score:>7.2f}{g['agreement']:>7.3f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
