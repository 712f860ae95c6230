"""One self-contained HTML page per pipeline run: settings, data, training, evaluation, samples.

Images (matplotlib) and audio are embedded as data URIs, so ``report.html`` opens in any
browser from anywhere, with no server and no files beside it. The page holds no timestamps:
a resumed run writes the same page as an uninterrupted one.
"""

from __future__ import annotations

import base64
import collections
import html
import io
import json
import wave
from pathlib import Path

import numpy as np

from melodyrnn.core.atomic import atomic_write_text

__all__ = ["write_report", "training_curves_png"]

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}h1{margin-bottom:0}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid
#ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:
left}pre{background:#f7f7f7;padding:.8em;overflow:auto}.sample{margin:1em 0}img{max-width:100%}
.muted{color:#777}"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _audio(wav_path: Path) -> str:
    """An <audio> player with the WAV embedded, mixed down to mono 16-bit to halve its size."""
    with wave.open(str(wav_path)) as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        frames = w.readframes(w.getnframes())
    if width == 2 and channels > 1:
        pcm = np.frombuffer(frames, "<i2").reshape(-1, channels).mean(axis=1).astype("<i2")
        buf = io.BytesIO()
        with wave.open(buf, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(pcm.tobytes())
        data = buf.getvalue()
    else:
        data = wav_path.read_bytes()
    return f'<audio controls src="data:audio/wav;base64,{base64.b64encode(data).decode()}"></audio>'


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_curves_png(metrics: list[dict], unit: str = "note") -> bytes:
    """Loss, valid bits per ``unit`` and event accuracy per evaluation, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [m["epoch"] + 1 for m in metrics]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), dpi=90)
    axes[0].plot(x, [nats(m, "train_") for m in metrics], "o-", label="train")
    axes[0].plot(x, [nats(m["valid"]) for m in metrics], "o-", label="valid")
    axes[0].set_title("loss (nats/prediction)")
    axes[0].legend()
    axes[1].plot(x, [_bits(m["valid"], unit) for m in metrics], "o-", color="C1")
    axes[1].set_title(f"valid bits/{unit}")
    axes[2].plot(x, [m["valid"].get("event_accuracy") for m in metrics], "o-", color="C2")
    axes[2].set_title("valid event accuracy")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def nats(metrics: dict, prefix: str = "") -> float:
    """The loss of a metrics dict: ``nats_per_event`` (music) or ``nats_per_token`` (text)."""
    return next(v for k, v in metrics.items() if k.startswith(prefix + "nats_per_"))


def _bits(metrics: dict, unit: str):
    """Bits per ``unit`` of a metrics dict (runs made before metrics were named by their
    unit say ``bits_per_note`` whatever the unit)."""
    return metrics.get(f"bits_per_{unit}", metrics.get("bits_per_note"))


def _unit(ingest: Path | None) -> str:
    meta = ingest / "data" / "meta.json" if ingest else None
    return json.loads(meta.read_text()).get("unit", "note") if meta and meta.is_file() else "note"


def _dataset_section(folder: Path | None) -> str:
    if folder is None or not (folder / "data" / "meta.json").is_file():
        return "<p class=muted>no ingest stage</p>"
    meta = json.loads((folder / "data" / "meta.json").read_text())
    units = meta["unit"] + "s"
    rows = [[s, v["sequences"], v["tokens"], v.get(units)] for s, v in meta["splits"].items()]
    out = _table(["split", "sequences", "tokens", units], rows)
    out += "<p>Encoding: <code>" + html.escape(json.dumps(meta["encoding"])) + "</code></p>"
    if meta.get("stats"):
        out += _table(["ingest count", "n"], sorted(meta["stats"].items()))
    records = _read_jsonl(folder / "data" / "report.jsonl")
    bad = [r for r in records if r["status"] != "ok"]
    reasons = collections.Counter(r["reason"].split(":")[0] for r in bad)
    out += (f"<p>{len(records)} files read, {len(records) - len(bad)} ingested, {len(bad)} "
            f"skipped or failed.</p>")
    if bad:
        out += _table(["reason", "files"], reasons.most_common())
        out += ("<details><summary>every skipped file</summary>"
                + _table(["file", "status", "reason"], [[r["path"], r["status"], r["reason"]]
                                                        for r in bad]) + "</details>")
    return out


def _training_sections(trained: dict, unit: str) -> str:
    """One training section per train stage (``trained``: name -> folder; a network, then
    the heads fine-tuned on it)."""
    if len(trained) <= 1:
        return _training_section(next(iter(trained.values()), None), unit)
    return "\n".join(f"<h3>[{html.escape(name)}]</h3>\n{_training_section(folder, unit)}"
                     for name, folder in trained.items())


def _training_section(folder: Path | None, unit: str) -> str:
    metrics = _read_jsonl(folder / "metrics.jsonl") if folder else []
    if not metrics:
        return "<p class=muted>no training metrics</p>"
    best = min(metrics, key=lambda m: nats(m["valid"]))
    try:
        plot = _img(training_curves_png(metrics, unit), "training curves")
    except ImportError:
        plot = "<p class=muted>(plots need matplotlib: pip install 'melodyrnn[render]')</p>"
    return (plot
            + f"<p>Best valid: {_bits(best['valid'], unit):.3f} bits/{unit}, event accuracy "
              f"{best['valid']['event_accuracy']:.3f} (epoch {best['epoch'] + 1} of {len(metrics)}).</p>")


def _evaluation_section(folder: Path | None) -> str:
    if folder is None or not (folder / "evaluate.json").is_file():
        return "<p class=muted>no evaluate stage</p>"
    ev = json.loads((folder / "evaluate.json").read_text())
    m = ev["model"]
    keys = [k for k in ("bits_per_note", "rhythm_bits_per_note", "pitch_bits_per_note",
                        "bits_per_char", "bits_per_token", "nats_per_event", "nats_per_token",
                        "nats_per_token", "perplexity", "accuracy", "event_accuracy", "sequences",
                        "split") if k in m]
    out = "<h3>The model on the held-out split</h3>" + _table(keys, [[
        f"{m[k]:.4f}" if isinstance(m[k], float) else m[k] for k in keys]])
    s = ev.get("samples")
    if s:
        rows = [[name, *(f"{r[k]['mean']:.3f} ± {r[k]['std']:.3f}"
                         for k in ("reference_intra", "generated_intra", "inter")),
                 f"{r['overlap_area']:.3f}", f"{r['kl_divergence']:.3f}"]
                for name, r in s["features"].items()]
        out += (f"<h3>Generated tunes against the held-out tunes</h3><p>{s['generated']} "
                f"generated, {s['reference']} reference tunes; distances between pieces' features "
                "(Yang &amp; Lerch 2020). Overlap area near 1 and KL near 0: alike.</p>"
                + _table(["feature", "reference intra-set", "generated intra-set", "inter-set",
                          "overlap area", "KL"], rows))
        c = s.get("copies")
        if c:
            out += (f"<p>Longest run of notes shared with a training tune: median {c['median']:.0f}, "
                    f"max {c['max']}; {c['at_least']} of {c['tunes']} generated tunes share "
                    f"{c['threshold']} or more notes.</p>")
    if (folder / "continuations.md").is_file():
        out += ("<h3>Continuations of held-out tunes against their real continuations</h3>"
                "<p>Each tune primed with its first bars and continued; form compared bar by bar "
                "(generated / real).</p><pre>" + html.escape((folder / "continuations.md").read_text())
                + "</pre>")
    return out


def _own_file(folder: Path, name) -> bool:
    """Whether ``name`` is a plain file name of a regular file in ``folder``."""
    if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
        return False
    path = folder / name
    return path.is_file() and not path.is_symlink()


def _samples_section(folder: Path | None, audio: int) -> str:
    records = _read_jsonl(folder / "generate.jsonl") if folder else []
    if not records:
        return "<p class=muted>no generate stage</p>"
    out, players = [], 0
    for r in records:
        name = html.escape(Path(r["seed"]).name if r["seed"] != "(none)" else "unprimed")
        if r["status"] != "ok":
            out.append(f"<p>{name}: skipped ({html.escape(r['reason'])})</p>")
            continue
        for o in r["outputs"]:
            if not _own_file(folder, o.get("file")):  # a tampered record: nothing outside the run
                out.append(f"<p>{name}: an output record names {html.escape(repr(o.get('file')))}, "
                           "not a file of this stage; left out</p>")
                continue
            if o["file"].endswith(".txt"):  # a text model's completion of a prompt
                out.append(f"<div class=sample><b>{html.escape(o['file'])}</b> (prompt "
                           f"{html.escape(repr(r['seed']))})<pre>"
                           f"{html.escape((folder / o['file']).read_text())}</pre></div>")
                continue
            mid = folder / o["file"]
            bits = f"{o['bits_per_note']:.3f} bits/note" if o["bits_per_note"] is not None else ""
            part = (f"<div class=sample><b>{html.escape(o['file'])}</b> (seed {name}, "
                    f"{o['notes']} new notes, {bits})<br>")
            if mid.with_suffix(".png").is_file():
                part += _img(mid.with_suffix(".png").read_bytes(), o["file"])
            wav = mid.with_suffix(".wav")
            if players < audio and wav.is_file():
                part += "<br>" + _audio(wav)
                players += 1
            out.append(part + "</div>")
    return "\n".join(out)


def write_report(path: Path, pipeline, folders: dict, audio: int = 4, trained: dict | None = None) -> Path:
    """Write the run's page to ``path`` (atomically); returns ``path``. ``trained`` are the
    train stages' folders by name (default: the one named train). The first ``audio``
    samples with a rendered WAV get an audio player (each embeds about 2 MB)."""
    sections = [
        ("Settings", f"<p>Pipeline file <code>{html.escape(str(pipeline.path))}</code>, run folder "
                     f"<code>{html.escape(str(pipeline.run_dir))}</code>, seed {pipeline.seed}.</p>"
                     f"<pre>{html.escape(pipeline.text)}</pre>"),
        ("Dataset", _dataset_section(folders.get("ingest"))),
        ("Training", _training_sections(trained if trained is not None else
                                        {k: v for k, v in folders.items() if k == "train"},
                                        _unit(folders.get("ingest")))),
        ("Evaluation", _evaluation_section(folders.get("evaluate"))),
        ("Samples", "<p>Primer in green, continuation in orange.</p>"
                    + _samples_section(folders.get("generate"), audio)),
    ]
    body = "\n".join(f"<h2>{title}</h2>\n{content}" for title, content in sections)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>melodyrnn: "
            f"{html.escape(pipeline.name)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>melodyrnn run: {html.escape(pipeline.name)}</h1>{body}</body></html>\n")
    atomic_write_text(path, page)
    return Path(path)
