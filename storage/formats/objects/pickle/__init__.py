"""Pickles read without running them: scan, safe load, verdict, exact write-back."""
