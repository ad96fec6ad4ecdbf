"""The fixture notebooks here are driven in a browser by test_lab.py, not run by nbval."""

collect_ignore_glob = ["*.ipynb", "artifacts/*"]
