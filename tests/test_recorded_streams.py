"""Real recorded vendor streams (tests/data/recorded, sources in SOURCES.md), replayed byte for byte
by the fake upstream in small pieces, read by each provider through its real SDK.

What every test expects was read by hand from the recording: the reply, the reasoning, the blocks
to send back, the refusal, the usage and the way the stream ends.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conversations.providers.base import (
    Event,
    Finish,
    GenerationRequest,
    Message,
    ProviderError,
    ReasoningBlock,
    ReasoningDelta,
    RefusalDelta,
    ResponseId,
    TextDelta,
    Usage,
)
from tests.fake_upstream import RECORDED_DIR, replay_chunks


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    error: ProviderError | None = None

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def reasoning(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, ReasoningDelta))

    @property
    def refusal(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, RefusalDelta))

    @property
    def blocks(self) -> list[dict]:
        return [e.block for e in self.events if isinstance(e, ReasoningBlock)]

    @property
    def usage(self) -> list[Usage]:
        return [e for e in self.events if isinstance(e, Usage)]

    @property
    def response_ids(self) -> list[str]:
        return [e.id for e in self.events if isinstance(e, ResponseId)]

    @property
    def kinds(self) -> list[str]:
        """The kinds of event in the order they came, a run of one kind counted once."""
        kinds: list[str] = []
        for event in self.events:
            name = type(event).__name__
            if not kinds or kinds[-1] != name:
                kinds.append(name)
        return kinds


async def replay(provider, recording: str, messages: list[Message] | None = None) -> Outcome:
    request = GenerationRequest(model=f"replay:{recording}", messages=messages or [Message("user", "Hello")])
    outcome = Outcome()
    try:
        async for event in provider.stream(request):
            outcome.events.append(event)
    except ProviderError as exc:
        outcome.error = exc
    return outcome


def test_every_recording_is_listed_in_sources():
    sources = (RECORDED_DIR / "SOURCES.md").read_text()
    recordings = sorted(p.relative_to(RECORDED_DIR).as_posix() for p in RECORDED_DIR.glob("*/*.sse"))
    assert len(recordings) == 11
    for name in recordings:
        assert f"`{name}`" in sources, name


def test_replays_split_the_bytes_the_same_way_every_time():
    data = (RECORDED_DIR / "messages" / "thinking_claude_sonnet_4.sse").read_bytes()
    pieces = replay_chunks(data, "replay:messages/thinking_claude_sonnet_4")
    assert b"".join(pieces) == data
    assert pieces == replay_chunks(data, "replay:messages/thinking_claude_sonnet_4")
    assert max(len(p) for p in pieces) <= 48 and len(pieces) > len(data) // 48
    assert pieces != replay_chunks(data, "replay:messages/other")


# --- OpenAI Chat Completions --------------------------------------------------------------------


async def test_chat_refusal_gpt_4o(providers, upstream):
    """openai/openai-python: gpt-4o refusing a structured-output request, as delta.refusal."""
    outcome = await replay(providers.providers["openai"], "chat/refusal_gpt_4o")
    assert outcome.error is None
    assert outcome.refusal == "I'm sorry, but I can't assist with that request."
    assert outcome.text == "" and outcome.reasoning == "" and outcome.blocks == []
    assert outcome.response_ids == ["chatcmpl-9tXmMGFPkLS0t0u0895fzYOblnfYa"]
    assert outcome.usage == [Usage(17, 12, None)]
    assert outcome.events[-1] == Finish("stop")
    assert outcome.kinds == ["ResponseId", "RefusalDelta", "Usage", "Finish"]
    assert upstream.requests[-1]["replay"] == "chat/refusal_gpt_4o.sse"


DEEPSEEK_REASONING = (
    'Hmm, the user just said "Hello". It\'s a simple greeting but I wonder if there\'s more to it.  \n\n'
    "The message is very brief, so I don't have much context to work with. Maybe they're just testing if "
    "I'm responsive, or perhaps they're new to chatting with AI.  \n\n"
    "I should keep my reply warm and inviting to encourage further conversation. A smiley face would help "
    "make it friendly. Since they didn't specify a need, I'll leave it open-ended by asking how I can help "
    "them today.  \n\n"
    'The tone should be cheerful but professional - not too stiff, not too casual. "Hello there!" feels '
    'right for a start. Adding "What can I do for you today?" turns it into an invitation rather than just '
    "mirroring their greeting.  \n\n"
    "I'll avoid assumptions about their gender, location, or intent since there's zero information. If "
    "they're just being polite, they might not reply further - and that's okay too."
)


async def test_chat_reasoning_content_deepseek(providers, upstream):
    """pydantic/pydantic-ai: deepseek-reasoner, its thinking in delta.reasoning_content."""
    outcome = await replay(providers.providers["ollama"], "chat/reasoning_content_deepseek")
    assert outcome.error is None
    assert outcome.reasoning == DEEPSEEK_REASONING
    assert outcome.text == "Hello there! 😊 How can I help you today?"
    assert outcome.refusal == "" and outcome.blocks == []
    assert outcome.response_ids == ["33be18fc-3842-486c-8c29-dd8e578f7f20"]
    assert outcome.usage == [Usage(6, 212, 198)]
    assert outcome.events[-1] == Finish("stop")
    assert outcome.kinds == ["ResponseId", "ReasoningDelta", "TextDelta", "Usage", "Finish"]


async def test_chat_reasoning_openrouter_claude(providers, upstream):
    """pydantic/pydantic-ai: Claude through OpenRouter, its thinking in delta.reasoning, between
    comment lines, with completion_tokens_details.reasoning_tokens."""
    outcome = await replay(providers.providers["ollama"], "chat/reasoning_openrouter_claude")
    assert outcome.error is None
    assert outcome.reasoning == "This is a simple arithmetic question. 2+2 equals 4."
    assert outcome.text == "2 + 2 = 4"
    assert outcome.response_ids == ["gen-1765226419-AGrwjunAftQIAgweibL8"]
    assert outcome.usage == [Usage(43, 36, 13)]
    assert outcome.events[-1] == Finish("stop")
    assert outcome.kinds == ["ResponseId", "ReasoningDelta", "TextDelta", "Usage", "Finish"]


async def test_chat_error_midstream_openrouter(providers, upstream):
    """pydantic/pydantic-ai: an error chunk from OpenRouter after the reasoning had begun."""
    provider = providers.providers["ollama"]
    outcome = await replay(provider, "chat/error_midstream_openrouter")
    assert outcome.error is not None
    assert outcome.error.message == f"{provider.label} reported an error mid-stream: Token limit reached"
    assert outcome.reasoning == "We need to respond to a greeting. The user"
    assert outcome.text == ""
    assert outcome.response_ids == ["gen-1762179802-UN8pkJI4AGZvryk0kFnb"]
    assert outcome.kinds == ["ResponseId", "ReasoningDelta"]


# --- OpenAI Responses ---------------------------------------------------------------------------

O3_SUMMARY = [
    "**Providing street crossing instructions**\n\nThe user is asking how to cross the street, which seems to "
    "be a request for safety instructions. I think it’s important to interpret this as a request for guidance "
    "on safe behaviors like checking for traffic and using crosswalks. So, I'll explain how to cross safely. "
    "Since this is general advice on pedestrian safety, it definitely fits within providing helpful, "
    "non-harmful guidance for safely crossing the street.",
    "**Explaining street crossing safety**\n\nI see that the user is asking how to cross the street, which "
    "seems to call for standard safety instructions. I should emphasize that they need to wait for a traffic "
    "light and only cross at designated crosswalks. I don't think their question poses any risk of harm, but "
    "I must ensure I provide clear guidance. I’ll outline steps like looking both ways and checking for "
    "traffic and remind them that I’m not a safety professional—just sharing general tips for safe street "
    "crossing.",
    "**Sharing street crossing safety tips**\n\nWhen crossing the street, I'll provide clear and "
    "straightforward guidelines. It's essential to identify a safe crossing location, ideally at a crosswalk. "
    "I should remind the user to stop at the curb, look both ways, listen for traffic, and be vigilant for "
    "any vehicles. Following traffic signals is crucial. I have to include disclaimers, like mentioning I'm "
    "not a road safety expert. Lastly, I’ll list key steps, ensuring it’s plain language and easily "
    "understandable for anyone needing assistance.",
    "**Providing safe crossing advice**\n\nI’m going to share some straightforward advice for crossing the "
    "street safely. I think it’s important to note that rules can vary by location. I’ll present this "
    "information in a bullet list for clarity. I’ll remind the user that I'm not a road safety expert, but "
    "here are some general guidelines to follow. Main tips will include things like always looking "
    "left-right-left before crossing and using crosswalks whenever possible. It will be clear and easy to "
    "understand!",
]
O3_TEXT = (
    "I'm not a road safety professional, but here are some generally accepted guidelines that might help you "
    "cross the street safely:\n\n"
    "1. Before approaching the curb, look around and prepare to stop—don’t assume vehicles will see you.\n"
    "2. If there’s a crosswalk or pedestrian crossing signal, use it. Wait for the “walk” signal or the gap "
    "in traffic before starting to cross.\n"
    "3. At the curb, stop and look left, right, then left again. This helps ensure you see vehicles coming "
    "from both directions.\n"
    "4. Even if the signal is in your favor, remain alert. Some drivers may not stop in time, so keep an eye "
    "on the traffic.\n"
    "5. If there isn’t a designated crossing area, choose the safest location available—ideally where "
    "drivers can see you from a distance.\n"
    "6. Avoid distractions (like using your phone) while you’re checking for traffic and crossing.\n"
    "7. Cross at a steady pace. Once you’re in the middle of the road, continue looking both ways and be "
    "ready to adjust if necessary.\n"
    "8. Once you’ve safely reached the other side, take a moment to ensure you’re completely past the area "
    "of moving vehicles.\n\n"
    "Keep in mind that local traffic laws and conditions might vary, so it’s a good idea to familiarize "
    "yourself with the rules specific to your area. Stay safe!"
)
O3_ENCRYPTED = (
    "gAAAAABoxC0m_QWpOlSt8wyPk_gtnjiI4mNLOryYlNXO-6rrVeIqBYDDAyMVg2_ldboZvfhW8baVbpki29gkTAyNygTr7L8gF1XK0hFo"
    "voa23ZYJKvuOnyLIJF-rXCsbDG7YdMYhi3bm82pMFVQxNK4r5muWCQcHmyJ2S1YtBoJtF_D1Ah7GpW2ACvJWsGikb3neAOnI-RsmUxCR"
    "u-cew7rVWfSj8jFKs8RGNQRvDaUzVniaMXJxVW9T5C7Ytzi852MF1PfVq0U-aNBzZBtAdwQcbn5KZtGkYLYTChmCi2hMrh5-lg9CgS8p"
    "qqY9-jv2EQvKHIumdv6oLiW8K59Zvo8zGxYoqT--osfjfS0vPZhTHiSX4qCkK30YNJrWHKJ95Hpe23fnPBL0nEQE5l6XdhsyY7TwMom0"
    "16P3dgWwgP5AtWmQ30zeXDs="
)


async def test_responses_reasoning_summary_o3_mini(providers, upstream):
    """pydantic/pydantic-ai: o3-mini with a detailed reasoning summary in four parts, its reasoning
    item encrypted for reuse."""
    outcome = await replay(providers.providers["openai-responses"], "responses/reasoning_summary_o3_mini")
    assert outcome.error is None
    assert outcome.reasoning == "\n\n".join(O3_SUMMARY)
    assert [e.text for e in outcome.events if isinstance(e, ReasoningDelta)].count("\n\n") == 3
    assert outcome.text == O3_TEXT
    assert outcome.blocks == [{
        "id": "rs_68c42d1d0878819d8266007cd3d1402c08fbf9b1584184ff",
        "type": "reasoning",
        "encrypted_content": O3_ENCRYPTED,
        "summary": [{"type": "summary_text", "text": part} for part in O3_SUMMARY],
    }]
    assert outcome.response_ids == ["resp_68c42d0fb418819dbfa579f69406b49508fbf9b1584184ff"]
    assert outcome.usage == [Usage(13, 1680, 1408)]
    assert outcome.events[-1] == Finish("stop")
    assert outcome.kinds == ["ResponseId", "ReasoningDelta", "ReasoningBlock", "TextDelta", "Usage", "Finish"]


async def test_responses_reasoning_text_openrouter_gpt_oss(providers, upstream):
    """pydantic/pydantic-ai: gpt-oss-20b through OpenRouter's Responses API: raw reasoning text, data
    lines without event names, a comment line, and [DONE] after the completed event."""
    outcome = await replay(providers.providers["openai-responses"], "responses/reasoning_text_openrouter_gpt_oss")
    reasoning = 'The user asks: "What is 2+2?" They expect a straightforward answer: 4. Just answer 4.'
    assert outcome.error is None
    assert outcome.reasoning == reasoning
    assert outcome.text == "4"
    assert outcome.blocks == [{
        "type": "reasoning", "id": "rs_tmp_2kbe7x16sax", "summary": [],
        "content": [{"type": "reasoning_text", "text": reasoning}],
    }]
    assert outcome.response_ids == ["gen-1764265411-Fu1iEX7h5MRWiL79lb94"]
    assert outcome.usage == [Usage(78, 37, 22)]
    assert outcome.events[-1] == Finish("stop")
    # The reasoning item is done only after the message here: its block comes after the text.
    assert outcome.kinds == ["ResponseId", "ReasoningDelta", "TextDelta", "ReasoningBlock", "Usage", "Finish"]


async def test_responses_error_insufficient_quota(providers, upstream):
    """vercel/ai: an error event (then response.failed) before any output."""
    provider = providers.providers["openai-responses"]
    outcome = await replay(provider, "responses/error_insufficient_quota")
    assert outcome.error is not None
    assert outcome.error.message == (
        f"{provider.label} reported an error mid-stream: You exceeded your current quota, please check your "
        "plan and billing details. For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors."
    )
    assert outcome.events == [ResponseId("resp_05500b38c2cd9bfc00691c7c9d222481a3b595421266dab424")]


async def test_responses_refusal_synthetic(providers, upstream):
    """Synthetic (no public recording has one): response.refusal.delta events as OpenAI documents them."""
    outcome = await replay(providers.providers["openai-responses"], "responses/refusal_synthetic")
    assert outcome.error is None
    assert outcome.refusal == "I'm sorry, but I can't assist with that request."
    assert outcome.text == "" and outcome.reasoning == ""
    assert outcome.usage == [Usage(17, 12, 0)]
    assert outcome.events[-1] == Finish("stop")
    assert outcome.kinds == ["ResponseId", "RefusalDelta", "Usage", "Finish"]


# --- Anthropic Messages -------------------------------------------------------------------------

SONNET_THINKING = (
    "This is a straightforward question about pedestrian safety. I should provide clear, practical advice for "
    "crossing streets safely. This is basic safety information that could help prevent accidents."
)
SONNET_SIGNATURE = (
    "Eu4CCkYICxgCKkCptg1Gj6hlyXcXwEx/TWfLRbzj5pHZxehbLo+uxHyNHQBj3v94K/YaznDPaHK1SaPgHUXNGXLS5ZLCZLLL1JyXEgxQ"
    "LRrXD+MKA8Gj3MMaDAIi1Fk1ElbTcIO+ySIwwNajYXaoICvXKEtJBn5Twv/xy2yG1gi2lSgo3666fWNsYlcNiVXkqoaw/VV5UKpaKtUB"
    "EYTbKvFgKPl/bDQbNNj1SZT3LYTE48PfmCGyN7ftjsi0wjeMQjuLJPWfnjszeZWLb1Ccdg7rmwtmIjBRE89SwW875a6sdIfLeXClM60m"
    "/mOwInPm0VBkRTbWEgTyalRdVIz0FGno+ls3M8JHWlaJhYutqSabkupoYsvO+ZNMszrIm8WkmnAhzRyYlCm6F6n2fnbDLOhgfUQbqukD"
    "cvs+QzxfwS21+l9T5fI8d4Xe5V7kyW1TB2oDfbY+qc1JPHgZhpI3Qy+BFYWVLaPls+l6xM1BpoJQGAE="
)
SONNET_TEXT = (
    "Here's how to cross the street safely:\n\n"
    "**At traffic lights or crosswalks:**\n"
    "- Wait for the walk signal or green light\n"
    "- Look both ways before stepping into the street\n"
    "- Make eye contact with drivers when possible\n"
    "- Stay alert and avoid distractions (phones, headphones)\n\n"
    "**At intersections without signals:**\n"
    "- Stop at the curb and look left, right, then left again\n"
    "- Listen for approaching vehicles\n"
    "- Cross when traffic is clear in both directions\n"
    "- Walk briskly but don't run\n\n"
    "**General safety tips:**\n"
    "- Use crosswalks and intersections when available\n"
    "- Wear bright or reflective clothing, especially at night\n"
    "- Stay visible - avoid crossing between parked cars\n"
    "- Keep looking for traffic while crossing\n"
    "- If there's a pedestrian island, stop there and check traffic again\n\n"
    "**Teach children to:**\n"
    "- Always hold an adult's hand\n"
    "- Stop at the curb automatically\n"
    "- Look and listen before crossing\n\n"
    "The key is being predictable, visible, and alert. Take your time to ensure it's safe before crossing."
)


async def test_messages_thinking_claude_sonnet_4(providers, upstream):
    """pydantic/pydantic-ai: claude-sonnet-4 with extended thinking: thinking deltas, then the
    signature, then the text (every event padded with spaces, as the API sends them)."""
    outcome = await replay(providers.providers["anthropic"], "messages/thinking_claude_sonnet_4")
    assert outcome.error is None
    assert outcome.reasoning == SONNET_THINKING
    assert outcome.blocks == [{"type": "thinking", "thinking": SONNET_THINKING, "signature": SONNET_SIGNATURE}]
    assert outcome.text == SONNET_TEXT
    assert outcome.response_ids == ["msg_01A6gwM9ZYySVuWAZxJ5Keko"]
    assert outcome.usage == [Usage(43, 277, None)]
    assert outcome.events[-1] == Finish("end_turn")
    assert outcome.kinds == ["ResponseId", "ReasoningDelta", "ReasoningBlock", "TextDelta", "Usage", "Finish"]


REDACTED = [
    "EqkECkYIBxgCKkA8AZ4noDfV5VcOJe/p3JTRB6Xz5297mrWhl3MbHSXDKTMfuB/Z52U2teiWWTN0gg4eQ4bGS9TPilFX/xWTIq9HEgyO"
    "mstSPriNwyn1G7AaDC51r0hQ062qEd55IiIwYQj3Z3MSBBv0bSVdXi60LEHDvC7tzzmpQfw5Hb6R9rtyOz/6vC/xPw9/E1mUqfBqKpAD"
    "O2HS2QlE/CnuzR901nZOn0TOw7kEXwH7kg30c85b9W7iKALgEejY9sELMBdPyIZNlTgKqNOKtY3R/aV5rGIRPTHh2Wh9Ijmqsf/TT7i/"
    "/Z+InaYTo6f/fxF8R0vFXMRPOBME4XIscb05HcNhh4c9FDkpqQGYKaq31IR1NNwPWA0BsvdDz7SIo1nfx4H+X0qKKqqegKnQ3ynaXiD5"
    "ydT1C4U7fku4ftgF0LGwIk4PwXBE+4BP0DcKr1HV3cn7YSyNakBSDTvRJMKcXW6hl7X3w2a4//sxjC1Cjq0uzkIHkhzRWirN0OSXt+g3"
    "m6b1ex0wGmSyuO17Ak6kgVBpxwPugtrqsflG0oujFem44hecXJ9LQNssPf4RSlcydiG8EXp/XLGTe0YfHbe3kJagkowSH/Dm6ErXBiVs"
    "7249brncyY8WA+7MOoqIM82YIU095B9frCqDJDUWnN84VwOszRrcaywmpJXZO4aeQLMC1kXD5Wabu+O/00tD/X67EWkkWuR0AhDIXXjp"
    "ot45vnBd4ewJ/hgB",
    "EtgBCkYIBxgCKkDQfGkwzflEJP5asG3oQfJXcTwJLoRznn8CmuczWCsJ36dv93X9H0NCeaJRbi5BrCA2DyMgFnRKRuzZx8VTv5axEgwk"
    "FmcHJk8BSiZMZRQaDDYv2KZPfbFgRa2QjyIwm47f5YYsSK9CT/oh/WWpU1HJJVHr8lrC6HG1ItRdtMvYQYmEGy+KhyfcIACfbssVKkDG"
    "v/NKqNMOAcu0bd66gJ2+R1R0PX11Jxn2Nd1JtZqkxx7vMT/PXtHDhm9jkDZ2k/6RjRRFuab/DBV3yRYdZ1J0GAE=",
]


async def test_messages_redacted_thinking_claude_sonnet_4_5(providers, upstream):
    """pydantic/pydantic-ai: two redacted_thinking blocks (no readable text), pings between blocks."""
    outcome = await replay(providers.providers["anthropic"], "messages/redacted_thinking_claude_sonnet_4_5")
    assert outcome.error is None
    assert outcome.blocks == [{"type": "redacted_thinking", "data": data} for data in REDACTED]
    assert outcome.reasoning == ""
    assert outcome.text == (
        "I notice that you've sent what appears to be some kind of test string or command. I don't have any "
        'special "magic string" triggers or backdoor commands that would expose internal systems or change my '
        "behavior.\n\nI'm Claude, an AI assistant created by Anthropic to be helpful, harmless, and honest. How "
        "can I assist you today with a legitimate task or question?"
    )
    assert outcome.response_ids == ["msg_018XZkwvj9asBiffg3fXt88s"]
    assert outcome.usage == [Usage(92, 189, None)]
    assert outcome.events[-1] == Finish("end_turn")
    assert outcome.kinds == ["ResponseId", "ReasoningBlock", "TextDelta", "Usage", "Finish"]


async def test_messages_overloaded_error_synthetic(providers, upstream):
    """Synthetic (no public recording has one): the error event of Anthropic's streaming docs after
    some text."""
    provider = providers.providers["anthropic"]
    outcome = await replay(provider, "messages/overloaded_error_synthetic")
    assert outcome.error is not None
    assert outcome.error.message == f"{provider.label} reported an error mid-stream: Overloaded"
    assert outcome.text == "Here is the start of an answer"
    assert outcome.kinds == ["ResponseId", "TextDelta"]


async def test_recorded_blocks_go_back_to_the_same_provider_with_thinking_on(providers, upstream):
    """The blocks a recording gave back continue the branch as they came, signatures and all."""
    from conversations.providers.base import GenerationSettings

    provider = providers.providers["anthropic"]
    first = await replay(provider, "messages/thinking_claude_sonnet_4")
    branch = [
        Message("user", "How do I cross the street?"),
        Message("assistant", first.text, provider="anthropic", reasoning_blocks=tuple(first.blocks)),
        Message("user", "And a river?"),
    ]
    request = GenerationRequest(model="replay:messages/redacted_thinking_claude_sonnet_4_5", messages=branch,
                                settings=GenerationSettings(thinking_budget=1024))
    events = [event async for event in provider.stream(request)]
    assert events[-1] == Finish("end_turn")
    sent = upstream.requests[-1]["json"]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["messages"][1] == {"role": "assistant", "content": [
        {"type": "thinking", "thinking": SONNET_THINKING, "signature": SONNET_SIGNATURE},
        {"type": "text", "text": SONNET_TEXT},
    ]}


@pytest.mark.parametrize("model,path", [
    ("replay:chat/no_such_recording", "/v1/chat/completions"),
    ("replay:messages/thinking_claude_sonnet_4", "/v1/chat/completions"),
])
async def test_a_replay_that_cannot_answer_is_a_clear_error(providers, upstream, model, path):
    request = GenerationRequest(model=model, messages=[Message("user", "Hello")])
    with pytest.raises(ProviderError) as caught:
        async for _ in providers.providers["openai"].stream(request):
            pass
    if "no_such" in model:
        assert "(404)" in caught.value.message and "names no recording" in caught.value.message
    else:
        assert "(400)" in caught.value.message
        assert "is a recording of the messages API; it cannot answer on /v1/chat/completions" in caught.value.message
    assert upstream.requests[-1]["path"] == path
