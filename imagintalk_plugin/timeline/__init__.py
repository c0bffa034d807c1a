"""Timelines in and out: OpenTimelineIO reading, dubbable clips, exact time, placement, BWF."""
