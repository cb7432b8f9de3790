"""Schemathesis fuzzing of the live API per role: 5xx answers and leaks of another project's data.

`fuzz_roles(base_url, schema, roles, markers, examples)` is what tests/security/test_fuzz.py calls; run as
`python benchmarks/fuzz.py --json [--examples N]` it runs that test (a seeded database and a live uvicorn
server) with N examples per operation and prints the report as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fuzz_operation(operation, base_url: str, cookies: dict, headers: dict, markers: list[str], examples: int,
                    tally: dict) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case) -> None:
        try:
            response = case.call(base_url=base_url, cookies=cookies, headers=headers, timeout=30)
        except Exception as exc:  # a transport error (e.g. refused header) is not a server answer
            tally["transport_errors"] += 1
            tally["samples"].append(f"{operation.label}: {type(exc).__name__}")
            return
        tally["cases"] += 1
        if response.status_code >= 500:
            tally["5xx"] += 1
            tally["samples"].append(f"{operation.label} -> {response.status_code}")
        body = response.content.decode(errors="replace") if response.content else ""
        if any(m in body for m in markers):
            tally["leaks"] += 1
            tally["samples"].append(f"{operation.label} leaked -> {response.status_code}")

    run()


def fuzz_roles(base_url: str, raw_schema: dict, roles: dict[str, dict], markers: list[str], examples: int) -> dict:
    """Fuzz every operation as each role (`roles[name] = {"cookies", "headers"}`); counts per role."""
    import schemathesis

    schema = schemathesis.openapi.from_dict(raw_schema)
    report = {}
    for role, auth in roles.items():
        tally = {"cases": 0, "5xx": 0, "leaks": 0, "transport_errors": 0, "samples": []}
        for result in schema.get_all_operations():
            operation = result.ok()
            _fuzz_operation(operation, base_url, auth["cookies"], auth["headers"], markers, examples, tally)
        tally["samples"] = tally["samples"][:20]
        report[role] = tally
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--examples", type=int, default=10, help="generated cases per operation and role")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp()) / "fuzz.json"
    env = dict(os.environ, FUZZ_EXAMPLES=str(args.examples), FUZZ_REPORT=str(out))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "3000",
                           "tests/security/test_fuzz.py"], cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr)
    report = json.loads(out.read_text()) if out.exists() else {}
    summary = {
        "examples_per_operation": args.examples,
        "cases_per_role": {r: v["cases"] for r, v in report.items()},
        "cases_total": sum(v["cases"] for v in report.values()),
        "5xx": sum(v["5xx"] for v in report.values()),
        "leaks": sum(v["leaks"] for v in report.values()),
        "samples": {r: v["samples"] for r, v in report.items() if v["samples"]},
        "test_exit_code": proc.returncode,
    }
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
