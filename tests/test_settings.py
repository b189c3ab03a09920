"""Settings precedence: arguments > environment > config file > defaults."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

import pytest

from opsloop.domain.errors import InvalidInput
from opsloop.domain.settings import Settings

# One value per layer for every setting, so a test can tell which layer won.
LAYERS: dict[str, dict[str, Any]] = {
    "database_url": {
        "file": "sqlite:////data/file.db",
        "env": "postgresql://env@db/opsloop",
        "arg": "postgresql://arg@db/opsloop",
    },
    "artifacts": {"file": "/srv/file-artifacts", "env": "s3://env-bucket", "arg": "/arg/artifacts"},
    "url": {"file": "http://file:1", "env": "http://env:2", "arg": "http://arg:3"},
    "actor": {"file": "file-user", "env": "env-user", "arg": "arg-user"},
    "host": {"file": "10.0.0.1", "env": "10.0.0.2", "arg": "10.0.0.3"},
    "port": {"file": 9001, "env": "9002", "arg": 9003},
}


def toml_value(value: Any) -> str:
    return str(value) if isinstance(value, int) else f'"{value}"'


def write_config(path: Path, values: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key} = {toml_value(value)}\n" for key, value in values.items()))
    return path


@pytest.mark.parametrize("setting", sorted(LAYERS))
@pytest.mark.parametrize(
    ("present", "winner"),
    [
        (("file",), "file"),
        (("env",), "env"),
        (("arg",), "arg"),
        (("file", "env"), "env"),
        (("file", "arg"), "arg"),
        (("env", "arg"), "arg"),
        (("file", "env", "arg"), "arg"),
    ],
)
def test_each_setting_takes_the_highest_layer_given(
    tmp_path: Path, setting: str, present: tuple[str, ...], winner: str
) -> None:
    home = tmp_path / "home"
    values = LAYERS[setting]
    if "file" in present:
        write_config(home / "config.toml", {setting: values["file"]})
    environ = {f"OPSLOOP_{setting.upper()}": values["env"]} if "env" in present else {}
    arguments = {setting: values["arg"]} if "arg" in present else {}

    loaded = Settings.load(environ=environ, home=home, **arguments)

    expected = int(values[winner]) if setting == "port" else values[winner]
    assert getattr(loaded, setting) == expected


def test_defaults_live_in_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default home is relative to the working directory
    loaded = Settings.load(environ={})
    home = Path(".opsloop")
    assert loaded.home == home
    assert loaded.database_url == f"sqlite:///{home / 'opsloop.db'}"
    assert loaded.artifacts == str(home / "artifacts")
    assert loaded.url is None
    assert loaded.remote is False
    assert (loaded.host, loaded.port) == ("127.0.0.1", 8080)
    assert loaded.actor == getpass.getuser()


def test_defaults_follow_a_home_given_by_argument(tmp_path: Path) -> None:
    loaded = Settings.load(environ={}, home=tmp_path / "elsewhere")
    assert loaded.database_url == f"sqlite:///{tmp_path / 'elsewhere' / 'opsloop.db'}"
    assert loaded.artifacts == str(tmp_path / "elsewhere" / "artifacts")


def test_home_from_the_environment_is_where_the_config_file_is_read(tmp_path: Path) -> None:
    home = tmp_path / "env-home"
    write_config(home / "config.toml", {"actor": "from-env-home"})
    loaded = Settings.load(environ={"OPSLOOP_HOME": str(home)})
    assert loaded.home == home
    assert loaded.actor == "from-env-home"
    assert loaded.database_url == f"sqlite:///{home / 'opsloop.db'}"


def test_home_argument_beats_home_from_the_environment(tmp_path: Path) -> None:
    write_config(tmp_path / "env-home" / "config.toml", {"actor": "env-home-file"})
    write_config(tmp_path / "arg-home" / "config.toml", {"actor": "arg-home-file"})
    loaded = Settings.load(
        environ={"OPSLOOP_HOME": str(tmp_path / "env-home")}, home=tmp_path / "arg-home"
    )
    assert loaded.home == tmp_path / "arg-home"
    assert loaded.actor == "arg-home-file"


def test_opsloop_config_names_the_config_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home / "config.toml", {"actor": "home-file"})
    other = write_config(tmp_path / "team.toml", {"actor": "team-file", "port": 7000})
    loaded = Settings.load(environ={"OPSLOOP_CONFIG": str(other)}, home=home)
    assert (loaded.actor, loaded.port) == ("team-file", 7000)


def test_home_in_the_config_file_moves_the_default_paths(tmp_path: Path) -> None:
    config = write_config(tmp_path / "team.toml", {"home": str(tmp_path / "team-home")})
    loaded = Settings.load(environ={"OPSLOOP_CONFIG": str(config)})
    assert loaded.home == tmp_path / "team-home"
    assert loaded.database_url == f"sqlite:///{tmp_path / 'team-home' / 'opsloop.db'}"
    assert loaded.artifacts == str(tmp_path / "team-home" / "artifacts")


def test_empty_environment_variables_count_as_unset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home / "config.toml", {"port": 9001})
    loaded = Settings.load(environ={"OPSLOOP_PORT": "", "OPSLOOP_ACTOR": ""}, home=home)
    assert loaded.port == 9001
    assert loaded.actor == getpass.getuser()


def test_a_none_argument_does_not_hide_lower_layers(tmp_path: Path) -> None:
    loaded = Settings.load(environ={"OPSLOOP_ACTOR": "env-user"}, home=tmp_path, actor=None)
    assert loaded.actor == "env-user"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://server:8080/", "http://server:8080"),
        ("https://ops.example.com", "https://ops.example.com"),
    ],
)
def test_a_url_makes_the_settings_remote(tmp_path: Path, given: str, url: str) -> None:
    loaded = Settings.load(environ={}, home=tmp_path, url=given)
    assert loaded.remote is True
    assert loaded.url == url


@pytest.mark.parametrize(
    ("layer", "port"),
    [
        ("arg", "eighty"),
        ("env", "eighty"),
        ("file", "eighty"),
        ("env", "80.5"),
        ("arg", -1),
        ("env", "65536"),
        ("file", 70000),
    ],
)
def test_a_bad_port_is_invalid_and_names_port(tmp_path: Path, layer: str, port: Any) -> None:
    home = tmp_path / "home"
    if layer == "file":
        write_config(home / "config.toml", {"port": port})
    environ = {"OPSLOOP_PORT": str(port)} if layer == "env" else {}
    arguments = {"port": port} if layer == "arg" else {}
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ=environ, home=home, **arguments)
    assert caught.value.field == "port"


def test_an_unknown_argument_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={}, home=tmp_path, databse_url="sqlite:///x.db")
    assert caught.value.field == "databse_url"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('databse_url = "sqlite:///x.db"\n', "databse_url"),
        ('actor = "a"\nOPSLOOP_PORT = 1\n', "OPSLOOP_PORT"),
        ("[server]\nport = 1\n", "server"),
    ],
)
def test_an_unknown_key_in_the_config_file_is_invalid(
    tmp_path: Path, text: str, named: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(text)
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={}, home=home)
    assert named in caught.value.headline
    assert str(home / "config.toml") in caught.value.headline


@pytest.mark.parametrize(
    "text", ["port = \n", "actor = 'unterminated\n", "= 3\n", "port = 1\nport = 2\n"]
)
def test_a_malformed_config_file_is_invalid(tmp_path: Path, text: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        Settings.load(environ={"OPSLOOP_CONFIG": str(config)}, home=tmp_path)
    assert str(config) in caught.value.headline
