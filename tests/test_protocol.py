"""What a client may send on the conversation socket: every rule of every frame field, with the exact
message and code each refusal carries (tests/test_consumer.py sends a selection over a real socket),
and what a valid frame asks for."""
from __future__ import annotations

import json
from typing import Any

import pytest

from conversations.errors import ServiceError
from conversations.providers.base import GenerationSettings
from conversations.services import Variant
from conversations.streaming.protocol import Action, parse_action

SEND = {"action": "send", "parent": None, "content": "hi", "model": "openai:m"}
EDIT = {"action": "edit", "turn": 3, "content": "hi", "model": "openai:m"}
TWO = [{"model": "openai:a"}, {"model": "anthropic:b"}]


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.MAX_MESSAGE_CHARS = 10
    settings.MAX_SYSTEM_PROMPT_CHARS = 5
    settings.MAX_OUTPUT_TOKENS = 100


def refusal(frame) -> tuple[str, str]:
    with pytest.raises(ServiceError) as caught:
        parse_action(frame)
    return caught.value.code, caught.value.message


TURN_RULE = '"turn" must be a turn id (a positive integer).'
MODEL_RULE = '"model" must be a model id like "local:smollm2-135m-instruct".'
VARIANTS_RULE = '"variants" must be a list of 2 to 6 {"model", "settings"} objects.'
MAX_TOKENS_RULE = "settings.max_tokens must be a whole number from 1 to 100."
ACTIONS = "expected one of: send, edit, regenerate, stop, resume, delete, main."
UNKNOWN_SETTING = (
    "Unknown setting {!r}; known settings: system_prompt, temperature, max_tokens, top_p, reasoning_effort, "
    "thinking_budget."
)

BAD = {
    # The frame
    "a list": ([1], "wrong_type", "A frame must be a JSON object."),
    "no action": ({"content": "x"}, "unknown_action", f"Unknown action None; {ACTIONS}"),
    "an unknown action": ({"action": "dance"}, "unknown_action", f"Unknown action 'dance'; {ACTIONS}"),
    "an action that is not a string": ({"action": ["send"]}, "unknown_action", f"Unknown action ['send']; {ACTIONS}"),
    "a number as request_id": ({**SEND, "request_id": 5}, "wrong_type",
                               '"request_id" must be a string of at most 100 characters.'),
    "null as request_id": ({**SEND, "request_id": None}, "wrong_type",
                           '"request_id" must be a string of at most 100 characters.'),
    "a request_id too long": ({**SEND, "request_id": "r" * 101}, "wrong_type",
                              '"request_id" must be a string of at most 100 characters.'),
    # Turn ids
    "no parent": ({k: v for k, v in SEND.items() if k != "parent"}, "missing_field", '"parent" is missing.'),
    "a string as parent": ({**SEND, "parent": "7"}, "wrong_type",
                           '"parent" must be a turn id (a positive integer) or null.'),
    "no turn": ({"action": "stop"}, "missing_field", '"turn" is missing.'),
    "null turn to stop": ({"action": "stop", "turn": None}, "wrong_type", TURN_RULE),
    "turn 0": ({"action": "delete", "turn": 0}, "wrong_type", TURN_RULE),
    "a negative turn": ({"action": "regenerate", "turn": -1, "model": "openai:m"}, "wrong_type", TURN_RULE),
    "a turn past the largest id": ({"action": "stop", "turn": 2**63}, "wrong_type", TURN_RULE),
    "true as turn": ({"action": "stop", "turn": True}, "wrong_type", TURN_RULE),
    "a float as turn": ({"action": "stop", "turn": 1.0}, "wrong_type", TURN_RULE),
    "no turn for main": ({"action": "main"}, "missing_field", '"turn" is missing.'),
    "a string as main's turn": ({"action": "main", "turn": "1"}, "wrong_type",
                                '"turn" must be a turn id (a positive integer) or null.'),
    "no turn to edit": ({k: v for k, v in EDIT.items() if k != "turn"}, "missing_field", '"turn" is missing.'),
    # The message
    "no content": ({k: v for k, v in SEND.items() if k != "content"}, "wrong_type", '"content" must be a string.'),
    "a number as content": ({**SEND, "content": 5}, "wrong_type", '"content" must be a string.'),
    "blank content": ({**SEND, "content": " \n\t"}, "empty", "The message is empty."),
    "a NUL in content": ({**EDIT, "content": "a\x00b"}, "invalid", "The message contains a NUL character."),
    "content over the limit": ({**SEND, "content": "x" * 11}, "too_large",
                               "The message is 11 characters; the limit is 10."),
    # Models and settings
    "no model": ({k: v for k, v in SEND.items() if k != "model"}, "wrong_type", MODEL_RULE),
    "a model without a provider": ({**SEND, "model": "gpt"}, "wrong_type", MODEL_RULE),
    "a number as model": ({**SEND, "model": 3}, "wrong_type", MODEL_RULE),
    "no model to regenerate": ({"action": "regenerate", "turn": 1}, "wrong_type", MODEL_RULE),
    "settings as a list": ({**SEND, "settings": []}, "wrong_type", '"settings" must be an object.'),
    "an unknown setting": ({**SEND, "settings": {"seed": 1}}, "unknown_setting", UNKNOWN_SETTING.format("seed")),
    "a number as system prompt": ({**SEND, "settings": {"system_prompt": 5}}, "wrong_type",
                                  "settings.system_prompt must be a string."),
    "false as system prompt": ({**SEND, "settings": {"system_prompt": False}}, "wrong_type",
                               "settings.system_prompt must be a string."),
    "a NUL in the system prompt": ({**SEND, "settings": {"system_prompt": "\x00"}}, "invalid",
                                   "The system prompt contains a NUL character."),
    "a system prompt over the limit": ({**SEND, "settings": {"system_prompt": "s" * 6}}, "too_large",
                                       "The system prompt is 6 characters; the limit is 5."),
    "a temperature too high": ({**SEND, "settings": {"temperature": 2.5}}, "wrong_type",
                               "settings.temperature must be a number from 0 to 2."),
    "a temperature below 0": ({**SEND, "settings": {"temperature": -0.1}}, "wrong_type",
                              "settings.temperature must be a number from 0 to 2."),
    "a string as temperature": ({**SEND, "settings": {"temperature": "hot"}}, "wrong_type",
                                "settings.temperature must be a number from 0 to 2."),
    "true as temperature": ({**SEND, "settings": {"temperature": True}}, "wrong_type",
                            "settings.temperature must be a number from 0 to 2."),
    "NaN as temperature": ({**SEND, "settings": {"temperature": float("nan")}}, "wrong_type",
                           "settings.temperature must be a number from 0 to 2."),
    "a top_p above 1": ({**SEND, "settings": {"top_p": 1.5}}, "wrong_type",
                        "settings.top_p must be a number from 0 to 1."),
    "infinite top_p": ({**SEND, "settings": {"top_p": float("inf")}}, "wrong_type",
                       "settings.top_p must be a number from 0 to 1."),
    "max_tokens 0": ({**SEND, "settings": {"max_tokens": 0}}, "wrong_type", MAX_TOKENS_RULE),
    "max_tokens over the limit": ({**SEND, "settings": {"max_tokens": 101}}, "wrong_type", MAX_TOKENS_RULE),
    "a float as max_tokens": ({**SEND, "settings": {"max_tokens": 10.0}}, "wrong_type", MAX_TOKENS_RULE),
    # Fan-outs
    "one variant": ({**SEND, "variants": TWO[:1]}, "wrong_type", VARIANTS_RULE),
    "seven variants": ({**SEND, "variants": TWO * 3 + TWO[:1]}, "wrong_type", VARIANTS_RULE),
    "null variants": ({**SEND, "variants": None}, "wrong_type", VARIANTS_RULE),
    "variants as text": ({**EDIT, "variants": "many"}, "wrong_type", VARIANTS_RULE),
    "a variant that is not an object": ({**SEND, "variants": [TWO[0], 2]}, "wrong_type",
                                        'Each of "variants" must be an object with "model" and "settings".'),
    "a variant without a model": ({**SEND, "variants": [TWO[0], {}]}, "wrong_type", MODEL_RULE),
    "a variant's unknown setting": ({**EDIT, "variants": [TWO[0], {"model": "a:b", "settings": {"seed": 1}}]},
                                    "unknown_setting", UNKNOWN_SETTING.format("seed")),
    "a variant's bad temperature": ({**SEND, "variants": [{"model": "a:b", "settings": {"temperature": 3}}, TWO[1]]},
                                    "wrong_type", "settings.temperature must be a number from 0 to 2."),
    # Resume
    "a negative offset": ({"action": "resume", "turn": 1, "offset": -1}, "wrong_type",
                          '"offset" must be a whole number of characters, 0 or more.'),
    "a float offset": ({"action": "resume", "turn": 1, "offset": 1.5}, "wrong_type",
                       '"offset" must be a whole number of characters, 0 or more.'),
    "null offset": ({"action": "resume", "turn": 1, "offset": None}, "wrong_type",
                    '"offset" must be a whole number of characters, 0 or more.'),
    "no turn to resume": ({"action": "resume", "offset": 0}, "missing_field", '"turn" is missing.'),
}


@pytest.mark.parametrize("frame,code,message", BAD.values(), ids=BAD.keys())
def test_each_bad_field_is_refused_with_its_message(frame, code, message):
    assert refusal(frame) == (code, message)


def test_the_first_problem_is_answered_in_the_order_fields_are_written():
    # request_id before the action, even one that does not exist.
    assert refusal({"action": "dance", "request_id": 5})[0] == "wrong_type"
    # The parent before the content, the content before the model.
    assert refusal({"action": "send", "parent": "x", "content": 5, "model": 5})[1].startswith('"parent"')
    assert refusal({**SEND, "content": 5, "model": 5})[1] == '"content" must be a string.'
    # A setting's unknown key before the settings' other problems; the first by name when several.
    settings = {"zeta": 1, "temperature": 9, "alpha": 2}
    assert refusal({**SEND, "settings": settings}) == ("unknown_setting", UNKNOWN_SETTING.format("alpha"))
    # Variants in order, each whole before the next.
    variants = [{"model": "a:b", "settings": {"temperature": 9}}, {"model": 5}]
    assert "temperature" in refusal({**SEND, "variants": variants})[1]


def test_keys_an_action_does_not_read_are_ignored():
    frame: dict[str, Any] = {**SEND, "note": {"any": ["thing"]}, "turn": "not read by send", "offset": -5}
    assert parse_action(frame) == Action("send", parent=None, content="hi", variants=(Variant("openai:m"),))
    # With "variants", the single "model" and "settings" are not read, nor a variant's other keys.
    frame = {**EDIT, "model": 5, "settings": {"seed": 1},
             "variants": [{"model": "openai:a", "label": 1}, {"model": "anthropic:b", "settings": None}]}
    assert parse_action(frame).variants == (Variant("openai:a"), Variant("anthropic:b"))
    # regenerate asks for one reply, whatever "variants" says.
    frame = {"action": "regenerate", "turn": 4, "model": "openai:m", "variants": "ignored"}
    assert parse_action(frame) == Action("regenerate", turn=4, variants=(Variant("openai:m"),))


def test_valid_frames_are_read_as_actions():
    settings = {"system_prompt": "Be", "temperature": 1, "max_tokens": 100, "top_p": 0}
    assert parse_action({**SEND, "parent": 2, "request_id": "r" * 100, "settings": settings}) == Action(
        "send", request_id="r" * 100, parent=2, content="hi",
        variants=(Variant("openai:m", GenerationSettings(system_prompt="Be", temperature=1.0, max_tokens=100,
                                                         top_p=0.0)),),
    )
    # A temperature given as a whole number is read as a number with a fraction.
    assert isinstance(parse_action({**SEND, "settings": settings}).variants[0].settings.temperature, float)
    # Null settings and a null system prompt are no settings.
    for empty in (None, {}, {"system_prompt": None, "temperature": None, "max_tokens": None, "top_p": None}):
        assert parse_action({**SEND, "settings": empty}).variants == (Variant("openai:m"),)
    fan = parse_action({**EDIT, "variants": [{"model": "a:b", "settings": {"temperature": 0.5}}] + TWO})
    assert (fan.name, fan.turn, fan.content) == ("edit", 3, "hi")
    assert [v.model_id for v in fan.variants] == ["a:b", "openai:a", "anthropic:b"]
    assert fan.variants[0].settings.temperature == 0.5
    assert parse_action({"action": "resume", "turn": 2**63 - 1}) == Action("resume", turn=2**63 - 1, offset=0)
    assert parse_action({"action": "resume", "turn": 1, "offset": 10**30}).offset == 10**30
    assert parse_action({"action": "main", "turn": None}) == Action("main", turn=None)
    assert parse_action({"action": "main", "turn": 5, "request_id": "m"}) == Action("main", "m", turn=5)
    for name in ("stop", "delete"):
        assert parse_action({"action": name, "turn": 9}) == Action(name, turn=9)


def test_limits_are_read_when_a_frame_is_checked(settings):
    frame = {**SEND, "content": "x" * 20, "settings": {"max_tokens": 500, "system_prompt": "s" * 20}}
    assert refusal(frame)[0] == "too_large"
    settings.MAX_MESSAGE_CHARS = 20
    assert refusal(frame) == ("too_large", "The system prompt is 20 characters; the limit is 5.")
    settings.MAX_SYSTEM_PROMPT_CHARS = 20
    assert refusal(frame) == ("wrong_type", "settings.max_tokens must be a whole number from 1 to 100.")
    settings.MAX_OUTPUT_TOKENS = 500
    assert parse_action(frame).variants[0].settings.max_tokens == 500


def test_json_numbers_python_reads_as_nan_are_refused():
    # json.loads reads NaN and Infinity, which no number setting may be.
    frame = json.loads('{"action": "send", "parent": null, "content": "hi", "model": "a:b", '
                       '"settings": {"temperature": NaN, "top_p": Infinity}}')
    assert refusal(frame) == ("wrong_type", "settings.temperature must be a number from 0 to 2.")


@pytest.mark.parametrize("frame", [
    {"action": "x" * 100_000},
    {"action": "send", "content": "hi", "model": "openai:m", "settings": {"k" * 100_000: 1}},
])
def test_a_huge_unknown_name_is_not_echoed_back_whole(frame):
    with pytest.raises(ServiceError) as refused:
        parse_action(frame)
    assert len(refused.value.message) < 200
