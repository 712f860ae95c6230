"""Add the training-id counts to a checkpoint trained before checkpoints recorded them.

Checkpoints written by ``melodyrnn train`` carry ``train_id_counts`` (how often each id
occurs in the train split), from which generation reads the pitch range the model saw.
The shipped default model predates that; this script counts the ids of the train split
of the dataset the model was trained on (re-ingested with the same settings: splits are
by content hash, so they are the same) and writes them into the checkpoint. Weights,
config and vocabulary are unchanged.

    melodyrnn ingest $D/essen $D/oneills1850 $D/ryans-mammoth $D/nottingham -o folk
    python pipelines/record_training_ids.py melodyrnn/assets/default.pt folk
"""

import sys

from melodyrnn.core.checkpoint import load_checkpoint, save_checkpoint
from melodyrnn.core.dataset import load_dataset


def main(checkpoint: str, dataset: str) -> None:
    ckpt = load_checkpoint(checkpoint)
    data = load_dataset(dataset)
    if data.meta["vocab"] != ckpt["vocab"]:
        raise SystemExit("the dataset's vocabulary differs from the checkpoint's")
    ckpt["train_id_counts"] = data.id_counts("train")
    ckpt.pop("format", None)
    save_checkpoint(checkpoint, ckpt)
    print(f"{checkpoint}: {data.split('train').n_sequences} training sequences, "
          f"{sum(ckpt['train_id_counts'])} ids counted")


if __name__ == "__main__":
    main(*sys.argv[1:])
