"""Course tooling for a checkout of the repository (not part of the installed ``bam`` package).

    python -m tools.course refresh NOTEBOOK [NOTEBOOK ...]   run in fast mode, keep checked outputs
    python -m tools.course strip NOTEBOOK [NOTEBOOK ...]     the same cleaning, without running
    python -m tools.course student [--check]                 write (or verify) notebooks/student/
    python -m tools.course sync [--check]                    time lines and the guide's answers
    python -m tools.course set-repo https://github.com/OWNER/REPO

One module per job:

- ``cli``: the command line above (``__main__`` runs it).
- ``layout``: where the lessons and their student copies are in the checkout.
- ``notebook``: the committed form of a notebook (reading, cleaning, writing).
- ``refresh``: running a lesson in fast mode and cleaning it (``refresh``, ``strip``).
- ``cells``: what a code cell's Python binds and reads.
- ``solutions``: the ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` regions and their stubs.
- ``student``: student copies (``student``).
- ``syllabus``: each lesson's time, prerequisites and exercise difficulties, from
  ``notebooks/lessons.toml``.
- ``answers``: the answers folded under a lesson's questions, and the guide's copy of them.
- ``sync``: writes both into the lessons and the guide (``sync``).
- ``repo``: the repository address, the Colab links and install cell made from it (``set-repo``).
- ``rules``: the rules a committed lesson or student copy follows (docs/authoring.md).

They need ``nbformat`` and, to run notebooks, ``nbclient`` (both in the ``dev`` extra).
"""
