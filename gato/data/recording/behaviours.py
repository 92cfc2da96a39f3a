"""Behaviour policies of graded quality, recorded together into one mixed-quality dataset.

`gato generate --behaviours "expert:20,noisy0.3:30,noisy1:30,random:20"` records, per task, the
named number of episodes of each behaviour into the same RLDS dataset:

  expert   the scripted expert (`gato.policies.make_expert`);
  random   uniform random actions;
  noisyS   the expert acting through execution noise of scale S (`gato.policies.noise`: Gaussian
           of S x half the action range, clipped, AR(1)-correlated with --noise-correlation; for
           discrete actions a uniform random action with probability S). Unlike the DART
           recording of `--action-noise`, the dataset stores the action that was executed, so an
           episode's return belongs to the actions it stores.

Each episode's `policy` metadata names its behaviour (`Behaviour.label`), and the dataset
manifest (`gato.data.formats.manifest`) gives the return quantiles per label. Behaviours take
consecutive episode indices in the order given (behaviour k's episodes follow those of k - 1),
so every episode of the dataset has its own seed.
"""

import dataclasses
import re

_ITEM = re.compile(r"^(expert|random|noisy([0-9.eE+-]+)):([0-9]+)$")


@dataclasses.dataclass(frozen=True)
class Behaviour:
    """One behaviour of a mix: `policy` ("expert" or "random"), executed noise scale, episodes."""

    policy: str
    episodes: int
    noise: float = 0.0

    def __post_init__(self):
        if self.policy not in ("expert", "random"):
            raise ValueError(f"behaviour policy must be 'expert' or 'random', got {self.policy!r}")
        if self.episodes < 0:
            raise ValueError(f"behaviour {self.policy}: episodes must be >= 0, got "
                             f"{self.episodes}")
        if not self.noise >= 0 or (self.noise and self.policy != "expert"):
            raise ValueError(f"executed noise {self.noise} must be >= 0 and on the expert only")

    def label(self, correlation: float = 0.0) -> str:
        """The episodes' `policy` metadata: "expert", "random" or
        "expert+executed_noise=S[,correlation=C]"."""
        if not self.noise:
            return self.policy
        corr = f",correlation={correlation:g}" if correlation else ""
        return f"{self.policy}+executed_noise={self.noise:g}{corr}"


def parse_behaviours(text: str) -> list[Behaviour]:
    """"expert:20,noisy0.3:30,random:10" -> Behaviours; ValueError names the bad item."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"behaviour {item!r}: expected expert:N, random:N or noisyS:N "
                             "(the expert with executed noise of scale S), e.g. "
                             "expert:20,noisy0.5:30,random:10")
        noise = float(match.group(2)) if match.group(2) is not None else 0.0
        policy = "random" if match.group(1) == "random" else "expert"
        out.append(Behaviour(policy, int(match.group(3)), noise))
    if not out or not any(b.episodes for b in out):
        raise ValueError(f"behaviours {text!r} record no episodes")
    labels = [b.label() for b in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"behaviours {text!r} name a behaviour twice")
    return out
