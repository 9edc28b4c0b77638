"""The step log's bounded reprs (akd.runner.purity) and the runner's step message: args
and results cut to ~200 characters, values of secret env vars masked as ``********``."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from akd.runner.context import Session
from akd.runner.protocol import SyncChannel
from akd.runner.purity import (
    FULL_RESULT_CHARS,
    MASK,
    mask,
    result_reprs,
    secret_values,
    summarize_args,
    summarize_result,
)

TOKEN = "xoxb-1234-abcdefghijklmnop"


def test_secret_values_take_marked_names_and_secret_looking_ones() -> None:
    env = {"slack__private_bot_token": TOKEN, "PLAIN": "visible-value", "DB_URL": "postgres://u:pw@h/db",
           "MY_PASS": "hunter22", "OPENAI_API_KEY": "sk-abc123", "SHORT_TOKEN": "ab", "HOME": "/home/u"}  # fmt: skip
    found = secret_values(env, ["DB_URL"])
    assert set(found) == {TOKEN, "postgres://u:pw@h/db", "sk-abc123", "hunter22"}
    assert [len(v) for v in found] == sorted((len(v) for v in found), reverse=True)  # longest first


def test_mask_hides_a_secret_and_its_repr_escaped_form() -> None:
    odd = "pa'ss\\word"
    assert mask(f"token={TOKEN}!", [TOKEN]) == f"token={MASK}!"
    assert MASK in mask(repr({"k": odd}), [odd]) and "word" not in mask(repr({"k": odd}), [odd])


def test_results_are_cut_after_masking_so_no_secret_prefix_survives() -> None:
    long_secret = "s3cr3t-" + "x" * 300
    text = summarize_result({"a": 1, "token": long_secret}, secrets=[long_secret])
    assert text == repr({"a": 1, "token": MASK})
    assert summarize_result(list(range(1000))).endswith("...") and len(summarize_result(list(range(1000)))) == 200
    args = summarize_args((long_secret,), {"auth": long_secret}, secrets=[long_secret])
    assert "s3cr3t" not in args and args == f"'{MASK}', auth='{MASK}'"


def _run_step(monkeypatch: pytest.MonkeyPatch, got: dict[str, Any], fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` as one journaled step of a real runner Session; ``got["msg"]``: the
    step message akd received."""
    monkeypatch.setenv("slack__private_bot_token", TOKEN)
    monkeypatch.setenv("MARKED", "marked-by-akd")
    ours, akd = socket.socketpair()

    def serve() -> None:
        chan = SyncChannel(akd)
        got["msg"], _ = chan.recv()
        chan.send({"op": "ack"})

    server = threading.Thread(target=serve)
    server.start()
    try:
        session = Session(SyncChannel(ours), "ses_test", durable=True, journal=[], build_dir="/nonexistent",
                          max_result_bytes=1 << 20, secret_env=["MARKED"])  # fmt: skip
        return session.step(fn, args, {})
    finally:
        server.join(10)
        ours.close()
        akd.close()


def _echo(*values: Any) -> dict[str, Any]:
    return {"got": values, "n": len(values)}


def test_the_step_message_carries_a_masked_bounded_result(monkeypatch: pytest.MonkeyPatch) -> None:
    got: dict[str, Any] = {}
    result = _run_step(monkeypatch, got, _echo, TOKEN, "marked-by-akd", "plain")
    msg = got["msg"]
    assert result == {"got": (TOKEN, "marked-by-akd", "plain"), "n": 3}  # user code sees the real value
    assert msg["op"] == "step" and msg["ok"] is True
    assert msg["args"] == f"'{MASK}', '{MASK}', 'plain'"
    assert msg["result"] == repr({"got": (MASK, MASK, "plain"), "n": 3})
    assert TOKEN not in str(msg)


def _fail(value: str) -> None:
    raise ValueError(f"rejected {value}")


def test_a_failed_step_masks_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    got: dict[str, Any] = {}
    with pytest.raises(ValueError, match="rejected xoxb"):  # user code sees the real error
        _run_step(monkeypatch, got, _fail, TOKEN)
    assert got["msg"]["ok"] is False and "result" not in got["msg"]
    assert got["msg"]["error"] == f"ValueError: rejected {MASK}", got["msg"]


def test_a_long_result_keeps_its_whole_repr_up_to_a_bound_with_secrets_masked() -> None:
    secret = "s3cret-value-0123456789"
    value = {"rows": list(range(300)), "token": secret}
    short, full = result_reprs(value, [secret])
    assert len(short) == 200 and short.endswith("...")
    assert full is not None and full.startswith("{'rows': [0, 1, 2") and f"'token': '{MASK}'" in full
    assert secret not in full and secret not in short
    assert result_reprs(list(range(10)))[1] is None  # short enough: nothing more to show
    huge, whole = result_reprs(list(range(FULL_RESULT_CHARS)))
    assert len(huge) == 200 and whole is None  # too long to keep whole
