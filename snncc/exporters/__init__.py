"""Writers of other tools' formats (one module per format)."""
