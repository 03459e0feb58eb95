"""Skill classes that the registry tests point fake entry points at."""

from __future__ import annotations

from hearthvox.skills.base import SkillContext, SkillResult


class EchoSkill:
    name = "echo"

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        if utterance.startswith("echo "):
            return SkillResult(utterance[5:])
        return None


class ZebraSkill:
    name = "zebra"

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        return None


class GreedyTimeSkill:
    """Would answer "what time is it" if it came before the built-in."""

    name = "greedy"

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        return SkillResult("greedy")


class BrokenConstructor:
    name = "broken"

    def __init__(self) -> None:
        raise RuntimeError("no config for broken")

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        return None


class NotASkill:
    """Has no handle()."""

    name = "nota"


class ExplodingSkill:
    name = "boom"

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        raise ValueError("kaboom")


class WrongResultSkill:
    name = "wrong"

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        return "plain text"  # type: ignore[return-value]  # the router must catch this
