"""The result backend: Celery's Redis backend, keeping of an error its type only.

Celery stores a failed (or retried) task's exception with its arguments, the text that
may quote what the task had in hand (a database error's ``DETAIL: Key (…)=(山田 花子)``, a
``ValueError`` naming the value it refused), and the whole traceback, which ends with that
text: an hour in the Redis every city shares, read by nobody. The worker's log, where an
operator looks, has the error with database values withheld (``daicho.logs``).

Here a failure is stored as its state and its exception's module and type; a caller that
waits on the result gets an exception of that type, without its text.
"""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend


class ResultBackend(RedisBackend):
    """``CELERY_RESULT_BACKEND = "workers.results:ResultBackend+redis://…"``."""

    def prepare_exception(self, exc: BaseException, serializer: str | None = None) -> dict:
        kind = type(exc)
        return {"exc_type": kind.__qualname__, "exc_message": [], "exc_module": kind.__module__}

    def _store_result(
        self,
        task_id: str,
        result: Any,
        state: str,
        traceback: str | None = None,
        request: Any = None,
        **kwargs: Any,
    ) -> Any:
        return super()._store_result(task_id, result, state, None, request=request, **kwargs)
