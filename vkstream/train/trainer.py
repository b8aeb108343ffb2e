"""The training loop of ``vkstream train``: one run folder with its log, checkpoints and export.

Run folder::

    config.yaml                 the effective training config
    log.jsonl                   one JSON record per step (losses, lr, grad norm, timing) and per validation
    checkpoints/step_NNNNNNN.pt resumable checkpoints (the last ``run.keep_checkpoints``)
    checkpoints/best.pt         the checkpoint with the best validation metric
    model.pt                    slim fp16 export of best.pt (or of the last checkpoint without validation)
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm import tqdm

from vkstream.models import VideoKNet
from vkstream.models.device import resolve_device
from vkstream.train.checkpoint import (
    TRAINING,
    check_model_config,
    checkpoint_payload,
    config_differences,
    export_checkpoint,
    load_weights,
    read_checkpoint,
    runtime_differences,
    stored_model_config,
    with_runtime,
    write_checkpoint,
)
from vkstream.train.config import TrainConfig
from vkstream.train.errors import CheckpointError, TrainingError
from vkstream.train.optim import make_optimizer, set_lr
from vkstream.train.pairs import PairDataset, make_loader, open_sources
from vkstream.train.validate import validate

log = logging.getLogger("vkstream.train")

CHECKPOINTS = "checkpoints"
BEST = "best.pt"
EXPORT = "model.pt"
LOG = "log.jsonl"
CONFIG = "config.yaml"
MAX_BAD_STEPS = 5
"""Consecutive steps with a non-finite loss or gradient before a run is called diverged."""
CALIBRATION_STEPS = 10
"""Steps a time-budgeted run measures before it fixes its step count (the first few are left out)."""
_STEP_FILE = re.compile(r"^step_(\d+)\.pt$")


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (None: leave as is), then restore the setting."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def step_checkpoints(run_dir: Path) -> list[Path]:
    """The run's resumable checkpoints, oldest first."""
    folder = run_dir / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [(int(m[1]), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name)) and p.is_file()]
    return [path for _, path in sorted(found)]


def resume_target(path: Path) -> tuple[Path, Path]:
    """(checkpoint, run folder) for ``--resume`` given a run folder (its last checkpoint) or a file."""
    if path.is_dir():
        found = step_checkpoints(path)
        if not found:
            raise CheckpointError(f"{path}: no checkpoints to resume from in {path / CHECKPOINTS}")
        return found[-1], path
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    return path, path.parent.parent if path.parent.name == CHECKPOINTS else path.parent


@dataclass
class TrainSummary:
    run_dir: Path
    device: str
    first_step: int
    steps: int
    seconds: float
    losses: dict[str, float] = field(default_factory=dict)
    checkpoint: Path | None = None
    best: tuple[str, float, int] | None = None
    """(metric, value, step) of the best validation."""
    validation: dict[str, float] | None = None
    export: Path | None = None
    export_bytes: int = 0

    def format(self) -> str:
        done = self.steps - self.first_step
        per_step = self.seconds / done if done else 0.0
        lines = [
            f"trained steps {self.first_step}-{self.steps} on {self.device} in {self.seconds / 60:.1f} min "
            f"({per_step:.2f} s/step)" + (f", last loss {self.losses['loss']:.4f}" if self.losses else ""),
        ]
        if self.validation:
            lines.append(f"validation at step {self.steps}: {_metrics_text(self.validation)}")
        if self.best:
            metric, value, step = self.best
            lines.append(f"best {metric} {value:.4f} at step {step}: {self.run_dir / CHECKPOINTS / BEST}")
        if self.checkpoint:
            lines.append(f"last checkpoint: {self.checkpoint}")
        if self.export:
            lines.append(f"exported {self.export} ({self.export_bytes / 2**20:.1f} MiB, fp16 weights)")
        return "\n".join(lines)


def _metrics_text(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items())


class Trainer:
    """Trains ``cfg.model`` on pairs of ``cfg.data.train`` into ``run_dir``, resuming from ``resume``."""

    def __init__(
        self, cfg: TrainConfig, run_dir: Path, *, resume: Path | None = None, progress: bool = False
    ):
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.device = resolve_device(cfg.run.device)
        resume_payload = self._read_resume(resume) if resume is not None else None
        if resume_payload is None and step_checkpoints(self.run_dir):
            last = step_checkpoints(self.run_dir)[-1]
            raise TrainingError(
                f"{self.run_dir} already holds a run (last checkpoint {last.name}); continue it with "
                f"--resume {self.run_dir}, or choose another --out"
            )
        self.metric = self._best_metric()
        self.val_sources = open_sources(cfg.data.val) if cfg.data.val else []
        self.dataset = PairDataset(cfg.data, cfg.model, cfg.run.seed)

        torch.manual_seed(cfg.run.seed)
        self.model = VideoKNet(cfg.model).to(self.device)
        if cfg.run.init_from is not None and resume_payload is None:
            self._initialise(cfg.run.init_from)
        self.model.train()
        self.optimizer = make_optimizer(self.model, cfg.optim)
        self.amp_dtype = self._amp_dtype()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.step = 0
        self.best: tuple[str, float, int] | None = None
        if resume_payload is not None:
            self._restore(resume_payload, resume)

    # --- set-up -------------------------------------------------------------------------------

    def _read_resume(self, path: Path) -> dict[str, Any]:
        payload = read_checkpoint(path)
        if payload["kind"] != TRAINING or "training" not in payload:
            raise CheckpointError(
                f"{path}: an exported checkpoint holds no training state; resume from "
                f"{CHECKPOINTS}/step_*.pt of its run"
            )
        stored_model = stored_model_config(payload, path)
        check_model_config(with_runtime(stored_model, self.cfg.model), self.cfg.model, path)
        retuned = runtime_differences(stored_model, self.cfg.model)
        if retuned:  # merge and tracker settings change no weight: validation and model.pt take the new ones
            log.warning("resuming with changed inference settings: %s", "; ".join(retuned))
        stored = {k: v for k, v in payload["training"]["config"].items() if k != "model"}
        current = {k: v for k, v in self.cfg.model_dump(mode="json").items() if k != "model"}
        changed = config_differences(stored, current)
        if changed:
            log.warning("resuming with changed training settings: %s", "; ".join(changed))
        return payload

    def _initialise(self, path: Path) -> None:
        """Fine-tuning: the weights of ``path``, nothing of its training state."""
        payload = read_checkpoint(path)
        # Loss weights and inference settings may change; the architecture may not.
        stored = with_runtime(stored_model_config(payload, path), self.cfg.model)
        check_model_config(stored.model_copy(update={"losses": self.cfg.model.losses}), self.cfg.model, path)
        load_weights(self.model, payload["state_dict"], path)
        log.info("starting from the weights of %s (step %s)", path, payload["metadata"].get("step", "?"))

    def _restore(self, payload: dict[str, Any], path: Path) -> None:
        training = payload["training"]
        load_weights(self.model, payload["state_dict"], path)
        try:
            self.optimizer.load_state_dict(training["optimizer"])
            self.scaler.load_state_dict(training["scaler"])
        except (KeyError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"{path}: corrupt training state ({' '.join(str(err).split())})") from err
        self.step = int(training["step"])
        best = training.get("best")
        self.best = (str(best[0]), float(best[1]), int(best[2])) if best else None
        torch.set_rng_state(training["rng"]["torch"])
        if self.device.type == "cuda" and training["rng"].get("cuda"):
            torch.cuda.set_rng_state_all(training["rng"]["cuda"])
        log.info("resuming %s from step %d (%s)", self.run_dir, self.step, path)

    def _best_metric(self) -> str | None:
        if not self.cfg.data.val:
            return None
        metric = self.cfg.val.metric
        return "stq" if metric == "auto" else metric

    def _amp_dtype(self) -> torch.dtype | None:
        if self.device.type != "cuda" or self.cfg.run.amp == "off":
            return None
        if self.cfg.run.amp == "bf16" and not torch.cuda.is_bf16_supported():
            log.warning("this GPU has no bf16: mixed precision falls back to fp16 with loss scaling")
            return torch.float16
        return torch.bfloat16 if self.cfg.run.amp == "bf16" else torch.float16

    # --- the loop -----------------------------------------------------------------------------

    def fit(self) -> TrainSummary:
        """Train up to ``schedule.steps``, validating, checkpointing and exporting on the way."""
        with torch_threads(self.cfg.run.threads):
            return self._fit()

    def _fit(self) -> TrainSummary:
        cfg = self.cfg
        total = cfg.schedule.steps
        first = self.step
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / CONFIG).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
        self._trim_log(first)
        summary = TrainSummary(self.run_dir, str(self.device), first, max(first, total), 0.0, best=self.best)
        if first >= total:
            log.warning("the run is already at step %d of %d: raise --steps to train on", first, total)
        started = time.perf_counter()
        batches = iter(
            make_loader(self.dataset, cfg.schedule.batch_size, first * cfg.schedule.batch_size, self._on_cuda)
        )
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        bad_steps = 0
        step_seconds: list[float] = []
        bar = tqdm(total=total, initial=first, desc="train", unit="step", disable=not self.progress)
        with bar, (self.run_dir / LOG).open("a", encoding="utf-8") as log_file:
            while self.step < total:
                tick = time.perf_counter()
                batch = next(batches).to(self.device)
                loaded = time.perf_counter()
                lr = set_lr(self.optimizer, self.step, cfg.schedule)
                losses, grad_norm = self._train_step(batch, params)
                finite = math.isfinite(losses["loss"]) and math.isfinite(grad_norm)
                bad_steps = 0 if finite else bad_steps + 1
                if bad_steps >= MAX_BAD_STEPS:
                    raise TrainingError(
                        f"training diverged at step {self.step + 1}: loss or gradient not finite for "
                        f"{MAX_BAD_STEPS} steps in a row ({_metrics_text(losses)}); lower optim.lr"
                    )
                self.step += 1
                step_seconds.append(time.perf_counter() - tick)
                if cfg.schedule.time_budget_min is not None and len(step_seconds) == CALIBRATION_STEPS:
                    total = summary.steps = bar.total = self._fix_steps(step_seconds, started)
                summary.losses = losses
                record = {
                    "step": self.step,
                    "lr": lr,
                    **losses,
                    "grad_norm": grad_norm,
                    "seconds": time.perf_counter() - tick,
                    "data_seconds": loaded - tick,
                }
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()
                self._show(bar, losses, total, started, first)
                if self.val_sources and (
                    self.step == total or (cfg.val.every and self.step % cfg.val.every == 0)
                ):
                    summary.validation = self._validate(log_file)
                if self.step == total or self.step % cfg.run.checkpoint_every == 0:
                    summary.checkpoint = self._save()
        summary.seconds = time.perf_counter() - started
        summary.best = self.best
        summary.checkpoint = summary.checkpoint or (step_checkpoints(self.run_dir) or [None])[-1]
        source = self.run_dir / CHECKPOINTS / BEST if self.best else summary.checkpoint
        if source is not None and source.is_file():
            summary.export = self.run_dir / EXPORT
            summary.export_bytes = export_checkpoint(source, summary.export, runtime=self.cfg.model)
        return summary

    def _fix_steps(self, step_seconds: list[float], started: float) -> int:
        """Turn the time budget into a step count from the calibration steps' speed; returns it.

        The count replaces the budget in the config saved with every checkpoint, so a resumed run
        finishes the same steps with the same schedule, however fast its machine is.
        """
        schedule = self.cfg.schedule
        assert schedule.time_budget_min is not None
        per_step = sum(step_seconds[3:]) / len(step_seconds[3:])  # the first steps warm caches up
        left = schedule.time_budget_min * 60 - (time.perf_counter() - started)
        total = self.step + max(0, int(left / per_step))
        log.info(
            "time budget %.1f min: %.3f s/step measured, training %d steps in all",
            schedule.time_budget_min,
            per_step,
            total,
        )
        schedule.steps, schedule.time_budget_min = total, None
        (self.run_dir / CONFIG).write_text(yaml.safe_dump(self.cfg.model_dump(mode="json"), sort_keys=False))
        return total

    @property
    def _on_cuda(self) -> bool:
        return self.device.type == "cuda"

    def _train_step(self, batch: Any, params: list[torch.nn.Parameter]) -> tuple[dict[str, float], float]:
        autocast = (
            torch.autocast("cuda", dtype=self.amp_dtype) if self.amp_dtype is not None else nullcontext()
        )
        with autocast:
            named = self.model.training_losses(
                batch.key_images, batch.key_targets, batch.ref_images, batch.ref_targets
            )
        loss = torch.stack([value.float() for value in named.values()]).sum()
        losses = {"loss": float(loss.detach()), **{k: float(v.detach()) for k, v in named.items()}}
        self.optimizer.zero_grad(set_to_none=True)
        if not math.isfinite(losses["loss"]):
            return losses, math.nan
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        clip = self.cfg.optim.grad_clip if self.cfg.optim.grad_clip is not None else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        if self.scaler.is_enabled():
            self.scaler.step(self.optimizer)  # skips the update itself when gradients overflowed
            self.scaler.update()
        elif math.isfinite(grad_norm):
            self.optimizer.step()
        return losses, grad_norm

    def _show(self, bar: tqdm, losses: dict[str, float], total: int, started: float, first: int) -> None:
        if self.progress:
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            bar.update(1)
        elif self.step % self.cfg.run.log_every == 0 or self.step == total:
            per_step = (time.perf_counter() - started) / (self.step - first)
            log.info(
                "step %d/%d (%.2f s/step, %.0f min left): %s",
                self.step,
                total,
                per_step,
                per_step * (total - self.step) / 60,
                _metrics_text(losses),
            )

    def _validate(self, log_file: Any) -> dict[str, float]:
        started = time.perf_counter()
        metrics = validate(self.model, self.val_sources, self.device, self.cfg.val.max_frames)
        log_file.write(json.dumps({"step": self.step, "validation": metrics}) + "\n")
        log_file.flush()
        log.info(
            "validation at step %d (%.0f s): %s",
            self.step,
            time.perf_counter() - started,
            _metrics_text(metrics),
        )
        if self.metric is not None and self.metric in metrics:
            value = float(metrics[self.metric])
            if self.best is None or value > self.best[1]:
                self.best = (self.metric, value, self.step)
                write_checkpoint(self._payload({"validation": metrics}), self.run_dir / CHECKPOINTS / BEST)
        return metrics

    def _payload(self, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self._on_cuda:
            rng["cuda"] = torch.cuda.get_rng_state_all()
        training = {
            "config": self.cfg.model_dump(mode="json"),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "best": list(self.best) if self.best else None,
            "rng": rng,
        }
        return checkpoint_payload(
            self.model, self.cfg.model, metadata={"step": self.step, **(metadata or {})}, training=training
        )

    def _save(self) -> Path:
        path = self.run_dir / CHECKPOINTS / f"step_{self.step:07d}.pt"
        write_checkpoint(self._payload(), path)
        for old in step_checkpoints(self.run_dir)[: -self.cfg.run.keep_checkpoints]:
            old.unlink()
        return path

    def _trim_log(self, step: int) -> None:
        """Drop log records past ``step``: a resumed run redoes those steps and logs them again."""
        path = self.run_dir / LOG
        if not path.is_file():
            return
        kept = [line for line in path.read_text(encoding="utf-8").splitlines() if _record_step(line) <= step]
        path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def _record_step(line: str) -> int:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return 0


def train(
    cfg: TrainConfig, run_dir: Path, *, resume: Path | None = None, progress: bool = False
) -> TrainSummary:
    """Train (or resume) a run and return its summary; see :class:`Trainer`."""
    return Trainer(cfg, run_dir, resume=resume, progress=progress).fit()
