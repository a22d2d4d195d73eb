"""Findings of the invariant audit and the chaos runs that are not fixed yet. A test that fails
today because of one names it here and is marked xfail(strict=False) with it: once the fix is
merged, delete the mark and the entry. (The findings of issue 13 that the chaos runs caught
before they were fixed are listed in README, "Chaos runs and invariants".)
"""
