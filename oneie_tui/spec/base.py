"""The strict base every spec model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors, never silently dropped; NaN and infinity are not numbers
    a spec can mean (TOML allows `nan` and `inf`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class StrictTyped(Strict):
    """Also no type coercion: `duration = "2"` is an error, not 2.0. (TOML has real types,
    so a string where a number belongs is a mistake worth reporting.)"""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
