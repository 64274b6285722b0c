"""The capture agent's TOML configuration: accepted as the issue shows, refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lims.agent.config import ConfigError, load

GOOD = '''
server = "http://127.0.0.1:5000"
token_file = "agent.token"
spool = "spool.sqlite"
spool_max = 5000
[[instruments]]
asset = "EQ-BAL-001"
driver = "mt-sics"
port = "/dev/serial/by-id/usb-bal"
mode = "poll"
interval = 1.0
settings = { command = "SI" }
[[instruments]]
asset = "EQ-HYG-001"
driver = "vaisala-hmt330"
port = "/dev/ttyUSB1"
mode = "stream"
'''


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "agent.token").write_text("lims_agent_abc\n")
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_the_issue_s_example_loads(tmp_path):
    config = load(write(tmp_path, GOOD))
    assert config.server == "http://127.0.0.1:5000"
    assert config.token == "lims_agent_abc"
    assert config.spool == tmp_path / "spool.sqlite"  # relative to the file, not the cwd
    assert config.spool_max == 5000 and config.batch_size == 500
    bal, hyg = config.instruments
    assert (bal.asset, bal.driver, bal.mode, bal.interval) == ("EQ-BAL-001", "mt-sics", "poll", 1.0)
    assert bal.settings == {"command": "SI"}
    assert (hyg.mode, hyg.interval, hyg.settings) == ("stream", 1.0, {})


@pytest.mark.parametrize(("change", "key"), [
    (("server = \"http://127.0.0.1:5000\"", ""), "server"),
    (("server = \"http://127.0.0.1:5000\"", "server = \"ftp://x\""), "server"),
    (("token_file = \"agent.token\"", ""), "token"),
    (("token_file = \"agent.token\"", "token_file = \"agent.token\"\ntoken = \"t\""), "token"),
    (("token_file = \"agent.token\"", "token_file = \"missing.token\""), "token_file"),
    (("spool = \"spool.sqlite\"", ""), "spool"),
    (("spool_max = 5000", "spool_max = 0"), "spool_max"),
    (("spool_max = 5000", "spool_max = \"lots\""), "spool_max"),
    (("spool_max = 5000", "spool_max = 5000\nbatch_size = 501"), "batch_size"),
    (("spool_max = 5000", "spool_max = 5000\nspol = 3"), "spol"),
    (("mode = \"poll\"", "mode = \"push\""), "instruments[0].mode"),
    (("driver = \"mt-sics\"", "driver = \"mt-sicx\""), "instruments[0].driver"),
    (("interval = 1.0", "interval = -1"), "instruments[0].interval"),
    (("settings = { command = \"SI\" }", "settings = { cmd = \"SI\" }"),
     "instruments[0].settings"),
    (("settings = { command = \"SI\" }", "settings = { command = \"XX\" }"),
     "instruments[0].settings"),
    (("port = \"/dev/ttyUSB1\"", ""), "instruments[1].port"),
    (("asset = \"EQ-HYG-001\"", "asset = \"EQ-BAL-001\""), "instruments[1].asset"),
    (("mode = \"stream\"", "mode = \"stream\"\nspeed = 3"), "instruments[1].speed"),
])
def test_a_wrong_key_is_named(tmp_path, change, key):
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, GOOD.replace(old, new, 1)))
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


def test_no_instruments_not_toml_no_file(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, GOOD.split("[[instruments]]")[0]))
    assert caught.value.key == "instruments"
    with pytest.raises(ConfigError, match="TOML"):
        load(write(tmp_path, "server = "))
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nothing.toml")
