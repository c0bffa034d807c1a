"""The panel's model and controller, without Qt (the napari way).

`state` is the panel as plain data (clips, their style settings and takes, the events observers
get), `controller` what the panel's buttons do (open, relink, run, circle, place, cast) and
`take_job` the clip job the worker runs, `adr` each clip's line and character and each
character's cast, `session_store` and `saved_takes` keep every take and setting beside the
timeline, `placing` writes the chosen takes and a new timeline. The Qt widgets in
`imagintalk_plugin.ui` draw this state and subscribe to the controller's `PanelEvent`s; nothing
here imports Qt, the widgets or the models (an import-linter contract keeps it so), and the
pipeline's model code only inside the functions that run a job, so the panel opens without torch.
"""
