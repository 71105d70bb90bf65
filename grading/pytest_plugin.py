"""Grading under pytest: one test per (submission, exercise), a points table, the same reports.

    python -m pytest --submission path/to/Face_Recognition.ipynb
    python -m pytest --submission folder/ --grade-report grades.json [--workers N] [--time-limit S]

Installed with the project (an entry point in pyproject.toml), so pytest loads it anywhere. With
``--submission`` pytest collects nothing else: each exercise of each submission is a test that
fails, when the exercise lost its points, with that exercise's one message. The grading itself
is ``grading.grader``'s, as for ``python -m grading``: the same points, the same reports.
"""

import pytest

from exercises import contract
from grading import cli, grader, resources, sandbox, submissions


def pytest_addoption(parser):
    group = parser.getgroup("grading", "grading students' notebooks (python -m grading does the same)")
    group.addoption("--submission", action="append", help="a student's notebook, or a folder of notebooks, to grade")
    group.addoption("--grade-report", help="write the grades as JSON here (and a CSV gradebook beside it)")
    group.addoption("--time-limit", type=float, help="seconds each exercise may run (default 90)")
    group.addoption("--workers", type=int, help="submissions graded at a time (default: the CPUs available)")
    group.addoption("--shard", help="K/N: grade only every N-th submission, starting at the K-th")
    group.addoption("--seed", type=int, help="draw the grader's cases from this seed (default: a new one)")
    group.addoption("--instructors-notebook", help="the notebook that says what is graded (default: source/Face_Recognition.ipynb)")
    group.addoption("--no-sandbox", action="store_true",
                    help="grade without bubblewrap (UNSAFE: a submission could read and change your files)")


def _grading(config):
    return bool(config.getoption("submission"))


def pytest_ignore_collect(collection_path, config):
    """With --submission, the project's own tests are not collected: only the grading items."""
    if _grading(config):
        return True
    return None


class ExerciseLostPoints(Exception):
    """An exercise of a submission that did not earn its points; the argument is its message."""


class ExerciseItem(pytest.Item):
    """One exercise of one submission."""

    def __init__(self, *, submission, exercise, **keywords):
        super().__init__(**keywords)
        self.submission, self.exercise = submission, exercise

    def runtest(self):
        report = _graded(self.config)[self.submission]
        result = report["exercises"][self.exercise]
        if result["points"] < result["max_points"]:
            raise ExerciseLostPoints(f"{result['points']:g}/{result['max_points']:g}: {result['message']}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ExerciseLostPoints):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.submission, None, f"{self.submission}::{self.exercise}"


def _found(config):
    if not hasattr(config, "_grading_found"):
        found = submissions.find_submissions(config.getoption("submission"))
        spec = config.getoption("shard")
        config._grading_found = cli.shard(found, spec) if spec else found
    return config._grading_found


def pytest_collection_modifyitems(session, config, items):
    if not _grading(config):
        return
    try:
        found = _found(config)
    except (FileNotFoundError, ValueError) as problem:
        raise pytest.UsageError(f"Nothing to grade: {problem}") from None
    source = config.getoption("instructors_notebook") or contract.SOURCE_NOTEBOOK
    for _, name in found:
        for exercise in contract.exercises_and_points(source):
            test_id = f"{submissions.display_name(name)}::{exercise}"
            items.append(ExerciseItem.from_parent(session, name=test_id, nodeid=test_id, submission=name, exercise=exercise))


def _graded(config):
    """{submission name: report}, graded once for the whole run."""
    if hasattr(config, "_grading_reports"):
        return config._grading_reports
    found = _found(config)
    limits = sandbox.Limits(seconds=config.getoption("time_limit")) if config.getoption("time_limit") else sandbox.Limits()
    resources.protect_self()
    try:
        box = sandbox.Sandbox(limits, enabled=not config.getoption("no_sandbox"))
    except sandbox.SandboxUnavailable as error:
        pytest.exit(str(error), returncode=cli.EXIT_NO_SANDBOX)
    with box:
        source = config.getoption("instructors_notebook")
        context = grader.GradingContext.build(seed=config.getoption("seed"),
                                              source_notebook=source or contract.SOURCE_NOTEBOOK)
        workers, workers_line = cli.default_workers(config.getoption("workers"), box)
        try:
            plan = resources.plan(workers, box.limits.memory_bytes)
        except MemoryError as error:
            pytest.exit(str(error), returncode=cli.EXIT_NO_MEMORY)
        box.set_memory(plan.memory_bytes)
        config._grading_notes = [line for line in [workers_line, plan.line, *box.notes] if line]
        if config.getoption("no_sandbox"):
            config._grading_notes.append(cli.UNSAFE_WARNING)
        reports = grader.grade_all([path for path, _ in found], [name for _, name in found], context, box,
                                   workers=plan.workers)
    config._grading_exercises = list(context.points)
    config._grading_list = reports
    report_path = config.getoption("grade_report")
    if report_path:
        grader.write_reports(reports, report_path, list(context.points))
    config._grading_reports = {report["submission"]: report for report in reports}
    return config._grading_reports


def pytest_terminal_summary(terminalreporter, config):
    if not _grading(config) or not hasattr(config, "_grading_list"):
        return
    for note in getattr(config, "_grading_notes", []):
        terminalreporter.write_line(note, yellow=True)
    terminalreporter.section("points")
    for line in cli.points_table(config._grading_list, config._grading_exercises):
        terminalreporter.write_line(line)
    if config.getoption("grade_report"):
        terminalreporter.write_line(f"report written to {config.getoption('grade_report')}")
