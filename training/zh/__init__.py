"""The Chinese + English profile's own pieces (charset, fonts, text, rendering, evaluation lines).

Torch-free, so the benchmarks (``.venv-bench``) and the tests can use them without the training
extra; the training loop itself is the shared ``training.train`` with ``--profile zh``.
"""
