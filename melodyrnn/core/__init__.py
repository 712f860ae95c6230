"""The sequence core: ids in, ids out; it knows no music and no text.

Owns the vocabulary, the generic :class:`~melodyrnn.core.encoding.Encoding` and its registry,
dataset folders (flat memmapped splits, written whole), batching (TBPTT plans), the models
(Elman, LSTM, GRU, attention, the bar-copy head), training, checkpoints, metrics, sampling,
beam search and continuation. Imports nothing from ``music``, ``text``, ``pipeline``,
``live`` or ``cli``; an encoding's own methods turn files into ids.
"""
