"""The PySide6 panel; the only package that imports Qt."""
