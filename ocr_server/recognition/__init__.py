"""Text-line recognition: charset, CTC decoding, model registry and the ONNX Runtime recognizer.

Nothing here imports torch; the network definition lives in ``training/`` with the trainer.
"""
