"""Settings load from LAKEHOUSE_* variables and refuse a bad one with one line naming it."""
import pytest

from lakehouse.config import Settings
from lakehouse.errors import ConfigError


@pytest.mark.parametrize("raw, store", [(None, "spark"), ("spark", "spark"), ("SPARK-NATIVE", "spark"), ("delta-rs", "delta-rs")])
def test_store_is_read_from_lakehouse_store(raw, store):
    env = {} if raw is None else {"LAKEHOUSE_STORE": raw}
    assert Settings.from_env(env).store == store


def test_unknown_store_is_refused_with_the_variable_and_allowed_values():
    with pytest.raises(ConfigError, match=r"LAKEHOUSE_STORE='arrow'.*'spark'.*'delta-rs'"):
        Settings.from_env({"LAKEHOUSE_STORE": "arrow"})
