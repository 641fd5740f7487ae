"""Checking an archive end to end (verify) and mending what a kill, a full disk or bit rot left (repair)."""
