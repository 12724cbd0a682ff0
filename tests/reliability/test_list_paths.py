"""A listed path stays inside its folder and names its image once (vreid.data.paths), whichever
list file it comes from. (The DN lists' and the tools' list files' checks, on DN images with
their day/night column, are in DNReID's tests.)"""
import pytest

from vreid.data.paths import SeenOnce, inside
from vreid.errors import UserError


def test_inside_keeps_paths_that_stay_and_their_form(tmp_path):
    assert inside("data/dn", "0001/./a.jpg", "x:1") == "data/dn/0001/a.jpg"
    assert inside("data/dn", "0001/../0002/a.jpg", "x:1") == "data/dn/0002/a.jpg"
    for bad in ("../dn2/a.jpg", "/etc/hostname", "0001/../../x.jpg"):
        with pytest.raises(UserError, match="^x:1: "):
            inside("data/dn", bad, "x:1")
    seen = SeenOnce()
    seen.add("data/dn/a.jpg", "l:1")
    with pytest.raises(UserError, match="^l:3: image data/dn/./a.jpg is listed twice, first at l:1"):
        seen.add("data/dn/./a.jpg", "l:3")
