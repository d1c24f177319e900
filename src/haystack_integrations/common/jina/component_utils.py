"""
The component shell: what every Jina component shares (client, lifecycle, serialization, `run` on the loop).

Only components import this module; the wire code in `common/` never does.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from haystack import Document, default_from_dict, default_to_dict
from haystack.utils import Secret, deserialize_secrets_inplace

from haystack_integrations.common.jina import engine
from haystack_integrations.common.jina.batches import Outcome, run_each
from haystack_integrations.common.jina.classification import (
    CLASSIFY_URL,
    Labels,
    check_classify_model,
    classify_payload,
    parse_classify_response,
)
from haystack_integrations.common.jina.documents import check_documents, check_each, text_with_meta, unwrap
from haystack_integrations.common.jina.embeddings import embed_documents
from haystack_integrations.common.jina.endpoints import check_base_url
from haystack_integrations.common.jina.http.client import JinaClient
from haystack_integrations.common.jina.reader import ACCEPT_JSON
from haystack_integrations.common.jina.reader_options import ReaderOptions

T = TypeVar("T")
C = TypeVar("C", bound="JinaComponentBase")


#: What every component's `__init__` docstring says of these parameters, word for word (one source: a test
#: compares them). The text stays static in each docstring, where IDEs and Haystack's docs generator read it.
PARAMETER_DOCS = MappingProxyType(
    {
        "api_key": "The Jina API key; by default read from the `JINA_API_KEY` environment variable.",
        "timeout": "Seconds to wait for an answer. `None` reads `JINA_TIMEOUT`, else 60.",
        "max_retries": (
            "Retries on rate limits, 500/502/503/504 and connection errors. `None` reads `JINA_MAX_RETRIES`, else 5."
        ),
    }
)


class JinaComponentBase:
    """
    What every Jina component shares: its client's lifecycle and deserialization.

    The constructor only stores settings. `warm_up` resolves the key and opens the session (`run` calls it
    first); `close` releases them. All four lifecycle methods are idempotent. Copies, pickles and
    forked children get a client of their own (see `JinaClient`), so components need nothing for that.

    Naming: `run` and `run_async` hand the component's job, the coroutine `self._run(...)`, to `_call` /
    `_call_async`; a worker the batch engine awaits once per input is `_<verb>_one` (`_read_one`).
    """

    _client: JinaClient
    api_key: Secret
    timeout: float | None
    max_retries: int | None
    max_concurrency: int | None
    #: The parameters `to_dict` writes whatever their value. For a component of the published
    #: `jina-haystack` package: the ones it writes; for a component new here: those of its first release.
    #: Every other parameter is written only when it differs from its default (see `to_dict`).
    #: `None`: all parameters but those in `ADDED_TO_EVERY_COMPONENT`.
    always_serialized: ClassVar[frozenset[str] | None] = None

    #: `__init__` parameters kept under another attribute name (`{"model": "model_name"}`); `None`: not kept
    #: (another parameter holds its value, as `dimensions` is the image embedder's `embedding_dimension`).
    init_attributes: ClassVar[Mapping[str, str | None]] = {}

    def _connect(
        self,
        api_key: Secret,
        timeout: float | None,
        max_retries: int | None,
        max_concurrency: int | None,
        *,
        unstated_cap: int | None = None,
    ) -> None:
        """Keep the client settings (`max_concurrency` as checked) and make the client (no I/O: `warm_up` opens it)."""
        self.api_key, self.timeout, self.max_retries = api_key, timeout, max_retries
        self._client = JinaClient(
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            unstated_cap=unstated_cap,
        )
        self.max_concurrency = self._client.max_concurrency

    def _get_telemetry_data(self) -> dict[str, Any]:
        """The model, for Haystack's telemetry (never the key or the data)."""
        model = getattr(self, "model_name", getattr(self, "model", None))
        return {} if model is None else {"model": model}

    def to_dict(self) -> dict[str, Any]:
        """
        Serialize this component to a dictionary: every `__init__` parameter from the attribute that keeps it.

        :returns: The dictionary; the API key appears only as the name of its environment variable.
        """
        parameters: dict[str, Any] = {}
        for name in init_defaults(type(self)):
            attribute = self.init_attributes.get(name, name)
            if name not in ("self", "api_key") and attribute is not None:
                value = getattr(self, attribute)
                parameters[name] = str(value) if isinstance(value, enum.Enum) else value
        return to_dict(self, self.api_key, **parameters)

    def warm_up(self) -> None:
        """
        Resolve the API key and open the HTTP session; does nothing if they already are.

        :raises JinaMissingKeyError: If the key is not set, naming the environment variable.
        """
        self._client.open()

    async def warm_up_async(self) -> None:
        """Like `warm_up` (it does no I/O, so it does not block the event loop); for `Pipeline.warm_up_async`."""
        self._client.open()

    def close(self) -> None:
        """Close the HTTP session; a later `warm_up` or `run` opens a new one. Idempotent."""
        self._client.close()

    async def close_async(self) -> None:
        """Like `close`: `run` and `run_async` share one session. For `Pipeline.close_async`."""
        self._client.close()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        """Warm up, then run `work` (the component's requests) on the request loop and wait for it (`run`)."""
        return engine.run_sync(self._warmed(work))

    async def _call_async(self, work: Coroutine[Any, Any, T]) -> T:
        """Warm up, then await `work` on the request loop (`run_async`): the caller's loop stays free."""
        return await engine.run_async(self._warmed(work))

    def _warmed(self, work: Coroutine[Any, Any, T]) -> Coroutine[Any, Any, T]:
        """`work` once the component is warm; a missing key raises here, before any item can fail on its own."""
        try:
            self.warm_up()
        except BaseException:
            work.close()  # never started: close it so it is not reported as never awaited
            raise
        return work

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        """
        Deserialize a component from a dictionary made by `to_dict`.

        :param data: The dictionary.
        :returns: The component.
        """
        return from_dict(cls, data)


class DocumentEmbedderBase(JinaComponentBase):
    """A component that embeds Documents in concurrent requests, with `embed_documents` and its own settings."""

    model_name: str
    base_url: str
    raise_on_failure: bool
    progress_bar: bool

    async def _embed_documents(
        self,
        documents: Sequence[Document],
        groups: Sequence[list[int]],
        make_input: Callable[[int], Any],
        *,
        options: dict[str, Any],
        size_of: Callable[[list[int]], tuple[int, int]],
        **more: Any,
    ) -> dict[str, Any]:
        """`embed_documents` (see it for `more`) with this component's client, endpoint, model and failure mode."""
        return await embed_documents(
            self._client,
            self.base_url,
            documents,
            groups,
            make_input,
            model=self.model_name,
            options=options,
            raise_on_failure=self.raise_on_failure,
            progress_bar=self.progress_bar,
            size_of=size_of,
            **more,
        )


class ClassifyComponentBase(JinaComponentBase):
    """A component of `/v1/classify`: zero-shot against its `labels`, or with a trained `classifier_id`."""

    labels: Labels | None
    classifier_id: str | None
    model: str
    base_url: str

    def _keep_classify_settings(
        self, labels: Labels | None, classifier_id: str | None, model: str, base_url: str, *, images: bool = False
    ) -> None:
        """Keep the (checked) labels and classifier; check the model (`images`: it must take them) and endpoint."""
        check_classify_model(model, images=images)
        check_base_url(base_url, like=CLASSIFY_URL)
        self.labels, self.classifier_id, self.model, self.base_url = labels, classifier_id, model, base_url

    def _get_telemetry_data(self) -> dict[str, Any]:
        return {"model": self.model, "few_shot": self.classifier_id is not None}

    @property
    def _zero_shot_labels(self) -> Labels | None:
        """The labels sent with each request: none for a trained classifier, which has its own."""
        return self.labels if self.classifier_id is None else None

    def _classify_body(self, inputs: Sequence[Any]) -> dict[str, Any]:
        return classify_payload(
            inputs, model=self.model, labels=self._zero_shot_labels, classifier_id=self.classifier_id
        )

    def _parse(self, answer: Any, count: int) -> tuple[list[dict[str, Any]], str | None, dict[str, int]]:
        """One answer's classifications in input order, no model (a trained classifier names none) and usage."""
        result = parse_classify_response(answer, count, self._zero_shot_labels, self.base_url)
        return result.classifications, None, result.usage


class OptionsComponentBase(JinaComponentBase):
    """
    A component that keeps a group of its `__init__` parameters as one frozen dataclass, in `options_attribute`.

    Each option stays an attribute of its own name, as a plain one was: reading it reads the value's field,
    setting it replaces that field (so `to_dict` and the requests see the change alike).
    """

    options_attribute: ClassVar[str]

    def __getattr__(self, name: str) -> Any:
        options = self.__dict__.get(self.options_attribute)
        if options is not None and name in options.__dataclass_fields__:
            return getattr(options, name)
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)

    def __setattr__(self, name: str, value: Any) -> None:
        options = self.__dict__.get(self.options_attribute)
        if options is not None and name in options.__dataclass_fields__:
            name, value = self.options_attribute, dataclasses.replace(options, **{name: value})
        super().__setattr__(name, value)


class ReaderComponentBase(OptionsComponentBase):
    """A Reader component: its reader options are one `ReaderOptions`, each also an attribute of its name."""

    options_attribute = "reader_options"
    reader_options: ReaderOptions
    raise_on_failure: bool
    _accept: str
    _more_headers: Mapping[str, str]

    def _keep_reader_options(
        self, parameters: Mapping[str, Any], *, accept: str = ACCEPT_JSON, more: Mapping[str, str] | None = None
    ) -> None:
        """Keep the reader options among `parameters` (`__init__`'s `locals()`), checked, and the other headers."""
        self.reader_options = ReaderOptions.of(parameters)
        self._accept, self._more_headers = accept, dict(more or {})

    @property
    def _headers(self) -> dict[str, str]:
        """The headers of each request, made from the options as they are now (an option set later counts too)."""
        return {"Accept": self._accept, **self.reader_options.headers(), **self._more_headers}

    async def _check_then_run_each(
        self, count: int, check: Callable[[int], Any], work: Callable[[int, Any], Awaitable[T]]
    ) -> Outcome[T]:
        """
        `check(position)` every input before anything is sent, then `work(position, checked)` on all at once.

        Not raising on failure, an input that fails its check fails in order with the rest, never sent.
        """
        checked = check_each(range(count), check, raise_on_failure=self.raise_on_failure)
        return await run_each(lambda p: work(p, unwrap(checked[p])), count, fail_fast=self.raise_on_failure)


def stored_as(**attributes: str | None) -> Mapping[str, str | None]:
    """`JinaComponentBase.init_attributes`: `stored_as(model="model_name")`."""
    return MappingProxyType(attributes)


#: Parameters added to components of every kind after their first release: written only when not the default.
ADDED_TO_EVERY_COMPONENT = frozenset({"max_concurrency"})


def to_dict(component: Any, api_key: Secret, **init_parameters: Any) -> dict[str, Any]:
    """
    `default_to_dict` with the key serialized as a Secret (a token Secret refuses, as Haystack wants).

    Drop-in both ways: a parameter outside the class's `always_serialized` is written only when it
    differs from its `__init__` default, so a component that uses only the published package's
    parameters gives YAML that the published package (and earlier releases of this one) load.
    """
    always = getattr(type(component), "always_serialized", None)
    defaults = init_defaults(type(component))
    written = {
        name: value
        for name, value in init_parameters.items()
        if (name in always if always is not None else name not in ADDED_TO_EVERY_COMPONENT)
        or not is_default(value, defaults.get(name, inspect.Parameter.empty))
    }
    return default_to_dict(component, api_key=api_key.to_dict(), **written)


def init_defaults(cls: type[Any]) -> dict[str, Any]:
    """The defaults of `cls.__init__`'s parameters (`inspect.Parameter.empty` for required ones)."""
    # `__init__`, not the class: the signature of a component class is its metaclass' `__call__(*args, **kwargs)`
    return {name: parameter.default for name, parameter in inspect.signature(cls.__init__).parameters.items()}


def is_default(value: Any, default: Any) -> bool:
    """Whether `value` is what the default means; an empty list, dict or string stands for a `None` default."""
    if default is inspect.Parameter.empty:
        return False
    if default is None and isinstance(value, list | tuple | dict | str) and not value:
        return True  # e.g. meta_fields_to_embed=None is kept as []
    return type(value) is type(default) and bool(value == default)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Inverse of `to_dict`. Unlike Haystack's helpers, it leaves the caller's dictionary untouched."""
    data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
    deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
    component: T = default_from_dict(cls, data)
    return component


# check_documents and text_with_meta live in `documents.py` now; kept importable from here.
__all__ = [
    "ADDED_TO_EVERY_COMPONENT",
    "ClassifyComponentBase",
    "DocumentEmbedderBase",
    "JinaComponentBase",
    "OptionsComponentBase",
    "PARAMETER_DOCS",
    "ReaderComponentBase",
    "check_documents",
    "from_dict",
    "init_defaults",
    "is_default",
    "stored_as",
    "text_with_meta",
    "to_dict",
]
