"""Image decoding (with its hostile-input guards) and the OpenCV preprocessing stage."""
