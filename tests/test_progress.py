"""Progress events as JSON, cancellation of every long call within one step, and two runs in two threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from audio_signals import bursts, fast_config, melody, sound
from feedforward_fixtures import photo_dir, session_backbone, style_file, tiny_model  # noqa: F401
from PIL import Image

import brushwork
from brushwork.audio.api import stylize_audio, synthesize_texture
from brushwork.config import StyleConfig
from brushwork.feedforward.apply import stylize_files
from brushwork.feedforward.config import ApplyConfig
from brushwork.nets.vgg import Backbone
from brushwork.progress import Cancelled, CancelToken, ProgressEvent
from brushwork.transfer import paint

CONTENT = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
STYLE = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(1))


class CancelAt:
    """A callback that records the events and cancels its token at ``step``, as another thread would."""

    def __init__(self, step: int) -> None:
        self.step, self.token, self.seen = step, CancelToken(), []

    def __call__(self, event: ProgressEvent) -> None:
        self.seen.append(event)
        if event.step == self.step:
            self.token.cancel()


def test_stylize_events_are_json_and_render_a_preview_only_when_asked(tiny_backbone: Backbone) -> None:
    seen: list[ProgressEvent] = []
    paint(tiny_backbone, CONTENT, [STYLE], StyleConfig(size=64, scale_iterations=(3, 2)), callbacks=[seen.append])
    data = [json.loads(json.dumps(event.to_dict(), allow_nan=False)) for event in seen]
    assert [(d["stage"], d["step"], d["total"], d["size"]) for d in data] == [
        ("scale 1/2", 1, 5, 32), ("scale 1/2", 2, 5, 32), ("scale 1/2", 3, 5, 32), ("scale 2/2", 4, 5, 64),
        ("scale 2/2", 5, 5, 64)]
    assert all(d["task"] == "stylize" and set(d["losses"]) == {"content", "style", "layout", "tv", "total"} for d in data)
    assert all(d["preview"] is True and "render" not in d for d in data), "no tensor in the JSON"
    elapsed = [d["elapsed"] for d in data]
    assert elapsed == sorted(elapsed) and data[-1]["eta"] == 0.0 and data[0]["eta"] > 0
    assert seen[-1].preview().shape == (1, 3, 48, 64)

    calls = []
    event = ProgressEvent("stylize", "", 1, 1, render=lambda: calls.append(1) or CONTENT)
    event.to_dict()
    assert calls == [], "the preview is made only when a consumer asks for it"
    assert torch.equal(event.preview(), CONTENT) and calls == [1] and event.preview() is not CONTENT


def test_paint_and_stylize_stop_within_one_step_with_the_last_iterate(tiny_backbone: Backbone) -> None:
    stop = CancelAt(4)
    with pytest.raises(Cancelled) as info:
        paint(tiny_backbone, CONTENT, [STYLE], StyleConfig(size=64, scale_iterations=(3, 100)),
              callbacks=[stop], cancel=stop.token)
    assert [e.step for e in stop.seen] == [1, 2, 3, 4] and info.value.step == 4
    result = info.value.result  # the best iterate evaluated at the finer scale
    assert result.shape == (1, 3, 48, 64) and 0 <= float(result.min()) and float(result.max()) <= 1

    stop = CancelAt(2)
    with pytest.raises(Cancelled) as info:
        brushwork.stylize(CONTENT, STYLE, size=32, iterations=100, backbone=tiny_backbone, callbacks=[stop],
                          cancel=stop.token)
    assert info.value.step == 2 and isinstance(info.value.result, Image.Image) and info.value.result.size == (32, 24)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        brushwork.stylize(CONTENT, STYLE, size=32, iterations=100, backbone=tiny_backbone, cancel=token)


def test_cancelling_from_another_thread(tiny_backbone: Backbone) -> None:
    token, started = CancelToken(), threading.Event()
    canceller = threading.Thread(target=lambda: (started.wait(60), token.cancel()))
    canceller.start()
    seen: list[int] = []
    with pytest.raises(Cancelled) as info:
        brushwork.stylize(CONTENT, STYLE, size=32, iterations=100_000, tolerance=0.0, backbone=tiny_backbone,
                          callbacks=[lambda e: (seen.append(e.step), started.set())], cancel=token)
    canceller.join()
    assert info.value.step == seen[-1] < 1000


def test_apply_stops_between_images_and_lists_what_it_wrote(tiny_model: Path, photo_dir: Path,
                                                            tmp_path: Path) -> None:
    stop = CancelAt(2)
    with pytest.raises(Cancelled) as info:
        stylize_files(tiny_model, [photo_dir], tmp_path / "out", ApplyConfig(batch_size=1), callbacks=[stop],
                      cancel=stop.token)
    written = sorted(p for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert info.value.step == 2 and sorted(info.value.result) == written and len(written) == 2
    assert [json.loads(json.dumps(e.to_dict()))["frame"] for e in stop.seen] == [0, 1]


@pytest.mark.parametrize("task", ["audio", "texture"])
def test_audio_stops_within_one_step(task: str) -> None:
    stop = CancelAt(3)
    config = fast_config(iterations=50, duration=1.0)
    with pytest.raises(Cancelled) as info:
        if task == "audio":
            stylize_audio(sound(melody(1.0)), sound(bursts(1.0)), config, callbacks=[stop], cancel=stop.token)
        else:
            synthesize_texture(sound(bursts(1.0)), config, callbacks=[stop], cancel=stop.token)
    assert [e.step for e in stop.seen] == [1, 2, 3] and {e.task for e in stop.seen} == {task}
    assert info.value.step == 3 and info.value.result.shape[1] == 129, "the spectrogram reached, [C,F,T]"
    assert stop.seen[-1].to_dict()["stage"] == "chunk 1/1"


def test_two_stylizations_in_two_threads_give_what_each_gives_alone(tiny_backbone: Backbone) -> None:
    jobs = [dict(size=48, iterations=8, init="noise", seed=1, precision="float32"),
            dict(size=32, iterations=8, style_weight=100.0, precision="float32")]

    def run(options: dict) -> np.ndarray:
        return np.asarray(brushwork.stylize(CONTENT, STYLE, backbone=tiny_backbone, **options))

    alone = [run(options) for options in jobs]
    together: list[np.ndarray | None] = [None, None]
    threads = [threading.Thread(target=lambda k=k: together.__setitem__(k, run(jobs[k]))) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(a, b) for a, b in zip(alone, together))
