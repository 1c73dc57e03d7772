"""Greedy micro-batching: one batch runs at a time; the next is everything that queued meanwhile.

BentoML's CorkDispatcher decides when to release a batch from an estimate of the wait it
measured on earlier batches; that estimate includes the time requests spent queued behind the
running batch, so it makes itself wait longer. With few clients this shows up as a long tail
(a p99 of 300+ ms at 4 connections while p50 is single-digit ms), and under bursts the
estimate crosses `max_latency_ms` and requests are shed as 503. Here nothing waits on purpose:
the batch size follows the load (1 when idle, everything queued when busy), latency is at most
about two batch times, and nothing is ever shed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import anyio.to_thread

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Job(Generic[In, Out]):
    items: Sequence[In]
    future: asyncio.Future[list[Out]] = field(repr=False)


class GreedyBatcher(Generic[In, Out]):
    """Feeds `run` (called in a worker thread) with batches of at most `max_items` items."""

    def __init__(self, run: Callable[[list[In]], list[Out]], max_items: int) -> None:
        self._run = run
        self._max_items = max_items
        self._queue: deque[_Job[In, Out]] = deque()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[In]) -> list[Out]:
        """The outputs for `items`, in order, once their batch has run."""
        job = _Job[In, Out](items, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await job.future

    def _next_batch(self) -> list[_Job[In, Out]]:
        jobs = [self._queue.popleft()]
        size = len(jobs[0].items)
        while self._queue and size + len(self._queue[0].items) <= self._max_items:
            job = self._queue.popleft()
            jobs.append(job)
            size += len(job.items)
        return jobs

    async def _drain(self) -> None:
        while self._queue:
            jobs = self._next_batch()
            flat = [item for job in jobs for item in job.items]
            try:
                outputs = await anyio.to_thread.run_sync(self._run, flat)
            except Exception as exc:  # every request of the batch gets the error
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            start = 0
            for job in jobs:
                end = start + len(job.items)
                if not job.future.done():
                    job.future.set_result(outputs[start:end])
                start = end
