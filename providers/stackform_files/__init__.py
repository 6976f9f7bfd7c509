"""The ``files`` provider: one rendered file per ``[files.NAME]`` block.

```toml
[files.profiles]
path = "transform/profiles.yml"          # relative to the stack folder
template = "templates/profiles.yml.tmpl" # or: content = "..."
vars = { warehouse = "${var.warehouse}" }
mode = "0644"                            # optional
create_dirs = true                       # optional
```

Source
    Exactly one of ``content`` (the text, verbatim) or ``template`` (a UTF-8 file relative to the
    stack folder). A template is rendered with :class:`string.Template`: ``$name`` and
    ``${name}`` are replaced by ``vars[name]`` (booleans as ``true``/``false``), ``$$`` is a
    literal ``$``; an unknown name is an error, there are no expressions or loops. Stack-level
    interpolation (``${var.x}``, ``${secret.x}``) happens in core before the provider sees the
    block, so inside ``content`` and ``vars`` it works as everywhere else.

Attributes and drift
    The recorded attributes are the block as declared (for a template: its path and ``vars``,
    not the rendered text), so a plan shows the change the user actually made. The outputs of
    an apply record what was written: ``sha256`` and ``size`` of the bytes, ``abs_path``, the
    effective ``mode`` and, for a template, ``template_sha256`` of its source.

    ``read`` looks at the real file and returns the attributes that would produce what is on
    disk: nothing there -> ``None`` (the plan recreates it); mode differs from what was written
    -> ``mode`` as found. When the bytes differ from the recorded ``sha256``, a ``content`` file
    reports ``content`` as found (a fingerprint of it if the declared content was sensitive),
    so the plan shows the hand edit. A template file cannot be described by template + vars once
    it was edited, so ``read`` adds a ``content_sha256`` attribute (the found digest) that the
    declared block never has; the plan shows it as an update that rewrites the file. The same
    marker appears when the template *source* changed since the last apply (its sha256 differs
    from ``template_sha256``): the declared attributes are unchanged, yet the file would be.

Secrets
    A file whose ``content`` or ``vars`` contains a secret holds it in clear on disk: that is
    the user's explicit choice (a ``.env`` file for a tool that wants one). Such a file gets
    mode 0600 unless ``mode`` is set, and its ``sha256`` output (and any drift marker) is the
    state's keyed fingerprint rather than a bare sha256, which is cheap to guess. ``path``
    and ``template`` may not contain secrets: they are shown in plans and needed to find the
    file again.

Writes and deletes
    Writes go through :func:`stackform.fileio.atomic_write` (a temp file in the same folder,
    created 0600 and flocked, chmod, rename), so a reader or a killed apply never sees half a
    file and a secret is never readable by others while it is written. They do not wait for the
    disk one by one: apply flushes them all at once before state records them
    (:func:`stackform.fileio.sync_deferred`). The temp files a
    killed writer left beside a file are removed by the next write or delete of that file
    (:func:`stackform.fileio.sweep_temps_of`); ``read`` ignores them, so plans never touch them.
    ``path`` is force-new: moving a file deletes the old one and creates the new one. Deleting a
    file that is already gone is fine; folders created by ``create_dirs`` are left in place.
    Every disk failure is a :class:`FilesError` naming the path. ``path`` may not be one of
    stackform's own files (:meth:`FilesProvider.written_paths` declares it; core refuses it
    with a located error when the stack is resolved).
"""

from __future__ import annotations

from stackform_files._disk import FilesError
from stackform_files.config import FilesConfig
from stackform_files.provider import FilesProvider

__all__ = ["FilesConfig", "FilesError", "FilesProvider"]
