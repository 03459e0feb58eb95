"""The language model answers what no skill takes.

The answer stage hands an utterance that only the fallback skill would answer to
:meth:`LlmFallback.start`: the model writes its reply on its own thread
(:attr:`hearthvox.engines.llm.LlamaLlm.executor`) into a
:class:`hearthvox.events.TextStream`, which the speak stage says clause by clause
while the rest is written. A barge-in (or the end of the pipeline) cancels the
stream, and the model stops within one token. At a pause whose guess only the
fallback would answer, the reply is started ahead (:meth:`LlmFallback.prepare`),
as the skills' replies are (:class:`hearthvox.pipeline.speculate.SpeculativeReply`).
The pipeline holds one conversation; it ends after ``[llm] idle_timeout_s`` without a
turn, and its state is freed. With ``[llm] backend = "openai"`` the model is a
:class:`hearthvox.engines.llm_remote.RemoteLlm` (a server first, the local model behind
it); the figures say which answered.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

from hearthvox.engines.llm import LlamaLlm, LlmReply, ReplyStats
from hearthvox.engines.llm_conversation import Conversation
from hearthvox.engines.llm_remote import RemoteConversation, RemoteLlm, RemoteReply
from hearthvox.events import LlmFigures, TextStream

log = logging.getLogger(__name__)


AnyConversation = Conversation | RemoteConversation


class LlmFallback:
    def __init__(
        self, llm: LlamaLlm | RemoteLlm, remember: Callable[[str], None] | None = None
    ) -> None:
        self.llm = llm
        self.remember = remember
        """Told each whole reply (what "repeat that" says next)."""
        self.conversation: AnyConversation = llm.conversation()
        self._prepared: tuple[str, TextStream, AnyConversation] | None = None
        self.prepared = 0
        """Replies started at a pause; :attr:`kept`: those the committed turn used."""
        self.kept = 0

    def start(self, text: str) -> TextStream:
        """The reply to ``text``, written as it is generated (call on the event loop): the
        one :meth:`prepare` started at the pause when it was for this text."""
        prepared, self._prepared = self._prepared, None
        if prepared is not None:
            said, stream, conversation = prepared
            if said == text and not stream.cancelled.is_set():
                self.conversation = conversation  # the turn it holds is this one
                self.kept += 1
                return stream
            stream.cancel()
        stream = TextStream()
        self.llm.executor.submit(self._write, text, stream, self.conversation)
        return stream

    def prepare(self, text: str) -> TextStream:
        """Start the reply to ``text`` (a pause's guess that only the fallback skill would
        answer) before the endpoint confirms it, on a copy of the conversation: if the
        command ends there, :meth:`start` hands it on, its first words already written;
        if speech goes on (:meth:`drop`) it is cancelled and the conversation is as it was."""
        self.drop()
        stream = TextStream()
        conversation = copy.deepcopy(self.conversation)
        self.llm.executor.submit(self._write, text, stream, conversation)
        self._prepared = (text, stream, conversation)
        self.prepared += 1
        return stream

    def drop(self) -> None:
        prepared, self._prepared = self._prepared, None
        if prepared is not None:
            prepared[1].cancel()

    def _write(self, text: str, stream: TextStream, conversation: AnyConversation) -> None:
        error: str | None = None
        try:
            reply = self._generate(conversation, text, stream)
            written = []
            late = 0
            try:
                for piece in reply:
                    late += stream.cancelled.is_set()
                    if piece:
                        written.append(piece)
                        stream.put(piece)
            finally:
                reply.close()
            said = not stream.cancelled.is_set()  # not a dropped guess, nor cut short
            if self.remember is not None and said and "".join(written).strip():
                self.remember("".join(written).strip())
            backend = reply.backend if isinstance(reply, RemoteReply) else "local"
            failed = reply.error if isinstance(reply, RemoteReply) else None
            stream.figures = figures(reply.stats, late, backend, failed is not None)
            error = failed  # the server's failure: said once, as the stage's error
            log.debug(
                "llm reply (%s): %d tokens, stop %s, first token %.2f s",
                backend,
                reply.stats.new_tokens,
                reply.stats.stop,
                reply.stats.first_token_s or 0.0,
            )
        except Exception as exc:  # the model's failure ends this reply only
            error = f"the language model failed: {exc}"
            log.warning("%s", error)
        finally:
            stream.end(error)

    def _generate(
        self, conversation: AnyConversation, text: str, stream: TextStream
    ) -> LlmReply | RemoteReply:
        if isinstance(self.llm, RemoteLlm):
            assert isinstance(conversation, RemoteConversation)
            return self.llm.generate(conversation, text, stream.cancelled)
        assert isinstance(conversation, Conversation)
        return self.llm.generate(conversation, text, stream.cancelled)

    def close(self) -> None:
        """End the conversation (its turns are freed), on the model's thread."""
        self.llm.executor.submit(self._end, self.conversation)

    def _end(self, conversation: AnyConversation) -> None:
        if isinstance(self.llm, RemoteLlm):
            assert isinstance(conversation, RemoteConversation)
            self.llm.end(conversation)
        else:
            assert isinstance(conversation, Conversation)
            self.llm.end(conversation)


def figures(
    stats: ReplyStats, tokens_after_cancel: int = 0, backend: str = "local", failed: bool = False
) -> LlmFigures:
    first = stats.first_token_s
    rate = stats.tokens_per_s
    return LlmFigures(
        prompt_tokens=stats.prompt_tokens,
        evaluated_tokens=stats.evaluated_tokens,
        new_tokens=stats.new_tokens,
        first_token_ms=round(first * 1000.0, 1) if first is not None else None,
        tokens_per_s=round(rate, 1) if rate is not None else None,
        stop="error" if failed else stats.stop,
        dropped_turns=stats.dropped_turns,
        question_cut=stats.question_cut,
        tokens_after_cancel=tokens_after_cancel,
        backend=backend,
    )
