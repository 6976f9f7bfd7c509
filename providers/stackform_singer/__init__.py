"""Singer taps, mappers and targets for stackform: kinds ``extractors``, ``mappers`` and
``loaders``.

Each plugin is installed with uv into a venv shared through stackform's content-addressed cache
(:mod:`stackform.plugins.installs`); an extractor's catalog is discovered at apply and the stack's
``select`` rules and ``metadata`` are applied to it (:mod:`.catalog`). In a pipeline, an
extractor step consumes the loader step after it: the tap's stdout is connected to the target's
stdin by an OS pipe, and only the target's STATE output and both stderr streams pass through
stackform (:mod:`.pipe`).

Secrets reach a plugin only while it runs, through a 0600 config file in a private temporary
folder that is removed afterwards; the config rendered at apply for inspection holds no
sensitive value.
"""

from stackform_singer.provider import ExtractorProvider, LoaderProvider, MapperProvider

__all__ = ["ExtractorProvider", "LoaderProvider", "MapperProvider"]
