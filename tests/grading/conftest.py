"""pytest glue for grading: one test per (submission, exercise), a points table, the reports.

    pytest tests/grading --submission path/to/Face_Recognition.ipynb
    pytest tests/grading --submission folder/ --grade-report grades.json

The options are declared in tests/conftest.py.
"""

from pathlib import Path

import pytest

from tests.grading import grader


def _submissions(config):
    option = config.getoption("submission")
    return grader.submissions_in(option) if option else []


def pytest_generate_tests(metafunc):
    if "submission" in metafunc.fixturenames and "exercise" in metafunc.fixturenames:
        pairs = [(str(path), exercise) for path in _submissions(metafunc.config) for exercise in grader.EXERCISES]
        metafunc.parametrize(
            ("submission", "exercise"), pairs, ids=[f"{path}::{exercise}" for path, exercise in pairs]
        )


@pytest.fixture(scope="session")
def grade_reports(request):
    """{submission path: report}, graded once for the whole run."""
    paths = _submissions(request.config)
    context = grader.GradingContext.build()
    reports = grader.grade_all(paths, context, time_limit=request.config.getoption("time_limit") or grader.TIME_LIMIT_SECONDS)
    request.config.grade_reports = reports
    report_path = request.config.getoption("grade_report")
    if report_path:
        grader.write_reports(reports, report_path, gradebook=_is_folder(request.config))
    return {report["submission"]: report for report in reports}


def _is_folder(config):
    return Path(config.getoption("submission")).is_dir()


def pytest_terminal_summary(terminalreporter, config):
    reports = getattr(config, "grade_reports", None)
    if not reports:
        return
    terminalreporter.section("points")
    for report in reports:
        terminalreporter.write_line(report["submission"])
        for exercise, result in report["exercises"].items():
            terminalreporter.write_line(f"  {exercise:<14}{result['points']:>3} / {result['max_points']}")
            for message in result["messages"]:
                terminalreporter.write_line(f"      {message}")
        terminalreporter.write_line(f"  {'total':<14}{report['total']:>3} / {report['max_total']}")
    report_path = config.getoption("grade_report")
    if report_path:
        terminalreporter.write_line(f"report written to {report_path}")
