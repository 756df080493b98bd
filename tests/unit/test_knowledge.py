"""The knowledge base read in one place (knowledge/), and every shop fact
stated once (knowledge_base/facts.yml): documents, domain responses (through
nlg/shop_facts.py) and actions state the same facts."""
import re
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from actions.config import get_settings
from actions.knowledge_base import KnowledgeBase
from custom_components.llm_router import knowledge_sentences
from knowledge.documents import (
    files_signature,
    fingerprint,
    knowledge_base_dir,
    load_passages,
    parse_passages,
)
from knowledge.facts import FactsError, load_facts, parse_facts, render
from nlg.shop_facts import ShopFactsNaturalLanguageGenerator
from settings.defaults import PROJECT_ROOT, read_defaults, resolve

KNOWLEDGE_BASE = PROJECT_ROOT / "knowledge_base"
DOMAIN = PROJECT_ROOT / "domain"


@pytest.fixture(autouse=True)
def default_settings(monkeypatch):
    """The project's own knowledge base and return window, whatever the
    environment running the tests says."""
    monkeypatch.delenv("KNOWLEDGE_BASE_DIR", raising=False)
    monkeypatch.delenv("RETURN_WINDOW_DAYS", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def small_knowledge_base(tmp_path: Path) -> Path:
    directory = tmp_path / "kb"
    directory.mkdir()
    (directory / "facts.yml").write_text('support_phone: "1-800-555-0199"\nwarranty_years: 3\n')
    (directory / "contact.md").write_text(
        "# Contact\n\nIntroduction.\n\n## Phone\n\nCall us at {{ support_phone }}. "
        "Returns within {{return_window_days}} days.\n"
    )
    return directory


def domain() -> Domain:
    return Domain.load(str(DOMAIN))


async def say(nlg: ShopFactsNaturalLanguageGenerator, response: str, slots=None) -> str:
    tracker = DialogueStateTracker.from_dict("test", [], domain().slots)
    for name, value in (slots or {}).items():
        tracker.slots[name].value = value
    return (await nlg.generate(response, tracker, "rest"))["text"]


# rendering ------------------------------------------------------------------

def test_placeholders_are_filled_with_the_facts():
    facts = {"support_phone": "1-800-555-0142", "refund_time": "5-7 business days"}
    assert render("Call {{ support_phone }}; refunds in {{refund_time}}.", facts) == (
        "Call 1-800-555-0142; refunds in 5-7 business days."
    )


def test_an_unknown_placeholder_names_the_file_and_the_fact():
    with pytest.raises(FactsError, match=r"returns\.md: unknown fact \{\{ refund_days \}\}"):
        render("Refunds in {{ refund_days }}.", {"refund_time": "5-7 business days"}, "returns.md")


@pytest.mark.parametrize("text", ["Call {{ support_phone }.", "Call {{ support phone }}.", "{{}}"])
def test_a_malformed_placeholder_is_an_error(text):
    with pytest.raises(FactsError):
        render(text, {"support_phone": "1-800-555-0142"}, "contact.md")


def test_a_document_with_an_unknown_fact_does_not_load(small_knowledge_base):
    (small_knowledge_base / "broken.md").write_text("# Broken\n\n## Oops\n\nCall {{ fax }}.\n")
    with pytest.raises(FactsError, match=r"broken\.md: unknown fact \{\{ fax \}\}"):
        load_passages(small_knowledge_base, load_facts(small_knowledge_base))


# the facts --------------------------------------------------------------------

def test_facts_are_text_and_include_the_return_window(small_knowledge_base):
    assert load_facts(small_knowledge_base) == {
        "support_phone": "1-800-555-0199", "warranty_years": "3", "return_window_days": "30",
    }


def test_the_return_window_is_the_setting(small_knowledge_base, monkeypatch):
    monkeypatch.setenv("RETURN_WINDOW_DAYS", "45")
    assert load_facts(small_knowledge_base)["return_window_days"] == "45"
    assert get_settings().return_window_days == 45


def test_the_facts_file_cannot_state_the_return_window_too():
    with pytest.raises(FactsError, match="RETURN_WINDOW_DAYS"):
        parse_facts("return_window_days: 30\n", "facts.yml")


@pytest.mark.parametrize("text", ["- a list\n", "Phone: 1\n", "support_phone: [1, 2]\n", "support_phone:\n"])
def test_a_facts_file_has_named_single_values(text):
    with pytest.raises(FactsError, match="facts.yml"):
        parse_facts(text, "facts.yml")


@pytest.mark.parametrize("days", ["0", "-3", "thirty"])
def test_a_return_window_that_is_not_a_number_of_days_is_refused(small_knowledge_base, monkeypatch, days):
    monkeypatch.setenv("RETURN_WINDOW_DAYS", days)
    with pytest.raises(FactsError, match="RETURN_WINDOW_DAYS"):
        load_facts(small_knowledge_base)


def test_a_knowledge_base_without_facts_file_has_the_return_window_only(tmp_path):
    assert load_facts(tmp_path) == {"return_window_days": "30"}


def test_the_knowledge_base_folder_is_the_setting(monkeypatch, tmp_path):
    assert knowledge_base_dir() == KNOWLEDGE_BASE
    monkeypatch.setenv("KNOWLEDGE_BASE_DIR", str(tmp_path))
    assert knowledge_base_dir() == tmp_path
    assert get_settings().knowledge_base_dir == tmp_path


# documents ----------------------------------------------------------------------

def test_passages_are_the_sections_with_the_facts_filled_in(small_knowledge_base):
    [passage] = load_passages(small_knowledge_base, load_facts(small_knowledge_base))
    assert (passage.source, passage.title) == ("contact.md", "Contact: Phone")
    assert passage.sentences == ("Call us at 1-800-555-0199.", "Returns within 30 days.")


def test_markdown_is_read_as_plain_text():
    [passage] = parse_passages("x.md", "## **Bold** heading\n\n- **Free** [returns](https://x.example).\n")
    assert (passage.document, passage.heading, passage.text) == ("", "Bold heading", "- Free returns.")
    assert passage.title == "Bold heading"
    assert passage.sentences == ("Free returns.",)


def test_a_changed_return_window_changes_every_document_that_states_it(monkeypatch):
    default = load_passages(KNOWLEDGE_BASE, load_facts(KNOWLEDGE_BASE))
    monkeypatch.setenv("RETURN_WINDOW_DAYS", "45")
    longer = load_passages(KNOWLEDGE_BASE, load_facts(KNOWLEDGE_BASE))
    texts = " ".join(p.text for p in longer)
    assert "45 days" in texts and "45-day return window" in texts
    assert not re.search(r"\b30[ -]day", texts)
    changed = {p.source for p, q in zip(default, longer) if p.text != q.text}
    assert {"returns.md", "cancellations.md", "sizing.md", "warranty_and_repairs.md"} <= changed


def test_the_fingerprint_follows_the_facts_the_documents_state(small_knowledge_base):
    def current() -> str:
        return fingerprint(small_knowledge_base, load_facts(small_knowledge_base), "model")

    before = current()
    assert fingerprint(small_knowledge_base, load_facts(small_knowledge_base), "other model") != before
    facts_file = small_knowledge_base / "facts.yml"
    # a fact no document states changes no document
    facts_file.write_text(facts_file.read_text().replace("warranty_years: 3", "warranty_years: 5"))
    assert current() == before
    facts_file.write_text(facts_file.read_text().replace("0199", "0123"))
    assert current() != before


def test_the_files_signature_covers_the_facts_file(small_knowledge_base):
    before = files_signature(small_knowledge_base)
    assert [name for name, *_ in before] == ["contact.md", "facts.yml"]
    (small_knowledge_base / "facts.yml").write_text('support_phone: "1-800-555-0100"\n')
    assert files_signature(small_knowledge_base) != before


@pytest.mark.parametrize("window", [None, "45"])
def test_the_router_and_the_action_server_read_the_same_passages(monkeypatch, tmp_path, window):
    if window:
        monkeypatch.setenv("RETURN_WINDOW_DAYS", window)
    facts = load_facts(KNOWLEDGE_BASE)
    # the action server's knowledge base ...
    served = KnowledgeBase.load(KNOWLEDGE_BASE, "model", tmp_path / "index.json").passages
    # ... and what the router indexes at training time
    routed = knowledge_sentences(load_passages(KNOWLEDGE_BASE, facts))
    assert served == load_passages(KNOWLEDGE_BASE, facts)
    in_passages = {text for p in served for text in (p.document, p.heading, *p.sentences)}
    assert routed and set(routed) <= in_passages
    stated = f"{facts['return_window_days']} days"
    assert any(stated in sentence for sentence in routed)
    assert any(stated in p.text for p in served)


# domain responses ----------------------------------------------------------------

async def test_responses_state_the_facts():
    nlg = ShopFactsNaturalLanguageGenerator(domain=domain())
    facts = load_facts(KNOWLEDGE_BASE)
    for response in ("utter_store_hours", "utter_shipping_info", "utter_payment_methods"):
        for _ in range(10):  # the variations are chosen at random
            text = await say(nlg, response)
            assert "{" not in text and "}" not in text, text
    hours = await say(nlg, "utter_store_hours")
    assert facts["support_phone"] in hours and facts["service_hours"] in hours


def test_every_response_variable_is_a_fact_or_a_slot():
    loaded = domain()
    known = set(load_facts(KNOWLEDGE_BASE)) | {slot.name for slot in loaded.slots}
    variables = {
        name
        for variations in loaded.responses.values()
        for variation in variations
        for name in re.findall(r"\{([^{}\n]+)\}", variation.get("text") or "")
    }
    assert variables and variables <= known, variables - known


async def test_a_changed_return_window_changes_the_responses(monkeypatch):
    responses = {"utter_returns": [{"text": "Returns within {return_window_days} days."}]}
    monkeypatch.setenv("RETURN_WINDOW_DAYS", "45")
    nlg = ShopFactsNaturalLanguageGenerator(domain=Domain.from_dict({"responses": responses}))
    assert await say(nlg, "utter_returns") == "Returns within 45 days."


async def test_slots_win_over_facts(monkeypatch, small_knowledge_base):
    (small_knowledge_base / "facts.yml").write_text('order_id: "a fact"\nsupport_phone: "1-800-555-0199"\n')
    monkeypatch.setenv("KNOWLEDGE_BASE_DIR", str(small_knowledge_base))
    responses = {"utter_order": [{"text": "Order {order_id}, phone {support_phone}."}]}
    nlg = ShopFactsNaturalLanguageGenerator(domain=Domain.from_dict({"responses": responses}))
    assert await say(nlg, "utter_order", {"order_id": "10002"}) == "Order 10002, phone 1-800-555-0199."


async def test_responses_follow_an_edited_facts_file(monkeypatch, small_knowledge_base):
    monkeypatch.setenv("KNOWLEDGE_BASE_DIR", str(small_knowledge_base))
    responses = {"utter_phone": [{"text": "Call {support_phone}."}]}
    nlg = ShopFactsNaturalLanguageGenerator(domain=Domain.from_dict({"responses": responses}))
    assert await say(nlg, "utter_phone") == "Call 1-800-555-0199."
    (small_knowledge_base / "facts.yml").write_text('support_phone: "1-800-555-0100"\n')
    assert await say(nlg, "utter_phone") == "Call 1-800-555-0100."


def test_endpoints_select_the_shop_facts_generator(monkeypatch):
    from rasa.core.nlg.generator import NaturalLanguageGenerator
    from rasa.utils.endpoints import read_endpoint_config

    # endpoints.yml refers to the settings, as the scripts export them
    for name, value in resolve(read_defaults(), {}).items():
        monkeypatch.setenv(name, value)
    config = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "nlg")
    assert isinstance(NaturalLanguageGenerator.create(config, domain()), ShopFactsNaturalLanguageGenerator)


# actions ------------------------------------------------------------------------------

def test_the_order_replies_state_the_facts(monkeypatch):
    from actions.order_actions import order_id_question, shop_facts

    monkeypatch.setenv("RETURN_WINDOW_DAYS", "45")
    get_settings.cache_clear()
    question = order_id_question("return_form", shop_facts())
    assert "within 45 days of delivery" in question and "5-7 business days" in question


def test_the_handoff_reply_states_the_facts():
    from actions.handoff import next_steps

    facts = load_facts(KNOWLEDGE_BASE)
    assert facts["support_phone"] in next_steps(facts) and facts["service_hours"] in next_steps(facts)


# one copy of each fact ------------------------------------------------------------------

def stated_facts():
    """Facts that must only ever be written as placeholders or variables."""
    facts = load_facts(KNOWLEDGE_BASE)
    window = read_defaults()["RETURN_WINDOW_DAYS"]
    return [
        re.escape(facts["support_phone"]),
        re.escape(facts["support_email"]),
        re.escape(facts["refund_time"]),
        re.escape(facts["service_hours"]),
        re.escape(facts["store_address"]),
        rf"\b{window}[ -]days?\b",
        rf"\b{facts['warranty_years']}-year\b",
    ]


def test_no_fact_is_copied_outside_the_facts_file():
    files = [
        *KNOWLEDGE_BASE.glob("*.md"),
        *DOMAIN.glob("*.yml"),
        *(path for folder in ("actions", "knowledge", "nlg", "custom_components", "channels")
          for path in (PROJECT_ROOT / folder).glob("*.py")),
    ]
    copies = [
        f"{path.relative_to(PROJECT_ROOT)}: {match.group(0)!r}"
        for path in files
        for pattern in stated_facts()
        for match in re.finditer(pattern, path.read_text(encoding="utf-8"))
    ]
    assert copies == [], "write these as {{ name }} (documents), {name} (responses) or load_facts (code)"
