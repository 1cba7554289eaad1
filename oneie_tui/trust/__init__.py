"""The trust boundary: text, numbers, JSON and files from outside (agents, tools, servers,
specs, imported runs) are data. One place for each rule: `display` (no control bytes reach
a terminal or report), `numbers` (finite and in range), `json_bounds` (nesting), `bounded_read`
(size limits for any file, device or pipe), `redact` (keys masked), `pathguard` (paths stay
inside the project), `webhook_url` (where a notice may be POSTed)."""
