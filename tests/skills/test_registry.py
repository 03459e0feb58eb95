from __future__ import annotations

import logging
from importlib.metadata import EntryPoint, entry_points

import pytest

from hearthvox.config import SkillsConfig
from hearthvox.errors import SkillError
from hearthvox.skills import registry
from hearthvox.skills.base import SkillContext, SkillResult
from hearthvox.skills.registry import BUILTIN_ORDER, SkillRouter, load_skills

from . import plugin_fixtures
from .conftest import FakeClock

BUILTINS = ["stop", "timer", "repeat", "time", "date"]
FALLBACK_REPLY = SkillsConfig().fallback_reply


def ep(name: str, target: str) -> EntryPoint:
    return EntryPoint(name, target, registry.ENTRY_POINT_GROUP)


def with_plugins(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    installed = list(entry_points(group=registry.ENTRY_POINT_GROUP))
    monkeypatch.setattr(registry, "_entry_points", lambda: [*extra, *installed])


def test_installed_metadata_declares_the_builtins() -> None:
    names = {e.name for e in entry_points(group="hearthvox.skills")}
    assert set(BUILTINS) <= names


def test_load_skills_finds_the_builtins_in_precedence_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="hearthvox.skills.registry"):
        skills = load_skills()
    assert [s.name for s in skills][:5] == BUILTINS == list(BUILTIN_ORDER)
    assert "not in the installed entry points" not in caplog.text


def test_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    with_plugins(monkeypatch, ep("broken", "tests.skills.plugin_fixtures:BrokenConstructor"))
    names = [s.name for s in load_skills(disabled=("date", "repeat", "broken"))]
    assert names == ["stop", "timer", "time"]


def test_third_party_after_builtins_sorted_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with_plugins(
        monkeypatch,
        ep("zebra", "tests.skills.plugin_fixtures:ZebraSkill"),
        ep("echo", "tests.skills.plugin_fixtures:EchoSkill"),
    )
    assert [s.name for s in load_skills()] == [*BUILTINS, "echo", "zebra"]


def test_broken_plugins_are_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with_plugins(
        monkeypatch,
        ep("missing", "no_such_module_hv:Skill"),
        ep("broken", "tests.skills.plugin_fixtures:BrokenConstructor"),
        ep("nota", "tests.skills.plugin_fixtures:NotASkill"),
        ep("absent", "tests.skills.plugin_fixtures:NoSuchClass"),
        ep("echo", "tests.skills.plugin_fixtures:EchoSkill"),
    )
    with caplog.at_level(logging.ERROR, logger="hearthvox.skills.registry"):
        skills = load_skills()
    assert [s.name for s in skills] == [*BUILTINS, "echo"]
    for name in ("'missing'", "'broken'", "'nota'", "'absent'"):
        assert name in caplog.text
    assert "no config for broken" in caplog.text


def test_builtin_names_are_reserved(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with_plugins(monkeypatch, ep("time", "tests.skills.plugin_fixtures:GreedyTimeSkill"))
    with caplog.at_level(logging.ERROR, logger="hearthvox.skills.registry"):
        skills = load_skills()
    assert [s.name for s in skills] == BUILTINS
    assert "built-in skill's name" in caplog.text


def test_missing_builtin_metadata_falls_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(registry, "_entry_points", lambda: [])
    with caplog.at_level(logging.WARNING, logger="hearthvox.skills.registry"):
        assert [s.name for s in load_skills()] == BUILTINS
    assert "reinstall hearthvox" in caplog.text


def router(ctx: SkillContext) -> SkillRouter:
    return SkillRouter(load_skills(), ctx, FALLBACK_REPLY)


def test_routing(ctx: SkillContext) -> None:
    r = router(ctx)
    assert r.answer(" What time is it?") == ("time", SkillResult("It is 11:04 PM."))
    assert r.answer("What's the date?") == ("date", SkillResult("Today is Saturday, November 28."))
    assert r.answer("Stop!") == ("stop", SkillResult("", interrupt=True))
    assert r.answer("Cancel the timer.") == ("timer", SkillResult("There is no timer to cancel."))
    assert r.answer("Set a timer for 5 minutes.") == (
        "timer",
        SkillResult("Timer set for 5 minutes."),
    )
    assert r.answer("Cancel the timer.") == ("timer", SkillResult("Timer cancelled."))
    assert r.answer("How much time is left?") == (
        "timer",
        SkillResult("There are no timers running."),
    )


def test_fallback(ctx: SkillContext) -> None:
    r = router(ctx)
    assert r.answer("What is the meaning of life?") == ("fallback", SkillResult(FALLBACK_REPLY))
    for empty in ("", "   ", "?!"):
        assert r.answer(empty) == ("fallback", SkillResult(FALLBACK_REPLY))


def test_last_reply_and_repeat(ctx: SkillContext) -> None:
    r = router(ctx)
    assert r.answer("say that again") == ("repeat", SkillResult("I haven't said anything yet."))
    assert ctx.last_reply is None  # the repeat skill's own reply is not remembered
    r.answer("what time is it")
    assert ctx.last_reply == "It is 11:04 PM."
    r.answer("stop")  # an empty reply does not replace it
    assert r.answer("Repeat that.") == ("repeat", SkillResult("It is 11:04 PM."))
    assert r.answer("what did you say") == ("repeat", SkillResult("It is 11:04 PM."))
    r.answer("what is the meaning of life")
    assert ctx.last_reply == FALLBACK_REPLY


def test_skill_that_raises_gives_skill_error(ctx: SkillContext) -> None:
    r = SkillRouter([plugin_fixtures.ExplodingSkill()], ctx, FALLBACK_REPLY)
    with pytest.raises(SkillError, match="^skill boom failed: kaboom$") as info:
        r.answer("anything")
    assert isinstance(info.value.__cause__, ValueError)


def test_skill_returning_junk_gives_skill_error(ctx: SkillContext) -> None:
    r = SkillRouter([plugin_fixtures.WrongResultSkill()], ctx, FALLBACK_REPLY)
    with pytest.raises(SkillError, match="skill wrong failed"):
        r.answer("anything")


def test_plugin_answers_what_builtins_decline(
    monkeypatch: pytest.MonkeyPatch, ctx: SkillContext
) -> None:
    with_plugins(monkeypatch, ep("echo", "tests.skills.plugin_fixtures:EchoSkill"))
    r = SkillRouter.from_config(SkillsConfig(disabled=("date",)), ctx)
    assert [s.name for s in r.skills] == ["stop", "timer", "repeat", "time", "echo"]
    assert r.answer("echo hello") == ("echo", SkillResult("hello"))
    assert r.answer("what is the date") == ("fallback", SkillResult(FALLBACK_REPLY))


def test_timers_shared_with_the_pipeline(ctx: SkillContext, clock: FakeClock) -> None:
    r = router(ctx)
    r.answer("set a pasta timer for 5 seconds")
    clock.advance(6)
    assert [ctx.timers.announcement(t) for t in ctx.timers.due()] == ["Your pasta timer is done."]
    assert ctx.timers.due() == []


class CountingSkill:
    """A plugin with side effects and no ``claims``: it must never be run ahead of time."""

    name = "switch"
    calls = 0

    def handle(self, utterance: str, ctx: SkillContext) -> SkillResult | None:
        CountingSkill.calls += 1
        return SkillResult("Switched.") if "lamp" in utterance else None


def test_preview_answers_without_side_effects(ctx: SkillContext) -> None:
    r = router(ctx)
    assert r.preview("What time is it?") == ("time", SkillResult("It is 11:04 PM."))
    assert r.preview("Tell me a joke") == ("fallback", SkillResult(FALLBACK_REPLY))
    assert r.preview("Stop!") == ("stop", SkillResult("", interrupt=True))
    assert ctx.last_reply is None  # "repeat that" still says what was said before
    # the timer skill would take these: no answer ahead of time, and no timer set
    assert r.preview("Set a timer for 5 minutes.") is None
    assert r.preview("How much time is left?") is None
    assert ctx.timers.timers() == []
    assert r.answer("Set a timer for 5 minutes.")[0] == "timer"  # only the answer sets it
    assert len(ctx.timers.timers()) == 1


def test_preview_stops_at_a_plugin_with_side_effects(ctx: SkillContext) -> None:
    CountingSkill.calls = 0
    r = SkillRouter([*load_skills(), CountingSkill()], ctx, FALLBACK_REPLY)
    assert r.preview("Turn on the lamp") is None  # it might be the plugin's: not guessed
    assert r.preview("What time is it?") == ("time", SkillResult("It is 11:04 PM."))
    assert CountingSkill.calls == 0
    assert r.answer("Turn on the lamp") == ("switch", SkillResult("Switched."))
    assert CountingSkill.calls == 1


def test_complete_says_which_requests_a_skill_takes_whole(ctx: SkillContext) -> None:
    r = router(ctx)
    for whole in (
        "What time is it?",
        "What's the date?",
        "Stop.",
        "Say that again.",
        "Set a timer for 5 minutes.",
        "Cancel the timer.",
        "How much time is left?",
    ):
        assert r.complete(whole), whole
    # the fallback's, a timer still missing its length, and nothing at all are not
    for not_whole in ("Tell me a joke.", "The child almost hurt.", "Set a timer.", "", "  "):
        assert not r.complete(not_whole), not_whole
    assert ctx.timers.timers() == [] and ctx.last_reply is None  # nothing set or said
    # a bare length is whole only as the answer to "For how long?"
    assert not r.complete("Five minutes.")
    r.answer("Set a timer.")
    assert r.complete("Five minutes.")
    assert ctx.timers.timers() == []


def test_complete_is_false_for_a_plugin_that_cannot_say(ctx: SkillContext) -> None:
    CountingSkill.calls = 0
    r = SkillRouter([CountingSkill(), *load_skills()], ctx, FALLBACK_REPLY)
    assert not r.complete("What time is it?")  # it might be the plugin's, with side effects
    assert CountingSkill.calls == 0
