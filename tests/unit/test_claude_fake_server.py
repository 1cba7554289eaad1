"""The scripted Messages API server speaks what the real SDK expects."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import anthropic
import anyio
import httpx2
import pytest

from tests.fakes.anthropic_server import (
    ScriptedAnthropicServer,
    Usage,
    bash,
    disconnect,
    emit_event,
    mid_stream_error,
    per_agent,
    rate_limit,
    text,
)

CACHED_SYSTEM = [
    {"type": "text", "text": "shared context " * 200, "cache_control": {"type": "ephemeral"}}
]


def _client(srv: ScriptedAnthropicServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key="sk-ant-fake", base_url=srv.base_url, max_retries=0)


async def _stream(client: anthropic.AsyncAnthropic, user: str = "hi") -> Any:
    async with client.messages.stream(
        model="claude-sonnet-5-5",
        max_tokens=100,
        system=CACHED_SYSTEM,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": user}],
    ) as s:
        return await s.get_final_message()


def test_text_and_tool_use_stream_through_the_real_sdk() -> None:
    script = [
        text(
            "Hello ",
            "world",
            usage=Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=7),
        ),
        emit_event("schema_ready", {"tables": 2}),
        bash("echo hi > out.txt"),
    ]

    async def main() -> None:
        async with ScriptedAnthropicServer(script) as srv:
            async with _client(srv) as client:
                m1 = await _stream(client)
                assert m1.content[0].text == "Hello world"
                assert (m1.usage.input_tokens, m1.usage.output_tokens) == (10, 5)
                assert m1.usage.cache_read_input_tokens == 7
                m2 = await _stream(client)
                assert m2.stop_reason == "tool_use"
                assert m2.content[0].name == "emit_event"
                assert m2.content[0].input == {"action": "schema_ready", "metadata": {"tables": 2}}
                m3 = await _stream(client)
                assert m3.content[0].name == "Bash"
                assert m3.content[0].input == {"command": "echo hi > out.txt"}
                # Script ran out: the default reply.
                m4 = await _stream(client)
                assert m4.content[0].text == "ok"
                assert srv.script_exhausted == 1
                req = srv.message_requests()[0]
                assert req.headers["authorization"] == "Bearer sk-ant-fake"
                assert req.body["stream"] is True
                assert req.system_blocks == CACHED_SYSTEM

    anyio.run(main)


def test_cache_simulation_writes_once_then_reads() -> None:
    async def main() -> None:
        async with ScriptedAnthropicServer() as srv:
            async with _client(srv) as client:
                first = await _stream(client)
                second = await _stream(client)
                assert first.usage.cache_creation_input_tokens > 0
                assert first.usage.cache_read_input_tokens == 0
                assert (
                    second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
                )
                assert second.usage.cache_creation_input_tokens == 0

    anyio.run(main)


def test_faults_reach_the_sdk_as_the_real_api_would() -> None:
    script = [rate_limit(2.5), mid_stream_error("partial "), disconnect("half")]

    async def main() -> None:
        async with ScriptedAnthropicServer(script) as srv:
            async with _client(srv) as client:
                with pytest.raises(anthropic.RateLimitError) as rl:
                    await _stream(client)
                assert rl.value.response.headers["retry-after"] == "2.5"
                with pytest.raises(anthropic.APIStatusError) as mid:
                    await _stream(client)
                assert mid.value.status_code == 200
                with pytest.raises((httpx2.TransportError, anthropic.APIConnectionError)):
                    await _stream(client)

    anyio.run(main)


def test_per_agent_scripts_route_by_agent_id_and_other_endpoints_answer() -> None:
    script = per_agent({"agent-a": [text("for a")], "agent-ab": [text("for ab")]})

    async def main() -> None:
        async with ScriptedAnthropicServer(script) as srv:
            async with _client(srv) as client:
                assert (await _stream(client, "You are agent-ab")).content[0].text == "for ab"
                assert (await _stream(client, "You are agent-a")).content[0].text == "for a"
                assert (await _stream(client, "You are agent-a")).content[0].text == "ok"
                count = await client.messages.count_tokens(
                    model="claude-sonnet-5-5", messages=[{"role": "user", "content": "x" * 40}]
                )
                assert count.input_tokens > 0

    anyio.run(main)


def test_non_streaming_and_unknown_paths() -> None:
    with ScriptedAnthropicServer([text("plain")]) as srv:
        body = json.dumps(
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
        ).encode()
        req = urllib.request.Request(
            srv.base_url + "/v1/messages?beta=true",
            data=body,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req) as resp:
            msg = json.loads(resp.read())
        assert msg["content"] == [{"type": "text", "text": "plain"}]
        assert srv.requests[0].query == {"beta": "true"}
        with urllib.request.urlopen(srv.base_url + "/api/hello") as resp:
            assert resp.status == 200
