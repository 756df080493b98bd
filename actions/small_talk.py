"""Small talk the LLM fallback can send without the model: what kind of
message it is (from its grammar, not from a list of phrasings) and the reply
of that kind. The 135M model is weak at exactly these messages: it makes up
facts about the world, tells jokes that aren't, and claims a name and a life,
so its answer is used only when it passes the guards, and these replies
stand in when it doesn't."""
import hashlib
import re
from typing import Optional, Sequence

from actions.dialogue import is_question

ACKNOWLEDGEMENT = (
    "Thanks for telling me! I'm Pine, the Pinecrest Outfitters assistant: if it's about an "
    "order, a return, shipping or our shop, I'm happy to help."
)
# any question about the bot itself: what it is and what it can do
ABOUT_THE_BOT = (
    "I'm Pine, the Pinecrest Outfitters assistant: a computer program, so there isn't much to tell "
    "about me! I can check an order, cancel it, start a return, and answer questions about shipping, "
    "returns, payment and our shop."
)
OFFER_OF_A_PERSON = "If you'd like, a person from our team can help too: just say \"human\"."
STEER_BACK = (
    "Is there anything I can help you with, like an order, a return or shipping?",
    "Can I help you with an order, a return or a question about our shop?",
    "If there's anything about an order, a return or our shop, just ask.",
)

# a task or a piece of writing the user wants done
_TASK = re.compile(
    r"\b(write|compose|draw|translate|calculate|solve|summari[sz]e|homework|essay|poem|poetry|story|"
    r"stories|song|lyrics|rhymes?|haiku|limerick|slogan|quote|recipe|code|program|math|maths)\b", re.I)
# "how tall is ...?", "how many ...?": answered only with a number, and the
# guards drop every number the passages don't state
_QUANTITY = re.compile(r"\bhow (tall|high|long|far|old|big|deep|wide|heavy|many|much)\b", re.I)
# asking for a recommendation or for facts the shop can't know
_ADVICE = re.compile(r"\b(recommend\w*|suggest\w*|advice|advise|tips?|best|(a|any) good|should i)\b", re.I)
_LIVE_FACTS = {
    # rain or snow only asked of a day ("will it snow tomorrow?"), not "camping in the snow"
    "the weather": re.compile(r"\b(weather|forecast|temperature)\b|\b(will|is|does|gonna|going to) it\b.{0,20}"
                              r"\b(rain|snow|storm|be sunny|be cold|be warm)", re.I),
    "sports results": re.compile(r"\b(game|match|scores?|league|playoffs?|super bowl|world cup)\b", re.I),
    "the news": re.compile(r"\b(news|election|president|stock\w*|market|headlines?)\b", re.I),
    "the time or date": re.compile(r"\b(what time is it|today's date|what day is it)\b", re.I),
}
# "can you ...", "do you know ...": a request, not a question about the bot
_REQUEST_FRAME = re.compile(
    r"^\W*(hey|hi|so|ok|okay|pine|please)?\W*((can|could|would|will) (you|u)( please)?|do you know|"
    r"please|tell me|i (want|need|would like|'d like) (you )?to know)\b\s*", re.I)
_ABOUT_THE_BOT = re.compile(
    r"\b(you|your|yours|yourself|u|ur)\b|\b(pine|bot|robot|ai|chatbot|assistant)\b", re.I)
_JOKE = re.compile(r"\b(jokes?|make me laugh|puns?|riddles?)\b", re.I)
_NAME_OR_NATURE = re.compile(
    r"\b(your name|who are you|what are you|are you (a |an )?(real|human|person|bot|robot|ai|machine|chatgpt)|"
    r"who (made|built|created|programmed) you)\b", re.I)
_HOW_ARE_YOU = re.compile(r"\b(how are (you|u)|how's it going|how is it going|how('s| is) your day|"
                          r"how (are|have) you been|what's up|wassup|sup)\b", re.I)
_PRAISE = re.compile(r"\b(thanks?|thank you|thx|ty|love (you|this|it)|helpful|you('re| are) (great|awesome|"
                     r"amazing|the best|funny|nice|smart)|you rock|well done|good (bot|job))\b", re.I)
SHORT_REACTION_WORDS = 3
_FAREWELL = re.compile(r"\b(bye|goodbye|see (you|ya)|good ?night|have a (nice|good|great|lovely) "
                       r"(day|evening|night|one|weekend))\b", re.I)
# a low mood the user says they are in ("kinda sad today", "I'm so stressed"),
# not the word in a happy story ("she was less tired than me")
_LOW = re.compile(
    r"(^|\b(i'?m|i am|feel|feeling|felt|so|kinda|kind of|a bit|a little|really|pretty|honestly|been|"
    r"getting)\s+)(sad|stressed|tired|bored|lonely|nervous|anxious|worried|upset|down|rough|exhausted|"
    r"sick|annoyed|frustrated|overwhelmed|miserable)\b|"
    r"\b(bad|rough|long|lonely|hard|tough|awful|terrible) (day|week|morning|night|time)\b|"
    r"\b(isn't|is not|not) going (my way|well)\b|\bexpected (more|better)\b|\bdisappoint\w*", re.I)

JOKES = (
    "Why did the tent go to therapy? It was too tense. I'm better at orders than jokes, though!",
    "What's a tree's favourite drink? Root beer. That's about as good as my jokes get!",
    "Why don't mountains get cold? They wear snow caps. I'll stick to helping with orders!",
)


def pick(options: Sequence[str], key: str) -> str:
    """One of `options`, always the same one for the same `key`: replies vary
    between messages, but a retry or a test sees the same one."""
    digest = hashlib.sha256(key.lower().strip().encode()).digest()
    return options[digest[0] % len(options)]


def _without_request_frame(text: str) -> str:
    return _REQUEST_FRAME.sub("", text.strip(), count=1)


def asks_about_the_bot(text: str) -> bool:
    return bool(_ABOUT_THE_BOT.search(_without_request_frame(text)))


def live_fact_topic(text: str) -> Optional[str]:
    for topic, pattern in _LIVE_FACTS.items():
        if pattern.search(text):
            return topic
    return None


def asks_for_something_out_of_reach(text: str) -> bool:
    """A task ("write me a poem", "help with my homework") or a question about
    live facts of the world ("who won the game?", "will it rain?"): nothing a
    shop's assistant can answer, and a small model makes the answer up."""
    if _JOKE.search(text):
        return False
    return bool(_TASK.search(text) or live_fact_topic(text) or _QUANTITY.search(text))


def asks_a_general_question(text: str) -> bool:
    """A question or a request for advice that is not about the bot or the
    user ("any tips for my first camping trip?", "what's the best hike in
    Maine?"): general knowledge, not the shop's."""
    if _JOKE.search(text):
        return False
    rest = _without_request_frame(text)
    asking = is_question(text) or rest != text.strip()
    if not asking:  # "still the best trip ever": a remark, not a request for advice
        return False
    if _ADVICE.search(rest) and not _HOW_ARE_YOU.search(rest):
        return True
    return not asks_about_the_bot(text) and not _HOW_ARE_YOU.search(text)


def out_of_reach_reply(question: str) -> str:
    """A polite "I can't help with that", naming what, with the offer of a person."""
    topic = live_fact_topic(question)
    if _TASK.search(question):  # "a poem about rain" asks for a poem, not the weather
        what = "That's not something I can do, sorry: I'm only the Pinecrest Outfitters shop assistant."
    elif topic:
        what = f"I can't check {topic}, sorry: I only know about Pinecrest Outfitters."
    else:
        what = ("I'm afraid I can't answer that one: I only know about Pinecrest Outfitters, its "
                "orders, returns, shipping and policies.")
    return f"{what} {OFFER_OF_A_PERSON}"


def steer_back(question: str) -> str:
    return pick(STEER_BACK, question)


def is_social_remark(text: str) -> bool:
    """Praise, thanks, a greeting, a goodbye or a mood, not asking anything:
    small talk even when its words happen to be close to a document ("pine,
    you're the best" is not about gift cards)."""
    if is_question(text):
        return False
    return bool(_PRAISE.search(text) or _HOW_ARE_YOU.search(text) or _FAREWELL.search(text) or _LOW.search(text))


def needs_no_model(question: str) -> bool:
    """Messages whose reply of its kind is better than anything the small
    model says: a joke request (its jokes aren't), a question about the bot's
    name or nature (it claims to be "Emily", or "a real person")."""
    return bool(_JOKE.search(question) or _NAME_OR_NATURE.search(question))


def reply_of_its_kind(question: str) -> Optional[str]:
    """A short small-talk reply that needs no model, or None when the message
    is of no kind this knows."""
    if _JOKE.search(question):
        return pick(JOKES, question)
    if _FAREWELL.search(question):
        return "Thanks, you too! Come back any time if you need help with an order or our shop."
    if _NAME_OR_NATURE.search(question):
        return ("I'm Pine, the Pinecrest Outfitters assistant: a computer program, not a person. "
                f"{steer_back(question)}")
    if _HOW_ARE_YOU.search(question):
        return f"I'm doing well, thanks for asking! {steer_back(question)}"
    if _LOW.search(question) and not (asks_about_the_bot(question) and is_question(question)):
        return f"I'm sorry to hear that. {steer_back(question)}"  # not for "do you ever get tired?"
    if _PRAISE.search(question):
        return f"Thank you, that's kind of you! {steer_back(question)}"
    if len(question.split()) <= SHORT_REACTION_WORDS and not is_question(question):
        return f"Happy to chat! {steer_back(question)}"  # "ok cool", "lol"
    if asks_about_the_bot(question) and is_question(question):
        return ABOUT_THE_BOT
    if not is_question(question):
        return ACKNOWLEDGEMENT  # a statement: a story, a feeling, a remark
    return None
