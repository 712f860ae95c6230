"""Where training runs: the device, and torchrun's process group (or a stand-in for one process)."""

from __future__ import annotations

import os

import torch

__all__ = ["Dist", "pick_device"]


def pick_device(name: str) -> torch.device:
    """``auto`` -> cuda, then mps, then cpu; a named device must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise ValueError("--device mps: MPS is not available")
    return torch.device(name)


class Dist:
    """torchrun's process group, or a stand-in for a single process."""

    def __init__(self, device: torch.device) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.device = device  # on CUDA, each process takes the GPU of its LOCAL_RANK
        if self.world > 1:
            import torch.distributed as dist

            if device.type == "cuda":
                local = int(os.environ.get("LOCAL_RANK", "0"))
                if local >= torch.cuda.device_count():
                    raise ValueError(f"torchrun: process {local} has no GPU of its own "
                                     f"({torch.cuda.device_count()} visible); start at most one "
                                     "process per GPU, or pass --device cpu")
                self.device = torch.device("cuda", local)
                torch.cuda.set_device(self.device)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        self.main = self.rank == 0

    def all_sum(self, values: list[float]) -> list[float]:
        if self.world == 1:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)  # NCCL: on the GPU
        dist.all_reduce(t)
        return t.tolist()

    def close(self, finished: bool = True) -> None:
        if self.world > 1:
            import torch.distributed as dist

            if finished:  # no rank tears the group down while another is still in it
                dist.barrier()
            dist.destroy_process_group()
