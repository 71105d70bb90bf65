"""The catalogue of mistakes as a table: what the public test and the grader say to each.

    python scripts/catalogue_report.py                              # public tests only
    python scripts/catalogue_report.py --grades grades.json         # with a grading run's report

The public column runs each mistake through the notebook's public cases, in this process (with
a stand-in encoding for the photo). The grader column reads a report written by
``python -m pytest tests/grading --submission tests/grading/fixtures/notebooks --grade-report grades.json``,
where each mistake is the fixture ``<exercise>__<mistake>``. Prints a Markdown table.
"""

import argparse
import json
from pathlib import Path

from tests import catalogue, exercise_checks


def public_message(entry, encoding):
    case_set = exercise_checks.CaseSet(
        entry.exercise, exercise_checks.cases(entry.exercise, "public", "photo.jpg", encoding, 1.11), {"photo.jpg": encoding})
    function = exercise_checks.load(entry.source, entry.exercise)
    return case_set.message(exercise_checks.run(function, case_set.cases, case_set.encode))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grades", type=Path, help="a grader report (JSON) of the fixture notebooks")
    arguments = parser.parse_args()
    reports = {}
    if arguments.grades:
        reports = {Path(report["submission"]).stem: report for report in json.loads(arguments.grades.read_text())}
    encoding = exercise_checks.stand_in_encoding(0)
    print("| exercise | mistake | public test says | grader: points, message |")
    print("| --- | --- | --- | --- |")
    for entry in catalogue.MISTAKES:
        message = public_message(entry, encoding)
        verdict = "same hint" if message == entry.hint else f"OTHER: {message}"
        grade = "(not graded)"
        report = reports.get(f"{entry.exercise}__{entry.name}")
        if report:
            result = report["exercises"][entry.exercise]
            said = "same hint" if result["message"] == entry.hint else f"OTHER: {result['message']}"
            grade = f"{result['points']}/{result['max_points']}, {said}"
        print(f"| {entry.exercise} | {entry.name} | {verdict} | {grade} |")
    print(f"\n{len(catalogue.MISTAKES)} mistakes; the hint of each is in tests/catalogue.py.")


if __name__ == "__main__":
    main()
