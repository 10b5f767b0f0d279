"""The ablation benchmark: the service's speed tricks switched off one at a time.

`variants` lists the tricks and what replaces each; the replacements live in one module per
trick and are installed, by `serve`, at the product's composition points (the product has no
switches for them); `__main__` measures the full service and each variant in alternating rounds
and writes `docs/benchmarks-ablation.md`. See `benchmarks/README.md`.
"""
