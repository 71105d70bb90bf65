"""The catalogue of mistakes as a table: what the public test and the grader say to each.

    python scripts/catalogue_report.py                              # public tests only
    python scripts/catalogue_report.py --grades grades.json         # with a grading run's report

The public column runs each mistake through the notebook's public cases, in this process (with
a stand-in encoding for the photo). The grader column reads a report written by
``python -m grading tests/grading/fixtures/notebooks --report grades.json``,
where each mistake is the fixture ``<exercise>__<mistake>``. Prints a Markdown table.
"""

import argparse
import json
from pathlib import Path

from exercises import catalogue, checks


def public_message(entry, encoding):
    photos = {} if entry.exercise == "triplet_loss" else {"photo.jpg": encoding}
    case_set = checks.case_set(entry.exercise, "public", photos, 1.11)
    return case_set.message(checks.run(checks.load(entry.source, entry.exercise), case_set))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grades", type=Path, help="a grader report (JSON) of the fixture notebooks")
    arguments = parser.parse_args()
    reports = {}
    if arguments.grades:
        reports = {Path(report["submission"]).stem: report for report in json.loads(arguments.grades.read_text())}
    encoding = checks.stand_in_encoding(0)
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
    print(f"\n{len(catalogue.MISTAKES)} mistakes; the hint of each is in exercises/catalogue.py.")


if __name__ == "__main__":
    main()
