"""``brushwork serve``: a web page and an HTTP API over a persistent job queue (the ``[server]`` extra).

``config`` holds its settings, ``store`` the jobs (SQLite plus a folder per job), ``worker`` the
processes that run them, ``forms`` and ``uploads`` what a submission is checked against, ``app`` the
FastAPI application and ``static/`` the page it serves.
"""
