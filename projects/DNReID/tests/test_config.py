"""The installed DNReID adds its keys to every config the core builds by discovery."""
from vreid.config import get_cfg


def test_discovered_config_holds_the_dndm_keys():
    assert get_cfg().MODEL.DNDM.NGS.THRESHOLD == 220.0
