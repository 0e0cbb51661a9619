"""Pretrained eyes: the ImageNet backbone, its weights, and the cached embeddings made with it.

`torch_weights` reads the installed weights file without running code from it, `backbone` builds
the Keras network and resolves which weights it gets, `embed` turns a folder into one
L2-normalised vector per image, `neighbours` finds nearest vectors, `outliers` scores images unlike
their class, and `embed_cli` / `outliers_cli` are their commands. Keras and TensorFlow are imported only inside the functions that
build or run a network, so importing this package stays cheap.
"""
