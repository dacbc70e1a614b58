"""Operational metrics and traces of every save and load, through OpenTelemetry.

Each public operation of a :class:`~qdbtools.Database` (and of the persistence service)
records, when it returns or raises:

* ``qdbtools.operation.duration`` (histogram, seconds) and ``qdbtools.operation.calls``
  (counter), with the attributes ``operation``, ``outcome`` (``ok``, ``no_data``, ``error``)
  and, where they apply, ``mode``, ``engine`` and ``table``;
* ``qdbtools.operation.errors`` (counter) with ``error.type``, the exception's class name;
* a span ``qdbtools.<operation>`` with the same attributes, whose children (:func:`step`) show
  where the time went: serializing, the request and its acknowledgement, the visibility
  wait, the marker lookup, the query, the conversion.

Only ``opentelemetry-api`` is needed: without an SDK installed by the application these are
no-ops. Session and symbol ids are not attributes unless ``record_ids=True`` (they can be many,
and sensitive). The same figures are kept in process for ``Database.stats()``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, ParamSpec, Protocol, TypeVar

from qdbtools.exceptions import NoDataError
from qdbtools.telemetry._stats import STATS_COLUMNS, OperationStats

__all__ = ["DURATION_BUCKETS", "STATS_COLUMNS", "Call", "Telemetry", "instrumented", "step"]

#: Histogram bucket boundaries (seconds) suggested to the SDK: 0.5 ms to 10 s.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_CURRENT: ContextVar[Telemetry | None] = ContextVar("qdbtools_telemetry", default=None)


class Call:
    """The outcome of one measured call: ``ok`` unless it raises or the body says otherwise."""

    __slots__ = ("error_type", "outcome")

    def __init__(self) -> None:
        self.outcome = "ok"
        self.error_type: str | None = None

    def fail(self, error_type: str) -> None:
        """Count this call as an error of ``error_type`` (it did not raise, but it failed)."""
        self.outcome, self.error_type = "error", error_type


class Telemetry:
    """The instruments, the tracer and the in-process summary of one ``Database``.

    Parameters
    ----------
    meter_provider, tracer_provider
        OpenTelemetry providers; None: the global ones (no-ops until the application sets an SDK).
    record_ids : bool
        Add ``session_id`` and ``symbol`` to the attributes of the operations that take them.
    """

    def __init__(
        self, *, meter_provider: Any = None, tracer_provider: Any = None, record_ids: bool = False
    ) -> None:
        from opentelemetry import metrics, trace  # ~80 ms: paid when a Database is made, not on import

        meter = metrics.get_meter("qdbtools", meter_provider=meter_provider)
        self.duration = meter.create_histogram(
            "qdbtools.operation.duration",
            unit="s",
            description="Duration of a qdbtools operation, from call to return or raise",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.calls = meter.create_counter(
            "qdbtools.operation.calls", unit="{call}", description="Calls of a qdbtools operation"
        )
        self.errors = meter.create_counter(
            "qdbtools.operation.errors",
            unit="{error}",
            description="qdbtools operations that raised, by error.type (NoDataError is outcome no_data)",
        )
        self.tracer = trace.get_tracer("qdbtools", tracer_provider=tracer_provider)
        self._trace = trace
        self._tracer_given = tracer_provider is not None
        self.record_ids = record_ids
        self.stats = OperationStats()

    @contextlib.contextmanager
    def operation(self, name: str, attributes: dict[str, str]) -> Iterator[Call]:
        """Measure one call of operation ``name`` (its span is current inside).

        The outcome is ``no_data`` when it raises :class:`~qdbtools.NoDataError`, ``error``
        when it raises anything else, else what the body set on the yielded :class:`Call`.
        """
        attributes = {"operation": name, **attributes}
        token = _CURRENT.set(self)
        started = time.perf_counter()
        call = Call()
        span_scope = (
            self.tracer.start_as_current_span(f"qdbtools.{name}", attributes=attributes)
            if self.tracing()
            else contextlib.nullcontext()
        )
        try:
            with span_scope as span:
                try:
                    yield call
                except NoDataError:
                    call.outcome = "no_data"
                    raise
                except BaseException as exc:
                    call.fail(type(exc).__name__)
                    raise
                finally:
                    if span is not None:
                        span.set_attribute("outcome", call.outcome)
        finally:
            seconds = time.perf_counter() - started
            _CURRENT.reset(token)
            recorded = {**attributes, "outcome": call.outcome}
            self.duration.record(seconds, recorded)
            self.calls.add(1, recorded)
            if call.error_type is not None:
                self.errors.add(1, {**attributes, "error.type": call.error_type})
            self.stats.record(name, seconds, call.outcome)

    def tracing(self) -> bool:
        """Whether spans go anywhere: a tracer provider was given, or the application set one.

        The API's no-op spans cost tens of microseconds each in Python; without a provider
        they are not made at all.
        """
        if self._tracer_given:
            return True
        provider = self._trace.get_tracer_provider()
        return not isinstance(provider, self._trace.ProxyTracerProvider | self._trace.NoOpTracerProvider)


def step(name: str) -> contextlib.AbstractContextManager[Any]:
    """A child span of the current operation (a server round trip, the conversion, ...)."""
    telemetry = _CURRENT.get()
    if telemetry is None or not telemetry.tracing():
        return contextlib.nullcontext()
    return telemetry.tracer.start_as_current_span(name)


class _Instrumented(Protocol):
    telemetry: Telemetry


def _owner(args: tuple[Any, ...]) -> _Instrumented:
    owner: _Instrumented = args[0]  # the method's self
    return owner


P = ParamSpec("P")
R = TypeVar("R")
_ATTRIBUTE_PARAMETERS = ("mode", "engine", "interval")
_ID_PARAMETERS = ("session_id", "symbol")


def instrumented(
    operation: str, *, table: str | None = None, parameters: Sequence[str] = _ATTRIBUTE_PARAMETERS
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a method of an object with a ``telemetry`` attribute to measure its calls.

    The values of the method's arguments named in ``parameters`` (when it has them) become
    attributes; so do ``session_id`` and ``symbol`` when the telemetry records ids.
    """

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(method)
        names = list(signature.parameters)
        wanted = [p for p in (*parameters, *_ID_PARAMETERS) if p in signature.parameters]
        where = {p: (names.index(p), signature.parameters[p].default) for p in wanted}
        fixed = {"table": table} if table is not None else {}

        def attributes(telemetry: Telemetry, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, str]:
            found = dict(fixed)
            for parameter, (position, default) in where.items():
                if parameter in _ID_PARAMETERS and not telemetry.record_ids:
                    continue
                value = (
                    kwargs[parameter]
                    if parameter in kwargs
                    else (args[position] if position < len(args) else default)
                )
                if value is not None and value is not inspect.Parameter.empty:
                    found[parameter] = str(value)
            return found

        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def awaited(*args: Any, **kwargs: Any) -> Any:
                telemetry = _owner(args).telemetry
                with telemetry.operation(operation, attributes(telemetry, args, kwargs)):
                    return await method(*args, **kwargs)

            return awaited  # type: ignore[return-value]  # the same signature, as a coroutine function

        @functools.wraps(method)
        def measured(*args: P.args, **kwargs: P.kwargs) -> R:
            telemetry = _owner(args).telemetry
            with telemetry.operation(operation, attributes(telemetry, args, kwargs)):
                return method(*args, **kwargs)

        return measured

    return decorate
