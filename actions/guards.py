"""Guards around the LLM.

Input: prompt injection, jailbreaks, requests for the instructions, for other
customers' data or for made-up order facts are answered with a fixed reply and
never reach the model.

Output: the model may only state numbers, prices, dates and order numbers that
appear in the conversation or the retrieved passages, and may not claim an
order status; markup is stripped and the length capped. A sentence about
prices, shipping or policies (in any of the languages of `POLICY_TERMS`) must
be supported by the passages or what the bot itself said, never only by the
user's message. An answer that mostly repeats the user's message is dropped
whole: repeating a role-play would have the bot state the attacker's claims.
In an answer from the knowledge base, a sentence whose words are mostly not
in the passages is made up too. Sentences that break these rules are dropped,
and the caller falls back to quoting the passages when nothing is left.
"""
import html
import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from knowledge.text import words

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
        r"buyer|someone|somebody)\b|\b(other|another) (customer|person|user|buyer|client|shopper)s?\b))|(\b(other|another|all|every)\b.{0,15}"
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


# frequent words that are not English, by language: enough to tell a message
# in one of the shop's customers' other languages from English
_FOREIGN_WORDS = {
    "de": "hallo ich du sie wie geht es dir ist und nicht mein meine bitte danke heute kannst "
          "können wo wann warum einen eine der die das mit für auf gibt",
    "fr": "bonjour salut je tu vous est et ne pas mon ma merci aujourd'hui pouvez peux où quand "
          "pourquoi une le la les avec pour sur parles comment",
    "es": "hola yo tú usted cómo estás está y no mi gracias hoy puedes puede dónde cuándo por qué "
          "una el los las con para qué tal buenos días",
    "it": "ciao io tu lei come stai sta e non mio mia grazie oggi puoi può dove quando perché una "
          "il lo gli con per",
    "pt": "olá oi eu você como está e não meu minha obrigado obrigada hoje pode onde quando por "
          "que uma o os com para",
    "nl": "hallo hoi ik jij je hoe gaat het is en niet mijn dank bedankt vandaag kun kunt waar "
          "wanneer waarom een de het met voor op",
}
_FOREIGN_WORD_SET = {word for words_ in _FOREIGN_WORDS.values() for word in words_.split()}
_ENGLISH_WORDS = frozenset(
    "i you he she it we they is are am was the a an and or not my your what how where when why "
    "can could do does hi hello thanks thank please today with for on of to in".split()
)
_ANY_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def mostly_not_english(text: str) -> bool:
    """A message in another language written in Latin letters ("Hallo, wie
    geht es dir heute?"), or mostly in CJK characters."""
    if mostly_cjk(text) or re.search(r"[¿¡]", text):  # Spanish opens questions and exclamations
        return True
    tokens = _ANY_WORD.findall(text.lower())
    foreign = sum(t in _FOREIGN_WORD_SET and t not in _ENGLISH_WORDS for t in tokens)
    english = sum(t in _ENGLISH_WORDS for t in tokens)
    return foreign >= 2 and foreign > english


# --- output ------------------------------------------------------------------

MAX_ANSWER_CHARS = 450
# share of a knowledge answer's sentence's content words that must be in the
# passages or the question (measured: supported sentences 0.75-1.0, a made-up
# extra 0.4)
MIN_SENTENCE_SUPPORT = 0.6
NUMBER = re.compile(r"\$?\d+(?:[.,:]\d+)*%?")
# something that looks like a code: six or more capitals and digits in a row
# ("SAVE20NOW", "Pine-EOQBWXQZHUCA"): a discount code, a reference or a
# secret from the instructions, which only the passages or the bot may give
CODE = re.compile(r"\b(?:[A-Za-z]+-)?[A-Z0-9]{6,}\b")
MONTH = re.compile(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|jun(e)?|jul(y)?|aug(ust)?|sep(t(ember)?)?|"
    r"oct(ober)?|nov(ember)?|dec(ember)?)\b", re.I)
ORDER_STATUS_CLAIM = re.compile(
    r"\b(your|the|this|that)\s+(order|package|parcel|item|shipment)s?\b.{0,60}\b(has|have|was|were|is|are|will)"
    r"\b.{0,30}\b(shipped|delivered|dispatched|cancel+ed|refunded|processed|on (its|the) way|arriv\w+)\b", re.I)
MARKUP = [
    (re.compile(r"<[^<>]*>"), ""),  # HTML tags
    # markdown links and images, with one level of parentheses in the target
    (re.compile(r"!?\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)"), r"\1"),
    (re.compile(r"```.*?```", re.S), ""),  # code blocks
    (re.compile(r"[*_`#>|~]+"), ""),  # emphasis, headings, quotes, tables
    (re.compile(r"https?://\S+|www\.\S+"), ""),  # links the user can't verify
]
SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d)])\s+")
# prices, shipping and policies, in the languages customers write in: a
# sentence with one of these states something only the shop may say
POLICY_TERMS = re.compile(
    r"\b(price[sd]?|cost[s]?|free(?! to\b)|charge[sd]?|fee[s]?|shipping|ship[s]?|delivery|deliver|return[s]?|"
    r"refund[s]?|warrant(y|ies)|guarantee[sd]?|discount[s]?|coupon[s]?|voucher[s]?|promo|sale|"
    r"policy|policies|points|price match|exchange[s]?|"
    r"preis\w*|kostenlos\w*|gratis|versand\w*|liefer\w*|rückgabe|rücksendung|erstatt\w*|garantie|rabatt\w*|"
    r"prix|gratuite?s?|livraison\w*|retours?|rembours\w*|remise|"
    r"precios?|envíos?|envio|entrega\w*|devoluci\w+|reembols\w*|garantía|descuentos?|"
    r"prezz\w+|gratuit\w*|spedizion\w+|consegn\w+|resi|reso|rimbors\w+|garanzia|scont\w+|"
    r"preços?|grátis|frete|devoluç\w+|desconto\w*|"
    r"prijs\w*|verzend\w*|levering\w*|terugbetal\w*|korting\w*)\b"
    r"|价格|价钱|免费|包邮|运费|配送|退货|退款|保修|折扣|优惠|価格|無料|送料|返品|返金|保証|割引",
    re.I,
)
# how much of the answer's text may come from the user's message before the
# answer only repeats it ("Hallo, wie geht es dir heute?" answered with
# itself: 1.0; an answer that restates the question and adds the fact: 0.65)
MAX_SHARE_FROM_USER = 0.8
MIN_ECHO_CHARS = 12


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


def _char_grams(text: str, n: int = 4) -> set:
    normal = " ".join(re.findall(r"\w+", text.lower()))
    return {normal[i:i + n] for i in range(max(0, len(normal) - n + 1))}


def repeats_user(answer: str, user_text: str) -> bool:
    """Whether the answer is mostly the user's own message said back."""
    if len(user_text.strip()) < MIN_ECHO_CHARS:
        return False
    answer_grams = _char_grams(answer)
    if not answer_grams:
        return False
    return len(answer_grams & _char_grams(user_text)) / len(answer_grams) >= MAX_SHARE_FROM_USER


def _support(sentence: str, known: set) -> float:
    """The share of a sentence's content words (each CJK character counts
    as one) that are in `known`."""
    sentence_words = set(words(sentence)) | set(CJK.findall(sentence))
    return len(sentence_words & known) / len(sentence_words) if sentence_words else 1.0


def strip_markup(text: str) -> str:
    text = html.unescape(text)
    # until nothing changes: removing one kind can assemble another
    # ("[x]*(javascript:...)" is a link once the "*" is gone)
    for _ in range(5):
        before = text
        for pattern, replacement in MARKUP:
            text = pattern.sub(replacement, text)
        if text == before:
            break
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


def check_output(
    answer: str, sources: str, max_chars: int = MAX_ANSWER_CHARS, user_text: str = ""
) -> OutputCheck:
    """Keeps the sentences of `answer` whose facts are all in `sources` (the
    passages and what the bot said, not the user's message); nothing of an
    answer that repeats `user_text`."""
    if repeats_user(strip_markup(answer), user_text):
        return OutputCheck("", [f"repeats the user's message: {answer[:200]}"])
    allowed_numbers = _tokens(NUMBER, sources)
    allowed_months = _tokens(MONTH, sources)
    allowed_codes = _tokens(CODE, sources)
    known = set(words(sources)) | set(CJK.findall(sources))
    kept, dropped = [], []
    for sentence in SENTENCE.split(strip_markup(answer)):
        sentence = sentence.strip()
        if not sentence:
            continue
        unsupported = (
            (_tokens(NUMBER, sentence) - allowed_numbers)
            | (_tokens(MONTH, sentence) - allowed_months)
            | (_tokens(CODE, sentence) - allowed_codes)
        )
        if sentence.lower() in (k.lower() for k in kept) or _degenerate(sentence):
            dropped.append(f"repeated: {sentence}")
        elif unsupported:
            dropped.append(f"unsupported {sorted(unsupported)}: {sentence}")
        elif ORDER_STATUS_CLAIM.search(sentence):
            dropped.append(f"order status claim: {sentence}")
        elif POLICY_TERMS.search(sentence) and _support(sentence, known) < MIN_SENTENCE_SUPPORT:
            dropped.append(f"unsupported policy claim: {sentence}")
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


# --- small talk ----------------------------------------------------------------

# the bot claiming a name, a body, a past or a life of its own ("I'm Emily",
# "I'm a real person", "I love the mountains", "my wife and I went hiking")
HUMAN_LIFE = re.compile(
    r"\bmy name is (?!pine\b)|\bcall me (?!pine\b)|"
    r"\bi('m| am) (a |an )?(real |actual )?(person|human|man|woman|girl|boy|mom|dad|mother|father|student|"
    r"tree|hiker)\b|\bi('m| am) a (big |huge )?fan\b|"
    r"\bi (really )?(love|like|enjoy|prefer|hate|adore|miss)\b|\bmy (favou?rite|wife|husband|kids?|children|"
    r"family|dog|cat|friends?|home|house|hobby|hobbies|birthday|parents|mom|dad|job)\b|"
    r"\bi (went|go|live|lived|grew up|was born|have been|'ve been|visited|hiked|climbed|camped|ate|"
    r"remember|used to)\b|\bwhen i was\b|\b(last|this) (weekend|summer|winter|year|month|week),? i\b",
    re.I)
# "I'm Emily", "I am Alex, the assistant": a name that is not Pine (case matters)
NAME_CLAIM = re.compile(r"\b(I'm|I am|I’m) (?!Pine\b|Sorry\b|So\b|Not\b)[A-Z][a-z]+\b")
# claiming not to understand a plain message: the answer to another question
FEIGNED_CONFUSION = re.compile(
    r"\b(not sure what (that|you|it|this)|don't (understand|know what you)|what (do|did) you mean|"
    r"not familiar with)\b", re.I)
APOLOGY = re.compile(r"^\W*(i'm|i am) (so |very |really )?sorry\b|\bsorry for your\b", re.I)
LOW_MOOD = re.compile(
    r"\b(sad|stress\w*|tired|bored|lonely|nervous|anxious|worried|upset|down|bad|rough|exhausted|"
    r"sick|annoy\w*|frustrat\w*|angry|mad|lost|broke\w*|hurt|sorry|disappoint\w*|problem)\b", re.I)
CONDOLENCE = re.compile(r"\b(sorry for your loss|condolences|rest in peace)\b", re.I)
BEREAVEMENT = re.compile(r"\b(died|passed away|lost (my|our)|funeral|death)\b", re.I)
SENTENCE_END = re.compile(r"[.!?][\"'\u201d)]?$")
MAX_SMALL_TALK_SENTENCES = 2
MAX_SMALL_TALK_CHARS = 160


def claims_a_human_life(sentence: str) -> bool:
    return bool(HUMAN_LIFE.search(sentence) or NAME_CLAIM.search(sentence))


def echoes_as_question(sentence: str, user_text: str) -> bool:
    """"What's a joke about hiking?" to "tell me a joke about hiking": the
    request asked back instead of answered."""
    if not sentence.rstrip().endswith("?"):
        return False
    asked = set(words(sentence))
    return bool(asked) and len(asked & set(words(user_text))) / len(asked) >= 0.5


# what small talk may say beyond the user's own words: the social words of a
# short friendly reply. Anything else is context the model made up ("I'm so
# glad you're enjoying your trip" to "ok cool"), or an opinion of its own.
SOCIAL_WORDS = frozenset("""
    glad happy great good nice wonderful lovely fantastic awesome fun welcome thanks thank asking
    kind say saying hear hearing hope sure day time today week weekend well doing fine help helping
    chat chatting talk talking pine pinecrest outfitters assistant computer program shop hello hi
    hey morning evening afternoon night there back see soon bye goodbye care take have having
    really very much lot too also again sounds sound like enjoy enjoying great hear anything
    something else need know let just here always ready questions question glad i'm you're it's
    that's you'll i'll we're can't don't what's let's i'd you'd
""".split())
MAX_NEW_WORDS = 0


def introduces_context(sentence: str, user_text: str) -> bool:
    new = set(words(sentence)) - set(words(user_text)) - SOCIAL_WORDS
    return len(new) > MAX_NEW_WORDS


def repeats_itself(sentence: str) -> bool:
    """A phrase said twice ("don't forget to bring a water bottle, and don't
    forget to bring a map"): how a small model loops before it loops."""
    tokens = re.findall(r"\w+", sentence.lower())
    grams = [tuple(tokens[i:i + 4]) for i in range(len(tokens) - 3)]
    return len(grams) != len(set(grams))


def names_something_new(sentence: str, user_text: str) -> bool:
    """A name (a capitalised word not at the start of the sentence) that is
    neither the shop's nor the user's: a book, an author, a trail the model
    made up."""
    names = re.findall(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+\b", sentence.strip())
    known = set(re.findall(r"\w+", user_text.lower())) | {"pine", "pinecrest", "outfitters", "i"}
    return any(name.lower() not in known for name in names)


def _small_talk_fault(sentence: str, user_text: str, new_context_allowed: bool) -> Optional[str]:
    if claims_a_human_life(sentence):
        return "claims a name or a life"
    if repeats_itself(sentence):
        return "repeats itself"
    if names_something_new(sentence, user_text):
        return "names something the user did not"
    if FEIGNED_CONFUSION.search(sentence):
        return "does not answer the message"
    if APOLOGY.search(sentence) and not LOW_MOOD.search(user_text):
        return "apologises for nothing the user said"
    if CONDOLENCE.search(sentence) and not BEREAVEMENT.search(user_text):
        return "condolences for a loss the user did not mention"
    if echoes_as_question(sentence, user_text):
        return "asks the request back"
    if not SENTENCE_END.search(sentence):
        return "unfinished"
    if not new_context_allowed and introduces_context(sentence, user_text):
        return "says more than the message is about"
    return None


def check_small_talk(answer: str, sources: str, user_text: str, new_context_allowed: bool = False,
                     max_sentences: int = MAX_SMALL_TALK_SENTENCES) -> OutputCheck:
    """For small talk: the first one or two sentences of the answer, if they
    pass `check_output` and are neither a claim to be a person, nor an
    answer to another message. Stops at the first bad sentence: what follows
    it is usually more of the same."""
    checked = check_output(answer, sources, max_chars=MAX_SMALL_TALK_CHARS, user_text=user_text)
    kept: List[str] = []
    dropped = list(checked.dropped)
    for sentence in SENTENCE.split(checked.text) if checked.text else []:
        fault = _small_talk_fault(sentence, user_text, new_context_allowed)
        if fault:
            dropped.append(f"{fault}: {sentence}")
            break
        kept.append(sentence)
        if len(kept) == max_sentences or sentence.endswith("?"):
            break
    if checked.dropped and not kept:
        return OutputCheck("", dropped)
    return OutputCheck(" ".join(kept), dropped)
