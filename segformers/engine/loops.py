"""An iteration-based train loop whose resumed run repeats the uninterrupted one iteration for iteration.

mmengine's ``IterBasedTrainLoop`` restores model, optimizer, schedulers and the iteration, and replays
the dataloader up to that iteration, but not the random state (dropout, point sampling, augmentation in
the main process). This loop

* after the replay, puts back this rank's RNG states saved by ``SafeCheckpointHook`` (so the next batch
  and step draw the same random numbers as the uninterrupted run);
* runs validation inside a saved/restored RNG state, so evaluating never changes the training
  randomness (and training does not depend on ``val_interval``).

With ``num_workers > 0`` the dataloader workers are seeded by mmengine per worker (``randomness.seed``)
and replay the same batches, so their augmentation is reproduced too. After a change of the number of
ranks the saved states cannot be mapped and are skipped with a warning.
"""
from __future__ import annotations

import logging

from mmengine.dist import get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop
from torch import nn

from ..registry import LOOPS
from .checkpoint import RNG_INFO_KEY, capture_rng_state, restore_rng_state


@LOOPS.register_module()
class ResumableIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` (same arguments) with exact RNG resumption and RNG-neutral validation."""

    def _restore_rng_after_resume(self) -> None:
        states = self.runner.message_hub.pop_info(RNG_INFO_KEY, None)
        if self._iter == 0 or states is None:
            return
        if len(states) != get_world_size():
            print_log(
                f"The checkpoint holds RNG states of {len(states)} ranks but {get_world_size()} run now; "
                f"random numbers will differ from the uninterrupted run.",
                logger="current",
                level=logging.WARNING,
            )
            return
        restore_rng_state(states[get_rank()])

    def _validate(self) -> None:
        state = capture_rng_state()
        self.runner.val_loop.run()
        restore_rng_state(state)

    def run(self) -> nn.Module:
        """Train from the current iteration to ``max_iters``."""
        self.runner.call_hook("before_train")
        self.runner.call_hook("before_train_epoch")
        if self._iter > 0:
            print_log(f"Advance dataloader {self._iter} steps to skip data that has already been trained",
                      logger="current", level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
        self._restore_rng_after_resume()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0 or self._iter == self._max_iters)):
                self._validate()
        self.runner.call_hook("after_train_epoch")
        self.runner.call_hook("after_train")
        return self.runner.model
