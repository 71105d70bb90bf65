"""pytest glue for grading: one test per (submission, exercise), a points table, the reports.

    python -m pytest tests/grading --submission path/to/Face_Recognition.ipynb
    python -m pytest tests/grading --submission folder/ --grade-report grades.json [--workers N]

The options are declared in tests/conftest.py. Grading has no global time limit: each exercise
of each submission has its own, enforced from outside its sandbox, so a folder of any size is
graded to the end and reported.
"""

import os
from pathlib import Path

import pytest

from tests.grading import grader, sandbox, submissions


def _submissions(config):
    option = config.getoption("submission")
    return submissions.find_submissions(option) if option else []


def pytest_generate_tests(metafunc):
    if "submission" in metafunc.fixturenames and "exercise" in metafunc.fixturenames:
        exercises = list(grader.exercises_and_points())
        pairs = [(str(path), exercise) for path in _submissions(metafunc.config) for exercise in exercises]
        metafunc.parametrize(("submission", "exercise"), pairs, ids=[f"{path}::{exercise}" for path, exercise in pairs])


def pytest_collection_modifyitems(items):
    # pytest-timeout's global limit (pytest.ini) would count the grading of the whole folder
    # against the first test; the per-exercise limits bound grading instead.
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.timeout(0))


@pytest.fixture(scope="session")
def grade_reports(request):
    """{submission path: report}, graded once for the whole run."""
    config = request.config
    paths = _submissions(config)
    limits = sandbox.Limits(seconds=config.getoption("time_limit") or sandbox.Limits.seconds)
    unsafe = config.getoption("no_sandbox")
    try:
        box = sandbox.Sandbox(limits, enabled=not unsafe)
    except sandbox.SandboxUnavailable as error:
        pytest.exit(str(error), returncode=2)
    warnings = list(box.notes)
    if unsafe:
        warnings.append("--no-sandbox: submissions ran as plain processes with kernel limits only; they "
                        "could read and write your files, use the network and signal other processes.")
    config.grading_warning = "\n".join(warnings)
    with box:
        context = grader.GradingContext.build()
        workers = config.getoption("workers") or os.cpu_count() or 1
        reports = grader.grade_all(paths, context, box, workers=workers)
    config.grade_reports = reports
    report_path = config.getoption("grade_report")
    if report_path:
        is_folder = Path(config.getoption("submission")).is_dir()
        grader.write_reports(reports, report_path, list(context.points), gradebook=is_folder)
    return {report["submission"]: report for report in reports}


def pytest_terminal_summary(terminalreporter, config):
    warning = getattr(config, "grading_warning", None)
    if warning:
        terminalreporter.section("WARNING", red=True)
        terminalreporter.write_line(warning)
    reports = getattr(config, "grade_reports", None)
    if not reports:
        return
    terminalreporter.section("points")
    for report in reports:
        terminalreporter.write_line(submissions.clean_text(report["submission"]))
        for exercise, result in report["exercises"].items():
            terminalreporter.write_line(f"  {exercise:<14}{result['points']:>3} / {result['max_points']}")
            if result["message"]:
                terminalreporter.write_line(f"      {result['message']}")
        for note in report["notes"]:
            terminalreporter.write_line(f"  note: {note}")
        terminalreporter.write_line(f"  {'total':<14}{report['total']:>3} / {report['max_total']}")
    report_path = config.getoption("grade_report")
    if report_path:
        terminalreporter.write_line(f"report written to {report_path}")
