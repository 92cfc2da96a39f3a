"""The `eval` section of an experiment config: how checkpoints are rolled out and scored."""

import ml_collections

from gato.envs import protocol as protocol_lib
from gato.envs.protocol import Protocol
from gato.eval.decoding import DECODING_MODES
from gato.eval.returns import ExpertInference, ReturnTarget, parse_return_target

PROMPT_MODES = ("none", "start", "end")


def default_eval_config() -> ml_collections.ConfigDict:
    """Evaluation defaults; experiments override fields under `config.eval`."""
    c = ml_collections.ConfigDict()
    c.suites = "control"  # comma-separated suites to evaluate ("" for none)
    c.tasks = ""  # comma-separated extra task names
    # evaluation protocol (gato.envs.protocol.PROTOCOLS): episode cap, Atari frame skip, sticky
    # actions, no-op starts, episodes and seeds; scores are normalized only by reference returns
    # measured under the same environment settings
    c.protocol = protocol_lib.DEFAULT
    c.episodes = 0  # episodes per task; 0: the protocol's
    c.batch_size = 5  # environments of one task stepped together in lockstep
    c.seed = -1  # episode i of a task uses environment/policy seed `seed + i`; -1: the protocol's
    c.temperature = 1.0  # softmax temperature of action tokens ("sample" and "mean")
    # action tokens: "sample" (the paper), "greedy" (argmax) or "mean" (continuous actions: the
    # bin nearest the expected value; discrete ones are sampled); see gato.eval.decoding
    c.decoding = "sample"
    c.prompt = "end"  # demonstration prompt: "none", "start" or "end" of an expert episode
    c.prompt_tokens = 256  # prompt length in tokens
    c.prompt_split = "train"  # dataset split the demonstrations come from
    c.data_dir = ""  # TFDS data_dir holding the demonstration datasets ("" = TFDS default)
    # corrupt/mismatched demonstrations: "skip" (replace by the next good one, listed in the
    # results' warnings) or "fail"; `gato eval` defaults to the run's data.on_bad_episode
    c.on_bad_episode = "skip"
    c.max_steps = 0  # episode-length cap; 0: the protocol's
    # expert-normalize scores; a protocol whose settings differ from the reference returns' is
    # then refused (error). False: report returns only (e.g. smoke runs with short caps)
    c.normalize = True
    c.bootstrap_reps = 5000  # stratified-bootstrap replications of the 95% intervals (rliable)
    # models with return-to-go tokens: "none" (draw the return token from the model), a return
    # ("850"), a fraction of the expert's ("0.9xexpert"), a quantile of the dataset's episode
    # returns ("q0.9") or "expert" (MGDT's expert-action inference); see gato.eval.returns
    c.return_target = "none"
    c.return_kappa = 0.0  # expert: P(R) re-weighted by exp(kappa * normalised R) (MGDT code: 0)
    c.return_samples = 128  # expert: returns drawn per timestep, the highest kept (MGDT code)
    c.return_inverse_temperature = 0.75  # expert: multiplies the return logits (MGDT code)
    c.gif = True  # save one rollout GIF per task
    c.gif_max_frames = 200  # frames kept in each GIF
    c.gif_size = 128  # rendered frame height and width in pixels (control suite)
    return c


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError naming the offending key if the eval config is unusable."""
    protocol = str(config.get("protocol", protocol_lib.DEFAULT))
    if protocol not in protocol_lib.PROTOCOLS:
        raise ValueError(f"eval.protocol={protocol!r}; expected one of "
                         f"{sorted(protocol_lib.PROTOCOLS)}")
    if config.prompt not in PROMPT_MODES:
        raise ValueError(f"eval.prompt={config.prompt!r}; expected one of {PROMPT_MODES}")
    if int(config.batch_size) < 1:
        raise ValueError(f"eval.batch_size must be >= 1, got {config.batch_size}")
    if int(config.episodes) < 0 or int(config.seed) < -1:
        raise ValueError(f"eval.episodes must be >= 0 and eval.seed >= -1, got "
                         f"{config.episodes} and {config.seed}")
    if int(config.get("bootstrap_reps", 1)) < 1:
        raise ValueError(f"eval.bootstrap_reps must be >= 1, got {config.bootstrap_reps}")
    if config.prompt != "none" and int(config.prompt_tokens) < 1:
        raise ValueError(f"eval.prompt_tokens must be >= 1, got {config.prompt_tokens}")
    if config.decoding not in DECODING_MODES:
        raise ValueError(f"eval.decoding={config.decoding!r}; expected one of {DECODING_MODES}")
    if config.decoding != "greedy" and float(config.temperature) <= 0:
        raise ValueError(f"eval.temperature must be > 0 (or eval.decoding='greedy'), "
                         f"got {config.temperature}")
    if config.get("on_bad_episode", "skip") not in ("skip", "fail"):
        raise ValueError(f"eval.on_bad_episode={config.on_bad_episode!r}; expected 'skip' or "
                         "'fail'")
    if int(config.max_steps) < 0:
        raise ValueError(f"eval.max_steps must be >= 0, got {config.max_steps}")
    return_conditioning_options(config)


def return_conditioning_options(config: ml_collections.ConfigDict
                                ) -> tuple[ReturnTarget, ExpertInference]:
    """The parsed eval.return_target and expert-inference options; ValueError names the key."""
    try:
        target = parse_return_target(config.get("return_target", "none"))
    except ValueError as e:
        raise ValueError(f"eval.return_target: {e}") from None
    try:
        inference = ExpertInference(float(config.get("return_kappa", 0.0)),
                                    int(config.get("return_samples", 128)),
                                    float(config.get("return_inverse_temperature", 0.75)))
    except ValueError as e:
        raise ValueError(f"eval.return_kappa / return_samples / return_inverse_temperature: "
                         f"{e}") from None
    return target, inference


def eval_protocol(config: ml_collections.ConfigDict) -> Protocol:
    """The protocol named by eval.protocol with eval.episodes / seed / max_steps applied."""
    return protocol_lib.resolve(str(config.get("protocol", protocol_lib.DEFAULT)),
                                episodes=int(config.episodes), seed=int(config.seed),
                                max_steps=int(config.max_steps))
