"""Event datasets of neuro (installed as ``neuro.datasets``)."""

if __name__ != "neuro.datasets":  # the folder is named datasets/ but must never be imported as such
    raise ImportError(
        "the datasets/ folder of the neuro repository is the package 'neuro.datasets'; it was imported "
        f"as {__name__!r} because the repository root is on sys.path (this would shadow the PyPI "
        "package 'datasets'). Install neuro (pip install -e .) and import neuro.datasets; run tests "
        "with `pytest`, not `python -m pytest`."
    )
