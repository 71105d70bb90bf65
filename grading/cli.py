"""The grader's command line.

    python -m grading PATH... [--report grades.json] [--workers N] [--time-limit S] [--no-sandbox]
                              [--shard K/N] [--seed N] [--instructors-notebook source/Face_Recognition.ipynb]
    python -m grading merge SHARD_REPORT... --report grades.json

PATH is a notebook or a folder of notebooks. The command prints one line per submission as it
is graded, then a points table and, for each exercise that lost its points, its one message;
it writes the JSON report and, beside it, a CSV gradebook (``grades.csv``).

Exit status (``EXIT_*``): 0 when every submission was graded, whatever its points; 1 when a
submission could not be graded (the grader failed on it; the report says which, and the others
are in it); 2 when nothing could be graded because of the command line or the course's files;
3 when the sandbox cannot run here (install bubblewrap, or use --no-sandbox for notebooks you
trust); 4 when there is not enough memory to grade even one submission at a time.
"""

import argparse
import sys
import threading
from pathlib import Path

from exercises import contract
from grading import grader, resources, sandbox, submissions

EXIT_GRADED, EXIT_SUBMISSION_NOT_GRADED, EXIT_USAGE, EXIT_NO_SANDBOX, EXIT_NO_MEMORY = 0, 1, 2, 3, 4
UNSAFE_WARNING = ("WARNING --no-sandbox: submissions ran as plain processes with kernel limits only; they could "
                  "read and write your files, use the network and signal other processes.")


def shard(items, spec):
    """Every N-th item for ``spec`` "K/N" (K from 1 to N): the K-th of N shards."""
    try:
        number, count = (int(part) for part in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N, such as 1/4 (the first of four shards), not {spec!r}") from None
    if not 1 <= number <= count:
        raise ValueError(f"--shard {spec}: K must be between 1 and N")
    return [item for index, item in enumerate(items) if index % count == number - 1]


def default_workers(requested, box):
    """(workers, a line to print or ""): what was asked, else the CPUs available; one at a time
    where the sandboxes share the CPUs unbounded (no cgroup), so that none can slow another."""
    if requested:
        shared = box.enabled and box.cgroups is None and box.scope is None and requested > 1
        return requested, ("without cgroups here, a submission that hogs the CPU can slow the one graded beside it; "
                           "--workers 1 grades one at a time" if shared else "")
    if box.enabled and box.cgroups is None and box.scope is None:
        return 1, "without cgroups here, one submission at a time, so that none can slow another (--workers N for more)"
    return resources.available_cpus(), ""


def points_table(reports, exercises):
    """The points table as lines: one row per submission, then each lost exercise's message."""
    names = [submissions.display_name(report["submission"]) for report in reports]
    width = min(48, max([len("submission")] + [len(name) for name in names]))
    header = f"{'submission':<{width}}  " + "  ".join(f"{exercise:>12}" for exercise in exercises) + f"  {'total':>9}"
    lines = [header]
    for name, report in zip(names, reports):
        cells = [f"{result['points']:g}/{result['max_points']:g}" for result in
                 (report["exercises"][exercise] for exercise in exercises)]
        lines.append(f"{name[:width]:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells)
                     + f"  {report['total']:g}/{report['max_total']:g}".rjust(11))
    lost = [(name, exercise, result["message"]) for name, report in zip(names, reports)
            for exercise, result in report["exercises"].items() if result["points"] < result["max_points"]]
    if lost:
        lines.append("")
        lines.append("Why points were lost:")
        lines += [f"  {name} {exercise}: {(message or '')[:240]}" for name, exercise, message in lost]
    notes = [(name, note) for name, report in zip(names, reports) for note in report["notes"]]
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"  {name}: {note}" for name, note in notes]
    return lines


def _minutes(seconds):
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def grade_command(arguments):
    try:
        found = submissions.find_submissions(arguments.paths)
        if arguments.shard:
            found = shard(found, arguments.shard)
    except (FileNotFoundError, ValueError) as problem:
        print(f"Nothing to grade: {problem}", file=sys.stderr)
        return EXIT_USAGE
    limits = sandbox.Limits(seconds=arguments.time_limit) if arguments.time_limit else sandbox.Limits()
    resources.protect_self()
    try:
        box = sandbox.Sandbox(limits, enabled=not arguments.no_sandbox)
    except sandbox.SandboxUnavailable as problem:
        print(problem, file=sys.stderr)
        return EXIT_NO_SANDBOX
    with box:
        try:
            context = grader.GradingContext.build(seed=arguments.seed, source_notebook=arguments.instructors_notebook)
        except (OSError, ValueError) as problem:
            print(f"The course's files are not ready for grading: {problem}", file=sys.stderr)
            return EXIT_USAGE
        workers, workers_line = default_workers(arguments.workers, box)
        try:
            plan = resources.plan(workers, box.limits.memory_bytes)
        except MemoryError as problem:
            print(problem, file=sys.stderr)
            return EXIT_NO_MEMORY
        box.set_memory(plan.memory_bytes)
        for line in (workers_line, plan.line):
            if line:
                print(line)
        for note in box.notes + ([UNSAFE_WARNING] if arguments.no_sandbox else []):
            print(note)
        worst = grader.worst_case_seconds(len(found), len(context.points), box.limits, plan.workers, setup_seconds=0)
        print(f"Grading {len(found)} notebook{'s' if len(found) != 1 else ''}, {plan.workers} at a time, each exercise "
              f"up to {box.limits.seconds:g} s (at most {_minutes(worst)}); cases drawn with --seed {context.seed}")
        done, lock = [0], threading.Lock()

        def said(report):
            with lock:
                done[0] += 1
                print(f"[{done[0]}/{len(found)}] {submissions.display_name(report['submission'])}  "
                      f"{report['total']:g}/{report['max_total']:g}" + ("  (could not be graded)" if "grading_error" in report else ""),
                      flush=True)

        reports = grader.grade_all([path for path, _ in found], [name for _, name in found], context, box,
                                   workers=plan.workers, on_report=said)
    csv_path = grader.write_reports(reports, arguments.report, list(context.points))
    print()
    print("\n".join(points_table(reports, list(context.points))))
    print(f"\nReport: {arguments.report}; gradebook: {csv_path}")
    if arguments.no_sandbox:
        print(UNSAFE_WARNING)
    return EXIT_SUBMISSION_NOT_GRADED if any("grading_error" in report for report in reports) else EXIT_GRADED


def merge_command(arguments):
    try:
        merged = grader.merge_reports([grader.read_reports(path) for path in arguments.reports])
    except (OSError, ValueError) as problem:
        print(f"Cannot merge: {problem}", file=sys.stderr)
        return EXIT_USAGE
    exercises = list(merged[0]["exercises"]) if merged else []
    csv_path = grader.write_reports(merged, arguments.report, exercises)
    print("\n".join(points_table(merged, exercises)))
    print(f"\n{len(merged)} submissions from {len(arguments.reports)} reports. Report: {arguments.report}; "
          f"gradebook: {csv_path}")
    return EXIT_SUBMISSION_NOT_GRADED if any("grading_error" in report for report in merged) else EXIT_GRADED


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["merge"]:
        parser = argparse.ArgumentParser(prog="python -m grading merge",
                                         description="Join the reports of shards (--shard K/N) into one report and gradebook.")
        parser.add_argument("reports", nargs="+", type=Path, help="the shards' JSON reports")
        parser.add_argument("--report", type=Path, default=Path("grades.json"), help="the merged report (default: grades.json)")
        return merge_command(parser.parse_args(argv[1:]))
    parser = argparse.ArgumentParser(prog="python -m grading", description="Grade Face_Recognition notebooks.",
                                     epilog="Merge shards' reports with: python -m grading merge REPORT... --report grades.json")
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks, or folders of notebooks")
    parser.add_argument("--report", type=Path, default=Path("grades.json"),
                        help="the JSON report; the CSV gradebook goes beside it (default: grades.json)")
    parser.add_argument("--workers", type=int, help="submissions graded at a time (default: the CPUs available)")
    parser.add_argument("--time-limit", type=float, help=f"seconds each exercise may run (default {sandbox.Limits.seconds:g})")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (UNSAFE: a submission could read and change your files)")
    parser.add_argument("--shard", help="K/N: grade only every N-th submission, starting at the K-th (for batch systems)")
    parser.add_argument("--seed", type=int, help="draw the grader's cases from this seed (default: a new one, printed)")
    parser.add_argument("--instructors-notebook", type=Path, default=contract.SOURCE_NOTEBOOK,
                        help="the notebook whose nbgrader metadata and hidden tests say what is graded "
                             "(default: source/Face_Recognition.ipynb)")
    arguments = parser.parse_args(argv)
    if arguments.workers is not None and arguments.workers < 1:
        parser.error("--workers must be 1 or more")
    if arguments.time_limit is not None and arguments.time_limit <= 0:
        parser.error("--time-limit must be more than 0")
    return grade_command(arguments)
