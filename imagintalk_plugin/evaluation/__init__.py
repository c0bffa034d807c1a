"""The evaluation judges (intelligibility, speaker similarity, prosody, sync)."""
