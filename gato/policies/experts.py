"""Expert lookup: `make_expert(task_name, env)` for every task with a scripted expert."""

import dm_env

from gato.policies import atari_experts, babyai_expert, control_experts, metaworld_experts
from gato.policies.base import Policy

_FACTORIES = {**control_experts.EXPERTS, **atari_experts.EXPERTS,
              **metaworld_experts.EXPERTS, **babyai_expert.EXPERTS}


def expert_tasks() -> list[str]:
    """Names of the tasks that have an expert, sorted."""
    return sorted(_FACTORIES)


def has_expert(task_name: str) -> bool:
    return task_name in _FACTORIES or babyai_expert.is_babyai_task(task_name)


def make_expert(task_name: str, env: dm_env.Environment) -> Policy:
    """The expert for `task_name`, bound to `env` (built by the task's make_env).

    Experts may read the env's physics (Control Suite) or emulator RAM (Atari), so the policy must
    act in the env it was built with. Raises KeyError naming the tasks that have experts.
    """
    if babyai_expert.is_babyai_task(task_name):  # also levels added by gato.envs.babyai.level
        return babyai_expert.BabyAIExpert(env)
    if task_name not in _FACTORIES:
        raise KeyError(f"no expert for task {task_name!r}; tasks with experts: "
                       f"{', '.join(expert_tasks())}")
    return _FACTORIES[task_name](env)
