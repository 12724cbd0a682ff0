"""The bench preset of JIFD's layouts: 400 queries on the unseen target, and source and target
domains set apart by light and colour cast (what the VAE should strip), not by identity."""
import io
from dataclasses import replace

import numpy as np
from PIL import Image

from jifd.synthetic import LAYOUTS
from vreid.synthetic.layouts import plan_layout, render_image
from vreid.synthetic.look import DEFAULT_LOOK

BY_NAME = {layout.name: layout for layout in LAYOUTS}


def _mean_rgb(plan, specs) -> np.ndarray:
    return np.mean([np.asarray(Image.open(io.BytesIO(render_image(plan, s))).convert("RGB"), np.float32).mean((0, 1))
                    for s in specs], axis=0)


def test_bench_target_has_400_queries_and_sources_a_few_thousand_images():
    counts = {name: plan_layout(layout, "bench", 0).counts() for name, layout in BY_NAME.items()}
    assert counts["opri"]["query"] == 400 and counts["opri"]["test"] == 1600
    assert counts["veri"]["train"] + counts["vehiclex"]["train"] == 2560


def test_bench_domain_light_moves_each_domains_colour_its_own_way():
    """Same identities, cameras and streams with and without the bench's domain light: the
    sources turn warm and cool, the toll booths dim, and the shifts differ between domains."""
    shifts = {}
    for name in ("veri", "vehiclex", "opri"):
        bench = plan_layout(BY_NAME[name], "bench", 0)
        day = [s for s in bench.images if not s.night][:8]
        shifts[name] = _mean_rgb(bench, day) / _mean_rgb(replace(bench, look=DEFAULT_LOOK), day)
    veri, vehiclex, opri = shifts["veri"], shifts["vehiclex"], shifts["opri"]
    assert veri[0] > veri[2] * 1.15 and vehiclex[2] > vehiclex[0] * 1.15
    assert opri.mean() < 0.85 < min(veri.mean(), vehiclex.mean())
