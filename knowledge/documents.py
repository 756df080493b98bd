"""The knowledge base's documents: Markdown files split into passages at `##`
headings, with the shop's facts filled in (knowledge/facts.py).

The Rasa server (the router, at training time) and the action server (the
LLM fallback) both read the documents here, so they see the same passages.
"""
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Tuple

from knowledge.facts import facts_file, render
from knowledge.text import split_sentences
from settings.defaults import PROJECT_ROOT, setting

SECTION = re.compile(r"^##\s+", flags=re.MULTILINE)
DOCUMENT_TITLE = re.compile(r"^#\s+(.+)$", flags=re.MULTILINE)


@dataclass(frozen=True)
class Passage:
    source: str  # file name, e.g. "gift_cards.md"
    document: str  # the document's `#` title
    heading: str  # the section's `##` heading
    text: str
    sentences: Tuple[str, ...]

    @property
    def title(self) -> str:
        return f"{self.document}: {self.heading}" if self.document else self.heading


def knowledge_base_dir() -> Path:
    """The knowledge base folder: the KNOWLEDGE_BASE_DIR setting, relative
    to the project root unless absolute."""
    return PROJECT_ROOT / setting("KNOWLEDGE_BASE_DIR")


def document_paths(directory: Path) -> List[Path]:
    return sorted(Path(directory).glob("*.md"))


def plain(markdown: str) -> str:
    """Markdown as the reader sees it: no emphasis marks, links as their text."""
    text = re.sub(r"\*\*|__|`", "", markdown)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    return text.strip()


def rendered_document(path: Path, facts: Mapping[str, str]) -> str:
    return render(path.read_text(encoding="utf-8"), facts, source=str(path))


def parse_passages(source: str, markdown: str) -> List[Passage]:
    """One passage per `##` section with text; the part before the first
    section (title and introduction) is not a passage."""
    head, *sections = SECTION.split(markdown)
    match = DOCUMENT_TITLE.search(head)
    document = plain(match.group(1)) if match else ""
    passages = []
    for section in sections:
        heading, _, body = section.partition("\n")
        body = plain(body)
        if body:
            passages.append(Passage(source, document, plain(heading), body, tuple(split_sentences(body))))
    return passages


def load_passages(directory: Path, facts: Mapping[str, str]) -> List[Passage]:
    """Every document's passages, with the facts filled in."""
    return [
        passage
        for path in document_paths(directory)
        for passage in parse_passages(path.name, rendered_document(path, facts))
    ]


def fingerprint(directory: Path, facts: Mapping[str, str], *extra: str) -> str:
    """Changes whenever a rendered document changes (a document's text or a
    fact it states), or any of `extra` (a model name, a version)."""
    digest = hashlib.sha256()
    for part in extra:
        digest.update(part.encode() + b"\0")
    for path in document_paths(directory):
        digest.update(path.name.encode() + b"\0")
        digest.update(rendered_document(path, facts).encode() + b"\0")
    return digest.hexdigest()


def files_signature(directory: Path) -> Tuple[Tuple[str, int, int], ...]:
    """Names, sizes and change times of the documents and the facts file: a
    cheap check (no reading) whether the knowledge base must be loaded again."""
    paths = document_paths(directory) + [p for p in [facts_file(directory)] if p.is_file()]
    return tuple(
        (path.name, stat.st_size, stat.st_mtime_ns) for path in paths for stat in [path.stat()]
    )
