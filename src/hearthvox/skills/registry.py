"""Finding skills (entry points) and routing an utterance to the first that takes it.

Skills come from the ``hearthvox.skills`` entry-point group; each entry point
names a class constructed with no arguments. A third-party package adds one with::

    [project.entry-points."hearthvox.skills"]
    weather = "my_package.weather:WeatherSkill"

Precedence (the first skill whose ``handle`` returns a result answers):

1. ``stop`` first, so an interrupt is never shadowed by another skill nor lost
   because one fails. It is narrow: a whole stop phrase or an utterance ending in
   "stop", and it declines anything naming a timer or alarm, so "cancel the
   timer" / "stop the timer" go on to the timer skill.
2. ``timer``, ahead of ``repeat``/``time``/``date`` so that "how much time is left"
   is about the timer, not the clock.
3. ``repeat``, ``time``, ``date``.
4. third-party skills, sorted by entry-point name. They come after the built-ins:
   a plugin cannot take "what time is it" from the time skill (disable the built-in
   with ``[skills] disabled = ["time"]`` to let a plugin answer it instead).

The built-in names are reserved: another entry point with one of them is logged
and skipped. A plugin that fails to import or to construct is logged with its name
and skipped; it never stops the assistant. A built-in missing from the installed
metadata (a stale install) is logged and loaded from this package directly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

from hearthvox.config import SkillsConfig
from hearthvox.errors import ConfigError, SkillError
from hearthvox.skills.base import Skill, SkillContext, SkillResult
from hearthvox.vocabulary import Vocabulary, merge, parse_terms

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hearthvox.skills"
FALLBACK = "fallback"
"""The skill name :meth:`SkillRouter.answer` reports when no skill took the utterance."""
REPEAT = "repeat"
BUILTIN_ORDER: tuple[str, ...] = ("stop", "timer", "repeat", "time", "date")
_BUILTINS = {
    "stop": "hearthvox.skills.builtin:StopSkill",
    "timer": "hearthvox.skills.timers:TimerSkill",
    "repeat": "hearthvox.skills.builtin:RepeatSkill",
    "time": "hearthvox.skills.builtin:TimeSkill",
    "date": "hearthvox.skills.builtin:DateSkill",
}


def _entry_points() -> list[EntryPoint]:
    """The installed ``hearthvox.skills`` entry points (a seam for tests)."""
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _discover() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in sorted(_entry_points(), key=lambda e: (e.name, e.value)):
        builtin = _BUILTINS.get(ep.name)
        if builtin is not None and ep.value != builtin:
            log.error(
                "skill plugin %r (%s) uses a built-in skill's name; skipping it", ep.name, ep.value
            )
            continue
        if ep.name in found:
            if ep.value != found[ep.name].value:
                log.error(
                    "two skill plugins are named %r (%s, %s); keeping the first",
                    ep.name,
                    found[ep.name].value,
                    ep.value,
                )
            continue
        found[ep.name] = ep
    for name in BUILTIN_ORDER:
        if name not in found:
            log.warning(
                "built-in skill %r is not in the installed entry points "
                "(reinstall hearthvox); loading it directly",
                name,
            )
            found[name] = EntryPoint(name, _BUILTINS[name], ENTRY_POINT_GROUP)
    return found


def _construct(ep: EntryPoint) -> Skill | None:
    try:
        skill = ep.load()()
    except (Exception, SystemExit) as exc:  # a broken plugin must not stop the assistant
        log.error(
            "skill plugin %r (%s) failed to load, skipping it: %s: %s",
            ep.name,
            ep.value,
            type(exc).__name__,
            exc,
        )
        return None
    if not isinstance(skill, Skill) or not isinstance(skill.name, str):
        log.error(
            "skill plugin %r (%s) has no str 'name' and 'handle' method; skipping it",
            ep.name,
            ep.value,
        )
        return None
    if skill.name != ep.name:
        log.warning("skill plugin %r calls itself %r", ep.name, skill.name)
    return skill


def load_skills(disabled: Iterable[str] = ()) -> list[Skill]:
    """Every installed skill, constructed, in precedence order, minus ``disabled``.

    ``disabled`` holds entry-point names (``[skills] disabled`` in the config); a
    disabled plugin is not even imported.
    """
    off = set(disabled)
    found = _discover()
    order = [*BUILTIN_ORDER, *sorted(name for name in found if name not in BUILTIN_ORDER)]
    skills: list[Skill] = []
    for name in order:
        if name in off:
            continue
        skill = _construct(found[name])
        if skill is not None and skill.name not in off:
            skills.append(skill)
    return skills


class SkillRouter:
    """Offers an utterance to each skill in order; the first result answers."""

    def __init__(self, skills: Iterable[Skill], ctx: SkillContext, fallback_reply: str) -> None:
        self.skills: tuple[Skill, ...] = tuple(skills)
        self.ctx = ctx
        self.fallback_reply = fallback_reply

    @classmethod
    def from_config(cls, config: SkillsConfig, ctx: SkillContext) -> SkillRouter:
        """The installed skills minus ``config.disabled``, with its fallback reply."""
        return cls(load_skills(config.disabled), ctx, config.fallback_reply)

    def preview(self, utterance: str) -> tuple[str, SkillResult] | None:
        """What :meth:`answer` would say, worked out without changing anything (the
        answer prepared at the first pause of a command), or None when that cannot be
        known without a side effect: a skill with side effects that may take the
        utterance comes first. ``ctx.last_reply`` is not touched; a skill that fails
        here gives None (the real answer says what went wrong)."""
        if not utterance.strip():
            return None
        for skill in self.skills:
            try:
                if getattr(skill, "side_effects", True):
                    claims = getattr(skill, "claims", None)
                    if not callable(claims) or claims(utterance, self.ctx):
                        return None
                    continue
                result = skill.handle(utterance, self.ctx)
            except Exception:  # noqa: BLE001 - the final answer reports it
                return None
            if isinstance(result, SkillResult):
                return skill.name, result
            if result is not None:
                return None
        return FALLBACK, SkillResult(self.fallback_reply)

    def complete(self, utterance: str) -> bool:
        """Whether a skill, not the fallback, takes ``utterance`` as a whole request,
        worked out without changing anything: the first skill that takes it answers it
        (one without side effects) or says it needs nothing more (``complete``, one with
        side effects). A skill that fails here makes it not complete."""
        if not utterance.strip():
            return False
        for skill in self.skills:
            try:
                if getattr(skill, "side_effects", True):
                    claims = getattr(skill, "claims", None)
                    if not callable(claims):
                        return False
                    if not claims(utterance, self.ctx):
                        continue
                    complete = getattr(skill, "complete", None)
                    return callable(complete) and bool(complete(utterance, self.ctx))
                result = skill.handle(utterance, self.ctx)
            except Exception:  # noqa: BLE001 - the final answer reports it
                return False
            if result is not None:
                return isinstance(result, SkillResult)
        return False

    def vocabulary(self) -> Vocabulary:
        """The skills' own words (a skill's optional ``vocabulary``: a sequence of
        ``TERM`` / ``TERM = SPOKEN`` strings); one that is not valid is left out."""
        found = []
        for skill in self.skills:
            terms = getattr(skill, "vocabulary", ())
            if not terms:
                continue
            try:
                found.append(parse_terms(list(terms), f"skill {skill.name}'s vocabulary"))
            except (ConfigError, TypeError) as exc:
                log.warning("%s; left out", exc)
        try:
            return merge(found)
        except ConfigError as exc:
            log.warning("the skills' vocabularies: %s; left out", exc)
            return Vocabulary()

    def answer(self, utterance: str) -> tuple[str, SkillResult]:
        """``(skill name, result)``; ``("fallback", fallback reply)`` when no skill takes it.

        Non-empty replies become ``ctx.last_reply`` (what "repeat that" says), except
        the repeat skill's own. A skill that raises, or returns something other than
        a :class:`SkillResult`, raises :class:`SkillError` naming it; the pipeline
        turns that into a ``StageError``.
        """
        result: SkillResult | None = None
        name = FALLBACK
        if utterance.strip():
            for skill in self.skills:
                try:
                    result = skill.handle(utterance, self.ctx)
                except Exception as exc:
                    raise SkillError(f"skill {skill.name} failed: {exc}") from exc
                if result is None:
                    continue
                if not isinstance(result, SkillResult):
                    raise SkillError(
                        f"skill {skill.name} failed: it returned a {type(result).__name__}, "
                        "not a SkillResult"
                    )
                name = skill.name
                break
        if result is None:
            result = SkillResult(self.fallback_reply)
        if result.text and name != REPEAT:
            self.ctx.last_reply = result.text
        return name, result
