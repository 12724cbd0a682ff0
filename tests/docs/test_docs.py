"""Every command block of the documentation runs as written, in a scratch folder, on data and models
that an earlier block of the same page creates (tests/docs/docs_blocks.py says how blocks are marked).
Unlike the rest of tests/, these run the installed projects, as the pages do. The suite runs each
page's blocks except the `slow` ones; `make test-docs` runs those too."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from docs_blocks import REPO, SKIP_LABELS, Block, missing_output, pages, read_blocks, run_page, scratch_folder

SLOW = os.environ.get("VREID_DOCS") == "all"
PAGES = [str(p.relative_to(REPO)) for p in pages()]


@pytest.fixture(scope="session")
def scratch(tmp_path_factory) -> Path:
    """One folder standing for the repository for every page: `VREID_DOCS_SCRATCH` to keep it."""
    kept = os.environ.get("VREID_DOCS_SCRATCH")
    return scratch_folder(Path(kept) if kept else tmp_path_factory.mktemp("docs"))


def _report(block: Block, printed: str) -> str:
    tail = "\n".join(printed.splitlines()[-40:])
    return f"{block.where} (```{block.language} {block.label}) failed; its last output:\n{tail}"


@pytest.mark.parametrize("page", PAGES)
def test_every_command_block_runs_or_says_why_not(page):
    blocks = [b for b in read_blocks(REPO / page) if b.language in ("bash", "python")]
    if blocks:
        assert any(b.runs and b.label != "slow" for b in blocks), f"{page}: the suite runs none of its blocks"


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_as_written(page, scratch):
    blocks = read_blocks(REPO / page)
    if not any(b.runs for b in blocks):
        pytest.skip(f"{page} has no command block to run")
    result = run_page(blocks, scratch, slow=SLOW, timeout=3600 if SLOW else 600)
    if result.returncode:
        failed = result.failed
        assert failed is None, _report(failed, result.outputs.get(failed.line, ""))
        pytest.fail(f"{page}: exit {result.returncode}:\n" + "\n".join(result.output.splitlines()[-40:]))
    for block in blocks:
        if block.line not in result.outputs or block in result.skipped:
            continue
        for documented in block.outputs:
            line = missing_output(documented.text, result.outputs[block.line])
            assert line is None, (f"{documented.where}: the documented output line {line!r} is not what "
                                  f"{block.where} printed:\n{result.outputs[block.line][-3000:]}")


# The runner itself.

def write_page(tmp_path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


def test_an_unknown_label_is_refused_with_the_page_and_line(tmp_path):
    page = write_page(tmp_path, "intro\n\n```bash sloww\necho hi\n```\n")
    with pytest.raises(ValueError, match=r"page\.md:3: unknown label 'sloww'"):
        read_blocks(page)


def test_blocks_share_one_shell_and_a_failing_block_is_named(tmp_path):
    page = write_page(tmp_path, "```bash\nexport GREETING=hello\n```\n\n```bash\necho $GREETING world\n```\n"
                                "```text output\nhello world\n```\n\n```bash real-data\nexit 1\n```\n"
                                "```bash\nprintf 'no newline'\n```\n"
                                "```bash\nfalse\necho never\n```\n")
    blocks = read_blocks(page)
    result = run_page(blocks, scratch_folder(tmp_path / "scratch"), slow=False, timeout=60)
    assert result.returncode == 1 and result.failed is blocks[-1] and result.outputs[blocks[4].line] == "no newline\n"
    assert result.outputs[blocks[1].line] == "hello world\n" and "never" not in result.output
    assert missing_output(blocks[1].outputs[0].text, result.outputs[blocks[1].line]) is None
    assert SKIP_LABELS["real-data"] and blocks[3].line not in result.outputs


def test_a_block_run_before_in_the_scratch_folder_is_skipped_but_keeps_its_exports(tmp_path):
    setup = "```bash\nexport ROOT=data\necho once >> calls.txt\n```\n\n"
    first = read_blocks(write_page(tmp_path, setup + "```bash\necho first $ROOT\n```\n"))
    second = read_blocks(write_page(tmp_path, setup + "```bash\necho second $ROOT\n```\n"))
    scratch = scratch_folder(tmp_path / "scratch")
    runs = [run_page(blocks, scratch, slow=False, timeout=60) for blocks in (first, second)]
    assert (scratch / "calls.txt").read_text() == "once\n"
    assert runs[1].skipped == [second[0]] and runs[1].outputs[second[1].line] == "second data\n"


def test_documented_output_matches_any_numbers_and_table_padding_in_order():
    printed = ("[log] noise\n| rank | cosine distance | image |\n|---|---|---|\n"
               "|      1 |            0.0234 | data/0030_c10_003.jpg |\nsaved 17 rows in 0.8 s\n")
    documented = ("| rank | cosine distance | image |\n|--------|--------|-----|\n"
                  "| 1 | 0.0000 | data/0012_c07_005.jpg |\nsaved 144 rows in ...\n")
    assert missing_output(documented, printed) is None
    assert missing_output("saved 1 rows in 2 s\n| rank | cosine distance | image |", printed) == "| rank | cosine distance | image |"
    assert missing_output("| rank | distance | image |", printed) == "| rank | distance | image |"
