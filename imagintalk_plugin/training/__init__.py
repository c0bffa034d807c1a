"""Training: per-stage loops (`loops/`), presets and the stage orchestration."""
