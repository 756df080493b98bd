"""CLINC150 (Larson et al., EMNLP-IJCNLP 2019) for the LLM router: in-scope
intent accuracy and out-of-scope recall of the project's NLU pipeline, next
to stock Rasa (DIET + FallbackClassifier). `run.py` is the command; the
decisions are pure functions in `dataset.py` (splits, conversion, config),
`metrics.py` (scoring, the stock baseline, the threshold) and `report.py`
(the results page)."""
