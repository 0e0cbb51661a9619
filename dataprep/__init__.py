"""dataprep: from a folder of labelled photos to a trained image classifier.

The Python API behind every command. Nothing here imports TensorFlow at module level, so
`import dataprep` and `dataprep --help` stay fast.
"""

__version__ = "0.1.0"
