"""Training-side code: synthetic data, datasets, the CRNN network, training, evaluation, export.

Needs the ``train`` extra (torch).  Nothing in ``ocr_server`` imports this package.
"""
