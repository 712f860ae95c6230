"""The training loop: truncated BPTT over a token dataset, on CPU, GPU or several processes.

Music-agnostic: it sees a dataset folder of ids, a model config and a train config, plus
optional hooks from the layer above (an augmenter, filler ids for event accuracy).

Reproducible to the bit in one process: the epoch's order, the batch plan, augmentation
choices and dropout masks are pure functions of the seed and the step, and ``last.pt``
holds weights, optimizer, schedule, the carried hidden state and the position, so a run
killed at any point and resumed ends with the weights of an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from melodyrnn.core.batching import IGNORE, Augmenter, make_batch, plan_epoch
from melodyrnn.core.checkpoint import load_checkpoint, model_from_checkpoint, payload, save_checkpoint
from melodyrnn.core.dataset import load_dataset
from melodyrnn.core.distributed import Dist, pick_device
from melodyrnn.core.metrics import MetricSums
from melodyrnn.core.models import ModelConfig, SequenceModel
from melodyrnn.core.finetune import extended, param_groups, prepare
from melodyrnn.core.resume import canonical, check_same_network, logged_by
from melodyrnn.core.scoring import score_split

__all__ = ["TrainConfig", "Trainer", "check_rate", "fit", "pick_device"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (see ``melodyrnn train --help`` for each)."""

    batch_size: int = 64
    seq_len: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    optimizer: str = "adamw"
    clip: float = 1.0
    epochs: int = 10
    max_steps: int = 0
    warmup_steps: int = 100
    schedule: str = "cosine"
    min_lr_ratio: float = 0.05
    eval_every: int = 0
    eval_batch_size: int = 64
    patience: int = 3
    #: options of the encoding's training-data augmenter, e.g. music's {"transpose": 3}
    augment: dict = field(default_factory=dict)
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    checkpoint_every: int = 200
    train_only: str = ""
    add_on_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError("optimizer must be adam or adamw")
        if self.schedule not in ("cosine", "plateau", "constant"):
            raise ValueError("schedule must be cosine, plateau or constant")
        if min(self.batch_size, self.seq_len, self.epochs, self.eval_batch_size) < 1:
            raise ValueError("batch_size, seq_len and epochs must be positive")
        if min(self.max_steps, self.warmup_steps, self.eval_every, self.patience, self.checkpoint_every) < 0:
            raise ValueError("step counts must be >= 0")
        check_rate("lr", self.lr)
        for name in ("add_on_lr", "weight_decay", "clip", "min_lr_ratio"):
            check_rate(name, getattr(self, name), zero=True)
        if not isinstance(self.augment, dict):
            raise ValueError("augment must be a dict of the encoding's augmentation options")


#: the largest learning rate or loss weight taken: far past any useful one, and within float32
RATE_MAX = 1e6


def check_rate(name: str, value: float, zero: bool = False) -> None:
    """ValueError unless ``value`` is a number in ``(0, RATE_MAX]`` (``zero``: ``[0, RATE_MAX]``):
    the one check of learning rates and loss weights, for training and calibrate-form."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= RATE_MAX \
            or (value == 0 and not zero):
        raise ValueError(f"{name} must be a number {'>= 0' if zero else '> 0'} and at most {RATE_MAX:g}, "
                         f"not {value!r}")


def _lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    """Warm-up then cosine decay (or constant), as a pure function of the step."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule != "cosine" or total <= cfg.warmup_steps:
        return cfg.lr
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    low = cfg.lr * cfg.min_lr_ratio
    return low + (cfg.lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit(dataset_dir: str | os.PathLike, run_dir: str | os.PathLike, model_config: dict,
        cfg: TrainConfig, *, augmenter: Augmenter | None = None,
        filler_ids: tuple[int, ...] = (), units: tuple[str, str] = ("note", "event"),
        init_from: str | None = None, resume: bool = False, progress: bool = True) -> dict:
    """Train a model on ``dataset_dir``; writes ``run_dir/{best,last}.pt`` and metrics.jsonl.

    Parameters
    ----------
    model_config : dict
        :class:`ModelConfig` fields except ``vocab_size`` (taken from the dataset).
        Ignored with ``init_from`` or ``resume`` (the checkpoint's config is used), except
        add-ons such as ``bar_copy`` that ``init_from`` adds to the checkpoint's network.
    units : (str, str)
        What the metrics count: the encoding's ``unit`` and ``step`` (bits/note, nats/event).
    init_from : str, optional
        Checkpoint to fine-tune (same vocabulary as the dataset).
    resume : bool
        Continue ``run_dir/last.pt`` exactly where it stopped.

    Returns the best validation metrics (a dict).
    """
    return Trainer(dataset_dir, run_dir, model_config, cfg, augmenter, filler_ids,
                   init_from, resume, progress, units).run()


class Trainer:
    """One training run; :func:`fit` is the usual entry. ``train_step`` is public so that
    benchmarks can time exactly the step that training runs."""

    def __init__(self, dataset_dir, run_dir, model_config, cfg, augmenter, filler_ids,
                 init_from, resume, progress, units=("note", "event")) -> None:
        self.cfg, self.augmenter, self.filler, self.units = cfg, augmenter, tuple(filler_ids), units
        self.dist = Dist(pick_device(cfg.device))
        self.device = self.dist.device
        self.data = load_dataset(dataset_dir)
        self.train, self.valid = self.data.split("train"), self.data.split("valid")
        if self.train.n_sequences == 0:
            raise ValueError(f"{dataset_dir}: the train split is empty")
        # which ids training saw, and how often: the checkpoint carries them (a music
        # layer reads the pitch range the model knows from them)
        self.id_counts = self.data.id_counts("train")
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress and self.dist.main
        last = self.run_dir / "last.pt"
        self.resumed = load_checkpoint(last) if resume and last.is_file() else None
        if resume and self.resumed is None:
            raise ValueError(f"--resume: no {last} to resume from")
        base = self.resumed or (load_checkpoint(init_from) if init_from else None)
        if self.resumed is not None:
            check_same_network(self.resumed["model_config"], model_config, last)
        if base is not None:
            self.model = (model_from_checkpoint(base) if self.resumed is not None
                          else extended(base, model_config)).train()
            if base.get("vocab") and base["vocab"] != self.data.meta["vocab"]:
                raise ValueError("the checkpoint's vocabulary differs from the dataset's")
        else:
            torch.manual_seed(cfg.seed)  # the initial weights follow the seed
            self.model = SequenceModel(ModelConfig.from_dict({"vocab_size": self.data.vocab_size,
                                                              **model_config}))
        if self.model.config.vocab_size != self.data.vocab_size:
            raise ValueError("the model's vocabulary size differs from the dataset's")
        prepare(self.model, cfg.train_only, self.train if self.resumed is None else None)
        self.model.to(self.device)
        self.net = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model)
        opt_cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
        wd = {"weight_decay": cfg.weight_decay} if cfg.optimizer == "adamw" else {}
        self.opt = opt_cls(param_groups(self.model, cfg.lr, cfg.add_on_lr), lr=cfg.lr, **wd)
        self.plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(self.opt, factor=0.5,
                                                                   patience=1)
                        if cfg.schedule == "plateau" else None)
        self.amp = cfg.amp and self.device.type == "cuda"
        self.amp_dtype = (torch.bfloat16 if self.amp and torch.cuda.is_bf16_supported()
                          else torch.float16)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and
                                           self.amp_dtype == torch.float16)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.best, self.bad_evals, self.lanes, self.lr_scale = None, 0, None, 1.0
        # the summed train nats and targets since the last evaluation: saved with the rest
        # of the state, so a resumed run logs the train loss an unbroken one logs
        self.sums: tuple[float, int] = (0.0, 0)
        self.done = False  # the run ended: its final evaluation is in last.pt
        if self.resumed is not None:
            self._restore(self.resumed["training"])

    # -- plan ----------------------------------------------------------------------
    def epoch_plan(self, epoch: int, augment: bool = True):
        """The batch plan of ``epoch`` for this rank (``augment=False``: no augmentation
        choices, which do not change the plan's shape)."""
        n = self.train.n_sequences
        rng = np.random.default_rng([self.cfg.seed, epoch])
        order = rng.permutation(n)
        variants = np.zeros(n, np.int64)
        if self.augmenter is not None and augment:
            for s in range(n):  # one choice per sequence and epoch, same on every rank
                variants[s] = self.augmenter.choose(self.train.sequence(s),
                                                    np.random.default_rng([self.cfg.seed, epoch, s]))
        plans = [plan_epoch(self.train.lengths, order[r::self.dist.world], self.cfg.batch_size,
                            self.cfg.seq_len, variants) for r in range(self.dist.world)]
        plan, steps = plans[self.dist.rank], max(p.steps for p in plans)
        if plan.steps < steps:  # every rank runs the same number of steps
            pad = np.full((steps - plan.steps, self.cfg.batch_size), -1, np.int64)
            plan.seq = np.concatenate([plan.seq, pad])
            plan.window = np.concatenate([plan.window, np.zeros_like(pad)])
        return plan

    def _total_steps(self) -> int:
        per_epoch = self.epoch_plan(0, augment=False).steps  # steps only: skip augmentation
        total = per_epoch * self.cfg.epochs
        return min(total, self.cfg.max_steps) if self.cfg.max_steps else total

    # -- checkpoints -----------------------------------------------------------------
    def _payload(self, metrics: dict | None) -> dict:
        if not all(bool(p.isfinite().all()) for p in self.model.parameters()):
            raise ValueError(f"training diverged by step {self.global_step}: the weights are not finite "
                             f"(nothing written; try a lower --lr than {self.cfg.lr:g})")
        meta = self.data.meta
        return payload(self.model, metrics, train_config=asdict(self.cfg), encoding=meta["encoding"],
                       vocab=meta["vocab"], dataset=str(self.data.path), train_id_counts=self.id_counts)

    def _save_last(self, metrics: dict | None) -> None:
        if not self.dist.main:
            return
        training = {"epoch": self.epoch, "step_in_epoch": self.step_in_epoch,
                    "global_step": self.global_step, "optimizer": self.opt.state_dict(),
                    "plateau": self.plateau.state_dict() if self.plateau else {},
                    "lr_scale": self.lr_scale, "best": self.best, "bad_evals": self.bad_evals,
                    "train_sums": list(self.sums), "finished": self.done,
                    # the carried hidden state of rank 0's lanes; under DDP the other ranks'
                    # lanes restart fresh at the same step on resume (not bit-exact there)
                    "lanes": {k: v.detach().cpu() for k, v in (self.lanes or {}).items()}
                    if self.dist.world == 1 else {}}
        save_checkpoint(self.run_dir / "last.pt", canonical({**self._payload(metrics), "training": training}))

    def _restore(self, t: dict) -> None:
        self.epoch, self.step_in_epoch = t["epoch"], t["step_in_epoch"]
        self.global_step, self.best, self.bad_evals = t["global_step"], t["best"], t["bad_evals"]
        self.opt.load_state_dict(t["optimizer"])
        if self.plateau and t["plateau"]:
            self.plateau.load_state_dict(t["plateau"])
        self.lr_scale = t.get("lr_scale", 1.0)
        self.sums = tuple(t.get("train_sums", (0.0, 0)))
        self.done = t.get("finished", self._exhausted() and self.best is not None)  # (files before it)
        self.lanes = {k: v.to(self.device) for k, v in t["lanes"].items()} or None
        log = self.run_dir / "metrics.jsonl"
        if log.is_file() and self.dist.main and not self.finished():
            # drop lines written after the checkpoint (and a line cut short by a full disk)
            keep = [ln for ln in log.read_text().splitlines() if logged_by(ln, self.global_step)]
            log.write_text("".join(ln + "\n" for ln in keep))

    def _exhausted(self) -> bool:
        """Whether the config's limits end the run here: every epoch, or ``max_steps``
        steps, run, or ``patience`` evaluations in a row without a gain."""
        cfg = self.cfg
        return (self.epoch >= cfg.epochs or (bool(cfg.max_steps) and self.global_step >= cfg.max_steps)
                or (cfg.patience > 0 and self.bad_evals >= cfg.patience))

    def finished(self) -> bool:
        """Whether the run ended (its last evaluation logged and saved) with nothing left
        to do under this config; resuming it then changes nothing."""
        return self.done and self._exhausted()

    # -- evaluation ------------------------------------------------------------------
    def _evaluate(self, train_loss: float, started: float) -> bool:
        """Score the valid split, log, keep the best; returns True to stop early."""
        order = np.arange(self.valid.n_sequences)[self.dist.rank::self.dist.world]
        sums, _ = score_split(self.model, self.valid, batch_size=self.cfg.eval_batch_size,
                              seq_len=max(self.cfg.seq_len, 256), filler_ids=self.filler,
                              device=self.device, sequences=order)
        sums = MetricSums.from_list(self.dist.all_sum(sums.as_list()), self.filler)
        valid = sums.result(*self.units)
        nats = f"nats_per_{self.units[1]}"  # nats_per_event (music), nats_per_token (text)
        improved = self.best is None or valid[nats] < self.best[nats]
        if improved:
            self.best, self.bad_evals = valid, 0
            if self.dist.main:
                save_checkpoint(self.run_dir / "best.pt", canonical(self._payload(valid)))
        else:
            self.bad_evals += 1
        if self.plateau is not None:
            self.plateau.step(valid[nats])
            self.lr_scale = self.opt.param_groups[0]["lr"] / self.cfg.lr
        if self.dist.main:
            line = {"epoch": self.epoch, "step": self.global_step, "lr": self.opt.param_groups[0]["lr"],
                    f"train_{nats}": train_loss, "valid": valid,
                    "seconds": round(time.perf_counter() - started, 2)}
            with open(self.run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps(line) + "\n")
            _log(f"epoch {self.epoch} step {self.global_step}: train {train_loss:.4f} "
                 f"nats/{self.units[1]}, valid {valid[nats]:.4f} nats/{self.units[1]}, "
                 f"{valid['bits_per_' + self.units[0]]:.3f} bits/{self.units[0]}, "
                 f"event accuracy {valid['event_accuracy']:.3f}"
                 + ("  (best)" if improved else ""))
        return self.cfg.patience > 0 and self.bad_evals >= self.cfg.patience

    # -- the loop --------------------------------------------------------------------
    def train_step(self, plan, total: int) -> tuple[float, int]:
        """Run step ``self.step_in_epoch`` of ``plan``; returns (summed nats, tokens)."""
        cfg, dev = self.cfg, self.device
        torch.manual_seed(cfg.seed * 1_000_003 + self.global_step)  # dropout, resumable
        b = make_batch(self.train, plan, self.step_in_epoch, cfg.seq_len, self.augmenter)
        inputs, targets = torch.from_numpy(b.inputs).to(dev), torch.from_numpy(b.targets).to(dev)
        if self.lanes is None:
            self.lanes = self.model.initial_state(cfg.batch_size, device=dev)
        state = self.model.reset(self.lanes, torch.from_numpy(b.resets).to(dev),
                                 torch.from_numpy(b.periods).to(dev), torch.from_numpy(b.bars).to(dev))
        lr = (self.cfg.lr * self.lr_scale if self.plateau is not None and
              self.global_step >= cfg.warmup_steps else _lr_at(cfg, self.global_step, total))
        for group in self.opt.param_groups:
            group["lr"] = lr * group.get("rate", 1.0)
        with torch.autocast(dev.type, dtype=self.amp_dtype, enabled=self.amp):
            logits, state = self.net(inputs, state)
            loss_sum = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                ignore_index=IGNORE, reduction="sum")
        count = int((targets != IGNORE).sum())
        loss = loss_sum / max(count, 1)
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.clip:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.lanes = self.model.detach(state)
        return float(loss_sum.detach()), count

    def run(self) -> dict:
        from tqdm import tqdm

        cfg, started = self.cfg, time.perf_counter()
        if self.finished():  # resumed after its end: nothing to train, nothing to write
            if self.dist.main:
                _log(f"{self.run_dir / 'last.pt'}: the run is finished (epoch {self.epoch}, "
                     f"step {self.global_step}); nothing to resume")
            self.dist.close(True)
            return self.best or {}
        total = self._total_steps()
        stop = finished = False
        try:
            while self.epoch < cfg.epochs and not stop:
                plan = self.epoch_plan(self.epoch)
                bar = tqdm(total=plan.steps, initial=self.step_in_epoch, unit="step",
                           desc=f"epoch {self.epoch}", leave=False,
                           disable=not self.progress or None)
                while self.step_in_epoch < plan.steps and not stop:
                    n, c = self.train_step(plan, total)
                    self.sums = (self.sums[0] + n, self.sums[1] + c)
                    self.step_in_epoch += 1
                    self.global_step += 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{n / max(c, 1):.3f}", refresh=False)
                    done = bool(cfg.max_steps) and self.global_step >= cfg.max_steps
                    if cfg.eval_every and self.global_step % cfg.eval_every == 0:
                        stop = self._evaluate_train_sums(started)
                    stop = stop or done
                    if cfg.checkpoint_every and self.global_step % cfg.checkpoint_every == 0 and not stop:
                        self._save_last(self.best)  # a stopping run saves below, with `done` set
                bar.close()
                if self.step_in_epoch >= plan.steps:
                    if not cfg.eval_every:
                        stop = self._evaluate_train_sums(started) or stop
                    self.epoch, self.step_in_epoch, self.lanes = self.epoch + 1, 0, None
                    self.sums = (0.0, 0)  # each epoch logs its own loss
                elif self.sums[1] and not cfg.eval_every:  # stopped mid-epoch by max_steps
                    self._evaluate_train_sums(started)
                self.done = (stop or self.epoch >= cfg.epochs) and self.best is not None
                self._save_last(self.best)
            if self.best is None:  # stopped before any evaluation
                self._evaluate(float("nan"), started)
                self.done = True
                self._save_last(self.best)
            finished = True
        finally:
            self.dist.close(finished)
        return self.best or {}

    def _evaluate_train_sums(self, started: float) -> bool:
        """:meth:`_evaluate` with the train loss summed since the last evaluation, then
        restart the sums; returns True to stop early."""
        stop = self._evaluate(self.sums[0] / max(self.sums[1], 1), started)
        self.sums = (0.0, 0)
        return stop
