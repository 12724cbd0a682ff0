"""Map overlays through the core alone: a model that offers no maps is refused with one line.
(DNDM's glare, attention and CCA panels are checked in its project.)"""


def test_models_without_maps_say_so(saved_model, run_tool, toy_images, tmp_path, capsys):
    image = toy_images("test", range(25, 26))[0]
    code = run_tool("visualize", "maps", "--input", image, "--output-dir", tmp_path, "--no-progress",
                    *saved_model("Baseline").args())
    err = capsys.readouterr().err
    assert code == 2 and "Baseline offers no maps to overlay" in err and "Traceback" not in err
