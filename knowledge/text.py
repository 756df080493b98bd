"""Sentences and words of plain text, as retrieval and the guards compare them."""
import re
from typing import List

# a sentence ends at . ! ? before a capital, a digit, a quote or a bracket:
# "$4.95" and "e.g. boots" stay whole
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# words keep their inner dots, apostrophes and hyphens: "4.95", "don't", "e-mail"
WORD = re.compile(r"[a-z0-9$]+(?:[.'-][a-z0-9]+)*")
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i if in is it its me my of on or "
    "our so that the there this to up we what when where which who why will with you your".split()
)
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+\.)\s+")


def split_sentences(text: str) -> List[str]:
    """The sentences of a text; each line (a list item, say) is one at least."""
    sentences = []
    for line in text.splitlines():
        line = LIST_MARKER.sub("", line).strip()
        if line:
            sentences.extend(s.strip() for s in SENTENCE_END.split(line) if s.strip())
    return sentences


def words(text: str) -> List[str]:
    """The lower-case words of a text that carry meaning (no stop words)."""
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]
