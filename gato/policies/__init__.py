"""Policies: the `Policy` protocol, the random policy and scripted experts."""

from gato.policies.base import Policy, episode_return
from gato.policies.experts import expert_tasks, has_expert, make_expert
from gato.policies.random import RandomPolicy

__all__ = ["Policy", "RandomPolicy", "episode_return", "expert_tasks", "has_expert", "make_expert"]
