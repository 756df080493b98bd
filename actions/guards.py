"""Guards around the LLM.

Input: prompt injection, jailbreaks, requests for the instructions, for other
customers' data or for made-up order facts are answered with a fixed reply and
never reach the model.

Output: the model may only state numbers, prices, dates and order numbers that
appear in the conversation or the retrieved passages, and may not claim an
order status; markup is stripped and the length capped. In an answer from the
knowledge base, a sentence whose words are mostly not in the passages is made
up too. Sentences that break these rules are dropped, and the caller falls
back to quoting the passages when nothing is left.
"""
import html
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from actions.knowledge_base import words

# --- input ------------------------------------------------------------------

INPUT_RULES: List[Tuple[str, re.Pattern]] = [
    ("injection", re.compile(
        r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|rules?|prompts?|guidelines|"
        r"programming|restrictions|previous|above|everything)\b|^\W*(system|admin|developer|assistant)\s*:|"
        r"\bnew (instruction|rule|policy)s?\b|</?(context|system|instructions?)>|"
        r"\b(admin|administrator|developer|manager|owner|ceo)\b.{0,20}\b(says|said|told|wants|instructs|orders)\b",
        re.I)),
    ("reveal_instructions", re.compile(
        r"\b(system prompt|your (instructions|prompt|rules|guidelines|configuration|initial prompt)|"
        r"(print|show|reveal|repeat|tell me|output|display|leak)\b.{0,30}\b(prompt|instructions|rules)\b|"
        r"(instructions|prompt|rules|guidelines)\b.{0,30}\b(were you|you were|you've been|you have been)\b.{0,20}"
        r"\b(given|told|programmed|trained)|repeat (them|it|everything) (word for word|verbatim)|"
        r"(print|repeat|show|output) everything (above|before)|\bapi key\b|\btemperature setting|"
        r"which (llm|model|ai) are you)", re.I)),
    ("jailbreak", re.compile(
        r"\b(DAN|jailbreak|jailbroken|developer mode|do anything now|no (rules|restrictions|limits|filters)|"
        r"without (any )?(rules|restrictions|filters)|pretend (to be|you are|you're)|you are now|"
        r"act as (an? )?(unrestricted|evil|hacker|admin)|roleplay as|sudo mode|god mode)\b", re.I)),
    ("other_customer_data", re.compile(
        r"(\b(address|e-?mail|phone( number)?|name|card( number)?|credit card|payment details|"
        r"personal (data|details|information))\b.{0,60}(\border\s*(no\.?|number)?\s*#?\d+|\b(customer|client|"
        r"buyer|someone|somebody|other|another|else)\b))|(\b(other|another|all|every)\b.{0,15}"
        r"\b(customers?|users?|people|buyers?)\b.{0,40}\b(orders?|data|details|info|information|"
        r"addresses|e-?mails?)\b)|\bwho (ordered|bought|placed)\b", re.I)),
    ("invented_order_facts", re.compile(
        r"\bmake (something|it|stuff|one) up\b|\bpromise me\b|\bconfirm that (my|the|your)\b|"
        r"\bsay that (i|you|my|the)\b|"
        r"(\b(make (something|it|one) up|just (say|tell me|pretend|confirm)|invent|guess|"
        r"say (that )?(it|my order|the order)|tell me (that )?(it|my order|order \d+)|confirm (that )?"
        r"(it|my order|order))\b.{0,60}\b(ship|shipped|deliver|delivered|arriv|cancel|refund|status|"
        r"order|tracking|date|tomorrow)\w*)|(\b(discount|coupon|promo|voucher)\s*(code|codes)?\b.{0,40}"
        r"\b(give|generate|create|make|need|want|send)\b)|(\b(give|generate|create|make|send)\b.{0,30}"
        r"\b(discount|coupon|promo|voucher|free)\b.{0,20}\b(code|codes)\b)", re.I)),
    ("abuse", re.compile(
        r"\b(fuck\w*|shit\w*|bitch\w*|bastard|asshole|idiot|stupid|moron|dumbass|kill yourself|useless bot|"
        r"piece of (junk|garbage|crap)|insulting (message|letter|email))\b", re.I)),
]

GUARD_REPLIES = {
    "injection": "I can't change how I work, but I'm happy to help with orders, returns, shipping "
    "or anything about our shop.",
    "reveal_instructions": "I can't share my internal instructions, but I'm happy to help with "
    "orders, returns, shipping or anything about our shop.",
    "jailbreak": "I'm Pine, Pinecrest Outfitters' shop assistant, and I stay that way. "
    "How can I help with your order or our shop?",
    "other_customer_data": "For privacy reasons I can't share anyone's personal details or other "
    "customers' orders. I can check your own order's status if you give me its number.",
    "invented_order_facts": "I only give order details straight from our order system, and I can't "
    "create discount codes. To check an order, just say \"check order\" and its five-digit number.",
    "abuse": "I'm sorry this is frustrating. I'm here to help: tell me what went wrong, or say "
    "\"human\" and I'll pass you to a person from our team.",
}


def check_input(text: str) -> Optional[str]:
    """The name of the first input rule the message breaks, or None."""
    for name, pattern in INPUT_RULES:
        if pattern.search(text):
            return name
    return None


# --- language -----------------------------------------------------------------

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def mostly_cjk(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(bool(CJK.match(c)) for c in letters) / len(letters) > 0.3


# --- output ------------------------------------------------------------------

MAX_ANSWER_CHARS = 450
# share of a knowledge answer's sentence's content words that must be in the
# passages or the question (measured: supported sentences 0.75-1.0, a made-up
# extra 0.4)
MIN_SENTENCE_SUPPORT = 0.6
NUMBER = re.compile(r"\$?\d+(?:[.,:]\d+)*%?")
MONTH = re.compile(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|jun(e)?|jul(y)?|aug(ust)?|sep(t(ember)?)?|"
    r"oct(ober)?|nov(ember)?|dec(ember)?)\b", re.I)
ORDER_STATUS_CLAIM = re.compile(
    r"\b(your|the|this|that)\s+(order|package|parcel|item|shipment)s?\b.{0,60}\b(has|have|was|were|is|are|will)"
    r"\b.{0,30}\b(shipped|delivered|dispatched|cancel+ed|refunded|processed|on (its|the) way|arriv\w+)\b", re.I)
MARKUP = [
    (re.compile(r"<[^>]{1,200}>"), ""),  # HTML tags
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # markdown links and images
    (re.compile(r"```.*?```", re.S), ""),  # code blocks
    (re.compile(r"[*_`#>|~]+"), ""),  # emphasis, headings, quotes, tables
    (re.compile(r"https?://\S+|www\.\S+"), ""),  # links the user can't verify
]
SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d)])\s+")


@dataclass
class OutputCheck:
    text: str
    dropped: List[str] = field(default_factory=list)  # sentences removed, with why


def _tokens(pattern: re.Pattern, text: str) -> set:
    return {m.group(0).lower().strip("$%").rstrip(".,") for m in pattern.finditer(text)}


def _degenerate(sentence: str) -> bool:
    """A small model sometimes loops: "no, no, no, ..." or the same phrase
    over and over."""
    words = re.findall(r"\w+", sentence.lower())
    if len(words) >= 6 and max(words.count(w) for w in set(words)) / len(words) > 0.4:
        return True
    four_grams = [tuple(words[i:i + 4]) for i in range(len(words) - 3)]
    return any(four_grams.count(gram) >= 3 for gram in set(four_grams))


def strip_markup(text: str) -> str:
    text = html.unescape(text)
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


def keep_supported_sentences(answer: str, sources: str,
                             min_support: float = MIN_SENTENCE_SUPPORT) -> OutputCheck:
    """For an answer from the knowledge base: keeps the sentences whose
    content words are mostly (`min_support`) in `sources` (the passages and
    the question). A small model adds made-up extras to a right answer ("They
    can be used to buy anything, and are available from any store") that have
    no number for `check_output` to catch."""
    known = set(words(sources))
    kept, dropped = [], []
    for sentence in SENTENCE.split(answer):
        sentence_words = set(words(sentence))
        support = len(sentence_words & known) / len(sentence_words) if sentence_words else 1.0
        if support >= min_support:
            kept.append(sentence)
        else:
            dropped.append(f"unsupported words ({support:.0%}): {sentence}")
    return OutputCheck(" ".join(kept).strip(), dropped)


def check_output(answer: str, sources: str, max_chars: int = MAX_ANSWER_CHARS) -> OutputCheck:
    """Keeps the sentences of `answer` whose facts are all in `sources`."""
    allowed_numbers = _tokens(NUMBER, sources)
    allowed_months = _tokens(MONTH, sources)
    kept, dropped = [], []
    for sentence in SENTENCE.split(strip_markup(answer)):
        sentence = sentence.strip()
        if not sentence:
            continue
        unsupported = (_tokens(NUMBER, sentence) - allowed_numbers) | (_tokens(MONTH, sentence) - allowed_months)
        if sentence.lower() in (k.lower() for k in kept) or _degenerate(sentence):
            dropped.append(f"repeated: {sentence}")
        elif unsupported:
            dropped.append(f"unsupported {sorted(unsupported)}: {sentence}")
        elif ORDER_STATUS_CLAIM.search(sentence):
            dropped.append(f"order status claim: {sentence}")
        else:
            kept.append(sentence)
    # an answer cut off by max_tokens ends in a fragment ("A tree has no legs. A")
    if len(kept) > 1 and not re.search(r"[.!?][\"'\u201d)]?$", kept[-1]):
        dropped.append(f"unfinished: {kept.pop()}")
    text = ""
    for sentence in kept:  # cap the length at a sentence boundary
        if len(text) + len(sentence) + 1 > max_chars:
            break
        text = f"{text} {sentence}".strip()
    if not text and kept:
        text = kept[0][: max_chars - 1].rstrip() + "…"
    return OutputCheck(text, dropped)
