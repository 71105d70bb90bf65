"""One test per exercise of each submission given with --submission."""


def test_exercise(submission, exercise, grade_reports):
    result = grade_reports[submission]["exercises"][exercise]
    assert result["points"] == result["max_points"], result["message"]
