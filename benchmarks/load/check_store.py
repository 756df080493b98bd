"""After a load run: every conversation of the run as the PostgreSQL tracker
store kept it, against the client's log (checks.py does the counting).

    .venv/load/bin/python -m benchmarks.load.check_store --run-id RUN \
        --client-log var/load/RUN.jsonl [--out result.json] [--report-only]

Exits 1 when any message was lost, duplicated or reordered, or a turn got no
reply, a reply out of order or nothing visible (--report-only: exit 0).
"""
import argparse
import json
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, List

from benchmarks.load import checks, stack

RUN_ID = re.compile(r"^[A-Za-z0-9-]+$")  # goes into a LIKE pattern


def events_query(run_id: str) -> str:
    """Only what the checks need, per event, so that a long run stays small."""
    if not RUN_ID.match(run_id):
        raise ValueError(f"run id {run_id!r}: letters, digits and '-' only")
    return (
        "SELECT json_build_object('id', id, 'sender', sender_id, 'type', type_name, "
        "'text', (data::json)->>'text', 'action', action_name, "
        "'seq', (data::json)->'metadata'->>'seq', "
        "'message_id', (data::json)->'metadata'->>'message_id') "
        f"FROM events WHERE sender_id LIKE 'load-{run_id}-%' "
        "AND type_name IN ('user', 'bot', 'action') ORDER BY id"
    )


def parse_event(row: Dict) -> Dict:
    seq = row.get("seq")
    row["seq"] = int(seq) if seq not in (None, "") and str(seq).isdigit() else None
    return row


def stored_events(run_id: str) -> List[Dict]:
    return [parse_event(row) for row in stack.tracker_rows(events_query(run_id))]


def client_records(paths: Iterable[Path]) -> List[Dict]:
    records = []
    for path in paths:
        with open(path) as lines:
            records.extend(json.loads(line) for line in lines if line.strip())
    return records


def check_run(run_id: str, logs: Iterable[Path]) -> Dict:
    """The checks of one run; a log's records of other runs are left out."""
    records = [r for r in client_records(logs) if r.get("run") == run_id]
    result = checks.check(records, stored_events(run_id))
    result["run_id"] = run_id
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--client-log", nargs="+", type=Path, required=True)
    parser.add_argument("--out", type=Path, help="write the result as JSON here")
    parser.add_argument("--report-only", action="store_true", help="exit 0 even on failures")
    args = parser.parse_args()
    result = check_run(args.run_id, args.client_log)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["counts"]))
    print(checks.summary(result))
    sys.exit(0 if args.report_only or not checks.failures(result) else 1)


if __name__ == "__main__":
    main()
