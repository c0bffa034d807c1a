"""The PySide6 panel's widgets; the only package that imports Qt.

They draw the Qt-free panel model (`imagintalk_plugin.panel_model`) and subscribe to its
controller's events; the worker runs its clip jobs on a thread of its own.
"""
