"""One training loop for every `tf.distribute` strategy, resumable after a crash.

Public API:

- `train(config, strategy=None, task=None) -> TrainResult`: the whole run
  (strategy from `config.distribute` unless given; task from `config.task`
  unless given): build, restore the last checkpoint, train to
  `config.train.steps`, checkpoint every `checkpoint_every` steps, evaluate,
  save final weights.
- `Trainer(task, config, strategy)`: the same in pieces (`restore()`,
  `fit()`, `evaluate()`, `save_checkpoint()`), used by tests.

Plugging in a task (see `task.py` for the full contract):

```python
from kipoi_genome.training.task import DataStream, Task, register_task

@register_task("my_task")            # then `task: my_task` in a YAML config
def build_my_task(config):           # config: TrainConfig
    return Task(
        build_model=lambda: make_model(**config.model),   # called in strategy.scope()
        loss="sparse_categorical_crossentropy",           # element-wise, no reduction
        train_streams={"train": DataStream(dataset_fn=my_dataset)},
    )

def my_dataset(global_batch_size, seed, start_batch):
    # GLOBAL batches (x, y) or (x, y, weight); infinite for training;
    # batch i must not depend on how many batches were read before start_batch.
    ...
```

The loss of one step, identical on 1 or N replicas: with per-element loss
`l`, weights `w` (ones if the batch has none) broadcast to `l`,

    loss = sum_global(l * w) / sum_global(w)

where each replica sums its part and `sum_global(w)` is an all-reduce over
replicas and workers. For a masked LM, `w` = 1 at masked positions, so the
loss is the mean over masked positions of the whole global batch. Model
regularisation losses (`model.losses`) are added once per global batch.

Gradients: each replica's gradient of its share is summed over replicas.
`optimizer.global_clipnorm` clips the SUMMED gradient by its global norm (as
on one device); Keras' own `global_clipnorm` would clip each replica's share
separately, so the trainer does it: all-reduce, clip, then hand
`clipped / replicas` to the optimizer, whose own all-reduce sums it back.

Files in `output_dir` (written by the chief only): `checkpoints/` (model,
optimizer incl. step counter), `train_log.jsonl` (one JSON line per logged
step and per evaluation), `eval.json` (last evaluation), `final.weights.h5`,
`config.yaml`.
"""

import dataclasses
import json
import logging
import os
import shutil
import time

import keras
import numpy as np
import tensorflow as tf
import yaml

from kipoi_genome.utils.atomic import atomic_output
from kipoi_genome.utils.dtype_scope import policy_scope
from kipoi_genome.training import checkpoints, distribute, losses, schedules
from kipoi_genome.training.task import get_task_builder

__all__ = ["TrainResult", "Trainer", "train", "build_optimizer", "learning_rate_schedule"]

logger = logging.getLogger("kipoi_genome")


@dataclasses.dataclass
class TrainResult:
    """What `train` returns.

    Args:
        model: the trained `keras.Model` (variables are distributed values
            under a multi-device strategy; `get_weights()` works).
        step: int. Optimizer steps done (== `config.train.steps`).
        resumed_from: int. Step restored from a checkpoint (0 if none).
        last_loss: float or None. Loss of the last step run in this process.
        evaluation: dict. Last evaluation results (see `Trainer.evaluate`).
    """

    model: object
    step: int
    resumed_from: int
    last_loss: float
    evaluation: dict


def learning_rate_schedule(optimizer_config, total_steps=None):
    """Linear warm-up to the peak, then constant or (`decay: cosine`) cosine decay.

    Args:
        optimizer_config: `config.OptimizerConfig`.
        total_steps: int. Steps of the run (`train.steps`); the cosine decay
            reaches `decay_alpha * learning_rate` there.

    Returns:
        `schedules.LinearWarmup`.
    """
    after_warmup = None
    if optimizer_config.decay == "cosine":
        after_warmup = keras.optimizers.schedules.CosineDecay(
            optimizer_config.learning_rate,
            decay_steps=max(1, int(total_steps or 1) - optimizer_config.warmup_steps),
            alpha=optimizer_config.decay_alpha,
        )
    return schedules.LinearWarmup(optimizer_config.learning_rate, optimizer_config.warmup_steps, after_warmup)


def build_optimizer(optimizer_config, total_steps=None):
    """Keras optimizer with a `learning_rate_schedule` (no clipping: see module doc).

    Args:
        optimizer_config: `config.OptimizerConfig`.
        total_steps: int. Steps of the run (`train.steps`), for the decay.

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    learning_rate = learning_rate_schedule(optimizer_config, total_steps)
    if optimizer_config.name == "sgd":
        return keras.optimizers.SGD(learning_rate=learning_rate, momentum=optimizer_config.beta_1)
    kwargs = dict(
        learning_rate=learning_rate,
        beta_1=optimizer_config.beta_1,
        beta_2=optimizer_config.beta_2,
        epsilon=optimizer_config.epsilon,
    )
    if optimizer_config.name == "adamw":
        optimizer = keras.optimizers.AdamW(weight_decay=optimizer_config.weight_decay or 0.004, **kwargs)
        if optimizer_config.no_weight_decay:
            optimizer.exclude_from_weight_decay(var_names=list(optimizer_config.no_weight_decay))
        return optimizer
    return keras.optimizers.Adam(**kwargs)


def mixed_precision_scope(mixed_precision):
    """Layers built inside use `mixed_bfloat16` (bfloat16 compute, float32
    variables) when `mixed_precision` is true, else the current policy."""
    return policy_scope("mixed_bfloat16" if mixed_precision else None)


def _unpack(batch):
    if isinstance(batch, (tuple, list)):
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch[0], batch[1], batch[2]
    raise ValueError(
        f"A batch must be (x, y) or (x, y, weight). Received: {type(batch).__name__} "
        f"of length {len(batch) if isinstance(batch, (tuple, list)) else 'n/a'}"
    )


def _select(outputs, key):
    if key is None:
        return outputs
    if not isinstance(outputs, dict) or key not in outputs:
        keys = sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__
        raise ValueError(f"Model outputs have no {key!r}. Received outputs: {keys}")
    return outputs[key]


def _broadcast_weight(weight, element_loss):
    """Weight `(B, ...)` right-padded with axes and broadcast to the loss shape."""
    if weight is None:
        return tf.ones_like(element_loss)
    weight = tf.cast(weight, element_loss.dtype)
    while weight.shape.rank < element_loss.shape.rank:
        weight = weight[..., None]
    return tf.broadcast_to(weight, tf.shape(element_loss))


def _num_batches_before(step, stream_index, num_streams):
    """Batches stream `stream_index` served in steps 0..step-1 (round-robin)."""
    if step <= stream_index:
        return 0
    return (step - stream_index - 1) // num_streams + 1


class Trainer:
    """The training loop; see the module docstring.

    Args:
        task: `task.Task`.
        config: `config.TrainConfig`.
        strategy: `tf.distribute.Strategy`. Defaults to the current one.
    """

    def __init__(self, task, config, strategy=None):
        self.task = task
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        self.loop = config.train
        self.num_replicas = self.strategy.num_replicas_in_sync
        self.global_batch_size = distribute.global_batch_size(
            self.loop.per_replica_batch_size, self.strategy
        )
        self.is_chief = distribute.is_chief(self.strategy)
        self.output_dir = os.path.abspath(config.output_dir)
        self.loss_fn = losses.get_loss(task.loss)
        self.clipnorm = config.optimizer.global_clipnorm
        self._stream_names = list(task.train_streams)
        self._train_functions = {}
        self._eval_functions = {}
        self._iterators = {}
        self.resumed_from = 0

        keras.utils.set_random_seed(config.seed)
        with mixed_precision_scope(self.loop.mixed_precision), self.strategy.scope():
            self.model = task.build_model()
            self.optimizer = build_optimizer(config.optimizer, self.loop.steps)
            self.optimizer.build(self.model.trainable_variables)
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer)
        self._manager = tf.train.CheckpointManager(
            self.checkpoint,
            self._checkpoint_dir(),
            max_to_keep=self.loop.keep_checkpoints,
            step_counter=self.optimizer.iterations,
            checkpoint_name="ckpt",
        )

    # ----------------------------------------------------------------- state
    @property
    def step(self):
        """Optimizer steps done so far (restored with the checkpoint)."""
        return int(self.optimizer.iterations.numpy())

    def _checkpoint_dir(self):
        directory = os.path.join(self.output_dir, "checkpoints")
        if self.is_chief:
            return directory
        # Non-chief workers take part in saving (collectives) but write to a
        # scratch folder that is deleted afterwards.
        return os.path.join(directory, f"_worker_{distribute.worker_index(self.strategy)}")

    def restore(self):
        """Restores the newest readable checkpoint of the chief, if any.

        A truncated or corrupt latest checkpoint is skipped with a warning
        (stderr and `train_log.jsonl`) in favour of the newest good one (see
        `checkpoints.restore_newest`).

        Returns:
            int. The restored step (0 when starting fresh).

        Raises:
            ValueError: no checkpoint is readable, or the newest readable one
                does not fit the model (the config changed).
        """
        restored = self._restore_quietly()
        self._log_restore(restored)
        return self.resumed_from

    def _restore_quietly(self):
        """`restore` without writing anything (train() validates before touching output_dir)."""
        restored = checkpoints.restore_newest(self.checkpoint, os.path.join(self.output_dir, "checkpoints"))
        self.resumed_from = self.step if restored.path else 0
        self._iterators = {}
        return restored

    def _log_restore(self, restored):
        for path, reason in restored.skipped:
            if self.is_chief:
                logger.warning(f"warning: {path}: unreadable checkpoint skipped ({reason})")
            self._log({"event": "checkpoint_skipped", "checkpoint": path, "reason": reason}, echo=False)
        if restored.path:
            self._log({"event": "restored", "step": self.resumed_from, "checkpoint": restored.path})

    def save_checkpoint(self):
        """Saves model and optimizer at the current step (all workers call this)."""
        path = self._manager.save(checkpoint_number=self.step)
        if not self.is_chief:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
        else:
            self._log({"event": "checkpoint", "step": self.step, "path": path})
        return path

    def _log(self, record, echo=True):
        if not self.is_chief:
            return
        os.makedirs(self.output_dir, exist_ok=True)
        record = {"time": round(time.time(), 3), **record}
        with open(os.path.join(self.output_dir, "train_log.jsonl"), "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
        if echo:
            print(json.dumps(record), flush=True)

    # ------------------------------------------------------------------ data
    def _distribute(self, dataset):
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return self.strategy.experimental_distribute_dataset(dataset.with_options(options))

    def _train_iterator(self, name):
        if name not in self._iterators:
            index = self._stream_names.index(name)
            start = _num_batches_before(self.step, index, len(self._stream_names))
            stream = self.task.train_streams[name]
            dataset = stream.dataset_fn(self.global_batch_size, self.config.seed, start)
            self._iterators[name] = iter(self._distribute(dataset))
        return self._iterators[name]

    # ------------------------------------------------------------------ step
    def _replica_step(self, batch, output):
        x, y, weight = _unpack(batch)
        context = tf.distribute.get_replica_context()
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            predictions = _select(self.model(x, training=True), output)
            element_loss = tf.cast(self.loss_fn(y, predictions), tf.float32)
            weight = tf.stop_gradient(_broadcast_weight(weight, element_loss))
            global_weight = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(weight))
            loss = tf.reduce_sum(element_loss * weight) / tf.maximum(global_weight, 1e-12)
            total = loss
            if self.model.losses:
                total = total + tf.add_n([tf.cast(l, tf.float32) for l in self.model.losses]) / float(
                    self.num_replicas
                )
        gradients = tape.gradient(total, variables)
        pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
        gradients = [tf.convert_to_tensor(g) for g, _ in pairs]
        variables = [v for _, v in pairs]
        if self.clipnorm:
            summed = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
            clipped, norm = tf.clip_by_global_norm(summed, float(self.clipnorm))
            gradients = [g / float(self.num_replicas) for g in clipped]
        else:
            norm = tf.constant(float("nan"))
        self.optimizer.apply(gradients, variables)
        return loss, norm

    def _train_function(self, name):
        if name not in self._train_functions:
            output = self.task.train_streams[name].output

            @tf.function
            def train_step(iterator):
                batch = next(iterator)
                loss, norm = self.strategy.run(self._replica_step, args=(batch, output))
                loss = self.strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)
                norm = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, norm, axis=None)
                return loss, norm

            self._train_functions[name] = train_step
        return self._train_functions[name]

    def train_step(self):
        """Runs one optimizer step on the next stream's next batch.

        Returns:
            (stream name, loss as float, gradient global norm or NaN).
        """
        name = self._stream_names[self.step % len(self._stream_names)]
        loss, norm = self._train_function(name)(self._train_iterator(name))
        return name, float(loss), float(norm)

    def fit(self, steps=None):
        """Trains until `steps` (default `config.train.steps`) optimizer steps.

        Checkpoints every `checkpoint_every` steps and at the end; evaluates
        every `eval_every` steps when the task has evaluation streams. Stops
        early (after a checkpoint) once `train.max_minutes` have passed.

        Returns:
            float or None. Loss of the last step run.
        """
        target = self.loop.steps if steps is None else int(steps)
        last_loss = None
        start_time = time.time()
        start_step = self.step
        while self.step < target:
            name, last_loss, norm = self.train_step()
            step = self.step
            if not np.isfinite(last_loss):
                raise FloatingPointError(f"Loss is {last_loss} at step {step} (stream {name}).")
            if step % self.loop.log_every == 0 or step == target:
                rate = (step - start_step) / max(time.time() - start_time, 1e-9)
                self._log(
                    {
                        "step": step,
                        "stream": name,
                        "loss": round(last_loss, 6),
                        "grad_norm": None if np.isnan(norm) else round(norm, 6),
                        "learning_rate": float(self.optimizer.learning_rate),
                        "steps_per_s": round(rate, 3),
                    }
                )
            out_of_time = self.loop.max_minutes and time.time() - start_time > 60 * self.loop.max_minutes
            if step % self.loop.checkpoint_every == 0 or step == target or out_of_time:
                self.save_checkpoint()
            if out_of_time:
                self._log({"event": "time_limit", "step": step, "max_minutes": self.loop.max_minutes})
                break
            if self.loop.eval_every and step % self.loop.eval_every == 0 and step != target:
                self.evaluate()
        return last_loss

    # ------------------------------------------------------------ evaluation
    def _replica_eval(self, batch, output, metric_objects):
        x, y, weight = _unpack(batch)
        if self.task.predict_fn is not None:
            outputs = self.task.predict_fn(self.model, x)
        else:
            outputs = self.model(x, training=False)
        predictions = tf.cast(_select(outputs, output), tf.float32)
        element_loss = tf.cast(self.loss_fn(y, predictions), tf.float32)
        full_weight = _broadcast_weight(weight, element_loss)
        sums = {
            "loss_sum": tf.reduce_sum(element_loss * full_weight),
            "weight_sum": tf.reduce_sum(full_weight),
        }
        if weight is not None:
            weight = tf.cast(weight, tf.float32)
            while weight.shape.rank < y.shape.rank:
                weight = weight[..., None]
        for name, metric in metric_objects.items():
            sums[name] = metric.statistics(y, predictions, weight)[None]  # (1, ...) for gather
        return sums

    def evaluate(self, streams=None, max_batches=None):
        """Loss and metrics on the evaluation streams, exact across replicas.

        Per replica: the weighted loss sum, the weight sum and each metric's
        statistics over its share of the batch. Loss sums are added over
        replicas; metric statistics are gathered from all replicas (and
        workers) and merged by the metric, so results do not depend on how
        batches were split.

        Args:
            streams: optional list of evaluation stream names (default all).
            max_batches: optional int cap per stream (default
                `config.train.eval_batches`).

        Returns:
            dict: stream -> {"loss": float, "num_batches": int, metric: result
            (lists for per-track values)}; also written to `eval.json`.
        """
        max_batches = self.loop.eval_batches if max_batches is None else max_batches
        results = {}
        for name in streams or list(self.task.eval_streams):
            stream = self.task.eval_streams[name]
            metric_objects = self.task.eval_metrics() if self.task.eval_metrics else {}
            key = (name, tuple(metric_objects))
            if key not in self._eval_functions:

                @tf.function
                def eval_step(batch, _output=stream.output, _metrics=metric_objects):
                    values = self.strategy.run(self._replica_eval, args=(batch, _output, _metrics))
                    sums = {
                        key: self.strategy.reduce(tf.distribute.ReduceOp.SUM, values.pop(key), axis=None)
                        for key in ("loss_sum", "weight_sum")
                    }
                    # Metric statistics of every replica (all workers), stacked: (R, ...).
                    for key, value in values.items():
                        sums[key] = self.strategy.gather(value, axis=0)
                    return sums

                self._eval_functions[key] = eval_step
            eval_step = self._eval_functions[key]
            dataset = stream.dataset_fn(self.global_batch_size, self.config.seed, 0)
            if max_batches:
                dataset = dataset.take(max_batches)
            loss_sum = weight_sum = 0.0
            batches = 0
            for metric in metric_objects.values():
                metric.reset_state()
            for batch in self._distribute(dataset):
                sums = eval_step(batch)
                loss_sum += float(sums["loss_sum"])
                weight_sum += float(sums["weight_sum"])
                for metric_name, metric in metric_objects.items():
                    metric.update_state(sums[metric_name].numpy())
                batches += 1
            result = {"loss": loss_sum / max(weight_sum, 1e-12), "num_batches": batches}
            for metric_name, metric in metric_objects.items():
                value = np.asarray(metric.result())
                result[metric_name] = value.tolist() if value.ndim else float(value)
                if value.ndim:
                    result[f"mean_{metric_name}"] = float(np.nanmean(value))
            results[name] = result
        if results:
            self._log({"event": "evaluation", "step": self.step, "results": results})
            if self.is_chief:
                with open(os.path.join(self.output_dir, "eval.json"), "w") as handle:
                    json.dump({"step": self.step, "results": results, **self.task.metadata}, handle, indent=2)
        return results

    def save_final_weights(self):
        """Writes `final.weights.h5` (chief only). Returns the path or None."""
        if not self.is_chief:
            return None
        path = os.path.join(self.output_dir, "final.weights.h5")
        self.model.save_weights(path)
        return path


def train(config, strategy=None, task=None):
    """Trains `config.task` under `config.distribute` (or the given strategy).

    Re-running the same command after a crash resumes from the last checkpoint
    in `config.output_dir`.

    Args:
        config: `config.TrainConfig`.
        strategy: optional `tf.distribute.Strategy`; built from
            `config.distribute` when None.
        task: optional `task.Task`; built from `config.task` when None.

    Returns:
        `TrainResult`.
    """
    if strategy is None:
        dist = config.distribute
        strategy = distribute.make_strategy(
            dist.strategy, devices=dist.devices, num_logical_cpus=dist.num_logical_cpus, tpu=dist.tpu
        )
    if task is None:
        task = get_task_builder(config.task)(config)
    trainer = Trainer(task, config, strategy)
    # Nothing in output_dir changes before the checkpoint to resume from is validated.
    restored = trainer._restore_quietly()
    if trainer.is_chief:
        with atomic_output(os.path.join(trainer.output_dir, "config.yaml"), "w", suffix=".yaml") as handle:
            yaml.safe_dump(config.to_dict(), handle, sort_keys=False)
    trainer._log(
        {
            "event": "start",
            "strategy": distribute.describe(strategy),
            "global_batch_size": trainer.global_batch_size,
            "target_step": config.train.steps,
        }
    )
    trainer._log_restore(restored)
    resumed_from = trainer.resumed_from
    last_loss = trainer.fit()
    evaluation = trainer.evaluate() if task.eval_streams else {}
    trainer.save_final_weights()
    trainer._log({"event": "done", "step": trainer.step, "resumed_from": resumed_from})
    return TrainResult(
        model=trainer.model,
        step=trainer.step,
        resumed_from=resumed_from,
        last_loss=last_loss,
        evaluation=evaluation,
    )
