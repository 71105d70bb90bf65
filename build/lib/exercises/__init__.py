"""The exercise contract: what the learner writes, how an answer is checked, what they are told.

- ``contract``: which exercises are graded and for how many points, and the instructors' hidden
  tests, read from ``source/Face_Recognition.ipynb``;
- ``answers``: calling an exercise function on a case, and what came back, as plain data;
- ``catalogue``: the right implementation of each exercise and the mistakes learners make, each
  with its hint;
- ``checks``: the cases, the right answers, and the one message per exercise;
- ``public_tests``: the tests the notebook runs after each exercise.

The notebook imports ``exercises.public_tests``; the grader (``grading/``) uses the same checks.
"""
