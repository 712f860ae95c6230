"""Model settings: one frozen dataclass, saved in every checkpoint as plain JSON."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from melodyrnn.core.models.plugins import plugin_kinds

__all__ = ["ModelConfig", "FormConfig", "KINDS", "FORM_WEIGHTS", "FORM_PARTS", "form_fields"]

KINDS = ("rnn", "lstm", "gru", "attention")
FORM_WEIGHTS = "bar_copy."  # the form head's weights' names begin so (the part fine-tuning may add)
#: the form head's optional parts, each a flag on a head, with the prefix of the weights it adds
FORM_PARTS = {"cont": "cont.", "length": "span", "plan": "plan."}
# the form head's config fields as checkpoints before 0.2 wrote them, flat in the model's
_FLAT_FORM = {"bar_copy": "bars", "copy_continue": "cont", "copy_length": "length"}


def form_fields(d: dict) -> dict:
    """The form head's fields in a plain model dict: its ``form`` table, with the flat names
    checkpoints of 0.1 wrote (``bar_copy``, ``copy_continue``, ``copy_length``) over it."""
    return {**dict(d.get("form") or {}), **{_FLAT_FORM[k]: v for k, v in d.items() if k in _FLAT_FORM}}


@dataclass(frozen=True)
class FormConfig:
    """The form head (:mod:`melodyrnn.core.models.form`): at each bar line it weighs copying
    one of the last ``bars`` bars, exactly or varied, against a new bar.

    Parameters
    ----------
    bars : int
        How many earlier bars it may copy, 0 (no head) to 32; needs the model's lookback
        (the bar length comes with it).
    cont : bool
        The head also reads the network's output for each repeat under way (a bar that
        already repeats the bar ``d`` back), so that how likely a repeat goes on depends on
        the tune, not only on the streak's length.
    length : bool
        The head also reads how long the tune is (a length class in bars,
        :data:`~melodyrnn.core.models.form.SPAN_EDGES`) with the bar's index, so that bar 9
        of a 32-bar reel (A A B B) can repeat bar 1 where bar 9 of a 16-bar one (A B) starts B.
        Training reads each tune's own length; decoding infers it from the primer and the
        bars asked for; scoring charges the length class's code length under the training
        prior, so bits/note stay an honest code length.
    plan : bool
        The section plan: with ``length``, the network also reads the bar's place in a tune
        of its length class (a learned vector added to its input token's embedding,
        :func:`~melodyrnn.core.models.form.plan_input`), so that the notes, not only the
        head's repeats, know where sections begin and end: a B part where B comes, a cadence
        where a section closes. Decoding samples the plan with the length class.
    """

    bars: int = 0
    cont: bool = False
    length: bool = False
    plan: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.bars, int) or isinstance(self.bars, bool) or not 0 <= self.bars <= 32:
            raise ValueError("form.bars must be 0 (no form head) to 32 bars")
        for name in FORM_PARTS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"form.{name} must be true or false")
            if getattr(self, name) and not self.bars:
                raise ValueError(f"form.{name} needs form.bars (it is part of the form head)")
        if self.plan and not self.length:
            raise ValueError("form.plan needs form.length (the plan is the bar's place in a tune "
                             "of its length)")

    def new_weights(self, old: FormConfig) -> tuple[str, ...]:
        """Names (prefixes) of the weights this head has and one configured as ``old`` lacks:
        what fine-tuning starts new when it adds to a trained network's head."""
        if not self.bars:
            return ()
        if not old.bars:
            return (FORM_WEIGHTS,)
        return tuple(FORM_WEIGHTS + prefix for part, prefix in FORM_PARTS.items()
                     if getattr(self, part) and not getattr(old, part))
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
    form : FormConfig
        The form head (none by default); a plain dict of its fields is accepted.
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
    form: FormConfig = field(default_factory=FormConfig)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """The config of a plain dict (a checkpoint's ``model_config``); the form head's fields
        may come flat, as checkpoints of 0.1 wrote them (``bar_copy``, ``copy_continue``,
        ``copy_length``)."""
        d = {k: v for k, v in d.items() if k not in _FLAT_FORM} | {"form": form_fields(d)}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model setting {unknown[0]!r}")
        return cls(**d)

    def __post_init__(self) -> None:
        if isinstance(self.form, dict):
            object.__setattr__(self, "form", FormConfig(**self.form))
        if not isinstance(self.form, FormConfig):
            raise ValueError("form must be a table of the form head's settings")
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
        if self.form.bars and not self.lookback:
            raise ValueError("the form head needs lookback (the bar length comes with it)")
        if self.bar_index and not self.lookback:
            raise ValueError("bar_index needs lookback (the bar length comes with it)")
        if self.kind == "attention" and self.attention_length < 1:
            raise ValueError("attention_length must be positive")
