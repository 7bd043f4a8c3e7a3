"""Batches (issue 17): many prompts at once from a list, a CSV/XLSX sheet or a template, budgeted as a whole and
fed to the job engine a few at a time, fairly between users."""
