"""The base every document model shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DocumentModel(BaseModel):
    """Strict about unknown fields (a misspelling must not silently do nothing), immutable, finite numbers only.

    Attribute docstrings become descriptions in the JSON Schema that editors show. The config is spelled out
    here, in a class body, so mypy's pydantic plugin also knows the models are frozen.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True)
