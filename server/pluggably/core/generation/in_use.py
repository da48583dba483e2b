"""Which models are serving requests right now: such models are never deleted or evicted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class ModelsInUse:
    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()

    @contextmanager
    def hold(self, model_id: str) -> Iterator[None]:
        self._requests[model_id] += 1
        try:
            yield
        finally:
            self._requests[model_id] -= 1
            if not self._requests[model_id]:
                del self._requests[model_id]

    def requests(self, model_id: str) -> int:
        return self._requests[model_id]
