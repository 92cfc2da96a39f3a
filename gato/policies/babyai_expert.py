"""The BabyAI expert: minigrid's BabyAIBot (a planner over the level's true state), replanned
every step.

The bot reads the unwrapped minigrid level (agent position, grid, carried object, instruction),
so the policy is bound to the `gato.envs.babyai.BabyAIEnv` it acts in, as the Atari experts read
their emulator's RAM. A new bot is built on each episode's first timestep (the instruction is
known only after reset). Each later step tells the bot the action the env actually executed
(`env.last_action`), so under execution noise (DART, `gato.policies.noise`) the bot replans from
where the perturbed action took it, as in its advising mode (DAgger). Noise can leave states the
bot's planner refuses (e.g. a box opened by a random toggle), and on rare layouts its planner
loops forever (seen: BabyAI-UnlockToUnlock-v0, seed 4); each replan is therefore bounded to
PLAN_BUDGET subgoal-stack checks. On the first failure of an episode the bot is rebuilt from the
current state; on a second the policy answers "done" (a no-op) for the rest of the episode;
`failures` counts the failures.
"""

import dm_env
import numpy as np

from gato.envs import babyai
from gato.envs.babyai import BabyAIEnv

DONE = 6  # minigrid's Actions.done: no effect in BabyAI levels
PLAN_BUDGET = 500  # subgoal-stack checks per replan (normal replans made at most 9 here)


class PlanningLoopError(RuntimeError):
    """The bot's replanning exceeded PLAN_BUDGET steps (it would loop forever)."""


class _BoundedStack(list):
    """The bot's subgoal stack; its replan loop tests the stack's truth (len) every iteration,
    so counting those tests bounds the loop."""

    budget = PLAN_BUDGET

    def __len__(self) -> int:
        self.budget -= 1
        if self.budget < 0:
            raise PlanningLoopError(f"BabyAIBot replanned more than {PLAN_BUDGET} times")
        return super().__len__()


class BabyAIExpert:
    """BabyAIBot behind the `Policy` protocol; int32 actions in [0, 7), shape ()."""

    def __init__(self, env: dm_env.Environment):
        if not isinstance(env, BabyAIEnv):
            raise TypeError(f"the BabyAI expert needs a gato.envs.babyai.BabyAIEnv, got "
                            f"{type(env).__name__}")
        self.env = env
        self.failures = 0
        self._bot = None
        self._gave_up = self._rebuilt = False

    def reset(self, seed: int) -> None:
        del seed  # the bot is deterministic given the level; the level holds the seed
        self._bot, self._gave_up, self._rebuilt = None, False, False

    def step(self, timestep: dm_env.TimeStep) -> np.ndarray:
        if timestep.first():
            self._bot, self._gave_up, self._rebuilt = None, False, False
        if self._gave_up:
            return np.asarray(DONE, np.int32)
        taken = None if self._bot is None else self.env.last_action
        return np.asarray(self._plan(taken), np.int32)

    def _plan(self, action_taken: int | None) -> int:
        """The bot's next action; rebuilds the bot once if its planner fails, then gives up."""
        from minigrid.utils.baby_ai_bot import BabyAIBot, DisappearedBoxError

        refusals = (AssertionError, DisappearedBoxError, PlanningLoopError)
        if self._bot is not None:
            try:
                return self._replan(action_taken)
            except refusals:
                self.failures += 1
                if self._rebuilt:
                    self._gave_up = True
                    return DONE
                self._rebuilt = True
        try:
            self._bot = BabyAIBot(self.env.gym_env)
            self._bot.stack = _BoundedStack(self._bot.stack)
            return self._replan(None)
        except refusals:
            self.failures += 1
            self._gave_up = True
            return DONE

    def _replan(self, action_taken: int | None) -> int:
        self._bot.stack.budget = PLAN_BUDGET
        return int(self._bot.replan(action_taken))


def is_babyai_task(task_name: str) -> bool:
    """Whether `task_name` is a registered BabyAI level (the default ones, or any registered by
    `gato.envs.babyai.level`): the bot is the expert of all of them."""
    from gato.envs import registry

    try:
        return registry.get(task_name).suite == babyai.SUITE
    except KeyError:
        return False


EXPERTS = {babyai.task_name(gym_id): BabyAIExpert for gym_id in babyai.LEVELS}
