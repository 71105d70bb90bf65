"""The exercises' cases against the catalogue of mistakes, and the one message per exercise.

No model needed: the cases are built around stand-in encodings (random unit vectors), as the
grader builds them around the camera photos' real encodings. The grader's cases are drawn from
a new seed at each grading run, so every property is checked over many seeds.
"""

import dataclasses
import re

import numpy as np
import pytest

import embeddings
from exercises import answers, catalogue, checks, contract, public_tests

EXERCISES = ("triplet_loss", "verify", "who_is_it")
THRESHOLD = 1.11
GRADER_SEEDS = range(8)


def photos(which, threshold=THRESHOLD, seed=0):
    """The photos a case set is built around: one for the public set, two for the grader's."""
    count = 1 if which == "public" else 2
    return {f"images/camera/photo_{index}.jpg": checks.stand_in_encoding(seed + index) for index in range(count)}


def case_set(exercise, which, seed=0, threshold=THRESHOLD):
    chosen = {} if exercise == "triplet_loss" else photos(which, threshold, seed)
    return checks.case_set(exercise, which, chosen, threshold, seed=seed if which == "grader" else None)


def run_source(source, exercise, which="public", seed=0):
    """The message a cell's source gets on a case set (None when right)."""
    cases = case_set(exercise, which, seed)
    return cases.message(checks.run(checks.load(source, exercise), cases))


def test_the_catalogue_has_thirty_mistakes_or_more_each_with_its_own_hint():
    names = [(entry.exercise, entry.name) for entry in catalogue.MISTAKES]
    assert len(names) >= 30 and len(set(names)) == len(names)
    for exercise in EXERCISES:
        assert len(catalogue.mistakes(exercise)) >= 10, exercise
    hints = [entry.hint for entry in catalogue.MISTAKES]
    assert len(set(hints)) == len(hints), "two mistakes share a hint"
    assert all(hint and not re.search(r"\d\.\d{5}", hint) for hint in hints)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_mistake_is_caught_alone_and_named_by_its_hint_in_the_public_set(exercise):
    assert checks.catalogue_problems(case_set(exercise, "public")) == []


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_mistake_is_caught_alone_and_named_by_its_hint_whatever_the_graders_draw(exercise):
    for seed in GRADER_SEEDS:
        assert checks.catalogue_problems(case_set(exercise, "grader", seed)) == [], seed


@pytest.mark.parametrize("threshold", [0.9, 1.4])
def test_the_case_design_holds_across_the_threshold_range(threshold):
    for exercise in ("verify", "who_is_it"):
        for which in ("public", "grader"):
            assert checks.catalogue_problems(case_set(exercise, which, 3, threshold)) == [], (exercise, which)


def test_the_graders_cases_are_drawn_anew_and_the_public_ones_are_not():
    first, second = case_set("verify", "grader", seed=1), case_set("verify", "grader", seed=2)
    assert [case["identity"] for case in first.cases] != [case["identity"] for case in second.cases]
    assert first.expected != second.expected
    assert case_set("who_is_it", "public").expected == case_set("who_is_it", "public").expected


def test_a_mistake_that_collides_or_is_right_everywhere_is_reported(monkeypatch):
    original = catalogue.mistakes("verify")[0]
    twin = dataclasses.replace(original, name="a_twin", hint="another hint")
    harmless = dataclasses.replace(catalogue.REFERENCES["verify"], name="no_mistake_at_all", hint="a hint")
    monkeypatch.setattr(catalogue, "MISTAKES", catalogue.MISTAKES + [twin, harmless])
    problems = checks.catalogue_problems(case_set("verify", "public"))
    assert f"a_twin: answers like {original.name} on every case" in problems
    assert "no_mistake_at_all: right on every case" in problems


def test_no_right_answer_is_zero_by_accident():
    for exercise in EXERCISES:
        for which in ("public", "grader"):
            cases = case_set(exercise, which)
            for expected in cases.expected:
                if "returned" in expected:
                    value = expected["returned"] if exercise == "triplet_loss" else expected["returned"]["items"][0]
                    assert value > 0.05, (exercise, which, value)


def test_the_references_pass_and_the_notebooks_solutions_agree():
    from tests.grading.fixtures import make_fixtures

    solutions = make_fixtures.exercise_cells(make_fixtures.read_source())
    for exercise in EXERCISES:
        for which in ("public", "grader"):
            assert run_source(catalogue.REFERENCES[exercise].source, exercise, which) is None
            assert run_source(solutions[exercise], exercise, which) is None, (exercise, which)


def test_untidy_answers_earn_the_points_and_get_their_note():
    assert {entry.name for entry in catalogue.UNTIDY} >= {"numpy_bool", "one_element_array", "tensor_distance"}
    for entry in catalogue.UNTIDY:
        for which in ("public", "grader"):
            cases = case_set(entry.exercise, which)
            raw = checks.run(checks.load(entry.source, entry.exercise), cases, keep_raw=True)
            plain = [{key: value for key, value in answer.items() if key not in ("raw", "exception")} for answer in raw]
            assert cases.message(plain) is None, entry.name
            assert entry.hint in checks.teaching_notes(entry.exercise, raw), entry.name
    reference = checks.load(catalogue.REFERENCES["verify"].source, "verify")
    assert checks.teaching_notes("verify", checks.run(reference, case_set("verify", "public"), keep_raw=True)) == []


# ---------------------------------------------------------------------------------------------
# Rules decided by values: the gradient, the database, the messages


NUMPY_IN_A_TENSOR = '''def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = (np.asarray(part) for part in y_pred)
    basic = np.sum((anchor - positive) ** 2, axis=-1) - np.sum((anchor - negative) ** 2, axis=-1) + alpha
    return tf.constant(np.sum(np.maximum(basic, 0.0)), dtype=tf.float32)
'''
STOPPED_GRADIENT = '''def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], tf.stop_gradient(y_pred[2])
    basic = tf.reduce_sum(tf.square(anchor - positive), -1) - tf.reduce_sum(tf.square(anchor - negative), -1) + alpha
    return tf.reduce_sum(tf.maximum(basic, 0.0))
'''
RELU_LOSS = '''def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred
    basic = tf.norm(anchor - positive, axis=-1) ** 2 - tf.norm(anchor - negative, axis=-1) ** 2 + alpha
    return tf.reduce_sum(tf.nn.relu(basic))
'''
NORMALISES_THE_DATABASE = '''def verify(image_path, identity, database, model):
    if identity not in database:
        raise ValueError(f"{identity!r} is not in the database")
    dist = float(np.linalg.norm(img_to_encoding(image_path, model) - database[identity]))
    database[identity] /= np.linalg.norm(database[identity])  # tidy the database up for next time
    return dist, bool(dist < THRESHOLD)
'''


def test_a_numpy_loss_in_a_tensor_has_no_gradient_and_gets_the_catalogues_hint():
    hint = next(entry.hint for entry in catalogue.mistakes("triplet_loss") if entry.name == "returns_numpy")
    assert run_source(NUMPY_IN_A_TENSOR, "triplet_loss") == hint
    assert run_source(NUMPY_IN_A_TENSOR, "triplet_loss", "grader", seed=4) == hint


def test_a_stopped_gradient_is_wrong_and_a_relu_is_right():
    assert "its gradient is not" in run_source(STOPPED_GRADIENT, "triplet_loss")
    assert run_source(RELU_LOSS, "triplet_loss") is None and run_source(RELU_LOSS, "triplet_loss", "grader", 5) is None


def test_a_change_to_the_database_shows_in_the_answers_of_later_cases():
    for which in ("public", "grader"):
        message = run_source(NORMALISES_THE_DATABASE, "verify", which)
        assert message.startswith("verify changed the database it was given: asked again at the end"), message


def test_answers_from_a_sandbox_are_checked_field_by_field():
    good = {"returned": {"items": [0.5, True], "length": 2}}
    assert answers.is_answer(good)
    for bad in ({"returned": {"items": [0.5, True], "length": 1}}, {"returned": {"kind": "float"}},
                {"returned": 1}, {"returned": 0.5, "extra": 1}, {"raised": {"type": "ValueError"}},
                {"returned": {"items": [[0.5]] * 9, "length": 9}}, {"returned": "x" * 1000}):
        assert not answers.is_answer(bad), bad
    assert answers.is_answer({"returned": 1.0, "gradient": [[0.0] * 4] * 3}, [4, 4, 4])
    assert not answers.is_answer({"returned": 1.0, "gradient": [[0.0] * 3] * 3}, [4, 4, 4])
    assert not answers.is_answer({"returned": 1.0, "gradient": [[0] * 4] * 3}, [4, 4, 4])


def test_every_number_form_the_docstring_allows_is_a_number():
    import tensorflow as tf

    for value in (0.5, np.float32(0.5), np.float64(0.5), np.array(0.5), np.array([0.5]), tf.constant(0.5),
                  tf.constant([0.5]), 1, np.int64(1)):
        assert type(answers.encode(value)) is float, value
    assert answers.encode(np.bool_(True)) is True and answers.encode(np.str_("ana")) == "ana"
    assert answers.encode(np.zeros(3)) == {"array": [3]}


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
LONG_MESSAGE = '''def verify(image_path, identity, database, model):
    if identity not in database:
        raise ValueError("Sorry, this person is not one of the people this door knows about. " * 5 + repr(identity))
    dist = float(np.linalg.norm(img_to_encoding(image_path, model) - database[identity]))
    return dist, bool(dist < THRESHOLD)
'''
ZERO_D_ARRAY = '''def who_is_it(image_path, database, model):
    encoding = img_to_encoding(image_path, model)
    names = list(database)
    if not names:
        return np.array(np.inf), None
    between = np.linalg.norm(np.stack([database[name] for name in names]) - encoding, axis=1)
    best = int(np.argmin(between))
    return np.array(between[best]), names[best] if between[best] < THRESHOLD else None
'''


def test_a_placeholder_is_not_written_yet_and_nothing_else():
    assert run_source(PLACEHOLDER, "verify") == checks.NOT_WRITTEN.format(exercise="verify")


def test_a_crash_names_the_exception_the_line_and_the_case():
    message = run_source(CRASHES, "who_is_it")
    assert message.startswith("who_is_it raised ZeroDivisionError: division by zero (line 3 of your cell) for a database of")


def test_an_unknown_combination_shows_input_expected_and_returned_rounded():
    message = run_source(TWO_MISTAKES, "verify")
    assert re.fullmatch(r"For identity '\w+' at L2 distance \d\.\d{4} from the photo, THRESHOLD = [\d.]+: "
                        r"expected \(\d\.\d{4}, (True|False)\), verify returned \(\d\.\d{4}, (True|False)\)\.", message), message
    message = run_source(ALWAYS_OPEN, "verify")
    assert message.startswith("For identity 'dev' at L2 distance 1.2100") and "expected (1.2100, False)" in message
    assert run_source(RETURNS_A_STRING, "triplet_loss") == "triplet_loss must return a TensorFlow tensor holding one number, got 'a loss'."


def test_messages_never_carry_unrounded_numbers():
    for source, exercise in ((CRASHES, "who_is_it"), (TWO_MISTAKES, "verify"), (ALWAYS_OPEN, "verify")):
        assert not re.search(r"\d\.\d{5}", run_source(source, exercise))


def test_a_long_message_naming_the_identity_at_its_end_and_a_0_d_array_are_right():
    for which in ("public", "grader"):
        assert run_source(LONG_MESSAGE, "verify", which) is None
        assert run_source(ZERO_D_ARRAY, "who_is_it", which) is None


# ---------------------------------------------------------------------------------------------
# The public tests in the notebook


@pytest.fixture
def stand_in_photo(monkeypatch):
    """The public tests' photo and its encoding, without the model."""
    encoding = checks.stand_in_encoding(0)
    monkeypatch.setattr(public_tests, "_test_photo", lambda: "photo.jpg")
    monkeypatch.setattr(embeddings, "img_to_encoding", lambda path, model, *rest, **keywords: encoding.copy())
    return encoding


def test_a_public_test_prints_one_line_or_raises_one_message(capsys):
    public_tests.triplet_loss_test(checks.load(catalogue.REFERENCES["triplet_loss"].source, "triplet_loss"))
    assert capsys.readouterr().out == public_tests.PASSED + public_tests.HIDDEN_NOTE + "\n"
    wrong = checks.load(catalogue.mistakes("triplet_loss")[0].source, "triplet_loss")
    with pytest.raises(public_tests.ExerciseTestFailed) as failure:
        public_tests.triplet_loss_test(wrong)
    assert str(failure.value) == f"triplet_loss: {catalogue.mistakes('triplet_loss')[0].hint}"
    assert failure.value._render_traceback_() == [f"\033[91m{failure.value}\033[0m"]


def test_a_wrong_verify_is_not_chained_to_the_guard_that_rightly_raised(stand_in_photo):
    greater = next(entry for entry in catalogue.mistakes("verify") if entry.name == "greater_than")
    with pytest.raises(public_tests.ExerciseTestFailed) as failure:
        public_tests.verify_test(checks.load(greater.source, "verify"), model=None, threshold=THRESHOLD)
    assert str(failure.value) == f"verify: {greater.hint}"
    assert failure.value.__cause__ is None and len(failure.value._render_traceback_()) == 1


def test_a_learners_exception_shows_where_it_came_from_without_the_test_machinery(stand_in_photo):
    with pytest.raises(public_tests.ExerciseTestFailed) as failure:
        public_tests.who_is_it_test(checks.load(CRASHES, "who_is_it"), model=None, threshold=THRESHOLD)
    lines = failure.value._render_traceback_()
    assert lines[0].startswith("\033[91mwho_is_it: who_is_it raised ZeroDivisionError")
    assert any("<who_is_it>" in line and "line 3" in line for line in lines)
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert not any("answers.py" in line or "public_tests.py" in line or "checks.py" in line for line in lines)


def test_public_tests_see_thresholds_of_their_own_and_put_the_learners_back(stand_in_photo, capsys):
    function = checks.load(catalogue.REFERENCES["verify"].source, "verify")
    function.__globals__["THRESHOLD"] = 1.11
    public_tests.verify_test(function, model=None, threshold=1.11)
    assert function.__globals__["THRESHOLD"] == 1.11 and function.__globals__["img_to_encoding"] is None
    assert "All tests passed." in capsys.readouterr().out


def test_an_untidy_right_answer_passes_with_a_note(stand_in_photo, capsys):
    untidy = next(entry for entry in catalogue.UNTIDY if entry.name == "numpy_bool")
    public_tests.verify_test(checks.load(untidy.source, "verify"), model=None, threshold=THRESHOLD)
    printed = capsys.readouterr().out
    assert "All tests passed." in printed and f"Note (no points depend on it): {untidy.hint}" in printed


# ---------------------------------------------------------------------------------------------
# Points and hidden tests: written once, in the instructors' notebook


def test_points_come_from_the_instructors_notebook(tmp_path):
    import nbformat

    points = contract.exercises_and_points()
    assert list(points) == list(EXERCISES) and all(value > 0 for value in points.values())
    notebook = nbformat.read(contract.SOURCE_NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if contract.nbgrader_metadata(cell).get("grade_id") == "test_verify":
            cell.metadata["nbgrader"]["points"] = points["verify"] + 2
    edited = tmp_path / "edited.ipynb"
    nbformat.write(notebook, edited)
    assert contract.exercises_and_points(edited)["verify"] == points["verify"] + 2


def test_hidden_tests_are_the_instructors_own_lines_and_must_be_python(tmp_path):
    import nbformat

    assert contract.hidden_tests() == {}  # only the lines that run the grader's own cases
    notebook = nbformat.read(contract.SOURCE_NOTEBOOK, as_version=4)
    cell = next(cell for cell in notebook.cells if contract.nbgrader_metadata(cell).get("grade_id") == "test_verify")
    cell.source = cell.source.replace("### END HIDDEN TESTS", "assert verify is not None\n### END HIDDEN TESTS")
    nbformat.write(notebook, tmp_path / "added.ipynb")
    assert contract.hidden_tests(tmp_path / "added.ipynb") == {"verify": "assert verify is not None"}
    cell.source = cell.source.replace("assert verify is not None", "assert verify(")
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    with pytest.raises(contract.ContractError, match="hidden test of verify .* is not valid Python"):
        contract.hidden_tests(tmp_path / "broken.ipynb")
