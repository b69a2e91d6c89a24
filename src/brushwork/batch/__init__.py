"""Stylising a whole dataset: plan -> map -> write.

``plan`` turns the inputs, the style pool and ``--seed`` into tasks (input, style or network, output),
a pure function of them; ``worker`` runs one task (the network or backbone loaded once per worker);
``scheduler`` hands tasks to a pool of workers, retries those whose worker died and writes
``manifest.jsonl``; the pools are ``embedded`` (processes on this machine) and ``ray_pool`` (actors
on a Ray cluster); ``api.stylize_batch`` ties them together.
"""
