"""Training curves from metrics.json as fast-reid's JSONWriter writes it, including a resumed run."""
import pytest
from PIL import Image

from fastreid.utils.events import EventStorage, JSONWriter
from vreid.visualization import read_metrics


def write_run(path, iterations, loss_at, evaluate_at=(), start=0):
    """What training logs: losses and lr every 5 iterations, protocol results after evaluations."""
    writer = JSONWriter(str(path), window_size=1)
    with EventStorage(start) as storage:
        for it in range(start, iterations):
            storage.iter = it
            storage.put_scalars(loss_cls=loss_at(it), loss_triplet=loss_at(it) / 2, lr=0.01 if it > 4 else 0.001)
            if it in evaluate_at:
                storage.put_scalars(smoothing_hint=False, **{"SynDN_D2N/Rank-1": it / 2, "SynDN_D2N/mAP": it / 3,
                                                             "SynDN_D2N/chance_Rank-1": 6.25})
            if (it + 1) % 5 == 0:
                writer.write()
    writer.close()


def test_curves_of_a_resumed_run(run_tool, tmp_path, capsys):
    metrics = tmp_path / "metrics.json"
    write_run(metrics, 20, loss_at=lambda it: 100.0)  # killed after iteration 19 ...
    write_run(metrics, 30, loss_at=lambda it: 10.0 - it / 10, evaluate_at=(14, 29), start=10)  # ... resumed at 10

    series = read_metrics(str(metrics))
    assert [it for it, _ in series["loss_cls"]] == [4, 9, 14, 19, 24, 29]
    assert dict(series["loss_cls"])[19] == pytest.approx(8.1)  # the resumed run's value, not the killed one's
    assert dict(series["SynDN_D2N/Rank-1"]) == {14: 7.0, 29: 14.5}

    out = tmp_path / "curves.png"
    assert run_tool("visualize", "curves", "--metrics", metrics, "--output", out) == 0
    assert "losses, learning rate, evaluation (%)" in capsys.readouterr().out
    width, height = Image.open(out).size
    assert width == 3 * 500 and height == 360  # three panels of 5 x 3.6 inches at 100 dpi


def test_a_broken_line_is_named(run_tool, tmp_path, capsys):
    metrics = tmp_path / "metrics.json"
    metrics.write_text('{"iteration": 4, "lr": 0.1}\n{"iteration": 9, "lr": 0.1}\n{"iteration": 14, "lr"\n')
    assert run_tool("visualize", "curves", "--metrics", metrics) == 2
    assert f"{metrics}:3: not JSON" in capsys.readouterr().err
