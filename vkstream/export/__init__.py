"""Deployable artefacts of a model: each network stage exported per batch size, and loading them back.

``export_model`` writes an export directory (``torch.export`` programs, AOTInductor packages or
TensorRT engines); ``load_export`` runs one as an :class:`~vkstream.models.OnlineVideoKNet`.
"""

from vkstream.export.artefacts import (
    FORMATS,
    MANIFEST,
    ExportError,
    ExportFormat,
    ExportManifest,
    example_inputs,
    export_model,
    is_export_dir,
    load_export,
    read_manifest,
)

__all__ = [
    "FORMATS",
    "MANIFEST",
    "ExportError",
    "ExportFormat",
    "ExportManifest",
    "example_inputs",
    "export_model",
    "is_export_dir",
    "load_export",
    "read_manifest",
]
