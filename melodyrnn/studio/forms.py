"""Form fields -> generate settings, named like the ``melodyrnn generate`` options.

``num_outputs`` and ``num-outputs`` are the same field. Values arrive as strings (an HTML
form, ``curl -F``); each is parsed and range-checked here, and anything unusable is a
``ValueError`` whose message is one line naming the field. A request's work -- bars x
outputs x beam x branches -- is held to the budget every caller of generation shares,
:data:`melodyrnn.music.generated.MAX_WORK` (``GenerateConfig`` refuses more), so that no one
request keeps the machine for minutes while others wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from melodyrnn.core.sampling import MIN_TEMPERATURE
from melodyrnn.music.generated import MAX_BARS, MAX_OUTPUTS, GenerateConfig
from melodyrnn.settings import generate_config

__all__ = ["GenerateForm", "parse_form", "FIELDS", "STUDIO_MAX_OUTPUTS"]

STUDIO_MAX_OUTPUTS = 16  # one request's outputs: a page of cards, not a batch job
MAX_FIELD_CHARS = 1024  # one field's text (the history keeps it)
_TRUE, _FALSE = {"1", "true", "on", "yes"}, {"0", "false", "off", "no", ""}


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not lo <= value <= hi:
            raise ValueError(f"must be {lo}..{hi}")
        return value
    return parse


def _float(lo: float, hi: float, open_low: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not (lo < value if open_low else lo <= value) or value > hi or value != value:
            raise ValueError(f"must be {'>' if open_low else '>='} {lo:g} and <= {hi:g}")
        return value
    return parse


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low not in _TRUE | _FALSE:
        raise ValueError("must be true or false")
    return low in _TRUE


def _text(text: str) -> str | None:
    return text.strip() or None


def _pitch_range(text: str) -> tuple[int, int] | None:
    parts = text.replace(",", " ").split()
    if not parts:
        return None
    if len(parts) != 2:
        raise ValueError("must be two pitches, LOW HIGH")
    low, high = (_int(0, 127)(p) for p in parts)
    return low, high


#: field -> parser; the ``generate_config`` keyword of the same name takes the value
FIELDS: dict[str, Callable[[str], object]] = {
    "num_outputs": _int(1, STUDIO_MAX_OUTPUTS), "bars": _int(1, MAX_BARS),
    "steps": _int(0, MAX_BARS * 96), "temperature": _float(MIN_TEMPERATURE, 10),
    "top_k": _int(0, 10 ** 6), "top_p": _float(0, 1, open_low=True), "greedy": _bool,
    "beam_size": _int(1, 256), "branch_factor": _int(1, 256),
    "steps_per_iteration": _int(1, 4096), "key": _text, "pitch_range": _pitch_range,
    "continuation_only": _bool, "track": _text, "seed": _int(0, 2 ** 63 - 1),
    "primer_bars": _int(0, MAX_BARS), "from_bar": _int(1, 10 ** 6),
    "phrase_bars": _int(1, MAX_BARS), "max_plays": _int(0, MAX_OUTPUTS),
    "until_end": _bool, "allow_parallels": _bool,
}
#: fields that are not generate settings: which model, which stored seed, primer pitches
OTHER_FIELDS = ("model", "seed_id", "primer")


@dataclass(frozen=True)
class GenerateForm:
    """What one ``POST /api/generate`` asks for.

    ``model`` is a model name the studio knows (None: chosen from the seed), ``seed_id`` a
    seed stored by ``POST /api/seeds`` (None: the request's upload or no seed), ``primer``
    pitches as ``melodyrnn generate --primer`` takes them; ``fields`` the request's fields
    as they came (the history keeps them).
    """

    config: GenerateConfig
    model: str | None = None
    seed_id: str | None = None
    primer: str | None = None
    fields: dict = field(default_factory=dict)


def parse_form(form: Mapping[str, str]) -> GenerateForm:
    """A :class:`GenerateForm` from request fields (``-`` and ``_`` alike in names).

    Raises
    ------
    ValueError
        For an unknown field, an unusable value or settings that do not fit together.
    """
    values, other = {}, {}
    for raw_name, text in form.items():
        name = raw_name.replace("-", "_")
        if len(text) > MAX_FIELD_CHARS:
            raise ValueError(f"field {raw_name[:40]!r}: {len(text)} characters, more than the "
                             f"{MAX_FIELD_CHARS} a field may have")
        if name in OTHER_FIELDS:
            other[name] = _text(text)
            continue
        if name not in FIELDS:
            raise ValueError(f"unknown field {raw_name[:40]!r}; fields are named like the "
                             f"`melodyrnn generate` options, e.g. num_outputs, bars, temperature")
        try:
            values[name] = FIELDS[name](text)
        except ValueError as e:
            reason = str(e) if "must" in str(e) else "not a valid value"
            raise ValueError(f"field {raw_name[:40]!r} = {text[:40]!r}: {reason}") from None
    return GenerateForm(generate_config(**values), **other, fields=dict(form.items()))
