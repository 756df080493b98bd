"""The shop's knowledge: the help-center documents in `knowledge_base/` and
the facts they state (`knowledge_base/facts.yml`), read the same way by the
Rasa server (the router at training time, the responses) and the action
server (the LLM fallback, the order replies)."""
