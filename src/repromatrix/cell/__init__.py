"""What runs inside the pinned venv (Python 3.9 + TensorFlow): one cell -> one artifact."""
