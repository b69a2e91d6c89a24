# Fresh-machine targets: each one creates the virtual environment it needs.
# torch is installed first and pinned, so that pip takes the CPU wheel instead of CUDA packages.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/brushwork: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

## demo: paint the bundled example photo in the bundled example style -> demo.png
demo: $(BIN)/brushwork
	$(BIN)/brushwork stylize examples/content.jpg examples/style.jpg -o demo.png --size 320 --iterations 200 --overwrite

## test: the whole test suite (unit tests on a tiny VGG, integration tests on the real weights)
test: $(BIN)/brushwork /usr/bin/chromium
	$(BIN)/python -m pytest

## bench: brushwork against the textbook loop at 512 px (independent scores), peak memory, and the speed of a
## feed-forward network (PyTorch and onnxruntime) -> bench/results/
bench: $(BIN)/brushwork
	$(BIN)/python bench/compare.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/feedforward_speed.py
	$(BIN)/python bench/batch.py

## serve: the web page and HTTP API on http://127.0.0.1:8000/ (jobs kept in brushwork's per-user data folder)
.PHONY: serve
serve: $(BIN)/brushwork
	$(BIN)/brushwork serve

## the headless browser of the web page's tests (Debian's chromium; without root they are skipped)
/usr/bin/chromium:
	-apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

clean:
	rm -rf $(VENV) demo.png
