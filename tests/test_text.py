import json

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from melodyrnn.cli.main import main
from melodyrnn.text.encodings import CharEncoding, WordEncoding
from melodyrnn.core.registry import encoding_from_dict
from melodyrnn.text.encodings import CharConfig, WordConfig, split_documents


def test_char_encoding_by_hand():
    enc = CharEncoding(CharConfig(" ab"))
    # ids: <pad> 0, <s> 1, </s> 2, <unk> 3, then the alphabet: " " 4, "a" 5, "b" 6
    assert enc.encode_text("ab a").tolist() == [1, 5, 6, 4, 5, 2]
    assert enc.encode_text("abc").tolist() == [1, 5, 6, 3, 2]  # c was never seen
    assert enc.decode_text([1, 5, 6, 3, 2, 5]) == "ab\ufffd"  # stops at </s>


def test_word_encoding_by_hand():
    enc = WordEncoding(WordConfig(("hello",), " ,ehilo"))
    # <unk> 3, alphabet " " 4 "," 5 "e" 6 "h" 7 "i" 8 "l" 9 "o" 10, then w:hello 11
    assert enc.encode_text("hello, hi").tolist() == [1, 11, 5, 4, 7, 8, 2]
    assert enc.decode_text(enc.encode_text("hello, hi")) == "hello, hi"


TEXT = st.text(alphabet=st.sampled_from(list("abc de,.\n!'")), max_size=80)


@settings(max_examples=100, deadline=None)
@given(corpus=st.lists(TEXT, min_size=1, max_size=5), text=TEXT)
def test_text_encodings_round_trip(corpus, text):
    for enc in (CharEncoding.fit(corpus + [text]), WordEncoding.fit(corpus, min_count=1)):
        enc = encoding_from_dict(json.loads(json.dumps(enc.to_dict())))  # as a checkpoint keeps it
        ids = enc.encode_text(text)
        if isinstance(enc, CharEncoding) or set(text) <= set(enc.config.alphabet):
            assert enc.decode_text(ids) == text


def test_split_documents():
    assert split_documents("a\n%\nb\nc\n%\n", "%") == ["a\n", "b\nc\n"]
    assert split_documents("a\n\n\nb\n", "") == ["a\n", "b\n"]
    assert split_documents("1\n2\n3\n", "lines:2") == ["1\n2\n", "3\n"]


def test_text_dataset_train_evaluate_and_prompt(tmp_path):
    docs = [f"the cat {i % 7} sat on the mat and the dog {i % 5} ran.\n" for i in range(120)]
    (tmp_path / "t.txt").write_text("%\n".join(docs))
    run = CliRunner()
    r = run.invoke(main, ["ingest", str(tmp_path / "t.txt"), "-o", str(tmp_path / "ds"),
                          "--encoding", "char", "--valid", "0.1", "--test", "0.1"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["documents"] == 120 and sum(s["sequences"] for s in out["splits"].values()) == 120
    r = run.invoke(main, ["train", str(tmp_path / "ds"), "-o", str(tmp_path / "run"), "--hidden", "64",
                          "--layers", "1", "--embedding", "16", "--epochs", "8", "--batch-size", "8",
                          "--seq-len", "64", "--lr", "1e-2", "--warmup", "5", "-q"])
    assert r.exit_code == 0, r.output
    ckpt = str(tmp_path / "run" / "best.pt")
    r = run.invoke(main, ["evaluate", ckpt, str(tmp_path / "ds")])
    on_split = json.loads(r.stdout)
    assert on_split["bits_per_char"] < 2.0 and "nats_per_token" in on_split  # uniform: 4.3
    assert "bits_per_note" not in on_split and "notes" not in on_split
    (tmp_path / "new.txt").write_text("the cat 3 sat on the mat and the dog 1 ran.\n")
    r = run.invoke(main, ["evaluate", ckpt, str(tmp_path / "new.txt")])
    assert r.exit_code == 0 and json.loads(r.stdout)["chars"] == 44
    r = run.invoke(main, ["generate", "--model", ckpt, "--prompt", "the cat", "--num-outputs", "2",
                          "--steps", "30", "--seed", "1"])
    assert r.exit_code == 0, r.output
    outs = r.stdout.split("\n%\n")
    assert len(outs) == 2 and all(o.startswith("the cat") for o in outs)
    again = run.invoke(main, ["generate", "--model", ckpt, "--prompt", "the cat", "--num-outputs", "2",
                              "--steps", "30", "--seed", "1"])
    assert again.stdout == r.stdout
    r = run.invoke(main, ["generate", "--prompt", "hello"])  # the default model is a melody model
    assert r.exit_code == 1 and "needs a text model" in r.output and "Traceback" not in r.output


def test_dataset_from_token_lists_trains_and_completes(tmp_path):
    import random

    import melodyrnn as mr

    rng = random.Random(0)
    cycle = ["do", "re", "mi", "fa"] * 10
    seqs = [cycle[:rng.randint(5, 30)] for _ in range(60)]  # same order, different lengths
    meta = mr.dataset_from_sequences(seqs, tmp_path / "ds", valid=0.15, test=0.15)
    assert sum(s["sequences"] for s in meta["splits"].values()) == 60 and meta["splits"]["valid"]["sequences"]
    assert list(meta["encoding"]["config"]["names"]) == ["do", "re", "mi", "fa"]
    with __import__("pytest").raises(ValueError, match="ids must be in 0..1"):
        mr.dataset_from_sequences([[0, 2]], tmp_path / "bad", names=["a", "b"])
    best = mr.train(tmp_path / "ds", tmp_path / "run", dict(kind="gru", hidden=32, layers=1,
                                                               embedding=8),
                    mr.TrainConfig(batch_size=8, seq_len=16, lr=2e-2, epochs=6, warmup_steps=5),
                    progress=False)
    assert best["bits_per_token"] < 1.0 and "bits_per_note" not in best
    out = mr.complete_text(tmp_path / "run" / "best.pt", "do re", max_tokens=6, seed=0)
    assert out[0].text.split()[:2] == ["mi", "fa"]
    model, enc = mr.load(tmp_path / "run" / "best.pt")
    mr.save(tmp_path / "copy.pt", model, enc)
    again = mr.evaluate(str(tmp_path / "copy.pt"), [str(tmp_path / "ds")], split="valid")
    first = mr.evaluate(str(tmp_path / "run" / "best.pt"), [str(tmp_path / "ds")], split="valid")
    assert again == first
