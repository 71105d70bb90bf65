"""The exercises' cases against the catalogue of mistakes, and the one message per exercise.

No model needed: the cases are built around stand-in encodings (random unit vectors), as the
grader builds them around the camera photos' real encodings.
"""

import dataclasses
import re

import nbformat
import pytest

from tests import catalogue, exercise_checks, public_tests
from tests.grading import grader

EXERCISES = ("triplet_loss", "verify", "who_is_it")
THRESHOLD = 1.11


def case_set(exercise, which, seed=0, threshold=THRESHOLD):
    encoding = exercise_checks.stand_in_encoding(seed)
    return exercise_checks.CaseSet(exercise, exercise_checks.cases(exercise, which, "photo.jpg", encoding, threshold),
                                   {"photo.jpg": encoding})


def run_source(source, exercise, which="public"):
    """The message a cell's source gets on a case set (None when right)."""
    cases = case_set(exercise, which)
    function = exercise_checks.load(source, exercise)
    return cases.message(exercise_checks.run(function, cases.cases, cases.encode))


def test_the_catalogue_has_thirty_mistakes_or_more_each_with_its_own_hint():
    names = [(entry.exercise, entry.name) for entry in catalogue.MISTAKES]
    assert len(names) >= 30 and len(set(names)) == len(names)
    for exercise in EXERCISES:
        assert len(catalogue.mistakes(exercise)) >= 10, exercise
    hints = [entry.hint for entry in catalogue.MISTAKES]
    assert len(set(hints)) == len(hints), "two mistakes share a hint"
    assert all(hint and not re.search(r"\d\.\d{5}", hint) for hint in hints)


@pytest.mark.parametrize("which", ["public", "grader"])
@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_mistake_is_caught_alone_and_named_by_its_hint(exercise, which, seed):
    assert exercise_checks.catalogue_problems(case_set(exercise, which, seed)) == []


@pytest.mark.parametrize("threshold", [0.9, 1.4])
def test_the_case_design_holds_across_the_threshold_range(threshold):
    for exercise in ("verify", "who_is_it"):
        for which in ("public", "grader"):
            assert exercise_checks.catalogue_problems(case_set(exercise, which, 3, threshold)) == [], (exercise, which)


def test_a_mistake_that_collides_or_is_right_everywhere_is_reported(monkeypatch):
    original = catalogue.mistakes("verify")[0]
    twin = dataclasses.replace(original, name="a_twin", hint="another hint")
    harmless = dataclasses.replace(catalogue.REFERENCES["verify"], name="no_mistake_at_all", hint="a hint")
    monkeypatch.setattr(catalogue, "MISTAKES", catalogue.MISTAKES + [twin, harmless])
    problems = exercise_checks.catalogue_problems(case_set("verify", "public"))
    assert "a_twin: answers like greater_than on every case" in problems
    assert "no_mistake_at_all: right on every case" in problems


def test_no_right_answer_is_zero_by_accident():
    for exercise in EXERCISES:
        for which in ("public", "grader"):
            cases = case_set(exercise, which)
            for expected in cases.expected:
                if "returned" in expected:
                    value = expected["returned"]["value"] if exercise == "triplet_loss" else \
                        expected["returned"]["items"][0]["value"]
                    assert value > 0.05, (exercise, which, value)


def test_the_references_pass_and_the_notebooks_solutions_agree():
    from tests.grading.fixtures import make_fixtures

    solutions = make_fixtures.exercise_cells(nbformat.read(make_fixtures.make_student_notebook.SOURCE_PATH, as_version=4))
    for exercise in EXERCISES:
        for which in ("public", "grader"):
            assert run_source(catalogue.REFERENCES[exercise].source, exercise, which) is None
            assert run_source(solutions[exercise], exercise, which) is None, (exercise, which)


# ---------------------------------------------------------------------------------------------
# One message, in priority order


PLACEHOLDER = 'def verify(image_path, identity, database, model):\n    raise NotImplementedError("Exercise")\n'
CRASHES = '''def who_is_it(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    return 1 / 0, None
'''
TWO_MISTAKES = '''def verify(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(identity)
    dist = float(np.sum((img_to_encoding(image_path, model) - database[identity]) ** 2))
    return dist, bool(dist > THRESHOLD)
'''
ALWAYS_OPEN = '''def verify(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(identity)
    return float(np.linalg.norm(img_to_encoding(image_path, model) - database[identity])), True
'''
RETURNS_A_STRING = '''def triplet_loss(y_true, y_pred, alpha=0.2):
    return "a loss"
'''


def test_a_placeholder_is_not_written_yet_and_nothing_else():
    assert run_source(PLACEHOLDER, "verify") == exercise_checks.NOT_WRITTEN.format(exercise="verify")


def test_a_crash_names_the_exception_the_line_and_the_case():
    message = run_source(CRASHES, "who_is_it")
    assert message.startswith("who_is_it raised ZeroDivisionError: division by zero (line 3 of your cell) for a database of")


def test_an_unknown_combination_shows_input_expected_and_returned_rounded():
    message = run_source(TWO_MISTAKES, "verify")
    assert re.fullmatch(r"For identity 'ana' at L2 distance 0\.3330 from the photo, THRESHOLD = 1\.11: "
                        r"expected \(0\.3330, True\), verify returned \(0\.\d{4}, False\)\.", message), message
    message = run_source(ALWAYS_OPEN, "verify")
    assert message.startswith("For identity 'dev' at L2 distance 1.2100") and "expected (1.2100, False)" in message
    assert run_source(RETURNS_A_STRING, "triplet_loss") == "triplet_loss must return a TensorFlow tensor, got 'a loss' (builtins.str)."


def test_messages_never_carry_unrounded_numbers():
    for source, exercise in ((CRASHES, "who_is_it"), (TWO_MISTAKES, "verify"), (ALWAYS_OPEN, "verify")):
        assert not re.search(r"\d\.\d{5}", run_source(source, exercise))


# ---------------------------------------------------------------------------------------------
# The public tests in the notebook


def test_a_public_test_prints_one_line_or_raises_one_message(capsys):
    public_tests.triplet_loss_test(exercise_checks.load(catalogue.REFERENCES["triplet_loss"].source, "triplet_loss"))
    assert capsys.readouterr().out == public_tests.PASSED + "\n"
    wrong = exercise_checks.load(catalogue.mistakes("triplet_loss")[0].source, "triplet_loss")
    with pytest.raises(public_tests.ExerciseTestFailed) as failure:
        public_tests.triplet_loss_test(wrong)
    assert str(failure.value) == f"triplet_loss: {catalogue.mistakes('triplet_loss')[0].hint}"
    assert failure.value._render_traceback_() == [f"\033[91m{failure.value}\033[0m"]


def test_a_learners_exception_shows_where_it_came_from_without_the_test_machinery(monkeypatch):
    encoding = exercise_checks.stand_in_encoding(0)
    monkeypatch.setattr(public_tests, "_test_photo", lambda: "photo.jpg")
    monkeypatch.setattr(public_tests.fr_utils, "img_to_encoding", lambda path, model, *rest, **keywords: encoding.copy())
    crashing = exercise_checks.load(CRASHES, "who_is_it")
    with pytest.raises(public_tests.ExerciseTestFailed) as failure:
        public_tests.who_is_it_test(crashing, model=None, threshold=THRESHOLD)
    lines = failure.value._render_traceback_()
    assert lines[0].startswith("\033[91mwho_is_it: who_is_it raised ZeroDivisionError")
    assert any("<who_is_it>" in line and "line 3" in line for line in lines)
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert not any("answers.py" in line or "public_tests.py" in line or "exercise_checks.py" in line for line in lines)


def test_public_tests_see_thresholds_of_their_own_and_put_the_learners_back(monkeypatch):
    encoding = exercise_checks.stand_in_encoding(0)
    monkeypatch.setattr(public_tests, "_test_photo", lambda: "photo.jpg")
    monkeypatch.setattr(public_tests.fr_utils, "img_to_encoding", lambda path, model, *rest, **keywords: encoding.copy())
    function = exercise_checks.load(catalogue.REFERENCES["verify"].source, "verify")
    function.__globals__["THRESHOLD"] = 1.11
    public_tests.verify_test(function, model=None, threshold=1.11)
    assert function.__globals__["THRESHOLD"] == 1.11 and function.__globals__["img_to_encoding"] is None


# ---------------------------------------------------------------------------------------------
# Points: written once, in the instructors' notebook


def test_points_come_from_the_instructors_notebook(tmp_path):
    import nbformat

    source = grader.SOURCE_NOTEBOOK
    points = grader.exercises_and_points(source)
    assert list(points) == list(EXERCISES) and all(value > 0 for value in points.values())
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_verify":
            cell.metadata["nbgrader"]["points"] = points["verify"] + 2
    edited = tmp_path / "edited.ipynb"
    nbformat.write(notebook, edited)
    assert grader.exercises_and_points(edited)["verify"] == points["verify"] + 2
    context = grader.GradingContext(grader.exercises_and_points(edited), {})
    result = grader.grade_exercise("verify", None, context, sandbox=None)
    assert result["max_points"] == points["verify"] + 2 and result["points"] == 0
