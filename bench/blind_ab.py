"""Blind A/B comparison of two settings by eye: choices are recorded before the names are revealed.

1. ``make A_DIR B_DIR SESSION --key KEY``: for every image name in both folders, one side-by-side picture
   ``SESSION/pairs/NN.png`` with A and B drawn to left and right at random (seeded), labelled only
   "left" and "right". Which side is which goes to the key file KEY, to be kept out of the reviewer's
   sight (outside SESSION); SESSION/session.json holds the pair list and the key's sha256.
2. ``record SESSION NN=left NN=right ...``: the reviewer's choice for every pair (left, right or tie), once:
   SESSION/choices.json is written and never overwritten.
3. ``reveal SESSION --key KEY [--out RESULT]``: refuses unless the choices were recorded and the key is the
   session's; joins them and writes the wins per setting and per pair as JSON (default SESSION/result.json).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_report  # noqa: E402

SIDES = ("left", "right")
CHOICES = (*SIDES, "tie")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_GAP = 16
_LABEL_HEIGHT = 28


class ProcedureError(Exception):
    """A step was taken out of order or with the wrong inputs; the message says which."""


def _images(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """The two images at the same height (the smaller's), a gap between, "left"/"right" written above."""
    height = min(left.height, right.height)
    left, right = (im.convert("RGB").resize((round(im.width * height / im.height), height), Image.LANCZOS)
                   for im in (left, right))
    sheet = Image.new("RGB", (left.width + _GAP + right.width, height + _LABEL_HEIGHT), "white")
    sheet.paste(left, (0, _LABEL_HEIGHT))
    sheet.paste(right, (left.width + _GAP, _LABEL_HEIGHT))
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default(size=20)
    draw.text((4, 2), "left", fill="black", font=font)
    draw.text((left.width + _GAP + 4, 2), "right", fill="black", font=font)
    return sheet


def make(a_dir: Path, b_dir: Path, session: Path, key: Path, seed: int = 0,
         labels: tuple[str, str] = ("A", "B")) -> list[str]:
    """Write the blind pairs of the images in both folders; return the pair ids ("01", "02", ...)."""
    if key.resolve().is_relative_to(session.resolve()):
        raise ProcedureError(f"--key {key} is inside the session folder, which the reviewer sees; keep it elsewhere")
    if (session / "session.json").exists():
        raise ProcedureError(f"{session} already holds a session; use a new folder")
    a_images, b_images = _images(a_dir), _images(b_dir)
    names = sorted(a_images.keys() & b_images.keys())
    if not names:
        raise ProcedureError(f"{a_dir} and {b_dir} have no image name in common")
    rng = random.Random(seed)
    (session / "pairs").mkdir(parents=True, exist_ok=True)
    pairs, sides = {}, {}
    for index, name in enumerate(names, start=1):
        pair_id = f"{index:02d}"
        a_left = rng.random() < 0.5
        left, right = (a_images[name], b_images[name]) if a_left else (b_images[name], a_images[name])
        with Image.open(left) as im_left, Image.open(right) as im_right:
            side_by_side(im_left, im_right).save(session / "pairs" / f"{pair_id}.png")
        pairs[pair_id] = name
        sides[pair_id] = {"left": labels[0] if a_left else labels[1], "right": labels[1] if a_left else labels[0]}
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(json.dumps({"labels": list(labels), "folders": [str(a_dir), str(b_dir)], "seed": seed,
                               "sides": sides}, indent=2) + "\n")
    digest = hashlib.sha256(key.read_bytes()).hexdigest()
    (session / "session.json").write_text(json.dumps({"pairs": pairs, "key_sha256": digest}, indent=2) + "\n")
    return list(pairs)


def record(session: Path, choices: dict[str, str]) -> Path:
    """Store the reviewer's choice (left, right or tie) for every pair; refuses to change recorded choices."""
    pairs = json.loads((session / "session.json").read_text())["pairs"]
    path = session / "choices.json"
    if path.exists():
        raise ProcedureError(f"choices are already recorded in {path}; they cannot be changed")
    if set(choices) != set(pairs):
        raise ProcedureError(f"need one choice for each pair {sorted(pairs)}; got {sorted(choices)}")
    if bad := {k: v for k, v in choices.items() if v not in CHOICES}:
        raise ProcedureError(f"choices must be one of {CHOICES}: {bad}")
    path.write_text(json.dumps({"recorded": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                                "choices": dict(sorted(choices.items()))}, indent=2) + "\n")
    return path


def reveal(session: Path, key: Path) -> dict[str, object]:
    """Join the recorded choices with the key: wins per setting, ties, and each pair's winner."""
    choices_path = session / "choices.json"
    if not choices_path.exists():
        raise ProcedureError(f"no choices recorded in {session}: run `record` before `reveal`")
    expected = json.loads((session / "session.json").read_text())
    if hashlib.sha256(key.read_bytes()).hexdigest() != expected["key_sha256"]:
        raise ProcedureError(f"{key} is not the key of {session}")
    recorded, secret = json.loads(choices_path.read_text()), json.loads(key.read_text())
    wins = {label: 0 for label in secret["labels"]} | {"tie": 0}
    per_pair = {}
    for pair_id, choice in recorded["choices"].items():
        winner = "tie" if choice == "tie" else secret["sides"][pair_id][choice]
        wins[winner] += 1
        per_pair[expected["pairs"][pair_id]] = {"pair": pair_id, "chosen": choice, "winner": winner,
                                                **secret["sides"][pair_id]}
    return {"settings": dict(zip(secret["labels"], secret["folders"])), "seed": secret["seed"],
            "recorded": recorded["recorded"], "wins": wins, "pairs": per_pair}


def _parse_choices(items: list[str]) -> dict[str, str]:
    try:
        return dict(item.split("=", 1) for item in items)
    except ValueError:
        raise ProcedureError(f"choices are NN=left|right|tie, got {items}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    p_make = steps.add_parser("make", help="write the blind pairs and the key")
    p_make.add_argument("a_dir", type=Path)
    p_make.add_argument("b_dir", type=Path)
    p_make.add_argument("session", type=Path)
    p_make.add_argument("--key", type=Path, required=True, help="key file, kept outside SESSION")
    p_make.add_argument("--seed", type=int, default=0)
    p_make.add_argument("--labels", nargs=2, default=("A", "B"), metavar=("A", "B"), help="names of the two settings")
    p_record = steps.add_parser("record", help="store the reviewer's choices")
    p_record.add_argument("session", type=Path)
    p_record.add_argument("choices", nargs="+", help="NN=left, NN=right or NN=tie for every pair")
    p_reveal = steps.add_parser("reveal", help="join the choices with the key")
    p_reveal.add_argument("session", type=Path)
    p_reveal.add_argument("--key", type=Path, required=True)
    p_reveal.add_argument("--out", type=Path, default=None, help="result JSON (default SESSION/result.json)")
    args = parser.parse_args(argv)
    try:
        if args.step == "make":
            ids = make(args.a_dir, args.b_dir, args.session, args.key, args.seed, tuple(args.labels))
            print(f"wrote {len(ids)} pairs to {args.session / 'pairs'}; the key is {args.key}")
        elif args.step == "record":
            print(f"recorded {record(args.session, _parse_choices(args.choices))}")
        else:
            result = reveal(args.session, args.key)
            print(json.dumps(result["wins"]))
            write_report("blind-ab", result, path=args.out or args.session / "result.json")
    except ProcedureError as exc:
        sys.exit(f"blind_ab {args.step}: {exc}")


if __name__ == "__main__":
    main()
