"""The target files, shipped as the package data of snncc.targets (pyproject.toml maps this folder
into the package) and read with importlib.resources (snncc/target_loader.py), so that an installed
wheel finds them as the checkout does."""
