"""Grading students' notebooks: each exercise in an OS sandbox, answers checked as data.

    python -m grading submissions/ --report grades.json           # the command line (cli.py)
    python -m pytest --submission submissions/ --grade-report grades.json   # the pytest plugin

- ``submissions``: finding the notebooks and reading their exercise cells as untrusted data;
- ``sandbox``, ``cgroups``, ``landlock``, ``resources``: the sandbox, its limits and the memory
  it may use;
- ``child``, ``cells``: what runs inside the sandbox (the cells, turned into Python as IPython
  would, then the cases);
- ``grader``: the cases, the answers' checks, the budgets and the reports;
- ``cli``, ``pytest_plugin``: the two ways to run it.

What is graded, the cases and the messages come from ``exercises/``.
"""
