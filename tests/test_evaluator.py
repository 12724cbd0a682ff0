"""The evaluator refuses fast-reid's evaluation keys it does not implement instead of ignoring them."""
import pytest

from vreid.config import get_cfg
from vreid.errors import UserError
from vreid.evaluation.evaluator import ReidEvaluator


@pytest.mark.parametrize("keys", [("AQE",), ("ROC",), ("AQE", "ROC")])
def test_query_expansion_and_roc_are_refused_with_the_key_to_change(keys):
    cfg = get_cfg()
    for key in keys:
        cfg.TEST[key].ENABLED = True
    with pytest.raises(UserError, match=" and ".join(f"TEST.{k}.ENABLED False" for k in keys)):
        ReidEvaluator.from_config(cfg, num_query=1)
    cfg.TEST.AQE.ENABLED = cfg.TEST.ROC.ENABLED = False
    assert isinstance(ReidEvaluator.from_config(cfg, num_query=1), ReidEvaluator)
