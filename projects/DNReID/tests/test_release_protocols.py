"""The release's training-time selection protocols (``*_D2N_release``, ``*_N2D_release``) on the
tiny synthetic set: every test image of one domain as a query against the other domain's query
list, beside the paper's protocols (query list against the other domain's test list)."""
import os

import pytest

import dnreid  # noqa: F401  (registers the DN datasets)
from dnreid import PROJECT
from dnreid.domains import DOMAIN, DOMAINS
from vreid.data import build_test_loader, get_dataset
from vreid.data.build import known_datasets

OTHER = {"day": "night", "night": "day"}


def _listed(root: str, split: str, domain: str) -> list[str]:
    """Absolute image paths of ``<split>_list_<domain>.txt`` of the synthetic DN set, in order."""
    folder = os.path.join(root, "synthetic", "dn")
    with open(os.path.join(folder, "train_test_split", f"{split}_list_{domain}.txt")) as f:
        return [os.path.join(folder, domain, line.split()[0]) for line in f if line.strip()]


def _domains(records) -> set[str]:
    return {DOMAINS[r[3][DOMAIN.name]] for r in records}


@pytest.mark.parametrize("query_domain, name", [("day", "SynDN_D2N_release"), ("night", "SynDN_N2D_release")])
def test_release_protocol_is_test_list_against_the_other_query_list(data_root, query_domain, name):
    data = get_dataset(name)
    gallery_domain = OTHER[query_domain]
    assert [r[0] for r in data.query] == _listed(data_root, "test", query_domain)
    assert [r[0] for r in data.gallery] == _listed(data_root, "query", gallery_domain)
    assert _domains(data.query) == {query_domain} and _domains(data.gallery) == {gallery_domain}
    # More queries than gallery images: the query lists hold a subset of each test identity.
    assert len(data.query) > len(data.gallery) > 0
    # One numbering for both sides: the pid is the identity's folder, not an enumeration order.
    assert all(int(os.path.basename(os.path.dirname(r[0]))) == r[1] for r in data.query + data.gallery)
    assert {r[1] for r in data.query} == {r[1] for r in data.gallery}
    # Query and gallery cameras differ, so the evaluator removes nothing from the gallery.
    assert not {r[2] for r in data.query} & {r[2] for r in data.gallery}


@pytest.mark.parametrize("query_domain", ["day", "night"])
def test_release_protocol_differs_from_the_papers(data_root, query_domain):
    short = "D2N" if query_domain == "day" else "N2D"
    paper, release = get_dataset(f"SynDN_{short}"), get_dataset(f"SynDN_{short}_release")
    assert [r[0] for r in paper.query] == _listed(data_root, "query", query_domain)
    assert [r[0] for r in paper.gallery] == _listed(data_root, "test", OTHER[query_domain])
    assert (len(release.query), len(release.gallery)) == (len(paper.gallery), len(paper.query))


def test_release_protocols_are_declared_and_loadable(data_root, small_dndm_cfg, tmp_path):
    names = {"DNWild_D2N_release", "DNWild_N2D_release", "SynDN_D2N_release", "SynDN_N2D_release"}
    assert names <= set(PROJECT.datasets) and names <= set(known_datasets())
    cfg = small_dndm_cfg(str(tmp_path), **{"DATASETS.TESTS": ("SynDN_D2N_release",)})
    loader, num_query = build_test_loader(cfg, "SynDN_D2N_release")
    assert num_query == len(_listed(data_root, "test", "day"))
    assert len(loader.dataset) == num_query + len(_listed(data_root, "query", "night"))
