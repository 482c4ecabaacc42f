"""Campaign reports: prospective evaluation, plots and an HTML page."""
