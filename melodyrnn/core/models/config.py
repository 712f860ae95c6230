"""Model settings: one frozen dataclass, saved in every checkpoint as plain JSON."""

from __future__ import annotations

from dataclasses import dataclass

from melodyrnn.core.models.plugins import plugin_kinds

__all__ = ["ModelConfig", "KINDS", "ADD_ON_WEIGHTS"]

KINDS = ("rnn", "lstm", "gru", "attention")
# config fields that fine-tuning may switch on for a trained network, and the names
# their new weights start with
ADD_ON_WEIGHTS = {"bar_copy": "bar_copy.", "copy_continue": "bar_copy.cont.", "copy_length": "bar_copy.span"}
# upper bounds that keep a (possibly hostile) config from allocating gigabytes
LIMITS = {"vocab_size": 1 << 20, "embedding": 8192, "hidden": 8192, "layers": 32,
          "attention_length": 4096, "attention_dim": 8192, "max_period": 1024, "num_classes": 1 << 16}


@dataclass(frozen=True)
class ModelConfig:
    """Settings of a :class:`~melodyrnn.core.models.network.SequenceModel`.

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    kind : str
        ``rnn`` (Elman), ``lstm``, ``gru``, or ``attention`` (an LSTM with additive
        attention over its last ``attention_length`` outputs, as Magenta's attention_rnn),
        or the name of an installed model plugin (:mod:`melodyrnn.core.models.plugins`).
    embedding, hidden, layers : int
        Embedding size, hidden size per layer, number of recurrent layers.
    dropout : float
        Dropout between layers and before the output layer.
    tie_weights : bool
        Share the input embedding with the output layer (a projection bridges sizes).
    fused : bool
        ``rnn`` only: run torch's fused kernel instead of the written-out equations.
    attention_length, attention_dim : int
        ``attention`` only: outputs attended over, and size of the additive scorer.
    lookback : bool
        Add lookback inputs: the tokens ``lookback_bars`` bars back (relative to the token
        being predicted), whether the input repeats them, and the position in the bar.
        Bars come per sequence (``periods``); sequences with period 0 get zeros.
    lookback_bars : tuple of int
        How far back, in bars: Magenta's lookback_rnn uses (1, 2); folk tunes also repeat
        whole 4- and 8-bar phrases, which (1, 2, 4, 8) reaches.
    max_period : int
        Longest bar, in tokens, that lookback can reach (history kept in the state).
    num_classes : int
        Size of the many-to-one classification head (0: none).
    bar_index : bool
        With ``lookback``: also input the index of the target's bar in the sequence, as
        bits (its place in 2-, 4-, 8-, 16- and 32-bar blocks), so that the network knows
        where it is in the tune's form (after A A comes B).
    bar_copy : int
        With ``lookback``: a form head that, at each bar line, weighs repeating one of the
        last ``bar_copy`` bars against a new bar (:mod:`melodyrnn.core.models.barcopy`); 0: off.
    copy_continue : bool
        With ``bar_copy``: the head also reads the network's output for each repeat under way
        (a bar that already repeats the bar ``d`` back), so that how likely a repeat goes on
        depends on the tune, not only on the streak's length.
    copy_length : bool
        With ``bar_copy``: the head also reads how long the tune is (a length class in bars,
        :data:`~melodyrnn.core.models.form.SPAN_EDGES`) with the bar's index, so that bar 9
        of a 32-bar reel (A A B B) can repeat bar 1 where bar 9 of a 16-bar one (A B) starts B.
        Training reads each tune's own length; decoding infers it from the primer and the
        bars asked for (:mod:`melodyrnn.core.continuation`); scoring charges the length class's
        code length under the training prior, so bits/note stay an honest code length.
    """

    vocab_size: int
    kind: str = "lstm"
    embedding: int = 128
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.0
    tie_weights: bool = False
    fused: bool = True
    attention_length: int = 40
    attention_dim: int = 64
    lookback: bool = False
    lookback_bars: tuple[int, ...] = (1, 2)
    max_period: int = 128
    num_classes: int = 0
    bar_index: bool = False
    bar_copy: int = 0
    copy_continue: bool = False
    copy_length: bool = False

    def __post_init__(self) -> None:
        for name, top in LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, not {type(value).__name__}")
            if not 0 <= value <= top:
                raise ValueError(f"{name} = {value} is outside 0..{top}")
        if not isinstance(self.kind, str):
            raise ValueError("kind must be a string")
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool):
            raise ValueError("dropout must be a number")
        if not isinstance(self.lookback_bars, (list, tuple)) or not all(
                isinstance(b, int) and not isinstance(b, bool) and 0 < b <= 64 for b in self.lookback_bars):
            raise ValueError("lookback_bars must be bar counts 1..64")
        if not isinstance(self.bar_copy, int) or isinstance(self.bar_copy, bool):
            raise ValueError("bar_copy must be an integer")
        if self.kind not in KINDS and self.kind not in plugin_kinds():
            raise ValueError(f"unknown model kind {self.kind!r}; choose from "
                             f"{', '.join([*KINDS, *plugin_kinds()])}")
        if min(self.vocab_size, self.embedding, self.hidden, self.layers) < 1:
            raise ValueError("vocab_size, embedding, hidden and layers must be positive")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")
        object.__setattr__(self, "lookback_bars", tuple(int(b) for b in self.lookback_bars))
        if not self.lookback_bars or min(self.lookback_bars) < 1:
            raise ValueError("lookback_bars must be one or more positive bar counts")
        if not 0 <= self.bar_copy <= 32:
            raise ValueError("bar_copy must be 0 (off) to 32 bars")
        if self.bar_copy and not self.lookback:
            raise ValueError("bar_copy needs lookback (the bar length comes with it)")
        if not isinstance(self.copy_continue, bool):
            raise ValueError("copy_continue must be true or false")
        if self.copy_continue and not self.bar_copy:
            raise ValueError("copy_continue needs bar_copy (it is part of the form head)")
        if not isinstance(self.copy_length, bool):
            raise ValueError("copy_length must be true or false")
        if self.copy_length and not self.bar_copy:
            raise ValueError("copy_length needs bar_copy (it is part of the form head)")
        if self.bar_index and not self.lookback:
            raise ValueError("bar_index needs lookback (the bar length comes with it)")
        if self.kind == "attention" and self.attention_length < 1:
            raise ValueError("attention_length must be positive")
