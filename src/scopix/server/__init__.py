"""The Scopix server: API, catalog, storage, jobs and the vision pipeline."""

import os

# numpy's BLAS would start a thread per core for each matrix product. The server's products
# (a query against 100k vectors: a few milliseconds) gain little from them, and those threads
# then spin against the event loop and the ONNX models for the same two cores: query times
# had 50-160 ms tails with them, 15 ms without. Set before anything imports numpy; an explicit
# setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
