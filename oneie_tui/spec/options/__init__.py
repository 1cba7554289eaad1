"""Per-backend spec options, one module per backend, so each backend's owner edits one file.
Every model here is strict like the rest of the spec (unknown keys are errors)."""
