"""The bundled example; pyproject.toml maps this folder to snncc.digits so that its held-out test set
(test_data.npz, the data a compile uses when no --data is given) ships in the wheel."""
