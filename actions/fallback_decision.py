"""What the LLM fallback replies: the decisions, with no I/O.

The action (`actions/llm_fallback.py`) retrieves passages and calls the model;
everything it does with their results is decided here, as pure functions:

1. `screen`: messages that never reach the model (empty, manipulation
   attempts, a language the bot can't read);
2. `reply_kind`: what kind of reply fits the message: an answer from the
   knowledge base, small talk, or a polite "I can't help with that" with the
   offer of a person (a question about the world, a task like homework);
3. `choose_reply`: the generated text after the guards, or, when nothing
   good is left of it, the reply of its kind that needs no model.

Every branch returns a `FallbackResult` whose `outcome` says which one ran.
"""
from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional, Sequence

from actions import small_talk
from actions.guards import (
    GUARD_REPLIES, MAX_ANSWER_CHARS, NUMBER, check_input, check_output, check_small_talk,
    keep_supported_sentences, mostly_cjk, mostly_not_english,
)
from actions.knowledge_base import Hit
from knowledge.text import words

# a passage at least this similar (cosine) to the question answers it
KNOWLEDGE_MIN_SCORE = 0.33  # small talk scored <= 0.28 in the evaluation
KNOWLEDGE_MIN_SCORE_WORDS = 0.5  # the same for word overlap (0..1)
# share of the key sentence's content words a generated answer must keep
KEY_FACT_OVERLAP = 0.8
# a quoted answer is the best sentences of the best passages, each scored by
# its own similarity plus this share of its passage's: the one sentence that
# answers a question often sits in a passage about something wider
# (kb_questions.yml: the key fact in 92 % of quoted answers this way, 83 %
# with the best passage's best sentences only)
PASSAGE_WEIGHT = 0.5
QUOTED_SENTENCES = 3

EMPTY_REPLY = "It looks like your message was empty. How can I help you?"
CANNED_UNAVAILABLE = (
    "Sorry, I can't answer that right now. I can still check an order, cancel it, start a "
    "return, or tell you about shipping, opening hours and payment. You can also ask for a human."
)
CANNED_UNKNOWN = (
    "I'm not sure about that one. I can help with orders, returns, shipping and our shop's "
    "policies, or pass you to a person from our team if you say \"human\"."
)
CJK_REPLY = (
    "你好！我是 Pinecrest Outfitters 的购物助手，目前只能用英文提供帮助，也无法查询天气。"
    " Hello! I'm Pinecrest Outfitters' shop assistant. I can only help in English and can't "
    "check the weather, but I'm happy to help with orders, returns, shipping or our shop."
)
# when the answer to a message in another language was dropped (it often
# just repeats the message): the bot's own languages, in theirs
LANGUAGE_REPLY = (
    "Sorry, I can only help in English for now. Entschuldigung, ich kann nur auf Englisch helfen. "
    "Désolé, je ne peux aider qu'en anglais. Lo siento, solo puedo ayudar en inglés. "
    "In English, I'm happy to help with orders, returns, shipping or our shop."
)


class Outcome(str, Enum):
    """Which branch produced the reply (recorded in the bot message's metadata)."""

    EMPTY = "empty"
    INPUT_GUARD = "input_guard"
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    GENERATED = "generated"  # the model's answer, after the guards
    EXTRACTIVE = "extractive"  # the passage's own sentences
    DECLINED = "declined"  # a question outside the shop: "I can't help with that"
    SMALL_TALK = "small_talk"  # a reply of its kind, without the model (a joke, "I'm Pine")
    GUARDED_EMPTY = "guarded_empty"  # nothing of the answer passed the guards
    MODEL_UNAVAILABLE = "model_unavailable"
    TIMEOUT = "timeout"
    ERROR = "error"


class ReplyKind(str, Enum):
    KNOWLEDGE = "knowledge"  # the knowledge base answers it
    SMALL_TALK = "small_talk"  # greetings, feelings, stories, jokes, about the bot
    GENERAL = "general"  # general advice or knowledge ("tips for my first camping trip?")
    OUT_OF_REACH = "out_of_reach"  # facts about the world or tasks the shop bot can't do


@dataclass
class FallbackResult:
    outcome: Outcome
    text: str
    kind: Optional[ReplyKind] = None
    guard: Optional[str] = None  # the input rule the message broke
    dropped: List[str] = field(default_factory=list)  # generated sentences removed, and why
    generated: Optional[str] = None  # the model's text, when it was not sent as it is

    def record(self) -> dict:
        """The fields for the bot message's `llm_fallback` metadata."""
        fields = {"outcome": self.outcome.value, "kind": self.kind and self.kind.value}
        if self.guard:
            fields["guard"] = self.guard
        if self.generated is not None:
            fields.update(dropped=self.dropped, generated=self.generated[:300])
        return fields


def screen(text: str) -> Optional[FallbackResult]:
    """The reply to a message that must not reach retrieval or the model."""
    if not text.strip():
        return FallbackResult(Outcome.EMPTY, EMPTY_REPLY)
    guard = check_input(text)
    if guard:
        return FallbackResult(Outcome.INPUT_GUARD, GUARD_REPLIES[guard], guard=guard)
    if mostly_cjk(text):
        return FallbackResult(Outcome.UNSUPPORTED_LANGUAGE, CJK_REPLY)
    return None


def knowledge_answers(hits: Sequence[Hit], method: str) -> bool:
    if not hits:
        return False
    threshold = KNOWLEDGE_MIN_SCORE if method == "embeddings" else KNOWLEDGE_MIN_SCORE_WORDS
    return max(hit.score for hit in hits) >= threshold


def ranked_sentences(hits: Sequence[Hit]) -> List[str]:
    """Every sentence of the hits, the most relevant to the question first:
    its own score plus a share of its passage's."""
    scored = {}
    for hit in hits:
        for sentence, score in zip(hit.ranked_sentences, hit.sentence_scores):
            scored[sentence] = max(scored.get(sentence, -1.0), score + PASSAGE_WEIGHT * hit.score)
    return sorted(scored, key=scored.get, reverse=True)


def answer_order(hits: Sequence[Hit]) -> List[Hit]:
    """The hits, the one whose best sentence answers the question first."""
    def strength(hit: Hit) -> float:
        best_sentence = hit.sentence_scores[0] if hit.sentence_scores else 0.0
        return best_sentence + PASSAGE_WEIGHT * hit.score

    return sorted(hits, key=strength, reverse=True)


def reply_kind(text: str, hits: Sequence[Hit], method: str) -> ReplyKind:
    """`hits` in any order."""
    if small_talk.is_social_remark(text):
        return ReplyKind.SMALL_TALK
    if knowledge_answers(hits, method):
        return ReplyKind.KNOWLEDGE
    if small_talk.asks_for_something_out_of_reach(text):
        return ReplyKind.OUT_OF_REACH
    if small_talk.asks_a_general_question(text):
        return ReplyKind.GENERAL
    return ReplyKind.SMALL_TALK


def extractive_answer(hits: Sequence[Hit], max_sentences: int = QUOTED_SENTENCES,
                      max_chars: int = MAX_ANSWER_CHARS) -> str:
    """The passages' sentences most relevant to the question, in their own
    words, the most relevant first."""
    sentences = ranked_sentences(hits)
    if not sentences:
        return hits[0].passage.text[:max_chars]
    answer = sentences[0][:max_chars]
    for sentence in sentences[1:max_sentences]:
        if len(answer) + len(sentence) + 1 > max_chars:
            break
        answer = f"{answer} {sentence}"
    return answer


def keeps_key_facts(answer: str, key_sentence: str, min_overlap: float = KEY_FACT_OVERLAP) -> bool:
    """Is a generated answer faithful to the passage sentence that answers the
    question? It must repeat that sentence's numbers (prices, days) and most of
    its content words; otherwise the sentence itself is the better answer."""
    needed = {m.group(0).strip("$%.,") for m in NUMBER.finditer(key_sentence)}
    present = {m.group(0).strip("$%.,") for m in NUMBER.finditer(answer)}
    key_words, answer_words = set(words(key_sentence)), set(words(answer))
    overlap = len(key_words & answer_words) / len(key_words) if key_words else 1.0
    return needed <= present and overlap >= min_overlap


def settled_without_model(question: str, kind: ReplyKind) -> Optional[FallbackResult]:
    """The reply when asking the model is not worth it: a 135M model answers
    questions about the world by making facts up (a weekend forecast, last
    night's score), and small talk in another language with the message
    itself."""
    if kind is ReplyKind.KNOWLEDGE:
        return None
    if mostly_not_english(question):
        return FallbackResult(Outcome.UNSUPPORTED_LANGUAGE, LANGUAGE_REPLY, kind)
    if kind is ReplyKind.OUT_OF_REACH:
        return FallbackResult(Outcome.DECLINED, small_talk.out_of_reach_reply(question), kind)
    if small_talk.needs_no_model(question):
        return FallbackResult(Outcome.SMALL_TALK, small_talk.reply_of_its_kind(question), kind)
    return None


def without_model(question: str, kind: ReplyKind, hits: Sequence[Hit]) -> str:
    """The reply when the model server is down or too slow."""
    if kind is ReplyKind.KNOWLEDGE:
        return extractive_answer(hits)  # the passages still answer the question
    return CANNED_UNAVAILABLE


def choose_reply(question: str, kind: ReplyKind, hits: Sequence[Hit], generated: str,
                 facts: str) -> FallbackResult:
    """The reply to send, given the model's answer. `facts` is what the bot
    may repeat from the conversation (its own messages, the order numbers the
    user gave); the passages of a knowledge answer count too."""
    if kind is ReplyKind.KNOWLEDGE:
        return _knowledge_reply(question, hits, generated, facts)
    if kind is ReplyKind.GENERAL:
        return _general_reply(question, generated, facts)
    return _small_talk_reply(question, generated, facts)


def _knowledge_reply(question: str, hits: Sequence[Hit], generated: str, facts: str) -> FallbackResult:
    passages = " ".join(hit.passage.text for hit in hits[:2])
    sources = f"{passages} {facts}"
    checked = check_output(generated, sources, user_text=question)
    supported = keep_supported_sentences(checked.text, f"{sources} {question}")
    dropped = checked.dropped + supported.dropped
    best = ranked_sentences(hits)
    key_sentence = best[0] if best else ""
    if supported.text and keeps_key_facts(supported.text, key_sentence):
        return FallbackResult(Outcome.GENERATED, supported.text, ReplyKind.KNOWLEDGE, dropped=dropped,
                              generated=generated)
    return FallbackResult(Outcome.EXTRACTIVE, extractive_answer(hits), ReplyKind.KNOWLEDGE,
                          dropped=dropped, generated=generated)


def _general_reply(question: str, generated: str, facts: str) -> FallbackResult:
    """General advice: the model's first sentences if they pass the guards
    (no prices, policies or numbers it could have made up, no life of its
    own), else "I can't answer that" with the offer of a person."""
    # one sentence: what follows the first is where a small model starts inventing
    checked = check_small_talk(generated, facts, user_text=question, new_context_allowed=True, max_sentences=1)
    if checked.text:
        return FallbackResult(Outcome.GENERATED, f"{checked.text} {small_talk.steer_back(question)}",
                              ReplyKind.GENERAL, dropped=checked.dropped, generated=generated)
    return FallbackResult(Outcome.DECLINED, small_talk.out_of_reach_reply(question), ReplyKind.GENERAL,
                          dropped=checked.dropped, generated=generated)


def _small_talk_reply(question: str, generated: str, facts: str) -> FallbackResult:
    checked = check_small_talk(generated, facts, user_text=question)
    if checked.text:
        # a question back ("How's your day going?") already hands the turn over
        text = checked.text if checked.text.endswith("?") else f"{checked.text} {small_talk.steer_back(question)}"
        return FallbackResult(Outcome.GENERATED, text, ReplyKind.SMALL_TALK, dropped=checked.dropped,
                              generated=generated)
    return FallbackResult(Outcome.GUARDED_EMPTY, reply_without_generation(question), ReplyKind.SMALL_TALK,
                          dropped=checked.dropped, generated=generated)


def reply_without_generation(question: str) -> str:
    """Small talk when nothing of the model's answer could be sent."""
    if mostly_not_english(question):
        return LANGUAGE_REPLY
    return small_talk.reply_of_its_kind(question) or CANNED_UNKNOWN

